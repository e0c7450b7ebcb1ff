"""`dana-wf schemas check|register SPEC`: a workflow's topic schemas against a Confluent-compatible registry.

``check`` judges each subject the workflow writes (``<topic>-value`` for typed topics, the record name for
``rejected``/``dlq``/``audit``) against its registered versions under the subject's compatibility level and
prints what would break, field by field; it registers nothing. ``register`` checks the same way and
registers only when every subject passes, so a failed run leaves the registry as it was.

Exit codes: 0 compatible (or registered), 1 a schema would break a subject, 2 the registry could not be
asked (unreachable, credentials refused) or the settings point at no registry server.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from dana_workflows.cli.specs import pipeline_or_exit
from dana_workflows.cli.worker import _settings
from dana_workflows.schemas.registry import UnknownSchemaError

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Check and register a workflow's topic schemas in a Confluent-compatible schema registry.",
)
console = Console(highlight=False, soft_wrap=True)  # a problem line stays one line (grep, CI logs)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Level(StrEnum):
    """The registries' compatibility levels (schemas/compatibility.py LEVELS)."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML)")]
PrefixOpt = Annotated[str | None, typer.Option(help="topic prefix (default: DWF_TOPIC_PREFIX or dwf)")]
LevelOpt = Annotated[
    Level | None,
    typer.Option(
        help="judge under this level instead of each subject's (e.g. FULL when you do not know who reads)"
    ),
]

EXIT_INCOMPATIBLE = 1
EXIT_REGISTRY = 2


class PlannedSubjects:
    """A stand-in registry that only records what a worker would register: subject -> schema.

    The topology and the wire codec are built with it, so the subjects checked are exactly those a worker
    registers (one home for the topic list: streams/topology.py and streams/kafka/wire.py).
    """

    def __init__(self) -> None:
        self.subjects: dict[str, dict[str, Any]] = {}

    def register(self, schema: dict[str, Any], subject: str | None = None) -> int:
        from dana_workflows.schemas.confluent_registry import record_subject

        self.subjects[subject or record_subject(schema)] = schema
        return len(self.subjects)

    def lookup(self, sid: int) -> dict[str, Any]:
        raise UnknownSchemaError(f"schema id {sid}: a plan of subjects holds no schemas by id")

    def parsed(self, sid: int) -> Any:
        return self.lookup(sid)


def planned_subjects(spec: Path, prefix: str) -> dict[str, dict[str, Any]]:
    """Subject -> schema for every topic a worker of `spec` writes under topic prefix `prefix`."""
    from dana_workflows.streams.kafka.wire import WireCodec
    from dana_workflows.streams.topology import Topology

    plan = PlannedSubjects()
    Topology(pipeline_or_exit(spec), plan, prefix=prefix)
    WireCodec(plan)
    return plan.subjects


def _registry(prefix: str | None) -> tuple[Any, str]:
    from dana_workflows.schemas.confluent_registry import REGISTRY_SCHEMES, ConfluentRegistry, RegistryError

    settings = _settings()
    if not settings.schema_registry_url().startswith(REGISTRY_SCHEMES):
        err.print(
            "[red]error:[/red] DWF_SCHEMA_REGISTRY is not a registry server (the embedded file registry has "
            "no subjects to check): set DWF_SCHEMA_REGISTRY=http(s)://<host>:<port>"
        )
        raise typer.Exit(EXIT_REGISTRY)
    try:
        return ConfluentRegistry.from_settings(settings), prefix or settings.topic_prefix
    except RegistryError as exc:
        raise _registry_failed(exc) from None


def _registry_failed(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}")
    return typer.Exit(EXIT_REGISTRY)


def _check_all(registry: Any, subjects: dict[str, dict[str, Any]], level: str | None = None) -> int:
    """Print each subject's verdict; the number of subjects that would break."""
    from dana_workflows.schemas.confluent_registry import RegistryError

    broken = 0
    for subject, schema in subjects.items():
        try:
            verdict = registry.check(schema, subject, level)
        except RegistryError as exc:
            raise _registry_failed(exc) from None
        if verdict.problems:
            broken += 1
            console.print(f"BREAK {subject} ({verdict.level}, {verdict.versions} registered version(s))")
            for problem in verdict.problems:
                console.print(f"      {escape(problem)}")
        elif verdict.versions == 0:
            console.print(f"new   {subject} (not registered yet)")
        else:
            same = "unchanged" if verdict.already_registered else "compatible"
            console.print(f"ok    {subject} ({same}, {verdict.level}, {verdict.versions} version(s))")
    return broken


@app.command("check")
def check_command(spec: SpecArg, prefix: PrefixOpt = None, level: LevelOpt = None) -> None:
    """Compare each topic's schema with the registered versions; exit 1 naming each field that would break."""
    registry, topic_prefix = _registry(prefix)
    broken = _check_all(registry, planned_subjects(spec, topic_prefix), level and level.value)
    if broken:
        err.print(f"{broken} subject(s) would break: nothing registered")
        raise typer.Exit(EXIT_INCOMPATIBLE)


@app.command("register")
def register_command(spec: SpecArg, prefix: PrefixOpt = None) -> None:
    """Check every subject, then (only if all pass) register the schemas and print their ids."""
    from dana_workflows.schemas.confluent_registry import RegistryError

    registry, topic_prefix = _registry(prefix)
    subjects = planned_subjects(spec, topic_prefix)
    broken = _check_all(registry, subjects)
    if broken:
        err.print(f"{broken} subject(s) would break: nothing registered")
        raise typer.Exit(EXIT_INCOMPATIBLE)
    for subject, schema in subjects.items():
        try:
            sid = registry.register(schema, subject)
        except RegistryError as exc:
            raise _registry_failed(exc) from None
        console.print(f"registered {subject}: id {sid}")
