"""`dana-wf objectives` end to end on the claims example: infer, accept, edit, pin, re-infer, run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.workflow.ir import ValidateStepIR
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from dana_workflows.workflow.spec import load_spec
from tests.fixtures.claims_sample import good_claims

pytestmark = pytest.mark.e2e
CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"


def _good_claims(n: int) -> list[str]:
    """Claims that pass the example's own rules (the known-good sample)."""
    return good_claims(n)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(CLAIMS / "claims.yaml", tmp_path / "claims.yaml")
    (tmp_path / "sample.jsonl").write_text("\n".join(_good_claims(400)) + "\n")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["objectives", *args])
    return result.exit_code, result.output


def test_infer_review_accept_edit_pin_reinfer(workdir: Path) -> None:
    spec = str(workdir / "claims.yaml")
    code, out = run("infer", spec, "--sample", str(workdir / "sample.jsonl"), "--domain", "insurance")
    assert code == 0, out
    lock = read_lock(lock_path(spec))
    ids = {r.id for r in lock.rules}
    assert {"policy_id_pattern", "amount_range"} <= ids
    assert all(r.status == "proposed" and r.origin == "inferred" for r in lock.rules)
    assert run("accept", spec, "amount_range")[0] == 0
    assert run("pin", spec, "policy_id_pattern")[0] == 0
    code, out = run(
        "edit", spec, "input/channel_domain", "--rule", 'channel == null || channel in ["web", "phone"]'
    )
    assert code == 0, out
    before = {r.id: (r.rule, r.version, r.status, r.origin) for r in read_lock(lock_path(spec)).rules}
    (workdir / "sample2.jsonl").write_text("\n".join(_good_claims(400)[::-1][:200]) + "\n")
    assert run("infer", spec, "--sample", str(workdir / "sample2.jsonl"))[0] == 0
    after = {r.id: (r.rule, r.version, r.status, r.origin) for r in read_lock(lock_path(spec)).rules}
    assert after["policy_id_pattern"] == before["policy_id_pattern"]
    assert (
        after["channel_domain"]
        == before["channel_domain"]
        == ('channel == null || channel in ["web", "phone"]', 2, "accepted", "edited")
    )
    ir = load_spec(spec)
    head = ir.steps[0]
    assert isinstance(head, ValidateStepIR) and head.name == "input_objectives"
    assert {r.id for r in head.rules} == {
        "amount_range@inferred.v1",
        "policy_id_pattern@inferred.v1",
        "channel_domain@edited.v2",
    }
    code, out = run("review", spec, "--json")
    assert code == 0 and '"origin": "edited"' in out


@pytest.mark.parametrize(
    ("sample", "args", "message"),
    [
        ("", (), "no usable events"),
        ("not json\n{]\n", (), "no usable events"),
        ("TINY", (), "too few to infer from"),
        ("GOOD", ("--domain", "finanse"), "did you mean 'finance'"),
    ],
)
def test_bad_input_gets_one_message_and_no_lock(
    workdir: Path, sample: str, args: tuple[str, ...], message: str
) -> None:
    text = {"TINY": "\n".join(_good_claims(5)), "GOOD": "\n".join(_good_claims(100))}.get(sample, sample)
    (workdir / "bad.jsonl").write_text(text)
    code, out = run("infer", str(workdir / "claims.yaml"), "--sample", str(workdir / "bad.jsonl"), *args)
    assert code == 1
    assert message in out and "explicit objectives" in out and "Traceback" not in out
    assert not lock_path(workdir / "claims.yaml").exists()


def test_review_diff_reject_and_user_errors(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dana_workflows.cli import objectives as objectives_cli

    monkeypatch.setattr(objectives_cli.console, "width", 300)  # the review table unwrapped
    spec = str(workdir / "claims.yaml")
    code, out = run("review", spec)
    assert code == 1 and "no lock file yet" in out
    assert run("infer", spec, "--sample", str(workdir / "sample.jsonl"))[0] == 0
    code, out = run("diff", spec)
    assert code == 0 and "+ input/amount_range" in out
    code, out = run("review", spec)
    written = [line for line in out.splitlines() if "written" in line]
    assert any("positive_amount" in line for line in written) and any(
        "within_limit" in line for line in written
    )
    code, out = run("accept", spec, "nonexistent")
    assert code == 1 and "no rule 'nonexistent'" in out
    code, out = run("accept", spec, "currency_domain")  # in the input and in the normalize step
    assert code == 1 and "names several rules" in out
    code, out = run("reject", spec, "input/currency_domain")
    assert code == 0 and "rejected input/currency_domain" in out
    code, out = run("accept", spec)
    assert code == 1 and "name the rules, or pass --all" in out
    code, out = run("edit", spec, "amount_range", "--rule", "premium > 0.0")
    assert code == 1 and "not a field" in out
    path = lock_path(spec)
    path.write_text(path.read_text().replace("lock_version: 1", "lock_version: 7"))
    code, out = run("review", spec)
    assert code == 1 and "lock_version" in out and "explicit objectives" in out


def test_holdout_file_and_a_users_pack(workdir: Path) -> None:
    spec = str(workdir / "claims.yaml")
    good = _good_claims(400)
    (workdir / "learn.jsonl").write_text("\n".join(good[:300]) + "\n")
    (workdir / "held.jsonl").write_text("\n".join(good[300:]) + "\n")
    packs = workdir / "packs"
    packs.mkdir()
    (packs / "claims.yaml").write_text(
        "name: insurance:claims\nfields:\n"
        "  - names: [amount]\n    types: [double]\n    range: [0, 9000]\n    why: our largest claim\n"
    )
    code, out = run(
        "infer",
        spec,
        "--sample",
        str(workdir / "learn.jsonl"),
        "--holdout",
        str(workdir / "held.jsonl"),
        "--domain",
        "insurance:claims",
        "--packs",
        str(packs),
    )
    assert code == 0, out
    assert "false alarms on 100 held-out good events" in out.replace("\n", " ")
    lock = read_lock(lock_path(spec))
    assert all(r.evidence["support"] > 0 for r in lock.rules)
    # (policy_limit keeps to six values: a menu, so a domain, not a range, is learned for it)
    limit = next(r for r in lock.rules if r.id == "amount_range")
    assert limit.rule.endswith("amount <= 9000.0")  # the user's pack clipped the learned range
    assert "pack:insurance:claims" in limit.evidence["basis"]
