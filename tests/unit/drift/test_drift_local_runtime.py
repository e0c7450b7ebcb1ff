"""Drift through the in-process runtime: records and audit rows, alerts exactly where the shift is."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl
from dana_workflows.streams.local.runtime import LocalRuntime, RunSummary, collect_rows
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

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

    from dana_workflows.workflow.spec import load_spec

    root = Path(__file__).resolve().parents[3]
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


# -- known answers at scale and off the window boundary -------------------------------------------------

STEADY = """
workflow: steady
input: {currency: string, amount: double, description: string, ts: long}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
drift:
  window: {time_field: ts}
  monitors:
    - {id: currency, field: currency}
    - {id: amount, field: amount, feature: numeric, step: check}
    - {id: description, field: description, feature: text}
"""
WORDS = ("water", "damage", "roof", "fire", "theft", "car", "accident", "flood", "window", "broken", "phone")
NEW_WORDS = ("ransomware", "cyber", "breach", "hail", "storm", "server", "outage", "invoice", "fraud", "wire")
T0_S = 1_699_999_200  # 2023-11-14T22:00:00Z: whole hours (and 150 s windows) from the first claim


def claims_lines(n: int, seed: int, seconds_apart: float, shift_at: int | None = None) -> list[str]:
    """n claims; from claim `shift_at` on, every monitored field shifts."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        shifted = shift_at is not None and i >= shift_at
        words = NEW_WORDS + WORDS[:4] if shifted else WORDS
        weights = [0.3, 0.3, 0.4] if shifted else [0.6, 0.3, 0.1]
        claim = {
            "currency": rng.choices(("USD", "EUR", "GBP"), weights)[0],
            "amount": round(rng.lognormvariate(6.6 if shifted else 6.0, 1.0), 2),
            "description": " ".join(rng.choices(words, k=6)),
            "ts": T0_S + int(i * seconds_apart),
        }
        lines.append(json.dumps(claim))
    return lines


async def run_steady(tmp_path: Path, lines: list[str], spec: str = STEADY) -> tuple[list[Any], RunSummary]:
    """Through the real LocalRuntime, no outputs and no store: the drift records from their audit rows."""
    pipeline = compile_pipeline(parse_spec(spec))
    topo = Topology(pipeline, FileRegistry(tmp_path / "schemas"))
    records: list[Any] = []

    def keep_drift_rows(rows: Sequence[AuditRow]) -> None:  # the details of a drift row: to_record()
        records.extend(SimpleNamespace(**json.loads(r.details)) for r in rows if r.kind == "drift")

    summary = await LocalRuntime(pipeline, topo, None, keep_drift_rows).run(lines)
    return records, summary


async def test_stationary_stream_of_100k_events_never_warns_with_the_defaults(tmp_path: Path) -> None:
    """The issue's acceptance test through `dana-wf run`'s runtime: default thresholds (warn 0.1, alert
    0.2), default window (tumbling, 3600 s, no lateness), the reference learned from the first window."""
    lines = claims_lines(100_000, seed=2, seconds_apart=0.6)  # 6000 claims per hour
    records, summary = await run_steady(tmp_path, lines)
    assert summary.events == 100_000
    assert summary.outcomes["out"] == 100_000
    assert summary.drift_windows == 3 * 17  # 16 full hours, then 4000 claims
    assert {(r.warn_psi, r.alert_psi, r.window_end_us - r.window_start_us) for r in records} == {
        (0.1, 0.2, 3_600_000_000)
    }
    scored = [r for r in records if r.psi is not None]
    full = [r for r in scored if r.closed_by == "watermark"]
    assert len(scored) == 3 * 16 and len(full) == 3 * 15
    assert not any(r.below_min_count for r in full)  # the thresholds decide, not the min_count gate
    worst = max(scored, key=lambda r: r.psi or 0.0)
    assert all(r.level == "ok" for r in records), vars(worst)
    assert (worst.psi or 0.0) < 0.05, vars(worst)
    assert summary.drift_alerts == []


@pytest.mark.parametrize("shift_fraction", [0.3, 0.75])
async def test_a_shift_inside_a_window_alerts_by_the_first_full_window_after_it(
    tmp_path: Path, shift_fraction: float
) -> None:
    """The shift lands inside window 4 (not on a boundary): no alert in the windows before it, and an alert
    at the latest in window 5, the first one whose events all come after the shift."""
    per_window = 1500
    spec = STEADY.replace("{time_field: ts}", "{size_s: 150, time_field: ts}")  # 10 claims a second
    shift_at = 4 * per_window + round(shift_fraction * per_window / 10) * 10  # on a whole second
    lines = claims_lines(8 * per_window, seed=7, seconds_apart=0.1, shift_at=shift_at)
    shift_us = json.loads(lines[shift_at])["ts"] * 1_000_000
    assert json.loads(lines[shift_at - 1])["ts"] * 1_000_000 < shift_us  # a clean cut, mid-window
    records, summary = await run_steady(tmp_path, lines, spec)
    first_full_start = min(r.window_start_us for r in records if r.window_start_us >= shift_us)
    for monitor in ("currency", "amount", "description"):
        mine = [r for r in records if r.monitor == monitor]
        assert len(mine) == 8
        (shift_window,) = [r for r in mine if r.window_start_us < shift_us < r.window_end_us]
        before = [r for r in mine if r.window_end_us <= shift_us]
        assert len(before) == 4 and before[0].reference == "building"
        assert all(r.level == "ok" for r in before), [(r.window_start_us, r.psi) for r in before]
        alerts = [r for r in mine if r.level == "alert"]
        assert alerts, f"{monitor}: no alert after the shift"
        assert alerts[0].window_end_us > shift_us  # never before the shift...
        assert alerts[0].window_start_us <= first_full_start  # ...and by the first full window after it
        full = next(r for r in mine if r.window_start_us == first_full_start)
        assert full.level == "alert" and full.window_start_us == shift_window.window_end_us
    assert len(summary.drift_alerts) == sum(r.level != "ok" for r in records)
