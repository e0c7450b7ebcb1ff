"""Enum fields (issue 20): declared as enum(...), a YAML list, or an Avro enum; checked at ingest, where a
value outside the symbols is a schema failure naming the field and the allowed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from dana_workflows.processors.ingest import admit
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import load_spec, parse_spec

jsonschema = pytest.importorskip("jsonschema")
pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LOANS = """\
workflow: loans
input:
  applicant_id: string
  employment: enum(employed, self-employed, unemployed, retired)
  channel: [web, branch]
  region: {type: "enum(north, south)?", doc: where the applicant lives}
  income: double
steps:
  - check:
      validate:
        - {id: has_income, rule: "employment == 'unemployed' || income > 0.0"}
"""


def _event(**overrides: object) -> str:
    base = {"applicant_id": "a1", "employment": "employed", "channel": "web", "region": None, "income": 10.0}
    return json.dumps({**base, **overrides})


def test_three_spellings_declare_string_fields_with_symbols() -> None:
    fields = {f.name: f for f in parse_spec(LOANS).input}
    assert fields["employment"].type == "string"
    assert fields["employment"].symbols == ("employed", "self-employed", "unemployed", "retired")
    assert fields["channel"].symbols == ("web", "branch") and not fields["channel"].optional
    assert fields["region"].symbols == ("north", "south") and fields["region"].optional
    assert fields["region"].doc == "where the applicant lives"
    assert fields["income"].symbols == ()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        (
            {"employment": " unemployed"},  # a stray space is not the value
            "schema.employment: 'employment' is ' unemployed', not one of its declared values "
            "('employed', 'self-employed', 'unemployed', 'retired')",
        ),
        ({"channel": "phone"}, "schema.channel: 'channel' is 'phone', not one of its declared values"),
        (
            {"region": "east"},
            "schema.region: 'region' is 'east', not one of its declared values ('north', 'south')",
        ),
        (
            {"employment": "Retired"},
            "schema.employment: 'employment' is 'Retired', not one of",
        ),  # case matters
    ],
)
def test_a_value_outside_the_symbols_fails_the_schema_at_ingest(
    overrides: dict[str, object], reason: str
) -> None:
    admission = admit(parse_spec(LOANS), _event(**overrides), 0, 1)
    assert not admission.accepted and not admission.dead
    assert any(r.startswith(reason) for r in admission.reasons), admission.reasons
    assert admission.rows[-1].kind == "rejected" and admission.rows[-1].step == "ingest"


def test_every_declared_value_and_null_for_an_optional_enum_pass() -> None:
    ir = parse_spec(LOANS)
    for value in ("employed", "self-employed", "unemployed", "retired"):
        assert admit(ir, _event(employment=value, region="south"), 0, 1).accepted
    assert admit(ir, _event(region=None), 0, 1).accepted
    assert not admit(ir, _event(channel=None), 0, 1).accepted  # not optional: null is refused


def test_an_avro_enum_in_the_input_schema(tmp_path: Path) -> None:
    avsc = {
        "type": "record",
        "name": "Applicant",
        "fields": [
            {"name": "applicant_id", "type": "string"},
            {
                "name": "employment",
                "type": {"type": "enum", "name": "Employment", "symbols": ["EMPLOYED", "RETIRED"]},
            },
            {
                "name": "tier",
                "type": ["null", {"type": "enum", "name": "Tier", "symbols": ["GOLD", "SILVER"]}],
            },
        ],
    }
    (tmp_path / "applicant.avsc").write_text(json.dumps(avsc))
    spec = tmp_path / "w.yaml"
    spec.write_text(
        "workflow: w\ninput: {schema: applicant.avsc}\n"
        "steps:\n  - check: {validate: [{id: r, rule: \"employment != 'RETIRED'\"}]}\n"
    )
    ir = load_spec(spec)
    fields = {f.name: f for f in ir.input}
    assert fields["employment"].symbols == ("EMPLOYED", "RETIRED") and not fields["employment"].optional
    assert fields["tier"].symbols == ("GOLD", "SILVER") and fields["tier"].optional
    good = admit(ir, json.dumps({"applicant_id": "a", "employment": "EMPLOYED", "tier": None}), 0, 1)
    assert good.accepted
    bad = admit(ir, json.dumps({"applicant_id": "a", "employment": "employed", "tier": "BRONZE"}), 0, 1)
    assert [r.split(":")[0] for r in bad.reasons] == ["schema.employment", "schema.tier"]


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("enum()", "an enum needs at least one value"),
        ("enum(a, b, a)", "enum value 'a' is listed twice"),
        ("[a, [b]]", "enum values are text"),
    ],
)
def test_a_wrong_enum_declaration_is_reported_at_its_line(declaration: str, message: str) -> None:
    text = (
        f"workflow: w\ninput:\n  id: string\n  kind: {declaration}\n"
        "steps:\n  - c: {validate: [{id: r, rule: 'id != \"\"'}]}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "w.yaml")
    problem = caught.value.problems[0]
    assert (problem.line, problem.field) == (4, "input.kind") and message in problem.message


def test_the_editor_schema_accepts_the_spellings() -> None:
    schema = json.loads((ROOT / "docs" / "spec.schema.json").read_text())
    spec = YAML(typ="safe").load(LOANS)
    jsonschema.validate(spec, schema)
    spec["input"]["channel"] = "enumeration"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(spec, schema)


def test_a_rule_comparing_an_enum_with_an_unknown_value_is_refused() -> None:
    text = LOANS.replace(
        "employment == 'unemployed' || income > 0.0",
        "employment == 'unemployd' || channel in ['web', 'phone'] || employment != 'retired'",
    )
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "loans.yaml")
    found = [(p.line, p.message) for p in caught.value.problems]
    assert found == [
        (11, "compares enum field 'employment' with 'unemployd', not one of its values"),
        (11, "compares enum field 'channel' with 'phone', not one of its values"),
    ]
    assert "'employed', 'self-employed', 'unemployed', 'retired'" in caught.value.problems[0].fix
