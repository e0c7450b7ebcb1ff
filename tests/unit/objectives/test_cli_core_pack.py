"""`objectives infer --packs DIR` without --domain: a user's own core pack is the one applied.

The claims example's amounts reach above 9,000; a core pack of the user's bounding an amount to
[0, 9000] clips the learned range there (a user's directory overrides a built-in pack of the same
name, objectives/domain_packs.available), and without the user's packs nothing clips it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.objectives import app
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from tests.fixtures.claims_sample import good_claims

pytestmark = pytest.mark.unit
CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims"
CORE = (
    "name: core\nfields:\n"
    "  - names: [amount]\n    types: [double]\n    range: [0, 9000]\n    why: our largest claim\n"
)


def _claims(tmp_path: Path) -> Path:
    shutil.copy(CLAIMS / "claims.yaml", tmp_path / "claims.yaml")
    good = good_claims(300)
    (tmp_path / "sample.jsonl").write_text("\n".join(good[:300]) + "\n")
    return tmp_path / "claims.yaml"


def _amount_rule(spec: Path, *extra: str) -> tuple[str, str]:
    result = CliRunner().invoke(
        app, ["infer", str(spec), "--sample", str(spec.parent / "sample.jsonl"), *extra]
    )
    assert result.exit_code == 0, result.output
    rule = next(r for r in read_lock(lock_path(spec)).rules if r.id == "amount_range")
    return rule.rule, rule.evidence["basis"]


def test_a_users_core_pack_applies_without_a_domain(tmp_path: Path) -> None:
    spec = _claims(tmp_path)
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "core.yaml").write_text(CORE)
    rule, basis = _amount_rule(spec, "--packs", str(packs))
    assert rule.endswith("amount <= 9000.0")
    assert "pack:core" in basis


def test_without_the_users_packs_the_amount_is_not_clipped_at_9000(tmp_path: Path) -> None:
    rule, basis = _amount_rule(_claims(tmp_path))
    assert "9000" not in rule and "pack:core" not in basis
