"""The step, audit-sink and drift agents' topics (``AgentContext.raw_topic``) hand records over as fetched:
the event's key and value are the record's bytes (or None), its message the record itself, as faust's own
raw schema gives them, without faust's serializer lookup per record."""

from __future__ import annotations

import faust
import pytest
from faust.types import Message

from dana_workflows.streams.kafka.context import RawSchema

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("key", "value"),
    [(b"run-1", b"\x00\x00\x00\x00\x07avro"), (None, b"{}"), (b"run-2", None), (b"", b"")],
)
async def test_a_record_is_the_bytes_fetched(key: bytes | None, value: bytes | None) -> None:
    app = faust.App("raw-schema-test", autodiscover=False, web_enabled=False)
    message = Message("t", 1, 42, 0.0, 0, [("h", b"1")], key, value, None)
    event = await RawSchema(key_type=bytes, value_type=bytes).compile(app)(message, propagate=True)
    assert (event.key, event.value) == (key, value)
    assert event.message is message
