"""Input lines that are not clean text: one bad line goes to dlq with its reason, the rest run."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.cli.run import read_input_lines
from dana_workflows.processors.ingest import admit, run_id_for
from dana_workflows.streams.app_builder import load_pipeline

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims"


@pytest.fixture(scope="module")
def ir():  # type: ignore[no-untyped-def]
    return load_pipeline(CLAIMS / "claims.yaml").workflow


def test_bytes_that_are_not_utf8_are_dead_with_the_byte_and_column(ir) -> None:  # type: ignore[no-untyped-def]
    raw = b'{"claim_id": "C-\xff1", "amount": 5}'.decode("utf-8", "surrogateescape")
    adm = admit(ir, raw, 6, 0)
    assert adm.dead and not adm.accepted
    assert adm.reasons == ["line 7: not valid UTF-8 (byte 0xff at column 17)"]
    assert adm.envelope.payload == {"raw": '{"claim_id": "C-\\udcff1", "amount": 5}'}
    assert [r.kind for r in adm.rows] == ["received", "dlq"]
    assert adm.envelope.run_id == admit(ir, raw, 6, 99).envelope.run_id  # still deterministic


def test_a_lone_surrogate_character_is_named_too(ir) -> None:  # type: ignore[no-untyped-def]
    adm = admit(ir, '{"claim_id": "\ud800"}', 0, 0)
    assert adm.dead and adm.reasons == ["line 1: not valid UTF-8 (character U+D800 at column 15)"]


def test_valid_text_keeps_its_run_id(ir) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    line = '{"claim_id": "C-é"}'
    expected = hashlib.sha256(f"{ir.name}\x000\x00{line}".encode()).hexdigest()[:24]
    assert run_id_for(ir.name, 0, line) == expected == admit(ir, line, 0, 0).envelope.run_id


def test_input_lines_split_on_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"a": "x\xe2\x80\xa8y"}\r\n{"b": "\xff"}\n\n{"c": 1}')
    lines = read_input_lines(path)
    assert lines[0] == '{"a": "x\u2028y"}'  # U+2028 inside a JSON string does not end the line
    assert lines[1] == '{"b": "\udcff"}'  # the bad byte survives for admission to report
    assert lines[2:] == ["", '{"c": 1}']
