"""The objectives commands on a lock file changed by hand: they say what `run` and `validate` say."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.objectives import app
from dana_workflows.objectives.proposal import Proposal
from dana_workflows.objectives.review import accept, merge_proposals
from dana_workflows.workflow.objectives_lock import ObjectivesLock, lock_path, write_lock

pytestmark = pytest.mark.unit

SPEC = """
workflow: shop
input: {amount: double, currency: string}
steps:
  - check: {validate: [{id: positive, rule: "amount > 0.0"}]}
"""


def locked_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    lock = ObjectivesLock(workflow="shop")
    rule = "amount >= 0.0 && amount <= 100.0"
    merge_proposals(
        lock, [Proposal("amount_range", "input", rule, "m", "range", ("amount",), "b", 9, 0, 0, 0.9)]
    )
    accept(lock.rules)
    write_lock(lock_path(spec), lock)
    return spec


@pytest.mark.parametrize("command", [["review"], ["diff"]])
def test_a_rule_changed_by_hand_is_named_with_the_lock_ignored(tmp_path: Path, command: list[str]) -> None:
    spec = locked_spec(tmp_path)
    clean = CliRunner().invoke(app, [*command, str(spec)])
    assert clean.exit_code == 0, clean.output
    assert "warning" not in clean.stderr
    path = lock_path(spec)
    path.write_text(path.read_text(encoding="utf-8").replace("<= 100.0", "<= 1000.0"), encoding="utf-8")
    result = CliRunner().invoke(app, [*command, str(spec)])
    assert result.exit_code == 0, result.output
    # `run` ignores the whole lock (workflow/objectives_lock.py): the review must not look enforced
    assert f"warning: {path} is ignored when the spec loads" in result.stderr
    assert "rule 'amount_range' (input): changed by hand" in result.stderr
    assert "dana-wf objectives edit" in result.stderr
