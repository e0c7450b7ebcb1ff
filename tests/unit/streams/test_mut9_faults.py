"""Fault injection (streams/kafka/faults.py) as its docstring specifies it: comma-separated
``<topic>:<partition>:<offset>`` entries, the topic matching the END of a topic name, each dropping the first
record delivered at or after its offset, once; off when unset; a malformed entry is one line naming it and
the form to use."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dana_workflows.streams.kafka.faults import ENV, DroppedRecords

pytestmark = pytest.mark.unit


def rec(topic: str, partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset)


def test_the_first_record_at_or_after_the_offset_is_dropped_once() -> None:
    faults = DroppedRecords("claims-triage.in:0:3")
    assert not faults.drop(rec("dwf.claims-triage.in", 0, 2))
    assert faults.drop(rec("dwf.claims-triage.in", 0, 4))  # 3 was a transaction marker: 4 is the first
    assert not faults.drop(rec("dwf.claims-triage.in", 0, 5))
    assert not faults.drop(rec("dwf.claims-triage.in", 0, 4))  # once per entry, even when redelivered
    assert faults.dropped == 1


def test_the_exact_offset_is_dropped() -> None:
    faults = DroppedRecords("in:1:7")
    assert faults.drop(rec("wf.in", 1, 7))
    assert faults.dropped == 1


def test_partition_and_topic_end_must_match() -> None:
    faults = DroppedRecords("claims.in:1:0")
    assert not faults.drop(rec("dwf.claims.in", 0, 5))  # another partition
    assert not faults.drop(rec("dwf.claims.in.x", 1, 5))  # the entry is not the topic's end
    assert not faults.drop(rec("dwf.claims.out", 1, 5))
    assert faults.dropped == 0
    assert faults.drop(rec("dwf.claims.in", 1, 5))


def test_several_entries_each_drop_one_record() -> None:
    faults = DroppedRecords(" a.in:0:1 , a.in:1:2,, b.out:0:0 ")
    dropped = [
        faults.drop(r)
        for r in (rec("x.a.in", 0, 1), rec("x.a.in", 0, 2), rec("x.a.in", 1, 2), rec("x.b.out", 0, 9))
    ]
    assert dropped == [True, False, True, True]
    assert faults.dropped == 3


def test_a_topic_name_with_colons_splits_at_the_last_two() -> None:
    faults = DroppedRecords("ns:claims.in:2:5")
    assert faults.drop(rec("ns:claims.in", 2, 5))


def test_off_unless_the_variable_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert not DroppedRecords().drop(rec("x.in", 0, 0))
    assert not DroppedRecords("").drop(rec("x.in", 0, 0))
    monkeypatch.setenv(ENV, "x.in:0:0")
    faults = DroppedRecords()
    assert faults.drop(rec("x.in", 0, 0))
    assert not DroppedRecords("").drop(rec("x.in", 0, 0))  # a spec given wins over the environment


@pytest.mark.parametrize("entry", ["claims.in:0", "claims.in:a:3", "claims.in:0:x", "3"])
def test_a_malformed_entry_is_named_with_the_form(entry: str) -> None:
    with pytest.raises(ValueError) as info:
        DroppedRecords(f"ok.in:0:1,{entry}")
    message = str(info.value)
    assert message.startswith(f"{ENV}: {entry!r} is not <topic>:<partition>:<offset>")
    assert "claims-triage.in:0:3" in message
    assert "\n" not in message
