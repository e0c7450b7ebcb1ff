"""`diff --expect route:triag` (a step's name misspelt) matched nothing: every intended change then read
UNEXPECTED and the gate failed (exit 1) with no word why, as a wrong kind did before D2 (session 18
newcomer, N6). A step, route step or constraint that neither version has is a usage error naming the
closest; what may be named freely (globs, a rule's id, input:/llm: causes) is taken as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.test_first_hour_session17 import EXAMPLES, _main

pytestmark = pytest.mark.unit

CLAIMS = str(EXAMPLES / "claims" / "claims.yaml")  # steps normalize, check_claim, triage; within_limit


@pytest.mark.parametrize(
    ("expect", "says"),
    [
        ("route:triag", "no route step 'triag' in either version (fix: did you mean 'triage'?)"),
        ("route:normalize", "no route step 'normalize' in either version (fix: one of: triage)"),
        ("step:normalise", "no step 'normalise' in either version (fix: did you mean 'normalize'?)"),
        ("rule:check_clam.known_currency", "no step 'check_clam' in either version (fix: did you mean"),
        ("constraint:within_limits", "no constraint 'within_limits' in either version (fix: did you mean"),
    ],
)
def test_a_name_no_version_has_is_a_usage_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expect: str,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = _main(monkeypatch, capsys, "diff", CLAIMS, CLAIMS, "-i", "nope.jsonl", "--expect", expect)
    assert code == 2
    assert err.startswith(f"error: --expect '{expect}': {says}"), err


@pytest.mark.parametrize(
    "expect",
    [
        "route:triage",
        "step:normalize",
        "rule:check_claim.any_id",  # a rule's id is not checked: schema checks and inferred rules have theirs
        "rule:ingest.schema.amount",
        "constraint:within_limit",
        "route:*",
        "input:amount",
    ],
)
def test_names_either_version_has_get_to_the_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], expect: str
) -> None:
    # past the names, the missing input file is the next thing said
    monkeypatch.chdir(tmp_path)
    code, err = _main(monkeypatch, capsys, "diff", CLAIMS, CLAIMS, "-i", "nope.jsonl", "--expect", expect)
    assert code == 2
    assert "nope.jsonl" in err and "--expect" not in err


BRANCHED = """\
workflow: branched
input: {amount: double}
steps:
  - triage:
      route:
        review:
          when: "amount > 10.0"
          steps:
            - fraud:
                validate:
                  - {id: small, rule: "amount < 100.0"}
        ok: "true"
"""


@pytest.mark.parametrize(
    ("expect", "says"),
    [
        # a step inside a branch is named by its path, as the audit rows and diff's own causes name it
        ("step:triage.review.fraud", "nope.jsonl"),
        ("rule:triage.review.fraud.small", "nope.jsonl"),
        # its bare name is in no cause, so it could never match
        ("step:fraud", "no step 'fraud' in either version (fix: did you mean 'triage.review.fraud'?)"),
    ],
)
def test_a_step_in_a_branch_is_named_by_its_path(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expect: str,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.yaml").write_text(BRANCHED)
    got, err = _main(monkeypatch, capsys, "diff", "b.yaml", "b.yaml", "-i", "nope.jsonl", "--expect", expect)
    assert got == 2  # past the names, the missing input is a usage error too
    assert says in err, err
