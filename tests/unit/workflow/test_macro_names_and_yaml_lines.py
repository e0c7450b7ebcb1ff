"""Two rules every reader of user input shares (issue 22's review found each broken in one reader).

- A comprehension macro's own variable (`n` in `[100, 200].exists(n, n == amount)`) is not a field the
  rule reads: the spec checker, the objectives' rule gate and the lock file's check all accept it, and
  still name a real unknown field.
- A YAML syntax error is one line with its line number, in specs, lock files and domain packs alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.cel_check import check_rule
from dana_workflows.objectives.domain_packs import PackError, available
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import FieldIR
from dana_workflows.workflow.objectives_lock import LockError, read_lock
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

AMOUNT = {"amount": FieldIR(name="amount", type="long")}


def test_a_macro_variable_is_not_read_from_the_event() -> None:
    assert compile_expr("[1, 2].all(x, x > 0) && y > 1").fields_read == ("y",)
    assert compile_expr("ys.exists_one(v, v == z)").fields_read == ("ys", "z")
    assert compile_expr("a > b").fields_read == ("a", "b")  # no macro: every variable is read


def test_the_rule_gate_accepts_a_macro_and_still_names_an_unknown_field() -> None:
    assert check_rule("[100, 200].exists(n, n == amount)", AMOUNT) == ""
    assert check_rule("[100, 200].exists(n, n == amont)", AMOUNT) == (
        "reads 'amont', not a field here (did you mean 'amount' for 'amont'?)"
    )


SPEC = """workflow: w
input:
  amount: long
steps:
  - check:
      validate:
        - {id: known, rule: "[100, 200].exists(n, n == amount)", message: "an amount we know"}
        - {id: typo, rule: "[100, 200].exists(n, n == amont)", message: "a misspelt field"}
"""


def test_the_spec_checker_accepts_a_macro_variable_and_names_a_misspelt_field() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec(SPEC)
    (problem,) = e.value.problems  # only the typo: `n` is the macro's own
    assert "reads 'amont'" in problem.message


def _one_line_yaml_problem(message: str, line: int) -> None:
    assert "\n" not in message
    assert "not valid YAML" in message and f":{line}" in message


def test_a_spec_with_broken_yaml_is_one_line_with_its_line() -> None:
    with pytest.raises(SpecError) as e:
        parse_spec("workflow: w\ninput: {fields: {a: long}\nsteps: []\n", "w.yaml")
    (problem,) = e.value.problems
    assert "\n" not in problem.message and problem.message.startswith("not valid YAML: ")
    assert problem.line == 3


def test_a_lock_file_with_broken_yaml_is_one_line_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "w.objectives.lock"
    path.write_text("version: 1\nrules: [unclosed\n")
    with pytest.raises(LockError) as e:
        read_lock(path)
    _one_line_yaml_problem(str(e.value), 3)
    assert str(e.value).endswith("fix it or delete the file and infer again")


def test_a_domain_pack_with_broken_yaml_is_one_line_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nfields: [unclosed\n")
    with pytest.raises(PackError) as e:
        available((tmp_path,))
    _one_line_yaml_problem(str(e.value), 3)
    assert str(e.value).startswith(f"{tmp_path / 'bad.yaml'}:3: ") and str(e.value).endswith("; fix the YAML")
