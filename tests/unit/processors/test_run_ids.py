"""Run ids (docs/audit.md, `run_id`): sha256 of workflow, position and line, 24 hex chars; a rerun into a
store that holds the input already (streams/local/reruns.py) adds its epoch."""

from __future__ import annotations

import hashlib
import json

import pytest

from dana_workflows.core.run_ids import input_id, run_id_for
from dana_workflows.processors.ingest import admit
from dana_workflows.schemas.sha256 import sha256_hex
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = "workflow: w\ninput: {a: int}\nsteps:\n  - check:\n      validate: [{id: pos, rule: 'a > 0'}]\n"


def test_epoch_0_is_the_documented_formula() -> None:
    expected = hashlib.sha256(b'w\x003\x00{"a": 1}').hexdigest()[:24]
    assert run_id_for("w", 3, '{"a": 1}') == expected == run_id_for("w", 3, '{"a": 1}', 0)


def test_an_epoch_gives_the_same_line_at_the_same_place_another_id_that_still_names_the_input() -> None:
    base = hashlib.sha256(b'w\x003\x00{"a": 1}').hexdigest()[:24]
    assert run_id_for("w", 3, '{"a": 1}', 2) == f"{base}-2"
    assert len({run_id_for("w", 3, '{"a": 1}', e) for e in range(4)}) == 4
    assert {input_id(run_id_for("w", 3, '{"a": 1}', e)) for e in range(4)} == {base}
    for other in ("claims-triage.drift", "run-1", f"{base}-0", f"{base}-x", f"{base[:23]}-1"):
        assert input_id(other) == other  # only what run_id_for makes for an epoch is cut


def test_admission_records_the_epoch_only_when_there_is_one() -> None:
    ir = parse_spec(SPEC)
    first = admit(ir, '{"a": 1}', 0, 5)
    again = admit(ir, '{"a": 1}', 0, 5, epoch=1)
    assert first.envelope.run_id == run_id_for("w", 0, '{"a": 1}')
    assert again.envelope.run_id == run_id_for("w", 0, '{"a": 1}', 1)
    assert json.loads(first.rows[0].details) == {"input": '{"a": 1}', "ordinal": 0}
    assert json.loads(again.rows[0].details) == {"epoch": 1, "input": '{"a": 1}', "ordinal": 0}


@pytest.mark.parametrize(
    "line", ['{"a": 1}', "", "é😀 not json", "\udcff bytes that are not UTF-8", "x" * 1000, '{"a": 2}\x00']
)
def test_admission_hashes_the_id_with_the_chosen_sha256_to_the_documented_formula(line: str) -> None:
    # admission hands run_id_for schemas.sha256's digest (the C extension's where the CPU has SHA-NI);
    # the id is still sha256(workflow \x00 position \x00 line), as hashlib computes it
    key = f"w\x007\x00{line}".encode("utf-8", "surrogatepass")
    expected = hashlib.sha256(key).hexdigest()[:24]
    assert run_id_for("w", 7, line, 0, sha256_hex) == expected == run_id_for("w", 7, line)
    assert admit(parse_spec(SPEC), line, 7, 5).envelope.run_id == expected
