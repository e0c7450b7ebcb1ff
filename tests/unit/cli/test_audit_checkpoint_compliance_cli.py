"""`dana-wf audit checkpoint` and `dana-wf audit compliance` in this process over a local run of the scoring
workflow (tests/unit/cli/scoring_run.py): a checkpoint made with a fresh key verifies while the log extends
it, a row edited after the checkpoint is named and exits 3 (docs/cli.md), and the compliance report holds the
run's override; bad input is exit 2 with one line, a missing store exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.scoring_run import Scoring

pytestmark = pytest.mark.unit


def _decide_review(s: Scoring) -> str:
    review_run = str(s.outputs("review")["d"]["run_id"])
    res = s.cli(
        "review", "decide", *s.common(), review_run, "--decision", "score=0.7",
        "--reason", "seen the invoice", "--reviewer", "carol",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return review_run


def test_a_checkpoint_verifies_until_a_committed_row_is_edited(
    scoring: Scoring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scoring
    key = tmp_path / "signing.pem"
    made_key = s.cli("audit", "checkpoint", "keygen", "--out", str(key))
    assert made_key.exit_code == 0, made_key.output
    assert key.is_file() and Path(f"{key}.pub").is_file()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("DWF_AUDIT_SIGNING_KEY_FILE", str(key))
    exported = tmp_path / "cp"

    empty = tmp_path / "empty"
    empty.mkdir()
    none = s.cli("audit", "checkpoint", "verify", "--from", str(empty), "--audit", s.audit)
    assert none.exit_code == 1 and f"no checkpoints found in {empty}" in none.output

    made = s.cli("audit", "checkpoint", "create", "--to", str(exported), "--audit", s.audit, "--lag-s", "0")
    assert made.exit_code == 0, made.output
    described = [json.loads(line) for line in made.output.splitlines() if line.startswith("{")]
    assert [d["workflow"] for d in described] == ["scoring"]

    ok = s.cli("audit", "checkpoint", "verify", "--from", str(exported), "--audit", s.audit)
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith("log extends every checkpoint")
    assert ok.output.startswith("1 checkpoints, ")

    from chdb import session

    raw = session.Session(str(s.root / "audit"))  # an insider edits a committed decision in place
    try:
        raw.query(
            "ALTER TABLE dwf.events UPDATE decision = 'approve' WHERE kind = 'routed' "
            "SETTINGS mutations_sync = 1"
        )
    finally:
        raw.close()
    broken = s.cli("audit", "checkpoint", "verify", "--from", str(exported), "--audit", s.audit)
    assert broken.exit_code == 3, broken.output
    assert "findings" in broken.output.splitlines()[-1]
    assert "scoring" in broken.output


def test_checkpoint_refusals(scoring: Scoring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = scoring
    key = tmp_path / "signing.pem"
    assert s.cli("audit", "checkpoint", "keygen", "--out", str(key)).exit_code == 0
    first = key.read_bytes()
    again = s.cli("audit", "checkpoint", "keygen", "--out", str(key))
    assert again.exit_code == 2  # an existing key is never overwritten
    assert key.read_bytes() == first
    nowhere = s.cli("audit", "checkpoint", "keygen", "--out", str(tmp_path / "no-such-dir" / "k.pem"))
    lines = [line for line in nowhere.output.splitlines() if line.strip()]
    assert nowhere.exit_code == 2 and len(lines) == 1  # one line naming the path, not a traceback
    assert "no-such-dir" in lines[0] and "cannot write the key" in lines[0]
    monkeypatch.setenv("DWF_AUDIT_SIGNING_KEY_FILE", str(key))
    missing = s.cli(
        "audit",
        "checkpoint",
        "create",
        "--to",
        str(tmp_path / "cp"),
        "--audit",
        f"chdb://{tmp_path / 'none'}",
    )
    assert missing.exit_code == 1 and "no audit store at" in missing.output
    assert not (tmp_path / "cp").exists() or not any((tmp_path / "cp").iterdir())


def test_the_compliance_report_holds_the_override(scoring: Scoring, tmp_path: Path) -> None:
    s = scoring
    review_run = _decide_review(s)
    res = s.cli("audit", "compliance", "--run-id", review_run, "--format", "json", "--audit", s.audit)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output[res.output.index("{") : res.output.rindex("}") + 1])
    assert report["ok"] is True
    assert [(o["reviewer"], o["reason"], o["run_id"]) for o in report["overrides"]] == [
        ("carol", "seen the invoice", review_run)
    ]
    assert report["checkpoints"]["location"] is None
    html = tmp_path / "r.html"
    written = s.cli("audit", "compliance", "--run-id", review_run, "-o", str(html), "--audit", s.audit)
    assert written.exit_code == 0, written.output
    page = html.read_text()
    assert page.lstrip().lower().startswith("<!doctype html") and "seen the invoice" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--run-id", "x", "--since", "2020-01-01"), "not both"),
        ((), "name a run (--run-id ID) or a period"),
        (("--since", "2020-02-01", "--until", "2020-01-01"), "is not before --until"),
        (("--since", "2020-01-01", "--until", "2020-01-01"), "the period is empty"),
        (("--since", "last tuesday"), "is not a time"),
        (("--since", "2020-01-01", "--format", "pdf"), "name it with -o FILE.pdf"),
        (
            ("--since", "2020-01-01", "--checkpoints", "no-such-dir"),
            "--checkpoints no-such-dir: no such directory",
        ),
    ],
)
def test_compliance_bad_input_is_exit_2_and_one_line(
    scoring: Scoring, args: tuple[str, ...], message: str
) -> None:
    res = scoring.cli("audit", "compliance", *args, "--audit", scoring.audit)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_compliance_of_a_run_the_store_does_not_hold(scoring: Scoring) -> None:
    res = scoring.cli(
        "audit", "compliance", "--run-id", "0000nope", "--format", "json", "--audit", scoring.audit
    )
    assert res.exit_code == 2 and "no audit rows for run 0000nope" in res.output


def test_models_of_a_workflow_without_llm_steps_is_empty(scoring: Scoring) -> None:
    res = scoring.cli("audit", "models", "--json", "--audit", scoring.audit)
    assert res.exit_code == 0, res.output
    assert [line for line in res.output.splitlines() if line.startswith("{")] == []
