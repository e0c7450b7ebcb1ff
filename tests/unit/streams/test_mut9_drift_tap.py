"""The step agents' side of drift in the Kafka runtime (streams/kafka/drift_agent.py, DriftTap): an event's
monitored values ride in the `dwf-drift` header of the record forwarded to the next step's topic, or, where
its journey ends, go to `<prefix>.<wf>.drift-values`; the values of the events a batch ends, per source
partition, travel in one message (a JSON array in handling order, cut at VALUES_MESSAGE_BYTES); a record
without the header is not counted (warned once); the entry starts the values from the input payload."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.streams.kafka import drift_agent
from dana_workflows.streams.kafka.drift_agent import H_DRIFT, DriftTap
from dana_workflows.streams.kafka.drift_agent import drift_values as _drift_values

pytestmark = pytest.mark.unit

VALUES = "acme.claims.drift-values"


class Observer:
    """DriftObserver's collecting side: the payload's `amount` under the step that exposes it."""

    def __init__(self, time_field: str | None = "ts") -> None:
        self.time_field = time_field
        self.steps = frozenset({None, "tag"})  # watched steps (None: the input), as DriftObserver.s
        self.asked: list[str | None] = []

    def values(self, into: dict[str, Any], payload: dict[str, Any], step: str | None) -> None:
        self.asked.append(step)
        into[step or "input"] = payload.get("amount")


def drift_values(value: Any) -> list[dict[str, Any]]:
    return _drift_values(value)


def tap(time_field: str | None = "ts") -> DriftTap:
    ctx: Any = SimpleNamespace(
        workflow="claims",
        options=SimpleNamespace(prefix="acme"),
        topic=lambda boundary: f"acme.claims.{boundary}",
    )
    return DriftTap(ctx, Observer(time_field))  # type: ignore[arg-type]


def test_the_values_topic_is_named_like_the_others() -> None:
    assert tap().values_topic == VALUES


def test_the_entry_starts_the_values_from_the_input_payload() -> None:
    t = tap()
    node: Any = SimpleNamespace(input="in", path="check")
    env: Any = SimpleNamespace(payload={"amount": 5.0, "ts": 1700}, produced_at=42)
    assert t.carried(node, env, None) == {"v": {"input": 5.0}, "p": 42, "t": 1700}
    assert tap(time_field=None).carried(node, env, None) == {"v": {"input": 5.0}, "p": 42}


def test_a_later_hop_reads_the_header_and_a_record_without_it_is_not_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = tap()
    node: Any = SimpleNamespace(input="check-tag", path="tag")
    carried = {"v": {"input": 5.0}, "p": 42}
    msg = SimpleNamespace(headers=[(H_DRIFT, json.dumps(carried).encode())])
    assert t.carried(node, None, msg) == carried  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger=drift_agent.__name__):
        assert t.carried(node, None, SimpleNamespace(headers=[])) is None  # type: ignore[arg-type]
        assert t.carried(node, None, SimpleNamespace(headers=None)) is None  # type: ignore[arg-type]
    assert t.missing == 2
    assert caplog.text.count("not counted in drift") == 1  # warned once
    assert "tag" in caplog.text


def test_a_forwarded_step_adds_the_values_it_exposes() -> None:
    t = tap()
    carried: dict[str, Any] = {"v": {"input": 5.0}, "p": 1}
    node: Any = SimpleNamespace(path="tag")
    forwarded: Any = SimpleNamespace(forwarded=True, envelope=SimpleNamespace(payload={"amount": 7.0}))
    ended: Any = SimpleNamespace(forwarded=False, envelope=SimpleNamespace(payload={"amount": 9.0}))
    t.passed(node, forwarded, carried)
    t.passed(node, ended, {"v": {}})
    assert carried["v"] == {"input": 5.0, "tag": 7.0}


def test_a_step_no_monitor_watches_is_not_asked_for_values() -> None:
    t = tap()
    carried: dict[str, Any] = {"v": {"input": 5.0}, "p": 1}
    forwarded: Any = SimpleNamespace(forwarded=True, envelope=SimpleNamespace(payload={"amount": 7.0}))
    t.passed(SimpleNamespace(path="route"), forwarded, carried)  # type: ignore[arg-type]
    assert t.observer.asked == [] and carried["v"] == {"input": 5.0}  # skipped without a call
    t.passed(SimpleNamespace(path="tag"), forwarded, carried)  # type: ignore[arg-type]
    assert t.observer.asked == ["tag"]


def edge(boundary: str, node: str | None) -> Any:
    return SimpleNamespace(edge=SimpleNamespace(boundary=boundary, node=node))


def test_values_ride_in_the_header_of_the_record_forwarded_to_the_next_step() -> None:
    t = tap()
    carried = {"v": {"input": 5.0}, "p": 1}
    sends: list[Any] = [("acme.claims.audit", b"a", None), ("acme.claims.check-tag", b"e", [("x", b"1")])]
    t.ended(carried, edge("check-tag", "tag"), sends, ("acme.claims.in", 0))
    assert sends[0] == ("acme.claims.audit", b"a", None)
    topic, value, headers = sends[1]
    assert (topic, value) == ("acme.claims.check-tag", b"e")
    assert headers[0] == ("x", b"1")
    assert headers[1][0] == H_DRIFT and json.loads(headers[1][1]) == carried
    assert len(sends) == 2
    assert t.batched("acme.claims.in", 0, []) == []  # nothing waits for drift-values


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, 2**70, "é \u2028", 1e-7])
def test_the_header_values_read_back_as_the_standard_encoder_wrote_them(value: Any) -> None:
    """The header's values have the one encoding of drift values (``values_json``): NaN, the infinities,
    None, a big integer and non-ASCII text read back as the standard encoder's JSON of them reads."""
    t = tap()
    carried = {"v": {"x": value}, "p": 1}
    sends: list[Any] = [("acme.claims.check-tag", b"e", None)]
    t.ended(carried, edge("check-tag", "tag"), sends, ("acme.claims.in", 0))
    ((name, raw),) = sends[0][2]
    assert name == H_DRIFT and raw == drift_agent.values_json(carried)
    assert repr(json.loads(raw)) == repr(json.loads(drift_agent._dumps(carried)))  # repr: nan != nan


