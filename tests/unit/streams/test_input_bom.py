"""An events file saved as "UTF-8 with BOM" (Excel, Notepad) lost its first event to dlq: 'line 1: not valid
JSON (Unexpected UTF-8 BOM ...)' (session 18 newcomer, N12). The mark at the start of the file is the file's
encoding, not data: it is dropped there, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.streams.local.input_lines import read_input_lines

pytestmark = pytest.mark.unit

BOM = "\ufeff"


def test_a_mark_at_the_start_of_the_file_is_not_part_of_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_bytes((BOM + '{"id": "a"}\r\n{"id": "b"}\r\n').encode("utf-8"))
    lines = read_input_lines(path)
    assert lines == ['{"id": "a"}', '{"id": "b"}']
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


def test_a_mark_inside_the_file_is_data_and_kept(tmp_path: Path) -> None:
    # only the file's first bytes are its encoding mark: elsewhere the character is the line's own
    path = tmp_path / "ev.jsonl"
    path.write_bytes(('{"id": "a"}\n' + BOM + '{"id": "b"}\n').encode("utf-8"))
    assert read_input_lines(path) == ['{"id": "a"}', BOM + '{"id": "b"}']


def test_bytes_that_are_not_utf8_still_survive_as_escapes(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_bytes(b'{"id": "\xe9"}\n')
    assert read_input_lines(path) == ['{"id": "\udce9"}']
