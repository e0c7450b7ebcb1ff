"""streams/local/reruns.stored_heads on every audit backend: the epoch a new run takes and the drift chain's
head, read from what the store holds (the server is ClickHouse 18.16: its JSON functions are the old ones)."""

from __future__ import annotations

import pytest

from dana_workflows.processors.audit_trail import transition
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import AuditRow, AuditStore
from dana_workflows.streams.local.reruns import StoredHeads, stored_heads

pytestmark = pytest.mark.integration

WF = "claims-triage"


def _received(run_id: str, details: str) -> AuditRow:
    env = Envelope(f"{run_id}/in", run_id, WF, 1, "ingest", {}, 1, 0, {}, 0, GENESIS_HASH)
    return transition(env, "received", "ingest", 1, details_json=details)


def _drift_rows(n: int) -> list[AuditRow]:
    env = Envelope(f"{WF}.drift", f"{WF}.drift", WF, 1, "drift", {}, 1, 0, {}, 0, GENESIS_HASH)
    return [transition(env, "drift", "drift", 10 + i, decision="ok") for i in range(n)]


def test_an_empty_store_gives_epoch_0_and_no_drift_chain(audit_store: AuditStore) -> None:
    assert stored_heads(audit_store, WF) == StoredHeads(0, None)


def test_the_next_epoch_follows_the_highest_stored_and_the_drift_chain_its_last_row(
    audit_store: AuditStore,
) -> None:
    drift = _drift_rows(3)
    audit_store.insert(
        [
            _received("a", '{"input":"{}","ordinal":0}'),  # a first run records no epoch: epoch 0
            _received("b", '{"epoch":3,"input":"{}","ordinal":0}'),
            _received("c", '{"epoch":1,"input":"{}","ordinal":1}'),
            *drift,
        ]
    )
    heads = stored_heads(audit_store, WF)
    assert heads.epoch == 4
    assert heads.drift == (3, drift[-1].hash)
    assert heads.continued(WF) == {f"{WF}.drift": (3, drift[-1].hash)}
    assert stored_heads(audit_store, "another-workflow") == StoredHeads(0, None)


def test_a_store_holding_only_a_first_run_gives_epoch_1(audit_store: AuditStore) -> None:
    audit_store.insert([_received("a", '{"input":"{}","ordinal":0}')])
    assert stored_heads(audit_store, WF).epoch == 1