def test_where_the_journey_ends_the_values_go_to_drift_values() -> None:
    t = tap()
    results: list[Any] = [edge("out", None), SimpleNamespace(edge=None)]
    for i, result in enumerate(results):
        carried = {"v": {"input": 5.0}, "p": i}
        sends: list[Any] = [("acme.claims.out", b"e", None)]
        t.ended(carried, result, sends, ("acme.claims.in", 0))
        assert sends == [("acme.claims.out", b"e", None)]  # the values wait for the batch's message
    # forwarded, but the payload did not fit the next schema: the record went to the dlq, the journey ended
    sends = [("acme.claims.dlq", b"e", None)]
    t.ended({"v": {}, "p": 2}, edge("check-tag", "tag"), sends, ("acme.claims.in", 0))
    assert sends == [("acme.claims.dlq", b"e", None)]
    ((topic, key, value, headers),) = t.batched("acme.claims.in", 0, [])
    assert (topic, key, headers) == (VALUES, b"acme.claims.in:0", None)
    assert [e["p"] for e in drift_values(value)] == [0, 1, 2]
    assert t.batched("acme.claims.in", 0, []) == []  # taken once


def test_a_batchs_values_are_one_message_per_source_partition_in_order() -> None:
    t = tap()
    events = [{"v": {"input": float(i)}, "p": i} for i in range(4)]
    done = edge("out", None)
    t.ended(events[0], done, [], ("acme.claims.in", 3))
    t.ended(events[1], done, [], ("acme.claims.in", 1))
    t.ended(events[2], done, [], ("acme.claims.in", 3))
    t.ended(events[3], done, [], ("acme.claims.in", 3))
    outs: list[Any] = [("acme.claims.out", b"k0", b"e0", None), ("acme.claims.out", b"k1", b"e1", None)]
    kept = t.batched("acme.claims.in", 3, outs)
    assert kept[:2] == outs
    ((topic, key, value, headers),) = kept[2:]
    assert (topic, key, headers) == (VALUES, b"acme.claims.in:3", None)
    assert drift_values(value) == [events[0], events[2], events[3]]
    # the bytes each event's own encoding gives, joined in an array (what a message per event carried)
    assert value == b"[" + b",".join(drift_agent._dumps(e) for e in drift_values(value)) + b"]"
    ((_, key, value, _),) = t.batched("acme.claims.in", 1, [])
    assert key == b"acme.claims.in:1" and drift_values(value) == [events[1]]


