"""`dana-wf run`'s summary says why events went to dlq or review, one row per reason.

98 of 100 tickets went to review for one configuration mistake (a knowledge budget smaller than the
prompt) and the summary showed only the counts: the reason was in the review file (NEWCOMER5, session 19,
N5-8). Expected from the spec and the script below: the model refuses every request (400, not retried),
the step's retry sends each event to dlq with that error, so one row with all three events."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from tests.unit.cli.offline_llm import REFUSES, SPEC

pytestmark = pytest.mark.unit


def test_the_summary_names_the_reason_events_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("DWF_LLM_CACHE_PATH", str(tmp_path / "llm-cache"))  # no answer cached by another run
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "events.jsonl").write_text("".join(f'{{"id": "{i}", "text": "t{i}"}}\n' for i in range(3)))
    (tmp_path / "refuses.yaml").write_text(REFUSES)
    ran = CliRunner().invoke(
        app,
        [
            "run", str(tmp_path / "spec.yaml"), "-i", str(tmp_path / "events.jsonl"),
            "--out", str(tmp_path / "out"), "--no-audit", "--llm-script", str(tmp_path / "refuses.yaml"),
        ],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "dlq and review by reason" in ran.output
    (row,) = [line for line in ran.output.splitlines() if "llm step 'label'" in line]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[0] == "dlq" and cells[-1] == "3"
    assert "400" in cells[1] or "bad request" in cells[1].lower(), cells[1]


def test_reasons_that_differ_in_their_numbers_are_one_row() -> None:
    from collections import Counter

    from dana_workflows.cli.run import stopped_reasons

    budget = "the budget (60 tokens) is smaller than the instructions ({} tokens)"
    counts = Counter(
        {
            ("review", budget.format(328)): 27,
            ("review", budget.format(325)): 20,
            ("dlq", "required fact 'terms' is missing"): 30,
            ("dlq", budget.format(325)): 1,  # another outcome: its own row
        }
    )
    assert stopped_reasons(counts) == [
        ("review", budget.format(328), 47),
        ("dlq", "required fact 'terms' is missing", 30),
        ("dlq", budget.format(325), 1),
    ]
