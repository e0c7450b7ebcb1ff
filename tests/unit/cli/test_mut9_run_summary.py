"""The summary `dana-wf run` prints after a local run (docs/quickstart.md, docs/recovery.md "review"): a
known RunSummary in, the lines and table cells a reader relies on out."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from dana_workflows.cli.run import audit_sql_hint, print_summary
from dana_workflows.streams.local.runtime import RunSummary, StepStats

pytestmark = pytest.mark.unit

PIPELINE: Any = SimpleNamespace(workflow=SimpleNamespace(name="claims-triage", version=3))


def summary(**kw: Any) -> RunSummary:
    s = RunSummary(events=10, seconds=2.0, audit_rows=7)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def printed(s: RunSummary, outputs: Any = None, dsn: str | None = None, chain_ok: bool = True) -> list[str]:
    buf = io.StringIO()
    console = Console(file=buf, width=200, color_system=None, highlight=False)
    print_summary(console, PIPELINE, s, outputs, dsn, chain_ok)
    rules = str.maketrans({"│": " ", "┃": " "})  # table cell borders
    return [" ".join(line.translate(rules).split()) for line in buf.getvalue().splitlines()]


def test_the_header_outcomes_and_audit_line() -> None:
    outputs = SimpleNamespace(paths={"out": Path("/o/out.jsonl")})
    lines = printed(summary(outcomes=Counter({"rejected": 3, "out": 7})), outputs)
    assert lines[0] == "claims-triage v3: 10 events in 2.00s (5 events/s)"
    # outcomes in name order, each with its file when there is one
    assert lines.index("out 7 /o/out.jsonl") < lines.index("rejected 3")
    assert lines[-1] == "audit: 7 rows built, not stored (--no-audit); hash chains verified"
    assert not any("rejections by rule" in line for line in lines)


def test_a_broken_chain_and_the_audit_store_hint() -> None:
    lines = printed(summary(), dsn="chdb:///tmp/a", chain_ok=False)
    assert lines[-2:] == [
        "audit: 7 rows -> chdb:///tmp/a; hash chains BROKEN",
        'try: dana-wf audit sql "SELECT kind, count() FROM dwf.events GROUP BY kind"',
    ]


def test_a_password_in_the_audit_dsn_is_masked_in_the_summary_and_its_hints() -> None:
    """A run's summary is pasted into tickets: the password never shows (newcomer review F16); the hints
    say what to put in its place."""
    dsn = "clickhouse://writer:s3cret@ch:9000/claims_audit?secure=1"
    lines = printed(summary(), dsn=dsn)
    assert not any("s3cret" in line for line in lines)
    shown = "clickhouse://writer:**********@ch:9000/claims_audit?secure=1"
    assert lines[-3:] == [
        f"audit: 7 rows -> {shown}; hash chains verified",
        'try: dana-wf audit sql "SELECT kind, count() FROM claims_audit.events GROUP BY kind"',
        "(the password is shown as **********: put yours in its place, or set DWF_AUDIT_DSN)",
    ]
    assert audit_sql_hint(dsn, "chdb://.dwf/audit").endswith(f" --audit '{shown}'")
    assert printed(summary(), dsn="clickhouse://writer@ch:9000/db")[-1].startswith("try: ")  # no password


def test_rejections_by_rule_most_common_first() -> None:
    lines = printed(summary(rejected_by_rule=Counter({"check.small": 1, "check.positive": 4})))
    at = lines.index("rejections by rule")
    assert lines.index("check.positive 4") < lines.index("check.small 1")
    assert at < lines.index("check.positive 4")


def test_a_rule_that_errored_on_most_events_is_pointed_out() -> None:
    lines = printed(summary(errored_by_rule=Counter({"check.a": 6, "check.b": 5})))
    warned = [line for line in lines if "could not be computed" in line]
    # 6 of 10 is most events; 5 of 10 is not
    assert warned == [
        "rule check.a could not be computed on 6 of 10 events: see the error in its rejections; "
        "`dana-wf validate` type-checks every expression before a run"
    ]


def test_the_steps_table_and_the_review_column_only_when_used() -> None:
    plain = StepStats(counts=Counter({"emitted": 5, "routed": 2, "rejected": 1, "dlq": 1}), seconds=0.25)
    lines = printed(summary(steps={"check": plain}))
    assert "step emitted routed rejected dlq ms" in lines
    assert "check 5 2 1 1 250" in lines
    reviewed = StepStats(counts=Counter({"emitted": 1, "review": 2}), seconds=0.0)
    lines = printed(summary(steps={"check": plain, "assess": reviewed}))
    assert "step emitted routed rejected dlq review ms" in lines
    assert "check 5 2 1 1 0 250" in lines and "assess 1 0 0 0 2 0" in lines


def test_drift_is_reported_only_when_there_was_some_with_ten_alerts_at_most() -> None:
    assert not any(line.startswith("drift:") for line in printed(summary()))
    alerts = [f"alert {i}" for i in range(12)]
    lines = printed(summary(drift_windows=4, drift_alerts=alerts, late_events=2))
    at = lines.index("drift: 4 window records, 12 warnings/alerts, 2 late events")
    assert lines[at + 1 : at + 11] == alerts[:10]
    assert "alert 10" not in lines
    assert "drift: 0 window records, 0 warnings/alerts, 3 late events" in printed(summary(late_events=3))
