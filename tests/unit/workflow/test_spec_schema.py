"""docs/spec.schema.json agrees with the parser: what it accepts, editors accept, and structural mistakes
the parser rejects are flagged by the editor too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from dana_workflows.processors.pipeline import CompileError, compile_pipeline
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import AVRO_PRIMITIVES
from dana_workflows.workflow.spec import STEP_KINDS, STEP_OPTIONS, TOP_KEYS, load_spec, parse_spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "docs" / "spec.schema.json"
CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"

MINIMAL = """
workflow: tiny
input: {amount: double}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
"""

EVERY_TRANSFORM_KEY = """
workflow: enrich_orders
version: 2
description: every transform key at once
input:
  order_id: string
  qty: long
  price: double
  note: string?
steps:
  - derive:
      description: totals and tidy names
      transform:
        set:
          total: {expr: "double(qty) * price", type: double}
          note: "note == null ? '' : trim(note)"
        rename: {order_id: id}
        drop: [price]
        function: "mypkg.enrich:add_region"
        outputs: {region: string, score: int?}
      retry: {max_attempts: 2, backoff_ms: 50, on_exhausted: default, default: {region: unknown}}
"""

BRANCHES = """
workflow: claims-branches
input: {amount: double, currency: string}
objective:
  goal: route claims
  constraints:
    - {id: decided, rule: "decision != ''", message: "every claim gets a decision", severity: warn}
  success_criteria: [nobody waits]
steps:
  - triage:
      as: decision
      route:
        fraud_check: {when: "amount >= 50000.0", terminal: true}
        review:
          when: "amount >= 1000.0"
          steps:
            - second_look:
                validate:
                  - {id: known_currency, rule: "currency in ['USD', 'EUR']", message: "unknown currency"}
        auto_pay: "true"
"""

LLM = """
workflow: assess
input: {claim_id: string, description: string, amount: double}
steps:
  - fraud_risk:
      llm:
        when: "amount > 1000.0 || description.contains('stolen')"
        system: You assess insurance claims for fraud risk.
        prompt: |
          Claim {{ claim_id }}: {{ description }}
        output: {risk: string, confidence: double}
        model: default
        fallback_models: [backup-model]
        temperature: 0.0
        limits: {rpm: 60, tpm: 40000, concurrency: 2, timeout_s: 10, max_tokens: 256}
        template_id: fraud
        template_version: "2"
      retry: {max_attempts: 1, on_exhausted: default, default: {risk: unknown, confidence: 0.0}}
  - gate:
      validate:
        - {id: risk_known, rule: "risk == null || risk in ['low', 'medium', 'high']"}
"""

DRIFT = """
workflow: watched
input: {amount: double, currency: string, text: string, at: long}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
drift:
  window: {kind: hopping, size_s: 3600, step_s: 900, time_field: at, allowed_lateness_s: 60}
  monitors:
    - {id: mix, field: currency}
    - {id: amounts, field: amount, feature: numeric, bins: [10.0, 100.0, 1000.0],
       warn_psi: 0.05, alert_psi: 0.3}
    - {id: words, field: text, feature: text, buckets: 16, reference_windows: 4, step: check}
"""

# every key of a recovery ladder (docs/recovery.md), in place of the llm step's retry
LADDER = LLM.replace(
    "      retry: {max_attempts: 1, on_exhausted: default, default: {risk: unknown, confidence: 0.0}}\n",
    """      recovery:
        ladder: [retry, fallback_model, default, review, dlq]
        retry: {max_attempts: 2, backoff_ms: 100}
        default: {risk: unknown, confidence: 0.0}
        rules:
          - {when_error: schema, start_at: dlq}
          - {when_error: [quota, rate_limit], start_at: fallback_model}
          - {when: "amount > 10000.0", never: [default]}
