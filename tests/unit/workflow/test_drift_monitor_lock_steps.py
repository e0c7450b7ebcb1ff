"""A drift monitor may watch after a step the objectives lock file adds (docs/objectives.md): accepted
input rules run in `input_objectives` at the head, a step's in `<step>_objectives` after it, and the
runtime observes them like written steps. Session 18's monitor check knew the written steps only and
refused such a monitor ('no step 'input_objectives''); a misspelt name is still refused with the closest
one."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.objectives_lock import LockedRule, ObjectivesLock, rule_hash, write_lock
from dana_workflows.workflow.spec import load_spec

pytestmark = pytest.mark.unit

SPEC = """\
workflow: med-orders
input: {drug: string, dose_mg: double, doses_per_day: long}
steps:
  - compute:
      transform:
        set:
          daily_mg: {expr: "dose_mg * double(doses_per_day)", type: double}
  - check:
      validate: [{id: positive, rule: "daily_mg > 0.0"}]
drift:
  monitors:
    - {id: dose_in, field: dose_mg, feature: numeric, step: input_objectives}
    - {id: daily_ok, field: daily_mg, feature: numeric, step: compute_objectives}
"""


def _rule(rule_id: str, target: str, rule: str, status: str = "accepted") -> LockedRule:
    return LockedRule.model_validate(
        {
            "id": rule_id,
            "target": target,
            "rule": rule,
            "origin": "inferred",
            "status": status,
            "hash": rule_hash(target, rule),
        }
    )


def _spec(tmp_path: Path, text: str = SPEC, *rules: LockedRule) -> Path:
    path = tmp_path / "meds.yaml"
    path.write_text(text, encoding="utf-8")
    if rules:
        write_lock(
            tmp_path / "meds.objectives.lock.yaml", ObjectivesLock(workflow="med-orders", rules=list(rules))
        )
    return path


LOCKED = (
    _rule("dose_range", "input", "dose_mg <= 1000.0"),
    _rule("daily", "step:compute", "daily_mg <= 4e3"),
)


def _problems(path: Path) -> list[tuple[int, str, str, str]]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [(p.line, p.field, p.message, p.fix) for p in caught.value.problems]


def test_monitors_after_the_locks_steps_are_valid(tmp_path: Path) -> None:
    ir = load_spec(_spec(tmp_path, SPEC, *LOCKED))
    assert [s.name for s in ir.steps] == ["input_objectives", "compute", "compute_objectives", "check"]
    assert [m.step for m in ir.drift.monitors] == ["input_objectives", "compute_objectives"]


def test_without_a_lock_the_steps_are_not_there_and_the_fix_says_where_they_come_from(tmp_path: Path) -> None:
    [first, second] = _problems(_spec(tmp_path))
    assert first[:3] == (12, "drift.monitors[0].step", "no step 'input_objectives'")
    assert "objectives lock file next to the spec has accepted rules" in first[3]
    assert first[3].endswith("or watch one of: check, compute")
    assert second[:3] == (13, "drift.monitors[1].step", "no step 'compute_objectives'")


def test_a_rule_only_proposed_adds_no_step(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC, LOCKED[0], _rule("daily", "step:compute", "daily_mg <= 4e3", "proposed"))
    assert [p[:3] for p in _problems(path)] == [
        (13, "drift.monitors[1].step", "no step 'compute_objectives'")
    ]


def test_a_misspelt_lock_step_gets_the_closest_name(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC.replace("step: input_objectives}", "step: input_objectivs}"), *LOCKED)
    assert _problems(path) == [
        (12, "drift.monitors[0].step", "no step 'input_objectivs'", "did you mean 'input_objectives'?")
    ]


def test_a_lock_changed_by_hand_adds_no_step(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC, *LOCKED)
    lock = tmp_path / "meds.objectives.lock.yaml"
    lock.write_text(lock.read_text(encoding="utf-8").replace("1000.0", "2000.0"), encoding="utf-8")
    assert [p[2] for p in _problems(path)] == ["no step 'input_objectives'", "no step 'compute_objectives'"]


def test_a_lock_that_is_not_yaml_adds_no_step(tmp_path: Path) -> None:
    path = _spec(tmp_path, SPEC, *LOCKED)
    (tmp_path / "meds.objectives.lock.yaml").write_text("rules: [unclosed\n", encoding="utf-8")
    assert [p[2] for p in _problems(path)] == ["no step 'input_objectives'", "no step 'compute_objectives'"]
