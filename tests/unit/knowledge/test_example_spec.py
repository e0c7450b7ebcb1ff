"""docs/examples/policy_claims: the spec parses, passes the JSON schema, and its knowledge is wired."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from dana_workflows.workflow.ir import LLMStepIR
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "docs" / "examples" / "policy_claims" / "policy_claims.yaml"


def test_example_passes_the_json_schema() -> None:
    schema = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    doc = YAML(typ="safe").load(SPEC.read_text())
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)] == []


def test_the_schema_refuses_an_unknown_knowledge_key() -> None:
    schema = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    doc = YAML(typ="safe").load(SPEC.read_text())
    doc["steps"][1]["assess"]["llm"]["knowledge"]["budgte"] = 10
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc))


def test_example_knowledge_is_wired() -> None:
    ir = load_spec(SPEC)
    assert [s.id for s in ir.knowledge.sources] == ["policies", "guidelines", "history"]
    step = ir.steps[1]
    assert isinstance(step, LLMStepIR) and step.knowledge is not None
    assert step.knowledge.require[0].expose["policy_limit_usd"].meta == "limit_usd"
    assert [m.field for m in ir.drift.monitors] == ["context_mix"]
