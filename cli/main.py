"""The `dana-wf` command line."""

# ruff: noqa: E402  - the Ctrl-C handling below goes in before the imports it covers
from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while the subcommands are still imported (seconds on a loaded machine): one line and exit 130,
    as once they are (main), not Python's KeyboardInterrupt traceback from whichever import it hit."""
    sys.stderr.write("error: interrupted while dana-wf was starting; nothing was done\n")
    raise SystemExit(130)


# Only where SIGINT is Python's own (a host that set its own handler keeps it), and only for this import:
# the handler is put back at the end of this module.
_SIGINT_BEFORE = signal.getsignal(signal.SIGINT)
if _SIGINT_BEFORE is signal.default_int_handler:
    with contextlib.suppress(ValueError):  # imported outside the main thread: no handler can be set there
        signal.signal(signal.SIGINT, _interrupted_while_loading)

import asyncio
import importlib
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dana_workflows.cli.conventions import (
    EXIT_CHAIN_BROKEN,
    EXIT_FAILURE,
    EXIT_USAGE,
    OutputConsole,
    OutputFormat,
    fail,
    version,
)
from dana_workflows.cli.llm_script import LLMScriptOpt
from dana_workflows.cli.specs import input_file_or_exit, pipeline_or_exit
from dana_workflows.cli.stores import check_audit_server, open_audit_for_reading
from dana_workflows.core.masking import mask_text
from dana_workflows.core.settings import UnknownSettingError, load_settings, misspelt_env_settings
from dana_workflows.core.yaml_errors import yaml_error_line, yaml_error_problem
from dana_workflows.workflow.errors import SpecError

# rich_markup_mode=None: click's plain help and its one-line usage errors ("Error: Invalid value for
# '--format': 'parquet' is not one of 'jsonl', 'avro'."), which a pipe or a log keeps whole
app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Dana Workflows: neurosymbolic workflows as streams."
)
audit_app = typer.Typer(no_args_is_help=True, help="Query and verify the audit log.")
app.add_typer(audit_app, name="audit")
console = OutputConsole()
err = OutputConsole(stderr=True, soft_wrap=True)

SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML)", exists=False)]
# One spelling per idea (docs/cli.md): --audit names the audit store everywhere; --dsn is the old spelling
AuditOpt = Annotated[
    str | None, typer.Option("--audit", help="audit DSN (default: DWF_AUDIT_DSN or chdb://.dwf/audit)")
]
OldDsnOpt = Annotated[str | None, typer.Option("--dsn", hidden=True, help="old spelling of --audit")]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"dana-wf {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """Settings are checked before any command runs: a bad DWF_* variable or config file is one line."""
    from pydantic import ValidationError
    from ruamel.yaml.error import YAMLError

    from dana_workflows.cli.config import _safe_error

    try:
        load_settings()
    except ValidationError as exc:
        raise fail(f"invalid settings: {_safe_error(exc)}", EXIT_USAGE) from None
    except UnknownSettingError as exc:
        raise fail(f"config file (DWF_CONFIG_FILE): {exc}", EXIT_USAGE) from None
    except OSError as exc:
        raise fail(f"config file (DWF_CONFIG_FILE): {mask_text(str(exc))}", EXIT_USAGE) from None
    except YAMLError as exc:
        line = yaml_error_line(exc)
        problem = f"not valid YAML at line {line}: " if line is not None else "not valid YAML: "
        raise fail(
            f"config file (DWF_CONFIG_FILE): {problem}{mask_text(yaml_error_problem(exc))}", EXIT_USAGE
        ) from None
    for warning in misspelt_env_settings():  # ignored by the engine, which runs on the default instead
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def _mount(module: str, name: str, help: str) -> None:
    try:
        sub = importlib.import_module(module).app
    except (ImportError, AttributeError):  # pragma: no cover - optional pieces
        return
    app.add_typer(sub, name=name, help=help)


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="one or more workflow specs")],
    no_solver: Annotated[bool, typer.Option("--no-solver", help="type-check only, no z3 analysis")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="analysis warnings fail too")] = False,
) -> None:
    """Check specs and report every problem at once (types and z3 analysis: docs/changes.md)."""
    from dana_workflows.analysis.report import analyse, summary
    from dana_workflows.processors.pipeline import CompileError, compile_pipeline
    from dana_workflows.workflow.spec import load_spec

    bad = 0
    for spec in specs:
        try:
            ir = load_spec(spec)
            compile_pipeline(ir)
        except SpecError as exc:
            bad += 1
            err.print(f"[red]✗[/red] {escape(str(exc))}")  # a fix may hold brackets: [a, b]
            continue
        except CompileError as exc:
            bad += 1
            err.print(f"[red]✗[/red] {spec}: {escape(str(exc))}")
            continue
        analysis = analyse(ir, solve=not no_solver)
        for finding in analysis.findings:
            err.print(f"  - {finding.render(str(spec))}", markup=False, highlight=False)
        if analysis.errors or (strict and analysis.warnings):
            bad += 1
            err.print(f"[red]✗[/red] {spec}: {summary(analysis)}")
            continue
        console.print(
            f"[green]✓[/green] {spec}: workflow '{ir.name}' v{ir.version}, {len(ir.steps)} steps, "
            f"{summary(analysis)}"
        )
    if bad:
        raise typer.Exit(1)


@app.command()
def topology(
    spec: SpecArg,
    write_schemas: Annotated[Path | None, typer.Option(help="write each topic's .avsc here")] = None,
) -> None:
    """Print the topics, their schemas and a Mermaid picture of the pipeline."""
    from dana_workflows.streams.app_builder import topology_for

    settings = load_settings()
    topo = topology_for(pipeline_or_exit(spec), settings)
    table = Table(title=f"topics of {topo.pipeline.workflow.name}")
    for col in ("boundary", "topic", "schema id", "payload fields", "consumer"):
        table.add_column(col)
    for b, t in topo.topics.items():
        fields = topo.pipeline.boundaries.get(b)
        desc = (
            ", ".join(f"{f.name}:{f.type}{'?' if f.optional else ''}" for f in fields.values())
            if fields
            else "mixed"
        )
        table.add_row(
            b, t.topic, str(t.schema_id or "per message"), desc, topo.pipeline.consumers.get(b, "-")
        )
    console.print(table)
    console.print_text("```mermaid\n" + topo.mermaid() + "\n```")
    if write_schemas:
        write_schemas.mkdir(parents=True, exist_ok=True)
        for t in topo.topics.values():
            if t.schema is not None:
                (write_schemas / f"{t.topic}.avsc").write_text(json.dumps(t.schema, indent=2) + "\n")
        console.print(f"schemas written to {write_schemas}")


@app.command()
def run(
    spec: SpecArg,
    input: Annotated[Path, typer.Option("--input", "-i", help="events, one JSON object per line")],
    out: Annotated[Path, typer.Option(help="directory for output files")] = Path(".dwf/out"),
    format: Annotated[OutputFormat, typer.Option(help="how output topics are written")] = OutputFormat.jsonl,
    audit: AuditOpt = None,
    no_audit: Annotated[
        bool, typer.Option("--no-audit", help="build and check the audit rows but do not store them")
    ] = False,
    no_audit_sink: Annotated[bool, typer.Option("--no-audit-sink", hidden=True)] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="no progress bar and no summary (the exit code still tells)")
    ] = False,
    llm_script: LLMScriptOpt = None,
) -> None:
    """Run a workflow in this process over a file of events (no servers needed)."""
    from dana_workflows.cli.llm_script import scripted_llm
    from dana_workflows.cli.run import run_local
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.dsn import DsnError

    settings = load_settings()
    input_file_or_exit(input)
    pipeline = pipeline_or_exit(spec)
    audit_dsn = None if no_audit or no_audit_sink else (audit or settings.audit_dsn)
    with scripted_llm(llm_script, settings):
        try:
            if audit_dsn is not None:
                check_audit_server(audit_dsn)
            summary_code = asyncio.run(
                run_local(
                    pipeline,
                    input,
                    out,
                    fmt=format.value,
                    settings=settings,
                    audit_dsn=audit_dsn,
                    console=console,
                    quiet=quiet,
                )
            )
        except DsnError as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except AuditStoreError as exc:
            raise fail(str(exc)) from None
    raise typer.Exit(summary_code)


@audit_app.command("sql")
def audit_sql(
    query: Annotated[str, typer.Argument(help="a SELECT over dwf.events")],
    audit: AuditOpt = None,
    dsn: OldDsnOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object per row")] = False,
) -> None:
    """Run SQL against the audit store and print a table."""

    store = open_audit_for_reading(audit or dsn)
    try:
        res = store.query(query)
    except Exception as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    if json_out:
        for row in res.rows:
            typer.echo(json.dumps(dict(zip(res.columns, row, strict=True)), default=str))
        return
    table = Table()
    for c in res.columns:
        table.add_column(c)
    for row in res.rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    audit: AuditOpt = None,
    dsn: OldDsnOpt = None,
    workflow: Annotated[str | None, typer.Option(help="only this workflow")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="only this run")] = None,
) -> None:
    """Recompute every hash chain; name each changed, removed or reordered row, and duplicates.

    Exit code 3 when a chain is broken, 1 when there is no store to verify (docs/cli.md)."""
    from dana_workflows.sinks.reader import read_rows
    from dana_workflows.sinks.verify import verify_rows

    store = open_audit_for_reading(audit or dsn)
    try:
        report = verify_rows(read_rows(store, workflow=workflow, run_id=run_id))
    finally:
        store.close()
    for f in report.findings[:200]:
        (console if f.kind == "duplicate" else err).print(f"  {f}")
    if len(report.findings) > 200:
        err.print(f"  ... and {len(report.findings) - 200} more")
    status = "[green]OK[/green]" if report.ok else "[red]BROKEN[/red]"
    console.print(
        f"{report.runs} runs, {report.rows} rows: chains {status}; "
        f"{len(report.duplicates)} duplicate deliveries"
    )
    if not report.ok:
        raise typer.Exit(EXIT_CHAIN_BROKEN)


@audit_app.command("report")
def audit_report(
    run_id: Annotated[str, typer.Argument(help="the run to report on")],
    audit: AuditOpt = None,
    dsn: OldDsnOpt = None,
    html: Annotated[Path | None, typer.Option(help="also write an HTML report here")] = None,
    pdf: Annotated[Path | None, typer.Option(help="also write the HTML report as a PDF here")] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="write the Markdown report here (default: print it)")
    ] = None,
) -> None:
    """A compliance report for one run: every step, rule result, decision and the chain status."""
    from dana_workflows.sinks.reader import read_rows
    from dana_workflows.sinks.report import render_html, render_markdown

    store = open_audit_for_reading(audit or dsn)
    try:
        rows = read_rows(store, run_id=run_id)
    finally:
        store.close()
    if not rows:
        raise fail(
            f"no audit rows for run {run_id}; list runs with: "
            'dana-wf audit sql "SELECT DISTINCT run_id FROM dwf.events LIMIT 10"'
        )
    md = render_markdown(rows)
    if markdown:
        markdown.write_text(md)
        console.print(f"Markdown report written to {markdown}")
    else:
        console.print_text(md)
    if html:
        html.write_text(render_html(rows))
        console.print(f"HTML report written to {html}")
    if pdf:
        from dana_workflows.sinks.report_html import PdfUnavailable, write_report_pdf

        try:
            write_report_pdf(rows, pdf)
        except PdfUnavailable as exc:
            raise fail(str(exc)) from None
        console.print(f"PDF report written to {pdf}")


_mount("dana_workflows.cli.kafka_broker", "kafka", "Start, stop and inspect the local Kafka broker.")
_mount("dana_workflows.cli.config", "config", "Show the effective settings (secrets masked).")
_mount("dana_workflows.cli.llm_server", "dev", "Developer tools (the local OpenAI-compatible test server).")
_mount("dana_workflows.cli.llm_local", "llm", "A real local model (llama.cpp, SmolLM2-135M) on loopback.")
audit_app.add_typer(
    importlib.import_module("dana_workflows.cli.checkpoint").app,
    name="checkpoint",
    help="Signed Merkle checkpoints in write-once storage; prove the log extends them.",
)
_compliance = importlib.import_module("dana_workflows.cli.compliance")  # docs/compliance.md
audit_app.command("compliance")(_compliance.compliance)
audit_app.command("models")(_compliance.models)


def _mount_kafka_runtime() -> None:
    from dana_workflows.cli.status import status_command
    from dana_workflows.cli.worker import produce_command, worker_command

    app.command("worker")(worker_command)
    app.command("produce")(produce_command)
    app.command("status")(status_command)


_mount_kafka_runtime()
_mount("dana_workflows.cli.drift", "drift", "Drift baselines and reports.")
_mount("dana_workflows.cli.efficiency", "efficiency", "LLM call efficiency: reports and calibration.")
app.command("feedback")(importlib.import_module("dana_workflows.cli.feedback").feedback)  # docs/efficiency.md
app.command("diff")(importlib.import_module("dana_workflows.cli.diff").diff)  # docs/changes.md
_mount("dana_workflows.cli.shadow", "shadow", "Shadow mode: compare a changed spec on live traffic.")
_mount("dana_workflows.cli.knowledge", "knowledge", "Sync, list, show and diff knowledge sources.")
_mount("dana_workflows.cli.objectives", "objectives", "Infer, review and lock the workflow's objectives.")
_mount("dana_workflows.cli.schemas", "schemas", "Check and register topic schemas in a schema registry.")
_mount("dana_workflows.cli.review", "review", "Human review: list, show and decide events (docs/review.md).")
_mount("dana_workflows.cli.dlq", "dlq", "Dead-lettered events: list and replay them (docs/review.md).")
_mount("dana_workflows.cli.recovery", "recovery", "Recovery ladders: how well each rung works.")

if signal.getsignal(signal.SIGINT) is _interrupted_while_loading:  # loaded: Ctrl-C is main()'s again
    signal.signal(signal.SIGINT, _SIGINT_BEFORE)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None or not _named_on_command_line(exc.filename, sys.argv[1:]):
            raise  # a file no argument named (a user's module, the engine): the traceback says where
        # a path the user named that cannot be written or read (a report's -o/--html/--json/--svg, --out,
        # --write-schemas, --to): one line naming it, as for the input file (docs/cli.md), not a traceback
        fix = _PATH_FIXES.get(type(exc), "fix: check the path")
        fail(f"{exc.filename}: {exc.strerror or type(exc).__name__} ({fix})", EXIT_USAGE)
        sys.exit(EXIT_USAGE)
    except RuntimeError as exc:
        from dana_workflows.streams.kafka.admin import BrokerUnavailableError

        if not isinstance(exc, BrokerUnavailableError):
            raise
        fail(str(exc))  # review/dlq --broker, like status and produce: no broker there, one line with the fix
        sys.exit(EXIT_FAILURE)


def _named_on_command_line(filename: str | bytes | os.PathLike[str], argv: list[str]) -> bool:
    """Whether the path is an argument (``--opt PATH`` or ``--opt=PATH``) or lies inside one (a file the
    command writes in the --out folder named): only then is its OSError the user's to fix by naming
    another path."""
    target = Path(os.path.abspath(os.fsdecode(filename)))
    for arg in argv:
        value = arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg
        if value and not value.startswith("-"):
            given = Path(os.path.abspath(value))
            if target == given or given in target.parents:
                return True
    return False


_PATH_FIXES: dict[type[OSError], str] = {
    FileNotFoundError: "fix: create the folder it goes in, or name another path",
    IsADirectoryError: "fix: name a file, not a folder",
    NotADirectoryError: "fix: a part of the path is a file, not a folder; name another path",
    PermissionError: "fix: name a path you may write, or change its permissions",
}
