"""The drift observer (drift/observer.py): values per step, records and audit rows on their own chain.

From the docstring: drift rows form their own hash chain (run ``<workflow>.drift``) whose head lives in
the state, so a restart continues it; an event without a usable event time is audited as skipped and
not counted; a long string is carried as what its monitor keys it by; ok windows have no reason line,
others their summary; late events get a row of their own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.drift.features import HashedTokens
from dana_workflows.drift.observer import DriftObserver, continue_chain, drift_run_id
from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.workflow.ir import DriftIR, DriftMonitorIR, FieldIR, WindowIR, WorkflowIR

pytestmark = pytest.mark.unit

S = 1_000_000


def _ir(time_field: str | None = None, **monitor: Any) -> WorkflowIR:
    m: dict[str, Any] = {"id": "cur", "field": "currency", "min_count": 1}
    m.update(monitor)
    return WorkflowIR(
        name="claims",
        input=(FieldIR(name="currency", type="string"),),
        steps=(),
        drift=DriftIR(window=WindowIR(size_s=10, time_field=time_field), monitors=(DriftMonitorIR(**m),)),
    )


def test_only_a_workflow_with_monitors_gets_an_observer() -> None:
    plain = WorkflowIR(name="w", input=(FieldIR(name="a", type="string"),), steps=())
    assert DriftObserver.for_workflow(plain, {}) is None
    assert DriftObserver.for_workflow(_ir(), {}) is not None
    assert drift_run_id("claims") == "claims.drift"


def test_values_are_collected_per_observed_step_and_long_strings_carried() -> None:
    obs = DriftObserver(_ir(), {})
    into: dict[str, Any] = {}
    obs.values(into, {"currency": "EUR"}, None)
    assert into == {"cur": "EUR"}
    obs.values(into, {"currency": "USD"}, "other-step")
    assert into == {"cur": "EUR"}
    long = "x" * (HashedTokens.TEXT_CHARS + 50)
    obs.values(into, {"currency": long}, None)
    assert into["cur"] == long[:201]  # categorical: the characters it is keyed by
    exactly = "y" * HashedTokens.TEXT_CHARS
    obs.values(into, {"currency": exactly}, None)
    assert into["cur"] == exactly
    assert obs.steps == frozenset({None})


def test_records_and_rows_chain_from_genesis_and_continue_in_the_state() -> None:
    state: dict[str, Any] = {}
    obs = DriftObserver(_ir(), state)
    assert obs.observe({"cur": "EUR"}, {}, 1 * S, 100).rows == []
    report = obs.observe({"cur": "EUR"}, {}, 11 * S, 200)  # closes the reference window
    assert [r.reference for r in report.records] == ["building"]
    row = report.rows[0]
    assert (row.run_id, row.kind, row.step, row.decision, row.reason, row.ts_us) == (
        "claims.drift",
        "drift",
        "cur",
        "ok",
        "",
        200,
    )
    assert row.event_id == "claims.drift/cur/0" and row.prev_hash == GENESIS_HASH
    assert json.loads(row.details)["monitor"] == "cur"
    assert row.seq == 0 and state["drift|chain"] == [1, row.hash]  # the next row is seq 1, linking here
    obs.observe({"cur": "USD"}, {}, 21 * S, 300)  # closes window 1: all USD vs all EUR -> alert
    flushed = obs.flush(400)
    alert = flushed.rows[0]
    assert flushed.records[0].level == "alert" and alert.decision == "alert"
    assert alert.reason == flushed.records[0].summary()
    # a new observer over the same state links to the last row
    again = DriftObserver(_ir(), state)
    assert again._chain().chain_hash == state["drift|chain"][1]


def test_a_late_event_is_a_row_of_its_own() -> None:
    obs = DriftObserver(_ir(), {})
    obs.observe({"cur": "EUR"}, {}, 1 * S, 1)
    obs.observe({"cur": "EUR"}, {}, 11 * S, 2)
    late = obs.observe({"cur": "EUR"}, {}, 5 * S, 3)
    assert len(late.late) == 1 and late.records == []
    row = late.rows[0]
    assert (row.kind, row.step, row.decision, row.reason) == (
        "drift_late",
        "drift",
        "late",
        "event arrived after its windows closed",
    )
    assert row.event_id == f"claims.drift/late/{5 * S}"


def test_an_event_without_a_usable_time_is_audited_and_not_counted() -> None:
    state: dict[str, Any] = {}
    obs = DriftObserver(_ir(time_field="ts"), state)
    report = obs.observe({"cur": "EUR"}, {"ts": "yesterday"}, 0, 9)
    assert report.skipped == 1 and report.records == []
    row = report.rows[0]
    assert (row.kind, row.step, row.decision) == ("drift_skipped", "drift", "skipped")
    assert row.reason.startswith("drift.window.time_field 'ts': expected epoch seconds")
    assert row.event_id == "claims.drift/skipped/0"
    assert state["drift|chain"][1] == row.hash
    assert obs.monitor.watermark is None
    counted = obs.observe({"cur": "EUR"}, {"ts": 3}, 0, 10)
    assert counted.skipped == 0 and obs.monitor.watermark == 3 * S


def test_continue_chain_sets_where_the_next_row_links() -> None:
    state: dict[str, Any] = {}
    continue_chain(state, 5, "abc")
    obs = DriftObserver(_ir(), state)
    env = obs._chain()
    assert (env.chain_seq, env.chain_hash, env.run_id, env.step) == (5, "abc", "claims.drift", "drift")
