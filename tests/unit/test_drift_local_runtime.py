"""Drift through the in-process runtime: records and audit rows, alerts exactly where the shift is."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from processors.chain import compile_pipeline
from schemas.registry import FileRegistry
from sinks.audit_model import AuditRow
from sinks.verify import verify_rows
from streams.local.outputs import OutputFiles, read_jsonl
from streams.local.runtime import LocalRuntime, collect_rows
from streams.topology import Topology
from workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: shifty
input: {kind: string, amount: double, ts: long}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
drift:
  window: {kind: tumbling, size_s: 100, time_field: ts, allowed_lateness_s: 10}
  monitors:
    - {id: kinds, field: kind, feature: categorical, reference_windows: 2}
    - {id: amounts, field: amount, feature: numeric, step: check, bins: [10.0, 20.0, 30.0],
       reference_windows: 2}
"""
PER_WINDOW = 1200
SHIFT_WINDOW = 6


def events(shift: bool, late: bool = False) -> list[str]:
    rng = random.Random(11)
    lines = []
    for w in range(10):
        shifted = shift and w >= SHIFT_WINDOW
        for i in range(PER_WINDOW):
            kind = rng.choices(["a", "b", "c"], [20, 20, 60] if shifted else [70, 20, 10])[0]
            amount = rng.uniform(25, 40) if shifted else rng.uniform(1, 30)
            lines.append(json.dumps({"kind": kind, "amount": amount, "ts": w * 100 + i * 100 // PER_WINDOW}))
    if late:
        lines.append(json.dumps({"kind": "a", "amount": 5.0, "ts": 5}))  # window 0 closed long ago
    return lines


async def run(tmp_path: Path, lines: list[str]) -> tuple[list[dict[str, object]], list[AuditRow], object]:
    pipeline = compile_pipeline(parse_spec(SPEC))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    runtime = LocalRuntime(pipeline, topo, OutputFiles(tmp_path / "out", topo), collect_rows(rows))
    summary = await runtime.run(lines)
    return read_jsonl(tmp_path / "out" / "dwf.shifty.drift.jsonl"), rows, summary


async def test_alert_fires_in_the_first_full_window_after_the_shift(tmp_path: Path) -> None:
    records, rows, summary = await run(tmp_path, events(shift=True))
    for monitor in ("kinds", "amounts"):
        mine = [r for r in records if r["monitor"] == monitor]
        assert len(mine) == 10
        levels = [r["level"] for r in mine]
        assert [r["reference"] for r in mine[:2]] == ["building", "building"]
        assert levels[2:SHIFT_WINDOW] == ["ok"] * (SHIFT_WINDOW - 2), monitor
        assert levels[SHIFT_WINDOW] == "alert", monitor
    kinds_alert = next(r for r in records if r["monitor"] == "kinds" and r["level"] == "alert")
    assert json.loads(str(kinds_alert["top_movers"]))[0]["bin"] == "c"
    drift_rows = [r for r in rows if r.kind == "drift"]
    assert len(drift_rows) == 20 and {r.run_id for r in drift_rows} == {"shifty.drift"}
    assert verify_rows(rows).ok
    assert any("kinds" in line for line in summary.drift_alerts)  # type: ignore[attr-defined]


async def test_stationary_stream_never_alerts(tmp_path: Path) -> None:
    records, _, summary = await run(tmp_path, events(shift=False))
    assert len(records) == 20
    assert all(r["level"] == "ok" for r in records)
    assert summary.drift_alerts == []  # type: ignore[attr-defined]


async def test_late_event_is_counted_and_audited(tmp_path: Path) -> None:
    _, rows, summary = await run(tmp_path, events(shift=False, late=True))
    assert summary.late_events == 1  # type: ignore[attr-defined]
    late = [r for r in rows if r.kind == "drift_late"]
    assert len(late) == 1 and json.loads(late[0].details)["event_time_us"] == 5_000_000


def test_drift_docs_show_the_llm_examples_drift_section() -> None:
    """docs/drift.md's declaration is the claims_llm example's, which the parser accepts."""
    import re

    from workflow.spec import load_spec

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "drift.md").read_text()
    block = re.search(r"```yaml\n(drift:\n.*?)```", doc, flags=re.S)
    assert block is not None
    example = (root / "docs" / "examples" / "claims" / "claims_llm.yaml").read_text()
    assert block.group(1).strip() in example
    ir = load_spec(root / "docs" / "examples" / "claims" / "claims_llm.yaml")
    assert [m.id for m in ir.drift.monitors][-1] == "llm_risk"


async def test_event_without_a_usable_time_is_audited_not_fatal(tmp_path: Path) -> None:
    spec = SPEC.replace("ts: long}", "ts: long?}")
    pipeline = compile_pipeline(parse_spec(spec))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    rows: list[AuditRow] = []
    runtime = LocalRuntime(pipeline, topo, None, collect_rows(rows))
    lines = [json.dumps({"kind": "a", "amount": 5.0, "ts": 1}), json.dumps({"kind": "b", "amount": 6.0})]
    summary = await runtime.run(lines)
    assert summary.outcomes["out"] == 2
    skipped = [r for r in rows if r.kind == "drift_skipped"]
    assert len(skipped) == 1 and "time_field 'ts'" in skipped[0].reason
    assert verify_rows(rows).ok
