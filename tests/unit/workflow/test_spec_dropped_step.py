"""A step refused by its own schema keeps its place: the steps after it keep their index and line, and reads
of the fields it would have written are not reported again (newcomer5 N5-7)."""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

# line numbers below are those of this text (1-based)
SPEC = """\
workflow: tickets
input:
  text: string
  amount: double
steps:
  - check:
      validate:
        - {id: has_text, rule: "size(text) > 0"}
  - classify:
      llm:
        prompt: "Classify {{ text }}"
        output: {category: string, credit_usd: double}
        limits: {max_tokens: many}
  - triage:
      route:
        urgent: "category == 'outage'"
        normal: {when: "true"}
  - late:
      validate:
        - {id: typo, rule: "amout > 0.0"}
objective:
  goal: bounded credit
  constraints:
    - {id: credit_bounded, rule: "credit_usd <= amount"}
"""


def _problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "t.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_one_bad_value_in_an_llm_step_is_one_error_and_later_steps_keep_their_place() -> None:
    problems = _problems(SPEC)
    fields = [f for _, f, _ in problems]
    assert fields[0] == "steps[1].classify.llm.limits.max_tokens"
    assert problems[0][0] == 13
    # no echo of the refused step: the route's and the constraint's reads of category / credit_usd
    assert not [p for p in problems if "category" in p[2] or "credit_usd" in p[2]]
    # a real mistake after the refused step is still reported, at its written index and line
    assert fields[1:] == ["steps[3].late.validate[0].rule"]
    assert problems[1][0] == 20
    assert len(problems) == 2


def test_a_read_of_a_field_no_step_writes_is_still_reported_after_a_dropped_step() -> None:
    text = SPEC.replace("category == 'outage'", "categry == 'outage'")
    messages = [m for _, f, m in _problems(text) if f.startswith("steps[2].triage")]
    assert messages == ["reads 'categry', which is not a field at this step"]
