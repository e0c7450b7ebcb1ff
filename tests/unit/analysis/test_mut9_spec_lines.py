"""The line of each expression of a spec file by its site key (analysis/spec_lines.py), the same keys
`dana-wf validate` prints: written by hand for one file whose lines are counted below."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.analysis.spec_lines import spec_lines

pytestmark = pytest.mark.unit

SPEC = """\
workflow: w
input:
  amount: double
  note: string?
objective:
  constraints:
    - id: c
      rule: "amount > 0.0"
steps:
  - t:
      transform:
        set:
          note: "trim(note)"
          x:
            type: double
            expr: "amount * 2.0"
  - v:
      validate:
        - id: a
          rule: "x > 0.0"
  - r:
      route:
        big:
          when: "amount > 100.0"
          steps:
            - inner:
                validate: [{id: b, rule: "true"}]
        rest: "true"
  - a:
      llm:
        prompt: p
        output: {risk: string}
        when: "amount > 1.0"
  - oddity: 3
  - [not, a, step]
"""


def test_each_site_key_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(SPEC)
    assert spec_lines(str(path)) == {
        "workflow": 1,
        "input": 2,
        "input.amount": 3,
        "input.note": 4,
        "objective.constraints[0].rule": 8,
        "steps[0].t": 10,
        "steps[0].t.transform.set.note": 13,
        "steps[0].t.transform.set.x": 16,  # a typed entry: the line of its expr
        "steps[1].v": 17,
        "steps[1].v.validate[0].rule": 20,
        "steps[2].r": 21,
        "steps[2].r.route.big": 24,  # a mapping branch: the line of its when
        "steps[2].r.route.big.steps[0].inner": 26,
        "steps[2].r.route.big.steps[0].inner.validate[0].rule": 27,
        "steps[2].r.route.rest": 28,
        "steps[3].a": 29,
        "steps[3].a.llm.when": 33,
        "steps[4].oddity": 34,
    }


@pytest.mark.parametrize("text", ["- a list\n", "workflow: [\n"])
def test_no_lines_for_what_is_not_a_spec_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    assert spec_lines(str(path)) == {}


def test_no_lines_without_a_file(tmp_path: Path) -> None:
    assert spec_lines(str(tmp_path / "missing.yaml")) == {}
    assert spec_lines("<string>") == {}
