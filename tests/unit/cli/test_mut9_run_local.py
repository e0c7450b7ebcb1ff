"""`dana-wf run` without an audit store (cli/run.py): the outputs written, the summary printed (or not,
with quiet), exit 0 with the run's own chain verified; the report hints name one run per outcome kind."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from dana_workflows.cli.run import example_runs, print_report_hints, run_local
from dana_workflows.core.settings import Settings
from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: tiny
input: {amount: double}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
"""


def run(tmp_path: Path, amounts: list[float], quiet: bool = False) -> tuple[int, list[str]]:
    events = tmp_path / "in.jsonl"
    events.write_text("".join(json.dumps({"amount": a}) + "\n" for a in amounts))
    buf = io.StringIO()
    console = Console(file=buf, width=200, color_system=None)
    settings = Settings(data_dir=tmp_path / "data", schema_registry=None)
    code = asyncio.run(
        run_local(
            compile_pipeline(parse_spec(SPEC)),
            events,
            tmp_path / "out",
            fmt="jsonl",
            settings=settings,
            audit_dsn=None,
            console=console,
            quiet=quiet,
        )
    )
    return code, [" ".join(line.replace("│", " ").split()) for line in buf.getvalue().splitlines()]


def test_a_run_writes_its_outcomes_and_prints_its_summary(tmp_path: Path) -> None:
    code, lines = run(tmp_path, [1.0, -1.0, 2.0])
    assert code == 0
    assert lines[0].startswith("tiny v1: 3 events in ")
    assert lines[-1].startswith("audit: ") and lines[-1].endswith(
        "rows built, not stored (--no-audit); hash chains verified"
    )
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["dwf.tiny.out.jsonl", "dwf.tiny.rejected.jsonl"]
    assert len((tmp_path / "out" / "dwf.tiny.out.jsonl").read_text().splitlines()) == 2


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    code, lines = run(tmp_path, [1.0], quiet=True)
    assert (code, lines) == (0, [])


def row(run: str, kind: str) -> AuditRow:
    return AuditRow("w", 1, run, 0, "e", "s", kind)


def test_one_example_run_per_outcome_kind_first_seen() -> None:
    rows = [row("r1", "received"), row("r2", "rejected"), row("r3", "rejected"), row("r4", "completed")]
    assert example_runs(rows) == {"rejected": "r2", "completed": "r4"}
    rows.append(row("r5", "dlq"))
    assert example_runs(rows) == {"rejected": "r2", "completed": "r4", "dlq": "r5"}


def test_report_hints_name_the_store_unless_it_is_the_default() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=300, color_system=None)
    runs = {"completed": "r4", "rejected": "r2"}
    print_report_hints(console, runs, "chdb://.dwf/audit", "chdb://.dwf/audit")
    print_report_hints(console, {"dlq": "r5"}, "chdb:///tmp/x", "chdb://.dwf/audit")
    print_report_hints(console, {"dlq": "r6"}, "clickhouse://u:pw@h/db", "chdb://.dwf/audit")
    assert buf.getvalue().splitlines() == [
        "  report of a rejected event: dana-wf audit report r2",
        "  report of a completed event: dana-wf audit report r4",
        "  report of an event sent to dlq: dana-wf audit report r5 --audit 'chdb:///tmp/x'",
        "  report of an event sent to dlq: dana-wf audit report r6 --audit 'clickhouse://u:**********@h/db'",
    ]


def test_the_run_settles_the_collector_and_puts_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # during the run: the raised young threshold (streams/gc_tuning.py); after it: the process's own
    import gc

    from dana_workflows.streams.gc_tuning import YOUNG_THRESHOLD
    from dana_workflows.streams.local.runtime import LocalRuntime

    seen: list[tuple[int, int, int]] = []
    real_run = LocalRuntime.run

    async def spying_run(self: LocalRuntime, *args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        return await real_run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalRuntime, "run", spying_run)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        code, _ = run(tmp_path, [1.0, -1.0])
        assert code == 0
        assert seen == [(YOUNG_THRESHOLD, 10, 10)]
        assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