def test_a_batch_without_values_is_left_as_it_is() -> None:
    outs: list[Any] = [("acme.claims.out", b"k0", b"e0", None), (VALUES, None, None, None)]
    assert tap().batched("t", 0, outs) == outs


def test_a_large_batch_of_values_is_cut_into_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    t = tap()
    events = [{"v": {"input": float(i)}, "p": i} for i in range(5)]
    encoded = [drift_agent._dumps(e) for e in events]
    for event in events:
        t.ended(event, edge("out", None), [], ("in", 0))
    # each event and its comma: cut once two of them reach the limit
    monkeypatch.setattr(drift_agent, "VALUES_MESSAGE_BYTES", 2 * (len(encoded[0]) + 1))
    kept = t.batched("in", 0, [("out", b"k", b"e", None)])
    assert kept[0] == ("out", b"k", b"e", None)
    assert [len(drift_values(v)) for _, _, v, _ in kept[1:]] == [2, 2, 1]
    assert [e for _, _, v, _ in kept[1:] for e in drift_values(v)] == events


def test_values_one_byte_below_the_limit_stay_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message ends with the event that brings the events' sizes (one separator each) to the limit:
    one message while only the last one does, a cut where an earlier one does."""
    events = [{"v": {"input": float(i)}, "p": i} for i in range(3)]
    sizes = [len(drift_agent._dumps(e)) + 1 for e in events]
    for limit, messages in ((sum(sizes) + 1, 1), (sum(sizes), 1), (sizes[0] + sizes[1], 2)):
        t = tap()
        for event in events:
            t.ended(event, edge("out", None), [], ("in", 0))
        monkeypatch.setattr(drift_agent, "VALUES_MESSAGE_BYTES", limit)
        kept = t.batched("in", 0, [])
        assert len(kept) == messages
        assert [e for _, _, v, _ in kept for e in drift_values(v)] == events


@pytest.mark.parametrize(
    "value",
    [1.5, 1e-7, 1e16, "é \u2028 text", None, float("nan"), float("inf"), float("-inf"), 2**70, [1, "a"]],
)
def test_a_batchs_values_read_back_as_the_standard_encoder_wrote_them(value: Any) -> None:
    """The batch's message is read by the drift agent (``drift_values``) as the standard encoder's
    encoding of the same events would be: NaN and the infinities stay what they are (orjson alone would
    write null), None stays None, an integer beyond 64 bits and non-ASCII text survive."""
    t = tap()
    events = [{"v": {"x": value, "y": "USD"}, "p": 7}, {"v": {"x": 2.0}, "p": 8}]
    for event in events:
        t.ended(event, edge("out", None), [], ("in", 0))
    ((_, _, data, _),) = t.batched("in", 0, [])
    read = drift_values(data)
    expected = drift_values(drift_agent._dumps(events))
    assert repr(read) == repr(expected)  # repr: nan == nan is False


def test_a_value_the_standard_encoder_refuses_is_refused_in_a_batch_too() -> None:
    """A datetime (a user schema's timestamp logical type) fails the header path and the cut path with
    the standard encoder's TypeError; the batch's encoding must not turn it into an ISO string instead."""
    import datetime as dt

    events = [{"v": {"x": dt.datetime(2024, 1, 1)}, "p": 7}]
    with pytest.raises(TypeError):
        drift_agent._dumps(events)
    with pytest.raises(TypeError):
        drift_agent.values_json(events)
