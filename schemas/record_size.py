"""How large one record on a topic may be, known before it is sent; and how a record that is too large
still reaches the dlq.

One limit for everything that talks to Kafka: topics are created with ``max.message.bytes`` =
``MAX_MESSAGE_BYTES`` and every producer (the worker's, `dana-wf produce`) sends with
``max_request_size`` = the same number, so a record the producer accepts the topic accepts too. An
encoded value must stay under ``MAX_VALUE_BYTES``: the rest of the message is its key, its headers
(an error header is cut at 4,000 bytes) and the record batch's overhead. Both runtimes check it where a
record is encoded for a boundary (schemas.serde), so the local runtime sends the same record to the dlq
the Kafka runtime would: the decision does not depend on the runtime (docs/kafka-runtime.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

MAX_MESSAGE_BYTES = 1_048_576  # Kafka's default max.request.size; topics are created with the same
MAX_VALUE_BYTES = MAX_MESSAGE_BYTES - 48_576  # 1,000,000: room for key, headers, batch overhead
KEPT_PREFIX_CHARS = 4_096  # of a payload too large to carry: what its dlq record keeps to read


class RecordTooLargeError(ValueError):
    """An encoded record over MAX_VALUE_BYTES; a ValueError, so a boundary sends it to the dlq."""


def check_value_size(data: bytes, what: str) -> bytes:
    """``data`` when a topic can take it, else RecordTooLargeError naming the size and the limit."""
    if len(data) > MAX_VALUE_BYTES:
        raise RecordTooLargeError(
            f"{what} is {len(data):,} bytes encoded, over the {MAX_VALUE_BYTES:,}-byte limit of a record "
            f"(topics take {MAX_MESSAGE_BYTES:,}-byte messages; docs/kafka.md, record size)"
        )
    return data


def bounded_payload(payload_json: str) -> dict[str, Any]:
    """What a dlq record carries instead of a payload too large for any topic: its size, its digest and
    its first characters. The whole input stays in the input file (and its line number in the dlq row)."""
    raw = payload_json.encode("utf-8", "surrogatepass")
    return {
        "payload_truncated": payload_json[:KEPT_PREFIX_CHARS],
        "payload_bytes": len(raw),
        "payload_sha256": hashlib.sha256(raw).hexdigest(),
    }
