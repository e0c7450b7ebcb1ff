"""The Python entry point (issue 20): a DSL workflow runs in this process over mappings, lines or a file and
returns one decision per event with the run id its audit chain carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.embedded import run
from dana_workflows.workflow.dsl import Workflow, route, rule, validate

pytestmark = pytest.mark.unit

ORDERS = (
    Workflow("orders", input={"order_id": "string", "qty": "long", "price": "double"})
    | validate("check", rule("positive_qty", "qty > 0", "qty must be positive"))
    | route("triage", big="double(qty) * price >= 1000.0", small="true")
)
EVENTS = [
    {"order_id": "o1", "qty": 2, "price": 10.0},  # 20.0: small
    {"order_id": "o2", "qty": 0, "price": 5.0},  # qty 0: rejected by positive_qty
    {"order_id": "o3", "qty": 200, "price": 10.0},  # 2000.0: big
    {"order_id": "o4", "qty": "many", "price": 1.0},  # not a long: schema failure at ingest
]


@pytest.fixture(autouse=True)
def _registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")


def test_decisions_come_back_in_input_order_with_their_outcomes() -> None:
    result = run(ORDERS, [*EVENTS, "not json"])
    assert [d.outcome for d in result.decisions] == ["out", "rejected", "out", "rejected", "dlq"]
    assert [d.payload.get("route") for d in result.decisions[:3]] == ["small", None, "big"]
    assert result.decisions[1].reasons == ("positive_qty: qty must be positive",)
    assert result.decisions[3].reasons[0].startswith("schema.qty: 'qty' must be long")
    assert result.decisions[4].reasons == ("line 5: not valid JSON (Expecting value at column 1)",)
    assert result.outcomes == {"out": 2, "rejected": 2, "dlq": 1}
    assert len(set(result.run_ids)) == 5


def test_each_run_id_is_the_chain_of_that_event_in_the_audit() -> None:
    result = run(ORDERS, EVENTS)
    assert verify_rows(result.audit_rows).ok
    for position, (decision, event) in enumerate(zip(result.decisions, EVENTS, strict=True)):
        chain = [r for r in result.audit_rows if r.run_id == decision.run_id]
        assert chain[-1].kind == {"out": "completed", "rejected": "rejected"}[decision.outcome]
        received = json.loads(chain[0].details)  # the input as received opens the chain (docs/audit.md)
        assert chain[0].kind == "received" and received["ordinal"] == position
        assert json.loads(received["input"]) == event


def test_a_file_gives_the_same_decisions_as_the_same_lines(tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in EVENTS]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    from_file, from_lines = run(ORDERS, path), run(ORDERS, lines)
    assert from_file.decisions == from_lines.decisions
    assert [d.outcome for d in from_file.decisions] == ["out", "rejected", "out", "rejected"]


def test_a_spec_file_and_a_dsl_workflow_decide_alike(tmp_path: Path) -> None:
    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS.to_yaml())
    assert run(spec, EVENTS).decisions == run(ORDERS, EVENTS).decisions


def test_the_audit_rows_are_stored_when_asked(tmp_path: Path) -> None:
    from dana_workflows.sinks.chdb_store import ChdbAuditStore

    result = run(ORDERS, EVENTS, audit=f"chdb://{tmp_path / 'audit'}")
    store = ChdbAuditStore(tmp_path / "audit")
    try:
        stored = store.query("SELECT run_id, count() FROM dwf.events GROUP BY run_id").rows
    finally:
        store.close()
    per_run = {run_id: n for run_id, n in stored}
    assert set(per_run) == set(result.run_ids)
    assert sum(per_run.values()) == len(result.audit_rows)


async def test_run_inside_an_event_loop_says_to_await_run_async() -> None:
    with pytest.raises(RuntimeError, match=r"await run_async\(\.\.\.\)"):
        run(ORDERS, EVENTS)


def test_an_audit_server_that_is_down_raises_the_projects_error_before_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """NEWCOMER2 P2: the driver's NetworkError (and its logged traceback) came out of run(..., audit=)."""
    import socket

    from dana_workflows.sinks.chdb_store import AuditStoreError

    with socket.socket() as s:  # a port nothing listens on: bound, never listening, so refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        dsn = f"clickhouse://default:s3cret@127.0.0.1:{port}/default"
        with pytest.raises(AuditStoreError) as caught:
            run(ORDERS, EVENTS, audit=dsn)
    message = str(caught.value)
    assert message.startswith(
        f"cannot reach the audit store clickhouse://default:**********@127.0.0.1:{port}/"
    )
    assert "s3cret" not in message
    assert message.endswith("is its server running? (name another store with audit=)")
    assert not [r for r in caplog.records if r.name.startswith("clickhouse_driver")]  # one line, ours
