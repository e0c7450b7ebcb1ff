"""`dana-wf diff OLD.yaml NEW.yaml`: which decisions a change makes differently, on recorded traffic.

Exit codes: 0 when every changed decision is expected (`--expect`), 1 when some are not (a CI job gates a
spec change on it) or the audit store cannot be read, 2 for input the user can fix (two different
workflows, an empty audit range, a missing file). docs/changes.md shows the workflow.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dana_workflows.cli.conventions import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail
from dana_workflows.cli.specs import input_file_or_exit, pipeline_or_exit
from dana_workflows.cli.stores import open_audit_for_reading
from dana_workflows.cli.times import time_option_us
from dana_workflows.sinks.audit_model import store_database
from dana_workflows.workflow.ir import RouteStepIR, WorkflowIR

err = Console(stderr=True, soft_wrap=True)
EXIT_UNEXPECTED = EXIT_FAILURE  # some changed decision is not in --expect


def diff(
    old: Annotated[Path, typer.Argument(help="the workflow spec in production")],
    new: Annotated[Path, typer.Argument(help="the changed spec")],
    input: Annotated[
        Path | None, typer.Option("--input", "-i", help="events, one JSON object per line")
    ] = None,
    from_audit: Annotated[
        bool, typer.Option("--from-audit", help="replay the inputs recorded in the audit")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="with --from-audit: from this time (ISO 8601, UTC)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="with --from-audit: before this time")] = None,
    audit: Annotated[str | None, typer.Option(help="audit DSN (default: DWF_AUDIT_DSN)")] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option("--expect", help="an intended cause (route:triage, rule:check.*, constraint:x); repeat"),
    ] = None,
    samples: Annotated[int, typer.Option(min=0, help="sample events shown per cause")] = 3,
    html: Annotated[Path | None, typer.Option(help="also write an HTML page here")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write every changed decision here")] = None,
) -> None:
    """Replay recorded inputs through both versions and print every decision that changes, by cause."""
    from dana_workflows.cli import diff_report
    from dana_workflows.cli.diff_replay import compare, offline_settings, replay
    from dana_workflows.core.settings import load_settings

    if (input is None) == (not from_audit):
        raise fail("give the events with --input FILE or --from-audit (one of the two)", EXIT_USAGE)
    for cause in expect or []:
        _known_cause_or_exit(cause)
    old_pipeline, new_pipeline = pipeline_or_exit(old), pipeline_or_exit(new)
    old_ir, new_ir = old_pipeline.workflow, new_pipeline.workflow
    for cause in expect or []:
        _named_in_a_version_or_exit(cause, (old_ir, new_ir))
    if old_ir.name != new_ir.name:
        raise fail(
            f"{old} is workflow '{old_ir.name}' and {new} is workflow '{new_ir.name}': a diff compares two "
            "versions of one workflow (fix: give both specs the same `workflow:` name)",
            EXIT_USAGE,
        )
    settings = load_settings()
    if input is not None:
        lines = _file_lines(input)
        where = str(input)
    else:
        lines, where = _audit_lines(old_ir.name, since, until, audit or settings.audit_dsn)
    with tempfile.TemporaryDirectory(prefix="dwf-diff-") as scratch:
        before = replay(old_pipeline, lines, offline_settings(settings, Path(scratch) / "old"))
        after = replay(new_pipeline, lines, offline_settings(settings, Path(scratch) / "new"))
    changes = compare(before, after, old_ir, new_ir, lines)
    groups = diff_report.group(changes, expect or [])
    console = Console(soft_wrap=True, highlight=False)
    console.print(
        f"{old_ir.name}: v{old_ir.version} ({old}) -> v{new_ir.version} ({new}), inputs from {where}"
    )
    for line in diff_report.text(groups, before, after, len(before.journeys), samples):
        console.print(line, markup=False)
    if json_out is not None:
        diff_report.as_json(groups, json_out)
    if html is not None:
        page = diff_report.html(groups, before, after, (str(old), str(new)), len(before.journeys), samples)
        html.write_text(page, encoding="utf-8")
        console.print(f"HTML page: {html}")
    unexpected = sum(len(g.changes) for g in groups if not g.expected)
    if unexpected:
        err.print(f"[red]{unexpected} changed decisions are not in --expect[/red]")
        raise typer.Exit(EXIT_UNEXPECTED)
    raise typer.Exit(EXIT_OK)


def _file_lines(path: Path) -> list[str]:
    from dana_workflows.cli.run import read_input_lines

    input_file_or_exit(path)
    lines = read_input_lines(
        path
    )  # blank lines kept: each event keeps the position (and run id) it has in a run
    if not any(line.strip() for line in lines):
        raise fail(f"input file {path} has no events", EXIT_USAGE)
    return lines


def _audit_lines(workflow: str, since: str | None, until: str | None, dsn: str) -> tuple[list[str], str]:
    """The recorded inputs of the workflow in [since, until), in the order they were received."""
    from dana_workflows.core.masking import mask_text
    from dana_workflows.processors.recorded_input import restore, sealer
    from dana_workflows.sinks.audit_model import sql_string

    low, high = time_option_us(since, "--since"), time_option_us(until, "--until")
    store = open_audit_for_reading(dsn, missing_exit=EXIT_USAGE)
    where = [f"workflow = {sql_string(workflow)}", "kind = 'received'", "step = 'ingest'"]
    if low is not None:
        where.append(f"ts_us >= {low}")
    if high is not None:
        where.append(f"ts_us < {high}")
    database = store_database(store)
    sql = f"SELECT details FROM {database}.events WHERE {' AND '.join(where)} ORDER BY ts_us, run_id"
    try:
        rows = store.query(sql).rows
    finally:
        store.close()
    span = f"{since or 'the start'} to {until or 'now'}"
    if not rows:
        raise fail(
            f"no recorded input of workflow '{workflow}' from {span} in {mask_text(dsn)} "
            "(fix: widen --since/--until, check the workflow name and DWF_AUDIT_DSN, or use --input FILE)",
            EXIT_USAGE,
        )
    from dana_workflows.core.settings import load_settings

    key = load_settings().audit_input_key
    cipher = sealer(key.get_secret_value() if key is not None else None)
    lines: list[str] = []
    lost, fields = 0, set[str]()
    for (details,) in rows:
        restored = restore(json.loads(details), cipher)
        if restored.line is None:
            lost += 1
            fields.update(f"{f} ({restored.why})" for f in restored.unrestored)
            continue
        lines.append(restored.line)
    if lost:
        what = ", ".join(sorted(fields))
        err.print(f"[yellow]{lost} recorded events could not be restored and are left out: {what}[/yellow]")
    if not lines:
        raise fail(f"none of the {len(rows)} recorded inputs from {span} could be restored", EXIT_USAGE)
    return lines, f"the audit ({len(lines)} events, {span})"


def _named_in_a_version_or_exit(cause: str, versions: tuple[WorkflowIR, WorkflowIR]) -> None:
    """An --expect naming a step or constraint neither version has (route:triag) matches nothing either: the
    gate would call the intended change unexpected. A rule cause's step is checked (its id may be a schema
    check's or an inferred rule's); globs, and input:/llm: causes, are taken as written."""
    from dana_workflows.cli.diff_replay import ENFORCE
    from dana_workflows.objectives.boundaries import walk_steps
    from dana_workflows.processors.ingest import INGEST
    from dana_workflows.workflow.spec_support import closest

    kind, _, name = cause.partition(":")
    if kind not in ("route", "step", "rule", "constraint") or any(c in name for c in "*?["):
        return
    if kind == "rule":
        name = name.split(".", 1)[0]
    known: set[str] = set() if kind in ("route", "constraint") else {INGEST, ENFORCE}
    for ir in versions:
        if kind == "constraint":
            known.update(rule.id for rule in ir.objective.constraints)
        else:
            route_only = kind == "route"
            # a step in a branch by its path (triage.review.fraud), as the audit rows and the causes name it
            steps = walk_steps(ir.steps)
            known.update(path for path, s in steps if not route_only or isinstance(s, RouteStepIR))
    if name in known:
        return
    what = {"rule": "step", "route": "route step"}.get(kind, kind)
    in_a_branch = [k for k in sorted(known) if k.endswith(f".{name}")]  # a branch step's bare name
    meant = in_a_branch[0] if in_a_branch else closest(name, known)
    hint = f"did you mean '{meant}'?" if meant else f"one of: {', '.join(sorted(known)) or 'none'}"
    raise fail(f"--expect {cause!r}: no {what} '{name}' in either version (fix: {hint})", EXIT_USAGE)


def _known_cause_or_exit(cause: str) -> None:
    """An --expect whose kind is no cause's (rout:triage) matches nothing: a CI gate then fails on every
    change, saying only that they are unexpected. A glob in the kind (`*`, `r*:x`) is taken as written."""
    from dana_workflows.cli.diff_replay import CAUSE_KINDS
    from dana_workflows.workflow.spec_support import closest

    kind = cause.split(":", 1)[0]
    if kind in CAUSE_KINDS or any(c in kind for c in "*?["):
        return
    meant = closest(kind, CAUSE_KINDS)
    hint = f"did you mean '{meant}:'? " if meant else ""
    kinds = ", ".join(f"{k}:" for k in CAUSE_KINDS)
    raise fail(
        f"--expect {cause!r}: no cause starts with {kind!r} ({hint}causes are {kinds} ...)", EXIT_USAGE
    )
