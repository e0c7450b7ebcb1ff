"""Session 16's llm-step key checks (workflow/spec_steps.py): unknown_keys names a misspelt key of the llm
mapping and of its limits and knowledge mappings, and pydantic's "Extra inputs" for those two levels is
then skipped (`_checked_level`). A key misspelt deeper, where unknown_keys did not look, must still be
reported: skipping it too would leave the step without a word (mutation pass, session 17)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec
from dana_workflows.workflow.spec_steps import _checked_level

pytestmark = pytest.mark.unit

HEAD = "workflow: t\ninput: {amount: double, policy_id: string}\nsteps:\n"
LLM = "  - a:\n      llm:\n        prompt: p\n        output: {risk: string}\n"


def test_a_key_misspelt_inside_a_required_fact_is_still_reported() -> None:
    # knowledge.require[0] is a mapping pydantic checks (RequiredFactIR forbids extra keys); unknown_keys
    # looked only at knowledge itself, so this key is pydantic's to report, at its dotted place
    spec = HEAD + LLM + "        knowledge:\n          require: [{id: f, source: s, on_mising: flag}]\n"
    with pytest.raises(SpecError) as info:
        parse_spec(spec, "t.yaml")
    fields = [p.field for p in info.value.problems]
    assert any("on_mising" in field for field in fields), fields


@pytest.mark.parametrize(
    ("where", "checked"),
    [
        (("promt",), True),  # a key of the llm mapping
        (("limits", "rmp"), True),  # a key of an INNER_KEYS mapping
        (("knowledge", "sorces"), True),
        (("knowledge", "require", 0, "on_mising"), False),  # deeper: unknown_keys did not look there
        (("output", "risk"), False),  # two levels, but not a mapping unknown_keys checked
    ],
)
def test_checked_level_is_where_unknown_keys_looked(where: tuple[int | str, ...], checked: bool) -> None:
    assert _checked_level(where) is checked
