"""Fixed hash vectors for the audit's canonical content, written once from the formula of docs/audit.md
("The hash chain"): SHA-256, lowercase hex, over every column but `hash` in column order, as text
(numbers in decimal), joined by U+001F, UTF-8; the first row links to 64 zeros.

The digests below were computed with nothing but hashlib on the joined text, never with the project's
code; every producer of audit rows must reproduce them: the row model (`row_digest`), the processors'
fast path (`transition`, which renders rule results itself), and ClickHouse's SQL of the docs. Dropping,
reordering or re-rendering one column changes the digest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import RuleResult
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow, canonical_content, row_digest
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.sql_verify import canonical_content_sql

pytestmark = pytest.mark.unit

RUN = "84ff5528476be3a78da3b915"
GENESIS = "0" * 64
RULE_RESULTS = (
    '[{"message":"amount_usd must not exceed policy_limit","passed":false,"rule_id":"within_limit",'
    '"severity":"reject","step":"check_claim","values":"{\\"amount_usd\\":1200.5,\\"policy_limit\\":1000}"}]'
)
REASON = "within_limit: Betrag über dem Limit — 1200.5 > 1000"

# row 0: `received` at ingest; row 1: `rejected` at check_claim, non-ASCII reason, a rule result, retry 2
ROW0_TEXT = (
    f"claims-triage\x1f3\x1f{RUN}\x1f0\x1f{RUN}/in\x1fingest\x1freceived\x1f\x1f\x1f[]\x1f0\x1f0\x1f"
    f'{{"ordinal":41}}\x1f1767225600000000\x1f{GENESIS}'
)
ROW0_HASH = "d6aed6a5a051a997b8f121df453fd582652e3bd3e476c8a1b32fc7aef7add443"
ROW1_HASH = "03cf3599bebe85763e5f44d58470256374273e88e229337dbce2cb1a2b362c1b"


def rows() -> list[AuditRow]:
    first = AuditRow(
        "claims-triage", 3, RUN, 0, f"{RUN}/in", "ingest", "received",
        details='{"ordinal":41}', ts_us=1_767_225_600_000_000, prev_hash=GENESIS,
    )  # fmt: skip
    second = AuditRow(
        "claims-triage", 3, RUN, 1, f"{RUN}/normalized", "check_claim", "rejected", "reject", REASON,
        RULE_RESULTS, attempt=2, duration_us=1375, ts_us=1_767_225_600_001_234, prev_hash=ROW0_HASH,
    )  # fmt: skip
    return [first, second]


def test_the_row_model_reproduces_the_vectors() -> None:
    first, second = rows()
    assert canonical_content(first) == ROW0_TEXT
    assert [row_digest(first), row_digest(second)] == [ROW0_HASH, ROW1_HASH]


def test_the_processors_fast_path_reproduces_the_vectors() -> None:
    """transition() renders the rule results and details itself and seals the chain as it goes."""
    env = Envelope(f"{RUN}/in", RUN, "claims-triage", 3, "in", {})
    first = transition(env, "received", "ingest", 1_767_225_600_000_000, details={"ordinal": 41})
    env.event_id = f"{RUN}/normalized"
    rule = RuleResult(
        "within_limit", "check_claim", False, "reject", "amount_usd must not exceed policy_limit",
        {"policy_limit": 1000, "amount_usd": 1200.5},
    )  # fmt: skip
    second = transition(
        env, "rejected", "check_claim", 1_767_225_600_001_234,
        decision="reject", reason=REASON, rule_results=[rule], attempt=2, duration_us=1375,
    )  # fmt: skip
    assert second.rule_results == RULE_RESULTS
    assert (first.prev_hash, first.hash) == (GENESIS, ROW0_HASH)
    assert (second.prev_hash, second.hash) == (ROW0_HASH, ROW1_HASH)
    assert (env.chain_seq, env.chain_hash) == (2, ROW1_HASH)


def test_clickhouse_reproduces_the_vectors(tmp_path: Path) -> None:
    store = ChdbAuditStore(tmp_path / "audit")
    try:
        store.insert(rows())
        got = store.query(
            f"SELECT seq, lower(hex(SHA256({canonical_content_sql()}))) FROM dwf.events ORDER BY seq"
        ).rows
    finally:
        store.close()
    assert [tuple(r) for r in got] == [(0, ROW0_HASH), (1, ROW1_HASH)]
