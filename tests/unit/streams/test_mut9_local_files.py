"""The local runtime's files: an input file's event lines (streams/local/input_lines.py: split on newlines
only, a CRLF file read as LF, the last newline ends a line and makes none, blank lines kept so they reach the
dlq, bytes that are not UTF-8 kept) and the output files named like the Kafka topics
(streams/local/outputs.py: dwf.<workflow>.<boundary>.jsonl or .avro; decision records without timestamps or
chain hashes; appending only to JSON lines)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest

from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.local.input_lines import read_input_lines
from dana_workflows.streams.local.outputs import OutputFiles, read_jsonl

pytestmark = pytest.mark.unit


def lines_of(tmp_path: Path, data: bytes) -> list[str]:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    return read_input_lines(path)


def test_lines_are_split_on_newlines_only(tmp_path: Path) -> None:
    assert lines_of(tmp_path, '{"a":"x\u2028y"}\n{"b":1}\n'.encode()) == ['{"a":"x\u2028y"}', '{"b":1}']


def test_the_last_newline_ends_a_line_and_blank_lines_are_kept(tmp_path: Path) -> None:
    assert lines_of(tmp_path, b"a\n\nb") == ["a", "", "b"]
    assert lines_of(tmp_path, b"a\n\nb\n") == ["a", "", "b"]
    assert lines_of(tmp_path, b"a\n\n") == ["a", ""]
    assert lines_of(tmp_path, b"") == []


def test_crlf_lines_read_as_lf(tmp_path: Path) -> None:
    assert lines_of(tmp_path, b"a\r\nb\r\n") == ["a", "b"]
    assert lines_of(tmp_path, b"a\r\r\n") == ["a\r"]  # one CR of the line ending only


def test_bytes_that_are_not_utf8_survive_as_escapes(tmp_path: Path) -> None:
    (line,) = lines_of(tmp_path, b'{"a":"\xff"}\n')
    assert line.encode("utf-8", "surrogateescape") == b'{"a":"\xff"}'


TOPOLOGY: Any = SimpleNamespace(topic=lambda boundary: f"dwf.claims.{boundary}")


def env(event: str, step: str = "check", **payload: Any) -> Envelope:
    return Envelope(
        event_id=event,
        run_id=f"run-{event}",
        workflow="claims",
        workflow_version=3,
        step=step,
        payload=payload,
        produced_at=1_700_000_000_000_000,
        provenance={"route": "fast"},
        chain_seq=4,
        chain_hash="ab" * 32,
    )


DECISION = {
    "event_id": "e1",
    "run_id": "run-e1",
    "workflow": "claims",
    "workflow_version": 3,
    "step": "check",
    "payload": {"amount": 5.0},
    "provenance": {"route": "fast"},
}


def test_jsonl_files_are_named_like_the_topics_and_hold_decision_records(tmp_path: Path) -> None:
    out = OutputFiles(tmp_path / "new" / "dir", TOPOLOGY)
    out.write("out", env("e1", amount=5.0))
    out.write("rejected", env("e2", amount=-1.0))
    out.write("out", env("e3", amount=7.0))
    out.close()
    path = tmp_path / "new" / "dir" / "dwf.claims.out.jsonl"
    assert out.paths == {"out": path, "rejected": tmp_path / "new" / "dir" / "dwf.claims.rejected.jsonl"}
    records = read_jsonl(path)
    assert records[0] == DECISION  # no produced_at, chain hash or attempt: two runs are byte-identical
    assert [r["event_id"] for r in records] == ["e1", "e3"]
    assert path.read_bytes().endswith(b"\n")


def test_drift_records_are_json_lines_even_with_avro_outputs(tmp_path: Path) -> None:
    out = OutputFiles(tmp_path, TOPOLOGY, "avro")
    out.write_record("drift", {"monitor": "amount", "psi": 0.3})
    out.close()
    assert read_jsonl(tmp_path / "dwf.claims.drift.jsonl") == [{"monitor": "amount", "psi": 0.3}]


def test_a_new_run_overwrites_and_an_appending_one_adds(tmp_path: Path) -> None:
    for _ in range(2):
        out = OutputFiles(tmp_path, TOPOLOGY)
        out.write("out", env("e1", amount=5.0))
        out.close()
    assert len(read_jsonl(tmp_path / "dwf.claims.out.jsonl")) == 1
    out = OutputFiles(tmp_path, TOPOLOGY, append=True)
    out.write("out", env("e2", amount=6.0))
    out.close()
    assert [r["event_id"] for r in read_jsonl(tmp_path / "dwf.claims.out.jsonl")] == ["e1", "e2"]


def test_avro_outputs_hold_the_same_decision_with_payload_and_provenance_as_json(tmp_path: Path) -> None:
    out = OutputFiles(tmp_path, TOPOLOGY, "avro")
    out.write("out", env("e1", amount=5.0))
    out.write("out", env("e3", amount=7.0))
    assert not (tmp_path / "dwf.claims.out.avro").exists()  # an Avro file is written whole, at close
    out.close()
    path = tmp_path / "dwf.claims.out.avro"
    assert out.paths == {"out": path}
    with path.open("rb") as fh:
        records: list[Any] = list(fastavro.reader(fh))
    first = dict(records[0])
    assert json.loads(first.pop("payload_json")) == DECISION["payload"]
    assert json.loads(first.pop("provenance_json")) == DECISION["provenance"]
    assert first == {k: DECISION[k] for k in ("event_id", "run_id", "workflow", "workflow_version", "step")}
    assert [r["event_id"] for r in records] == ["e1", "e3"]


def test_avro_files_of_two_runs_are_byte_identical(tmp_path: Path) -> None:
    for run in ("a", "b"):
        out = OutputFiles(tmp_path / run, TOPOLOGY, "avro")
        out.write("out", env("e1", amount=5.0))
        out.close()
    assert (tmp_path / "a" / "dwf.claims.out.avro").read_bytes() == (
        tmp_path / "b" / "dwf.claims.out.avro"
    ).read_bytes()


def test_unknown_formats_and_appending_to_avro_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown output format 'csv': use jsonl or avro"):
        OutputFiles(tmp_path, TOPOLOGY, "csv")
    with pytest.raises(ValueError, match="only JSON-lines outputs can be appended to"):
        OutputFiles(tmp_path, TOPOLOGY, "avro", append=True)


def test_read_jsonl_splits_on_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a":"x\u2028y"}\n\n{"b":1}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": "x\u2028y"}, {"b": 1}]
