"""The envelope's record form (schemas/envelope.py): every field to and from the Avro record, the optional
fields' defaults when an older record lacks them (no provenance, chain at seq 0 from the genesis hash),
and produced_at kept as plain microseconds whether fastavro hands back an int or a datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope, _micros

pytestmark = pytest.mark.unit


def test_the_genesis_hash_is_64_zeros() -> None:
    assert GENESIS_HASH == "0000000000000000000000000000000000000000000000000000000000000000"


@pytest.mark.parametrize(
    ("value", "micros"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC), 1_000_005),
        (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), -1),
        (datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), 1_767_225_600_000_000),
        (1_767_225_600_000_000, 1_767_225_600_000_000),
        ("42", 42),
    ],
)
def test_micros_of_datetimes_and_integers(value: object, micros: int) -> None:
    assert _micros(value) == micros


def test_to_record_and_back() -> None:
    env = Envelope("e1", "r1", "claims", 3, "check", {"a": 1}, 17, 2, {"route": "x"}, 5, "ab" * 32)
    record = env.to_record()
    assert record == {
        "event_id": "e1",
        "run_id": "r1",
        "workflow": "claims",
        "workflow_version": 3,
        "step": "check",
        "attempt": 2,
        "produced_at": 17,
        "payload": {"a": 1},
        "provenance": {"route": "x"},
        "chain_seq": 5,
        "chain_hash": "ab" * 32,
    }
    assert Envelope.from_record(record) == env


def test_an_older_record_takes_the_defaults_and_a_datetime_time() -> None:
    record = {
        "event_id": "e1",
        "run_id": "r1",
        "workflow": "claims",
        "workflow_version": 1,
        "step": "in",
        "attempt": 0,
        "produced_at": datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC),
        "payload": {},
        "provenance": None,
    }
    env = Envelope.from_record(record)
    assert (env.produced_at, env.provenance, env.chain_seq, env.chain_hash) == (
        2_000_000,
        {},
        0,
        GENESIS_HASH,
    )
    assert env.evolve(step="out", attempt=1) == Envelope("e1", "r1", "claims", 1, "out", {}, 2_000_000, 1)
    assert env.step == "in"  # evolve copies
