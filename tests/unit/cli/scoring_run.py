"""A local run of the scoring workflow (tests/fixtures/review_workflow.py) into a chdb audit store, for the
CLI tests that read, decide, replay, checkpoint and report on it in this process (typer's CliRunner).

The run's outcomes follow from the workflow's definition: a (approve: out), b (the scorer raises on "odd":
dlq), c (hold), d (amount above 1000: review)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from tests.fixtures.review_workflow import BROKEN, EVENTS, SPEC

__all__ = ["Scoring", "scoring"]

runner = CliRunner()


def _records(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(x) for x in path.read_text().splitlines() if x]
    return {r["payload"]["id"]: r for r in rows}


class Scoring:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        (root / "fn").mkdir()
        self.write_scorer(BROKEN)
        monkeypatch.syspath_prepend(str(root / "fn"))
        monkeypatch.setenv("DWF_DATA_DIR", str(root / "data"))
        self.spec = root / "scoring.yaml"
        self.spec.write_text(SPEC)
        self.events = root / "events.jsonl"
        self.events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
        self.out = root / "out"
        self.audit = f"chdb://{root / 'audit'}"

    def write_scorer(self, code: str) -> None:
        (self.root / "fn" / "scorer.py").write_text(code)
        sys.modules.pop("scorer", None)  # the next import reads the file as it is now

    def cli(self, *args: str) -> Any:
        return runner.invoke(app, list(args))

    def common(self) -> tuple[str, ...]:
        return (str(self.spec), "--out", str(self.out), "--audit", self.audit)

    def outputs(self, name: str) -> dict[str, dict[str, Any]]:
        return _records(self.out / f"dwf.scoring.{name}.jsonl")


@pytest.fixture
def scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scoring:
    s = Scoring(tmp_path, monkeypatch)
    res = s.cli("run", str(s.spec), "--input", str(s.events), "--out", str(s.out), "--audit", s.audit, "-q")
    assert res.exit_code == 0, res.output
    assert set(s.outputs("out")) == {"a"}
    assert set(s.outputs("hold")) == {"c"}
    assert set(s.outputs("dlq")) == {"b"}
    assert set(s.outputs("review")) == {"d"}
    return s
