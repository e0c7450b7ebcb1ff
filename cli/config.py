"""`dana-wf config`: show the effective settings with every secret masked, and describe them all.

Operators paste this output into tickets, so it must be safe by construction: SecretStr values, passwords in
DSN/URL userinfo (``clickhouse://user:pw@host/db``), ``password=``/``token=`` query parameters, and any field
whose name says it holds a secret are all replaced before anything is printed.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_origin

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from dana_workflows.core.masking import mask_text, masked
from dana_workflows.core.settings import Settings, load_settings

app = typer.Typer(help="Inspect the engine's settings (DWF_* env vars, config file).", no_args_is_help=True)


def effective(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, secrets masked."""
    result = masked(settings)
    assert isinstance(result, dict)
    return result


@dataclass(frozen=True)
class SettingDoc:
    """One row of docs/configuration.md: a dotted setting name, its env var, its type and its default."""

    name: str
    env: str
    type: str
    default: str
    secret: bool


def describe(
    model: type[BaseModel] = Settings, prefix: str = "", env_prefix: str = "DWF_"
) -> list[SettingDoc]:
    """Every setting with its env var name; nested models are flattened with the ``__`` delimiter."""
    rows: list[SettingDoc] = []
    for name, field in model.model_fields.items():
        dotted, env = f"{prefix}{name}", f"{env_prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(describe(annotation, f"{dotted}.", f"{env}__"))
            continue
        type_name = _type_name(annotation)
        rows.append(SettingDoc(dotted, env, type_name, _default(field), "SecretStr" in type_name))
    return rows


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    text = str(annotation)
    for noise in ("typing.", "pydantic.types.", "pathlib.", "dana_workflows.core.settings."):
        text = text.replace(noise, "")
    return text


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    shown = masked(value)
    if isinstance(shown, dict) and shown and isinstance(value, BaseModel):
        return "(see nested settings)"
    return json.dumps(shown) if not isinstance(shown, str) else (repr(shown) if shown == "" else shown)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def _yaml(data: dict[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip dumper: keeps the settings' declaration order
    yaml.default_flow_style = False
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


class Format(StrEnum):
    yaml = "yaml"
    json = "json"
    table = "table"


@app.command()
def show(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="yaml, json or table.")] = Format.yaml,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML config file (default: $DWF_CONFIG_FILE).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print the effective settings (file < env < defaults resolved), with secrets masked."""
    try:
        settings = load_settings(config)
    except Exception as exc:  # a bad env var or file: say which, without echoing the offending value
        typer.secho(f"error: invalid settings: {_safe_error(exc)}", err=True, fg="red")
        raise typer.Exit(2) from None
    data = effective(settings)
    if fmt is Format.json:
        typer.echo(json.dumps(data, indent=2, sort_keys=False))
    elif fmt is Format.yaml:
        typer.echo(_yaml(data), nl=False)
    else:
        _print_table(data)


@app.command("describe")
def describe_cmd(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="A Markdown table, as in docs/configuration.md.")
    ] = False,
) -> None:
    """List every setting with its env var, type and default (the source of docs/configuration.md)."""
    from rich.console import Console
    from rich.table import Table

    if markdown:
        typer.echo(markdown_table())
        return
    table = Table("setting", "env var", "type", "default")
    for row in describe():
        table.add_row(row.name, row.env, row.type, row.default)
    Console(width=max(160, _terminal_width())).print(table)


def markdown_table() -> str:
    lines = ["| setting | env var | type | default |", "|---|---|---|---|"]
    for row in describe():
        cells = [row.name, row.env, row.type, row.default + (" (secret)" if row.secret else "")]
        lines.append("| " + " | ".join(f"`{c}`".replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _print_table(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("setting", "value")
    for name, value in _flatten(data):
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    Console(width=max(160, _terminal_width())).print(table)


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((160, 40)).columns if sys.stdout.isatty() else 160


def _safe_error(exc: Exception) -> str:
    """A validation error without the input values (they may be the very secret that failed to parse)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = [f"{_env_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        return "; ".join(parts) + " (set via DWF_* env vars or the config file)"
    return mask_text(str(exc))


def _env_name(loc: tuple[int | str, ...]) -> str:
    """The env var a setting's error location names (``llm_default.rpm`` is DWF_LLM_DEFAULT__RPM)."""
    return "DWF_" + "__".join(str(part).upper() for part in loc)
