"""A `dana-wf run` into an audit store that already holds runs of its workflow: new run ids, one drift chain.

Run ids come from the input (processors/ingest.run_id_for), so a second run of one input into one store
would write rows at the first run's chain positions, and the drift chain (`<workflow>.drift`), whose head
the local runtime keeps only in memory, would start again at seq 0: `audit verify` names both as forks.
Before a run the local runtime therefore asks the store:

- the **epoch**: 0 when the store holds no input of the workflow (so a fresh store's run ids are the ones
  they have always been, and two runs into two fresh stores stay identical), else one more than the highest
  epoch its `received` rows record; the epoch goes into every run id and `received` row of the run;
- the **drift chain's head**: its last stored row, which the run's first drift row links to.

Two `dana-wf run`s of one workflow into one store at the same instant can still pick the same epoch; the
Kafka runtime needs neither (its producer and workers keep their own state; docs/audit.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from dana_workflows.drift.observer import drift_run_id
from dana_workflows.processors.ingest import INGEST
from dana_workflows.sinks.audit_model import AuditStore, events_table, sql_string


@dataclass(frozen=True, slots=True)
class StoredHeads:
    epoch: int = 0
    drift: tuple[int, str] | None = None  # (next seq, head hash) of the drift chain, None: not started

    def continued(self, workflow: str) -> dict[str, tuple[int, str]]:
        """For sinks.verify.verify_rows: the chains this run's rows continue rather than start."""
        return {drift_run_id(workflow): self.drift} if self.drift is not None else {}


def stored_heads(store: AuditStore, workflow: str) -> StoredHeads:
    """What a new run of `workflow` must continue from, read from the store (two small queries)."""
    table = events_table(store)
    name = sql_string(workflow)
    received = store.query(
        f"SELECT count(), max(visitParamExtractUInt(details, 'epoch')) FROM {table} "
        f"WHERE workflow = {name} AND kind = 'received' AND step = {sql_string(INGEST)}"
    ).rows
    count, highest = received[0] if received else (0, 0)
    epoch = int(highest) + 1 if int(count) else 0
    last = store.query(
        f"SELECT seq, hash FROM {table} WHERE run_id = {sql_string(drift_run_id(workflow))} "
        "ORDER BY seq DESC LIMIT 1"
    ).rows
    drift = (int(last[0][0]) + 1, str(last[0][1])) if last else None
    return StoredHeads(epoch, drift)
