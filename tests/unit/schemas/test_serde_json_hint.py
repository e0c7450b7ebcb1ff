"""A JSON value on a workflow topic (a service's own producer, newcomer4 N4-4) is poison whose reason says
what to do, not only that the magic byte is wrong; other bytes keep the plain reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError

pytestmark = pytest.mark.unit


def _reason(tmp_path: Path, data: bytes) -> str:
    with pytest.raises(PoisonMessageError) as info:
        EnvelopeSerde(FileRegistry(tmp_path)).decode(data)
    return str(info.value)


@pytest.mark.parametrize("data", [b'{"claim_id": "X1", "amount": 100.0}', b' [{"id": 1}]'])
def test_a_json_value_is_told_to_go_through_produce(tmp_path: Path, data: bytes) -> None:
    reason = _reason(tmp_path, data)
    assert "expected 0 (not Confluent wire format); it is JSON text" in reason
    assert "send JSON events with `dana-wf produce SPEC --input FILE`" in reason


def test_other_bytes_keep_the_plain_reason(tmp_path: Path) -> None:
    reason = _reason(tmp_path, b"not json at all")
    assert reason.endswith("magic byte is 110 (0x6e), expected 0 (not Confluent wire format)")
