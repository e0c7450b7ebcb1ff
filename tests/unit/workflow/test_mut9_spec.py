"""The whole-spec checks of docs/spec.md: the top-level keys, the input (inline or an Avro schema), the
objective, and the checks across steps (fields read where they exist, names and rule ids unique, the
types where a route's branches join). Each problem names its line, its dotted place and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import RouteStepIR, WorkflowIR
from dana_workflows.workflow.spec import load_spec, parse_spec

pytestmark = pytest.mark.unit

STEP = '  - v: {validate: [{id: a, rule: "true"}]}\n'
SET_X_LONG = '{s: {transform: {set: {x: {expr: "1", type: long}}}}}'  # a branch step making x: long
SET_X_STRING = "{u: {transform: {set: {x: {expr: \"'1'\", type: string}}}}}"


def problems(text: str, base_dir: Path | None = None) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.yaml", base_dir=base_dir)
    assert all(p.file == "t.yaml" for p in info.value.problems)
    return [(p.line, p.field, p.message, p.fix) for p in info.value.problems]


def flow(steps: str, inputs: str = "{amount: double, currency: string}") -> WorkflowIR:
    return parse_spec(f"workflow: t\ninput: {inputs}\nsteps:\n{steps}", "t.yaml")


def flow_problems(
    steps: str, inputs: str = "{amount: double, currency: string}"
) -> list[tuple[int, str, str, str]]:
    return problems(f"workflow: t\ninput: {inputs}\nsteps:\n{steps}")


# --- the document ----------------------------------------------------------------------------------------


def test_text_that_is_not_yaml_is_one_problem_at_its_line() -> None:
    ((line, field, message, fix),) = problems("workflow: t\ninput: {a: [1, 2}\nsteps: []\n")
    assert (line, field, fix) == (2, "<yaml>", "fix the YAML syntax")
    assert message.startswith("not valid YAML: ")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n", ""])
def test_a_spec_is_a_mapping(text: str) -> None:
    assert problems(text) == [(1, "<root>", "a spec is a mapping", "start with 'workflow: NAME'")]


@pytest.mark.parametrize("name", ["'bad name'", "5", "''", "'x.y'"])
def test_the_workflow_name_is_letters_digits_dash_underscore(name: str) -> None:
    text = f"input: {{amount: double}}\nworkflow: {name}\nsteps:\n{STEP}"
    assert problems(text) == [
        (2, "workflow", "needs a name of letters, digits, - or _", "workflow: claims-triage")
    ]


def test_a_missing_workflow_name_is_reported_too() -> None:
    text = f"input: {{amount: double}}\nsteps:\n{STEP}"
    assert problems(text) == [
        (1, "workflow", "needs a name of letters, digits, - or _", "workflow: claims-triage")
    ]


def test_names_with_dashes_and_underscores_and_the_defaults() -> None:
    ir = parse_spec(f"workflow: claims-triage_2\ninput: {{amount: double}}\nsteps:\n{STEP}", "f.yaml")
    assert (ir.name, ir.version, ir.description, ir.source) == ("claims-triage_2", 1, "", "f.yaml")
    ir = parse_spec(
        f"workflow: w\nversion: 7\ndescription: pays claims\ninput: {{amount: double}}\nsteps:\n{STEP}"
    )
    assert (ir.version, ir.description, ir.source) == (7, "pays claims", "<string>")


@pytest.mark.parametrize("version", ["0", "-2", "true", "'2'", "1.5"])
def test_the_version_is_a_positive_whole_number(version: str) -> None:
    text = f"workflow: w\nversion: {version}\ninput: {{amount: double}}\nsteps:\n{STEP}"
    assert problems(text) == [(2, "version", "must be a positive whole number", "version: 1")]


@pytest.mark.parametrize("steps", ["steps: []\n", "steps: {a: 1}\n", ""])
def test_a_workflow_needs_a_list_of_steps(steps: str) -> None:
    text = "workflow: w\ninput: {amount: double}\n" + steps
    line = 3 if steps else 1
    assert problems(text) == [
        (line, "steps", "a workflow needs a list of steps", "steps:\n  - check: {validate: [...]}")
    ]


def test_a_missing_input_is_named() -> None:
    assert problems(f"workflow: w\nsteps:\n{STEP}") == [
        (1, "input", "missing: the fields of an input event", "input:\n  claim_id: string")
    ]


def test_an_unknown_top_level_key_suggests_the_closest() -> None:
    text = f"workflow: w\ninput: {{amount: double}}\nobjectve: {{goal: g}}\nsteps:\n{STEP}"
    assert problems(text) == [(3, "objectve", "unknown key", "did you mean 'objective'?")]


def test_every_problem_is_reported_at_once() -> None:
    text = "workflow: 'a b'\nversion: 0\ninput: {amount: decimal}\n"
    assert [(line, field) for line, field, _, _ in problems(text)] == [
        (1, "workflow"),
        (2, "version"),
        (3, "input.amount"),
        (1, "steps"),
    ]


def test_load_spec_names_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        load_spec(missing)
    ((problem),) = info.value.problems
    assert (problem.file, problem.line, problem.field) == (str(missing), 0, "<file>")
    assert problem.message == "cannot read: No such file or directory"
    assert problem.fix == "check the path"


def test_load_spec_reads_the_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(f"workflow: w\ninput: {{amount: double}}\nsteps:\n{STEP}", encoding="utf-8")
    assert load_spec(path).source == str(path)


# --- input from an Avro schema ---------------------------------------------------------------------------


def test_the_input_can_be_an_avro_schema_next_to_the_spec(tmp_path: Path) -> None:
    schema = {
        "type": "record",
        "name": "Claim",
        "fields": [
            {"name": "claim_id", "type": "string", "doc": "the claim"},
            {"name": "amount", "type": ["null", "double"]},
            {
                "name": "kind",
                "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]},
                "doc": "its kind",
            },
        ],
    }
    (tmp_path / "claim.avsc").write_text(json.dumps(schema))
    ir = parse_spec(f"workflow: w\ninput: {{schema: claim.avsc}}\nsteps:\n{STEP}", base_dir=tmp_path)
    assert [(f.name, f.type, f.optional, f.doc) for f in ir.input] == [
        ("claim_id", "string", False, "the claim"),
        ("amount", "double", True, ""),
        ("kind", "string", False, "its kind"),
    ]
    assert ir.input[2].symbols == ("A", "B")


def test_an_avro_schema_with_a_non_primitive_field(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "C", "fields": [{"name": "tags", "type": {"type": "array"}}]}
    (tmp_path / "c.avsc").write_text(json.dumps(schema))
    text = f"workflow: w\ninput:\n  schema: c.avsc\nsteps:\n{STEP}"
    assert problems(text, base_dir=tmp_path) == [
        (
            3,
            "input.schema.tags",
            "unsupported Avro type {'type': 'array'}",
            "use primitive fields (string, long, int, double, float, boolean)",
        )
    ]


def test_an_avro_enum_without_symbols(tmp_path: Path) -> None:
    schema = {
        "type": "record",
        "name": "C",
        "fields": [{"name": "k", "type": {"type": "enum", "symbols": []}}],
    }
    (tmp_path / "c.avsc").write_text(json.dumps(schema))
    text = f"workflow: w\ninput:\n  schema: c.avsc\nsteps:\n{STEP}"
    assert problems(text, base_dir=tmp_path) == [
        (
            3,
            "input.schema.k",
            "an enum needs at least one value, and no empty ones",
            "employment: enum(employed, unemployed, retired)",
        )
    ]


def test_an_unreadable_avro_schema(tmp_path: Path) -> None:
    text = f"workflow: w\ninput:\n  schema: gone.avsc\nsteps:\n{STEP}"
    ((line, field, message, fix),) = problems(text, base_dir=tmp_path)
    assert (line, field, fix) == (3, "input.schema", "point to an .avsc file")
    assert message.startswith(f"cannot read Avro schema {tmp_path / 'gone.avsc'}: ")


# --- objective, drift ------------------------------------------------------------------------------------


def test_the_objective_is_goal_constraints_and_criteria() -> None:
    ir = parse_spec(
        "workflow: w\ninput: {amount: double}\n"
        "objective:\n"
        "  goal: pay small claims\n"
        '  constraints: [{id: small, rule: "amount < 10.0"}]\n'
        "  success_criteria: [fast, 2]\n"
        f"steps:\n{STEP}"
    )
    assert ir.objective.goal == "pay small claims"
    assert [(r.id, r.expr) for r in ir.objective.constraints] == [("small", "amount < 10.0")]
    assert ir.objective.success_criteria == ("fast", "2")


def test_an_objective_that_is_not_a_mapping() -> None:
    text = f"workflow: w\ninput: {{amount: double}}\nobjective: be good\nsteps:\n{STEP}"
    assert problems(text) == [
        (3, "objective", "a mapping with goal, constraints, success_criteria", "objective: {goal: ...}")
    ]


def test_objective_keys_and_constraints_are_checked() -> None:
    text = (
        "workflow: w\ninput: {amount: double}\n"
        "objective:\n"
        "  gaol: g\n"
        '  constraints: [{id: c, rule: "amount >"}]\n'
        f"steps:\n{STEP}"
    )
    found = problems(text)
    assert [(line, field, fix) for line, field, _, fix in found] == [
        (4, "objective.gaol", "did you mean 'goal'?"),
        (5, "objective.constraints[0].rule", "see docs/spec.md#expressions for the CEL syntax"),
    ]
    assert found[0][2] == "unknown key" and found[1][2].startswith("not a valid CEL expression")


def test_constraints_read_the_fields_the_steps_leave() -> None:
    text = (
        "workflow: w\ninput: {amount: double}\n"
        'objective: {constraints: [{id: c, rule: "total > 0.0"}, {id: d, rule: "amount > 0.0"}]}\n'
        "steps:\n  - t: {transform: {rename: {amount: total}}}\n"
    )
    assert [(f, m) for _, f, m, _ in problems(text)] == [
        ("objective.constraints[1].rule", "reads 'amount', which is not a field at this step")
    ]


def test_drift_settings_are_checked_with_a_pointer_to_the_drift_docs() -> None:
    text = f"workflow: w\ninput: {{amount: double}}\ndrift: {{windw: 1}}\nsteps:\n{STEP}"
    ((line, field, _, fix),) = problems(text)
    assert (line, field, fix) == (3, "drift.windw", "see docs/drift.md")


# --- checks across steps ---------------------------------------------------------------------------------


def test_a_duplicate_step_name_is_named_at_the_second() -> None:
    assert flow_problems(STEP + STEP) == [
        (5, "steps[1].v", "duplicate step name", "give every step its own name")
    ]


def test_a_step_name_inside_a_branch_counts_against_the_whole_workflow() -> None:
    steps = STEP + '  - r: {route: {b: {when: "true", steps: [' + STEP.strip()[2:] + "]}}}\n"
    assert flow_problems(steps) == [
        (0, "steps[1].r.route.b.steps[0].v", "duplicate step name", "give every step its own name")
    ]


def test_a_duplicate_rule_id_in_a_step() -> None:
    steps = '  - v:\n      validate:\n        - {id: a, rule: "true"}\n        - {id: a, rule: "false"}\n'
    assert flow_problems(steps) == [
        (4, "steps[0].v.validate[1].id", "duplicate rule id 'a'", "give every rule its own id")
    ]


def test_renaming_a_field_that_is_not_there() -> None:
    steps = "  - t:\n      transform: {rename: {amout: total}}\n"
    assert flow_problems(steps) == [
        (4, "steps[0].t.transform.rename.amout", "no field 'amout' to rename", "did you mean 'amount'?")
    ]


def test_a_rule_reads_only_fields_that_exist_at_its_step() -> None:
    steps = (
        "  - t: {transform: {rename: {amount: total}, drop: [currency]}}\n"
        "  - v:\n"
        "      validate:\n"
        '        - {id: ok, rule: "total > 0.0"}\n'
        "        - {id: gone, rule: \"currency == 'EUR'\"}\n"
    )
    assert flow_problems(steps) == [
        (
            8,
            "steps[1].v.validate[1].rule",
            "reads 'currency', which is not a field at this step",
            "use one of: total",
        )
    ]


def test_a_set_expression_reads_the_event_as_it_came_in() -> None:
    steps = '  - t:\n      transform:\n        set: {currency: "upper(curency)"}\n'
    assert flow_problems(steps) == [
        (
            4,
            "steps[0].t.transform.set.currency",
            "reads 'curency', which is not a field at this step",
            "did you mean 'currency'?",
        )
    ]
    # a set entry cannot read another entry of the same step (docs/spec.md, transform)
    steps = (
        "  - t:\n      transform:\n        set:\n"
        '          x: {expr: "amount", type: double}\n'
        '          y: {expr: "x", type: double}\n'
    )
    assert [f for _, f, _, _ in flow_problems(steps)] == ["steps[0].t.transform.set.y"]


def test_an_untyped_set_may_overwrite_a_field_an_earlier_step_made() -> None:
    ir = flow(
        '  - a: {transform: {set: {x: {expr: "amount", type: long}}}}\n'
        '  - b: {transform: {set: {x: "x + 1"}}}\n'
        '  - v: {validate: [{id: r, rule: "x > 1 && amount != null"}]}\n'
    )
    b = ir.steps[1]
    assert [(d.field, d.type) for d in b.derive] == [("x", "long")]  # type: ignore[union-attr]


def test_a_route_condition_reads_fields_before_the_route_and_branches_see_the_route_field() -> None:
    steps = (
        "  - r:\n"
        "      as: decision\n"
        "      route:\n"
        '        a: {when: "amount > 1.0", steps: [{v: {validate: [{id: d, rule: "decision == \'a\'"}]}}]}\n'
        "        b: \"decison == 'a'\"\n"
    )
    assert flow_problems(steps) == [
        (
            4,
            "steps[0].r.route.b",
            "reads 'decison', which is not a field at this step",
            "use one of: amount, currency",
        )
    ]


def test_after_a_route_the_route_field_and_non_terminal_branch_fields_are_there() -> None:
    ir = flow(
        "  - r:\n"
        "      route:\n"
        '        a: {when: "amount > 1.0", steps: [' + SET_X_LONG + "]}\n"
        '        b: "true"\n'
        "  - v: {validate: [{id: d, rule: \"route == 'a' && (x == null || x > 0)\"}]}\n"
    )
    assert isinstance(ir.steps[0], RouteStepIR)


def test_a_field_set_only_in_a_terminal_branch_is_gone_after_the_route() -> None:
    steps = (
        "  - r:\n"
        "      route:\n"
        '        a: {when: "amount > 1.0", terminal: true, steps: [' + SET_X_LONG + "]}\n"
        '        b: "true"\n'
        '  - v: {validate: [{id: d, rule: "x > 0"}]}\n'
    )
    assert [(f, m) for _, f, m, _ in flow_problems(steps)] == [
        ("steps[1].v.validate[0].rule", "reads 'x', which is not a field at this step")
    ]


def test_branches_that_join_with_different_types_for_a_field() -> None:
    def route(terminal: str) -> str:
        return (
            "  - r:\n"
            "      route:\n"
            '        a: {when: "amount > 1.0", steps: [' + SET_X_LONG + "]}\n"
            f'        b: {{when: "true", {terminal}steps: [{SET_X_STRING}]}}\n'
        )

    assert flow_problems(route("")) == [
        (
            4,
            "steps[0].r.route",
            "field 'x' has different types where the branches join (long in 'a', string in 'b')",
            "give the field one type in every branch, or a different name in each",
        )
    ]
    flow(route("terminal: true, "))  # a terminal branch does not join: no conflict


def test_an_llm_condition_reads_fields_at_its_step_and_its_output_follows() -> None:
    steps = "  - a: {llm: {prompt: p, output: {risk: string}, when: 'amout > 1.0'}}\n"
    assert flow_problems(steps) == [
        (
            4,
            "steps[0].a.llm.when",
            "reads 'amout', which is not a field at this step",
            "did you mean 'amount'?",
        )
    ]
    flow(
        "  - a: {llm: {prompt: p, output: {risk: string}, when: 'amount > 1.0'}}\n"
        "  - v: {validate: [{id: r, rule: \"risk == null || risk != ''\"}]}\n"
    )


def test_a_read_of_a_refused_input_field_says_why_it_is_missing() -> None:
    text = (
        "workflow: w\n"
        "input:\n"
        "  amount: decimal\n"
        "steps:\n"
        "  - v:\n"
        "      validate:\n"
        '        - {id: a, rule: "amount > 0.0"}\n'
    )
    found = problems(text)
    assert found[0][:2] == (3, "input.amount")
    assert found[1] == (
        7,
        "steps[0].v.validate[0].rule",
        "reads 'amount', whose declaration was refused (line 3: unknown type 'decimal')",
        "fix input.amount first",
    )


def test_a_rule_comparing_an_enum_with_a_value_it_cannot_have() -> None:
    steps = "  - v:\n      validate:\n        - {id: a, rule: \"channel == 'wbe'\"}\n"
    assert flow_problems(steps, inputs="{channel: [web, branch]}") == [
        (
            6,
            "steps[0].v.validate[0].rule",
            "compares enum field 'channel' with 'wbe', not one of its values",
            "'web', 'branch'",
        )
    ]


def test_a_constraint_read_problem_names_the_constraint_as_written_and_its_line() -> None:
    """With an earlier constraint refused, the next one is still named by its own place in the file."""
    text = (
        "workflow: w\ninput: {amount: double}\n"
        "objective:\n"
        "  constraints:\n"
        '    - {id: c, rule: "amount >"}\n'
        '    - {id: d, rule: "amont > 1.0"}\n'
        f"steps:\n{STEP}"
    )
    found = problems(text)
    assert found[1] == (
        6,
        "objective.constraints[1].rule",
        "reads 'amont', which is not a field at this step",
        "did you mean 'amount'?",
    )
