"""Mutation pass over session 17's lines of workflow/spec_knowledge.py: a test for the mutant that survived.

A knowledge source's unknown ``kind`` is named as such with the closest kind (NEWCOMER2 K5); any other
field's refused value keeps pydantic's own words at that field: a misspelt ``role`` (knowledge, examples or
memory, docs/context.md) is not "unknown kind".
"""

from __future__ import annotations

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

SPEC = """
workflow: kb
input: {policy_id: string}
knowledge:
  sources:
    - {id: policies, kind: files, path: policies, role: exampels}
steps:
  - after: {validate: [{id: r, rule: "true"}]}
"""


def test_a_misspelt_role_is_refused_as_a_role_not_as_a_kind() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(SPEC)
    [problem] = info.value.problems
    assert problem.field == "knowledge.sources[0].role"
    assert "kind" not in problem.message
    for role in ("knowledge", "examples", "memory"):  # the roles it takes
        assert role in problem.message


BLOCK = """\
workflow: kb
input: {policy_id: string}
knowledge:
  sources:
    - id: policies
      kind: files
      path: policies
      role: exampels
    - just-a-name
steps:
  - after: {validate: [{id: r, rule: "true"}]}
"""


def test_each_source_problem_has_the_line_of_what_is_wrong() -> None:
    """The refused key's own line in a block-style entry (line 8, ``role:``), not the entry's first line;
    an entry that is no mapping at all is reported at its own line (9), not a crash."""
    with pytest.raises(SpecError) as info:
        parse_spec(BLOCK)
    found = {p.field: p.line for p in info.value.problems}
    lines = BLOCK.splitlines()
    assert found["knowledge.sources[0].role"] == 1 + lines.index("      role: exampels")
    assert found["knowledge.sources[1]"] == 1 + lines.index("    - just-a-name")
