"""Inference set against what the spec already says (newcomer3 N8): a "known-good" sample whose events the
spec's own rules reject is said once, with the count and the rules; a list of values an enum field's
declaration already gives is not offered again as a domain rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.objectives import app
from dana_workflows.objectives.declared import rejected_by_the_spec, without_declared_domains
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.sample import Sample
from dana_workflows.workflow.ir import FieldIR
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: med-orders
input:
  drug: enum(warfarin, insulin, paracetamol)
  dose_mg: double
  doses_per_day: long
  prescriber: string
steps:
  - compute:
      transform:
        set:
          daily_mg: {expr: "dose_mg * double(doses_per_day)", type: double}
          prescriber: "trim(prescriber)"
  - check_order:
      validate:
        - {id: positive_dose, rule: "dose_mg > 0.0"}
        - {id: has_prescriber, rule: "size(prescriber) > 0"}
        - {id: low_dose, rule: "daily_mg < 9000.0", severity: warn}
        - {id: paracetamol_max, rule: "!(drug == 'paracetamol' && daily_mg > 4000.0)"}
  - triage:
      route:
        review: "drug == 'warfarin'"
        dispense: "true"
"""
DRUGS = ["warfarin", "insulin", "paracetamol"]


def _event(i: int) -> dict[str, Any]:
    # every 5th event has a prescriber of spaces only (trimmed to '', refused by has_prescriber); every
    # 7th a paracetamol order of 3 x 2000 mg (6000 mg a day, refused by paracetamol_max); i = 0 is both
    drug = "paracetamol" if i % 7 == 0 else DRUGS[i % 2]
    return {
        "drug": drug,
        "dose_mg": 2000.0 if i % 7 == 0 else 10.0 + i,
        "doses_per_day": 3 if i % 7 == 0 else 1 + i % 4,
        "prescriber": "   " if i % 5 == 0 else f"dr {i % 3}",
    }


EVENTS = [_event(i) for i in range(60)]
# from the two comments above: 12 fifths, 9 sevenths, 2 of them both (0 and 35): 19 events refused
REFUSED = len([i for i in range(60) if i % 5 == 0 or i % 7 == 0])


def test_the_rules_that_reject_sample_events_are_named_once_with_the_count() -> None:
    ir = parse_spec(SPEC, "meds.yaml")
    note = rejected_by_the_spec(ir, Sample("s.jsonl", EVENTS))
    assert REFUSED == 19
    # has_prescriber comes first in its step, so an event failing both is counted there; the most first
    assert note == (
        "19 of 60 sample events fail the spec's own rules (has_prescriber, paracetamol_max): "
        "is the sample known-good?"
    )


def test_a_clean_sample_warn_rules_and_output_records_say_nothing() -> None:
    ir = parse_spec(SPEC, "meds.yaml")
    clean = [e for i, e in enumerate(EVENTS) if i % 5 and i % 7]
    assert rejected_by_the_spec(ir, Sample("s.jsonl", clean)) is None  # low_dose fails on none: warn anyway
    heavy = [{**e, "dose_mg": 5000.0, "drug": "insulin"} for e in clean]  # low_dose (warn) fails on all
    assert rejected_by_the_spec(ir, Sample("s.jsonl", heavy)) is None
    assert rejected_by_the_spec(ir, Sample("s.jsonl", EVENTS, outputs=len(EVENTS))) is None


def test_a_rule_reading_an_llm_answer_is_not_counted() -> None:
    text = SPEC.replace(
        "  - triage:",
        "  - ask:\n      llm:\n        prompt: 'risk of {drug}?'\n        output: {risk: string}\n"
        '  - after_ask:\n      validate: [{id: has_risk, rule: "risk != null"}]\n  - triage:',
    )
    ir = parse_spec(text, "meds.yaml")
    clean = [e for i, e in enumerate(EVENTS) if i % 5 and i % 7]
    assert rejected_by_the_spec(ir, Sample("s.jsonl", clean)) is None


def _domain(field: str, values: list[str]) -> Candidate:
    rule = f"{field} in {json.dumps(values)}"
    return Candidate(
        f"{field}_domain", rule, "domain", (field,), "m", "b", kind="domain", refine={"values": values}
    )


ENUM = FieldIR(name="drug", type="string", symbols=("warfarin", "insulin", "paracetamol"))


@pytest.mark.parametrize("values", [["insulin", "paracetamol", "warfarin"], ["insulin", "warfarin"]])
def test_a_domain_within_the_enum_declaration_is_not_offered(values: list[str]) -> None:
    assert without_declared_domains([_domain("drug", values)], {"drug": ENUM}) == []


def test_other_domains_are_kept() -> None:
    free = FieldIR(name="unit", type="string")
    kept = [_domain("unit", ["mg", "ml"]), _domain("drug", ["aspirin", "insulin"])]
    assert without_declared_domains(kept, {"unit": free, "drug": ENUM}) == kept


def test_infer_says_it_once_and_offers_no_domain_for_the_enum(tmp_path: Path) -> None:
    spec = tmp_path / "meds.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    sample = tmp_path / "good.jsonl"
    sample.write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    result = CliRunner().invoke(app, ["infer", str(spec), "--sample", str(sample)])
    assert result.exit_code == 0, result.output
    assert result.output.count("sample events fail the spec's own rules") == 1
    assert "note: 19 of 60 sample events fail the spec's own rules (has_prescriber, paracetamol_max)" in (
        result.output
    )
    assert "drug_domain" not in result.output
