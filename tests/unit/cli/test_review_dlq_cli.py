"""`dana-wf review` and `dana-wf dlq` in this process (typer's CliRunner) over a local run of the scoring
workflow (tests/fixtures/review_workflow.py): what they list and show, what they refuse (exit 2, one line
naming the fix, nothing moved) and what a decision or a replay does to the outputs and the audit log.

Expected outcomes come from the workflow's definition: a score of at least 0.5 routes to `approve` (out),
below to `hold`; the scorer raises on label "odd" (dlq: never review at or under 1000) and on an amount above
1000 (review first); a decided or replayed event continues after the step."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.review_workflow import FIXED
from tests.unit.cli.scoring_run import Scoring

pytestmark = pytest.mark.unit


def test_review_list_show_refusals_and_a_decision(scoring: Scoring) -> None:
    s = scoring
    review_run = str(s.outputs("review")["d"]["run_id"])

    listed = s.cli("review", "list", *s.common())
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if review_run in line)
    assert "score" in row and "waiting" in row

    shown = s.cli("review", "show", str(s.spec), review_run, "--out", str(s.out))
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output[: shown.output.rindex("}") + 1])
    assert body["event"] == review_run
    assert body["workflow"] == "scoring v1"
    assert body["step"] == "score"
    assert body["payload"] == {"id": "d", "label": "good", "amount": 5000.0}
    assert "amount too large to score" in json.dumps(body["provenance"])
    assert shown.output.rstrip().endswith("a decision may set: score:double")

    for args, named in (
        (("nope", "--decision", "score=1.0", "--reason", "x"), "no event nope"),
        ((review_run, "--decision", "score=high", "--reason", "x"), "'score' must be double"),
        ((review_run, "--decision", "score=1.0", "--reason", "  "), "--reason is empty"),
        ((review_run, "--decision", "keep", "--reason", "x"), "did not write score:double"),
    ):
        refused = s.cli("review", "decide", *s.common(), *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert named in refused.output
    assert set(s.outputs("out")) == {"a"}  # nothing moved

    decided = s.cli(
        "review", "decide", *s.common(), review_run, "--decision", "score=0.8", "--reason", "checked",
        "--reviewer", "alice",
    )  # fmt: skip
    assert decided.exit_code == 0, decided.output
    assert decided.output.startswith(f"decided: {review_run} at score: ")
    assert s.outputs("out")["d"]["payload"]["score"] == 0.8  # 0.8 >= 0.5: approve
    assert "d" in s.outputs("review")  # the review file keeps what was reviewed

    twice = s.cli("review", "decide", *s.common(), review_run, "--decision", "score=0.1", "--reason", "x")
    assert twice.exit_code == 2 and "decided already" in twice.output
    after = s.cli("review", "list", *s.common())
    row = next(line for line in after.output.splitlines() if review_run in line)
    assert "decided: score=0.8" in row and "waiting" not in after.output

    rows = s.cli(
        "audit", "sql", "--audit", s.audit, "--json",
        "SELECT run_id, details FROM dwf.events WHERE kind = 'override'",
    )  # fmt: skip
    found = [json.loads(x) for x in rows.output.splitlines() if x]
    assert [r["run_id"] for r in found] == [review_run]
    details = json.loads(found[0]["details"])
    assert (details["reviewer"], details["after"], details["before"]) == (
        "alice",
        {"score": 0.8},
        {"score": None},
    )
    verified = s.cli("audit", "verify", "--audit", s.audit)
    assert verified.exit_code == 0, verified.output


def test_dlq_list_refusals_and_a_replay_after_the_fix(scoring: Scoring) -> None:
    s = scoring
    dlq_run = str(s.outputs("dlq")["b"]["run_id"])

    listed = s.cli("dlq", "list", *s.common())
    assert listed.exit_code == 0, listed.output
    assert dlq_run in listed.output and "no score for label odd" in listed.output

    for args, named in (
        ((), "choose the events"),
        (("--since", "yesterday"), "is not a time"),
        (("--until", "2000-01-01T00:00:00Z"), "no dead-lettered events in that time range"),
    ):
        refused = s.cli("dlq", "replay", *s.common(), *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert named in refused.output

    s.write_scorer(FIXED)  # 'odd' now scores 0.9: approve
    replayed = s.cli("dlq", "replay", *s.common(), "--event", dlq_run)
    assert replayed.exit_code == 0, replayed.output
    assert set(s.outputs("out")) == {"a", "b"}
    again = s.cli("dlq", "replay", *s.common(), "--event", dlq_run)
    assert again.exit_code == 2 and "replayed already" in again.output
    assert [
        line for line in (s.out / "dwf.scoring.out.jsonl").read_text().splitlines() if '"b"' in line
    ].__len__() == 1

    rows = s.cli(
        "audit", "sql", "--audit", s.audit, "--json",
        f"SELECT details FROM dwf.events WHERE kind = 'replayed' AND run_id = '{dlq_run}'",
    )  # fmt: skip
    found = [json.loads(x) for x in rows.output.splitlines() if x]
    assert len(found) == 1 and json.loads(found[0]["details"])["original_run_id"] == dlq_run


def test_a_replay_that_fails_again_exits_1_and_names_the_event(scoring: Scoring) -> None:
    s = scoring
    dlq_run = str(s.outputs("dlq")["b"]["run_id"])
    replayed = s.cli("dlq", "replay", *s.common(), "--event", dlq_run)  # the scorer is still broken
    assert replayed.exit_code == 1
    assert f"failed again and stay in dlq: {dlq_run}" in replayed.output
    assert f"{dlq_run}: dlq" in replayed.output
