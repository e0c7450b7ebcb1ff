"""The local runtime's output files: one canonical JSON line per decision, byte-stable across runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.processors.pipeline import OUT
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.local.outputs import DECISION_FIELDS, OutputFiles, decision_record, read_jsonl
from dana_workflows.streams.topology import Topology

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


def envelope(i: int) -> Envelope:
    payload = {"claim_id": f"C{i}", "description": 'vol à l\'étalage \u2028 "quoted"', "amount": 12.5 * i}
    return Envelope(f"e{i}", f"r{i}", "claims-triage", 3, "triage", payload, 0, 1_700_000_000, {"route": "x"})


def test_a_decision_record_is_the_envelope_records_decision_fields() -> None:
    env = envelope(1)
    full = env.to_record()
    assert decision_record(env) == {k: full[k] for k in DECISION_FIELDS}
    assert tuple(decision_record(env)) == DECISION_FIELDS


def test_jsonl_lines_are_canonical_json_and_read_back(tmp_path: Path) -> None:
    topology = Topology(load_pipeline(SPEC), FileRegistry(tmp_path / "schemas"))
    out = OutputFiles(tmp_path / "out", topology)
    envs = [envelope(i) for i in range(3)]
    for env in envs:
        out.write(OUT, env)
    out.write_record("drift", {"b": 1, "a": [1.5, None]})
    out.close()
    lines = out.paths[OUT].read_bytes().decode("utf-8").split("\n")
    assert lines == [canonical_json(decision_record(e)) for e in envs] + [""]  # sorted keys, one per line
    assert read_jsonl(out.paths[OUT]) == [json.loads(canonical_json(decision_record(e))) for e in envs]
    assert out.paths["drift"].read_text() == '{"a":[1.5,null],"b":1}\n'