""",
)

VALID = {
    "minimal": MINIMAL,
    "every_transform_key": EVERY_TRANSFORM_KEY,
    "branches": BRANCHES,
    "llm": LLM,
    "drift": DRIFT,
    "ladder": LADDER,
}

# Mistakes the parser rejects that a schema can see without running CEL: each must be flagged by both.
STRUCTURAL_MISTAKES = {
    "unknown_top_key": MINIMAL + "owner: claims-team\n",
    "misspelt_top_key": MINIMAL.replace("input:", "inputs:"),
    "missing_steps": "workflow: tiny\ninput: {amount: double}\n",
    "empty_steps": "workflow: tiny\ninput: {amount: double}\nsteps: []\n",
    "two_kinds_in_one_step": MINIMAL.replace(
        "{validate:", '{transform: {set: {amount: "amount * 2.0"}}, validate:'
    ),
    "no_kind": MINIMAL.replace("check: {validate:", "check: {checks:"),
    "two_steps_in_one_item": MINIMAL + '    other: {validate: [{id: b, rule: "amount < 9.0"}]}\n',
    "bad_type_name": MINIMAL.replace("amount: double", "amount: decimal"),
    "bad_set_type": EVERY_TRANSFORM_KEY.replace("type: double}", "type: number}"),
    "bad_severity": MINIMAL.replace('"amount > 0.0"}', '"amount > 0.0", severity: block}'),
    "rule_without_id": MINIMAL.replace("{id: positive, ", "{"),
    "unknown_rule_key": MINIMAL.replace("{id: positive,", "{id: positive, level: high,"),
    "bad_on_exhausted": EVERY_TRANSFORM_KEY.replace("on_exhausted: default", "on_exhausted: skip"),
    "bad_step_name": MINIMAL.replace("  - check:", "  - check-claim:"),
    "bad_workflow_name": MINIMAL.replace("workflow: tiny", "workflow: tiny claims"),
    "zero_version": MINIMAL + "version: 0\n",
    "unknown_branch_key": BRANCHES.replace("terminal: true", "final: true"),
    "bad_function_ref": EVERY_TRANSFORM_KEY.replace('"mypkg.enrich:add_region"', "add_region"),
    "llm_without_output": LLM.replace("        output: {risk: string, confidence: double}\n", ""),
    "unknown_llm_key": LLM.replace("model: default", "engine: default"),
    "bad_window_kind": DRIFT.replace("kind: hopping", "kind: sliding"),
    "unknown_objective_key": BRANCHES.replace("  goal: route claims", "  aim: route claims"),
    "step_named_like_a_topic": MINIMAL.replace("  - check:", "  - out:"),
    "unknown_rung": LADDER.replace("ladder: [retry,", "ladder: [retyr,"),
    "unknown_error_class": LADDER.replace("when_error: schema", "when_error: schemas"),
    "unknown_ladder_rule_key": LADDER.replace("never: [default]", "skip: [default]"),
}


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _schema_errors(validator: Any, text: str) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_doc(text))]


def test_claims_example_is_valid(validator: Any) -> None:
    load_spec(CLAIMS)
    assert _schema_errors(validator, CLAIMS.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_specs_pass_parser_and_schema(validator: Any, name: str) -> None:
    parse_spec(VALID[name], f"{name}.yaml")
    assert _schema_errors(validator, VALID[name]) == []


def test_avsc_input_reference(validator: Any, tmp_path: Path) -> None:
    avsc = {
        "type": "record",
        "name": "Claim",
        "fields": [
            {"name": "amount", "type": "double"},
            {"name": "channel", "type": ["null", "string"], "default": None},
        ],
    }
    (tmp_path / "claim.avsc").write_text(json.dumps(avsc), encoding="utf-8")
    text = MINIMAL.replace("input: {amount: double}", "input: {schema: claim.avsc}")
    (tmp_path / "wf.yaml").write_text(text, encoding="utf-8")
    ir = load_spec(tmp_path / "wf.yaml")
    assert [(f.name, f.optional) for f in ir.input] == [("amount", False), ("channel", True)]
    assert _schema_errors(validator, text) == []


def _rejected_by_dana(text: str, name: str) -> bool:
    try:
        compile_pipeline(parse_spec(text, f"{name}.yaml"))
    except (SpecError, CompileError):
        return True
    return False


@pytest.mark.parametrize("name", sorted(STRUCTURAL_MISTAKES))
def test_structural_mistakes_fail_parser_and_schema(validator: Any, name: str) -> None:
    text = STRUCTURAL_MISTAKES[name]
    assert _rejected_by_dana(text, name)
    assert _schema_errors(validator, text), f"the schema accepts {name}, which the parser rejects"


def test_editors_on_draft_07_give_the_same_verdicts() -> None:
    """yaml-language-server validates with draft-07 semantics: the schema sticks to keywords that mean the
    same there (no prefixItems, unevaluated*, no siblings of $ref that matter)."""
    draft7 = jsonschema.Draft7Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    for name, text in VALID.items():
        assert list(draft7.iter_errors(_doc(text))) == [], name
    for name, text in STRUCTURAL_MISTAKES.items():
        assert list(draft7.iter_errors(_doc(text))), name


def test_schema_lists_what_the_parser_knows() -> None:
    """A key added to the parser needs its place (and its hover text) in the schema."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(schema["$defs"]["stepBody"]["properties"]) == set(STEP_KINDS) | set(STEP_OPTIONS)
    types = schema["$defs"]["fieldType"]["enum"]
    assert set(types) == set(AVRO_PRIMITIVES) | {f"{t}?" for t in AVRO_PRIMITIVES}
    assert len(schema["$defs"]["fieldType"]["enumDescriptions"]) == len(types)


def test_every_property_has_hover_text() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["$defs"]

    def described(node: dict[str, Any]) -> bool:
        if "description" in node:
            return True
        ref = node.get("$ref", "")
        return ref.startswith("#/$defs/") and "description" in defs[ref.removeprefix("#/$defs/")]

    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, sub in (node.get("properties") or {}).items():
                if not described(sub):
                    missing.append(f"{path}/properties/{key}")
            for key, sub in node.items():
                walk(sub, f"{path}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{path}/{i}")

    walk(schema, "#")
    assert missing == []
