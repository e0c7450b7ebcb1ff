"""A drift monitor on a step the objectives lock adds (dbcf21c), when the lock is not read: a spec with
another problem must not get a second, false 'no step 'input_objectives'' for a lock that does add it
(one typo gave three problems); a lock that is there but ignored must be named with why, or the fix
('runs only while the lock file has accepted rules for it') contradicts the file the user sees.
Review of FIXMISC3's item 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import load_spec

sys.path.insert(0, str(Path(__file__).parent))
from test_drift_monitor_lock_steps import LOCKED, SPEC, _rule, _spec

pytestmark = pytest.mark.unit


def _problems(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [(p.field, p.message, p.fix) for p in caught.value.problems]


def test_another_problem_in_the_spec_is_the_only_one_said(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC.replace("daily_mg > 0.0", "daily_mgg > 0.0"), *LOCKED)
    assert [p[:2] for p in _problems(path)] == [
        ("steps[1].check.validate[0].rule", "reads 'daily_mgg', which is not a field at this step")
    ]


def test_a_misspelt_step_is_still_said_beside_another_problem(tmp_path: Path) -> None:
    text = SPEC.replace("daily_mg > 0.0", "daily_mgg > 0.0").replace(
        "step: compute_objectives", "step: comput"
    )
    found = _problems(_spec(tmp_path, text, *LOCKED))
    assert [p[1] for p in found] == [
        "reads 'daily_mgg', which is not a field at this step",
        "no step 'comput'",
    ]


def test_a_lock_that_is_ignored_is_named_with_why(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC, LOCKED[0], _rule("daily", "step:nosuch", "daily_mg <= 4e3"))
    found = _problems(path)
    assert [p[1] for p in found] == ["no step 'input_objectives'", "no step 'compute_objectives'"]
    for _, _, fix in found:
        assert fix.startswith(
            "the objectives lock file next to the spec is ignored (rule 'daily' (step:nosuch): "
        )
        assert "dana-wf objectives review" not in fix
