"""Shadow mode's pure parts (cli/shadow.py's docstring and docs): the shadow worker's prefix and group, the
refusal of two different workflows, drift monitors left to the live workers, each run's decision read from
its audit rows, the live/shadow comparison, and `dana-wf shadow report`'s exit codes when there is nothing
to compare (2, naming the command that starts a shadow) or the spec is unreadable (2)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.cli.shadow import (
    ShadowError,
    compare,
    decisions,
    live_prefix_of,
    shadow_options,
    shadow_prefix,
    shadow_setup,
)
from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.options import KafkaOptions
from tests.fixtures.review_workflow import SPEC

pytestmark = pytest.mark.unit

runner = CliRunner()
DRIFT = "drift:\n  monitors:\n    - {id: amounts, field: amount, feature: numeric}\n"


def _pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "s.yaml") -> Pipeline:
    (tmp_path / "scorer.py").write_text("def score(payload):\n    return {'score': 1.0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("scorer", None)
    spec = tmp_path / name
    spec.write_text(text)
    return load_pipeline(spec)


def test_the_shadow_prefix_and_back() -> None:
    assert shadow_prefix("dwf") == "dwf-shadow"
    assert live_prefix_of("dwf-shadow") == "dwf"
    assert live_prefix_of("dwf") == "dwf"


def test_the_shadow_worker_gets_its_own_prefix_and_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _pipeline(tmp_path, monkeypatch, SPEC)
    new = _pipeline(tmp_path, monkeypatch, SPEC.replace("version: 1", "version: 2"), "new.yaml")
    options = KafkaOptions(bootstrap="b:1", prefix="team", partitions=3)
    shadowed = shadow_options(live, new, options)
    assert (shadowed.prefix, shadowed.group_id) == ("team-shadow", "team-shadow-scoring")
    assert (shadowed.bootstrap, shadowed.partitions) == ("b:1", 3)  # everything else as given
    again = shadow_options(live, new, shadowed)  # already a shadow prefix: not doubled
    assert again.prefix == "team-shadow"
    given = shadow_options(live, new, KafkaOptions(bootstrap="b:1", group_id="mine"))
    assert given.group_id == "mine"


def test_two_different_workflows_cannot_shadow_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _pipeline(tmp_path, monkeypatch, SPEC)
    other = _pipeline(tmp_path, monkeypatch, SPEC.replace("workflow: scoring", "workflow: other"), "o.yaml")
    with pytest.raises(
        ShadowError, match="--shadow-of is workflow 'scoring' and the spec is workflow 'other'"
    ):
        shadow_options(live, other, KafkaOptions(bootstrap="b:1"))


def test_the_shadow_leaves_drift_monitors_to_the_live_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _pipeline(tmp_path, monkeypatch, SPEC + DRIFT)
    new = _pipeline(tmp_path, monkeypatch, SPEC + DRIFT, "new.yaml")
    assert new.workflow.drift.monitors
    shadow, options = shadow_setup(live, new, KafkaOptions(bootstrap="b:1"))
    assert not shadow.workflow.drift.monitors
    assert list(shadow.nodes) == list(new.nodes)
    assert options.prefix == "dwf-shadow"
    plain = _pipeline(tmp_path, monkeypatch, SPEC, "plain.yaml")
    kept, _ = shadow_setup(plain, plain, KafkaOptions(bootstrap="b:1"))
    assert kept is plain


def test_a_runs_decision_is_its_end_with_the_branches_it_took() -> None:
    rows = [
        ("r1", "decide", "routed", "approve"),
        ("r1", "", "completed", "out"),
        ("r2", "check", "rejected", "has_policy"),
        ("r3", "score", "dlq", "error"),
        ("r4", "decide", "routed", "hold"),  # no end yet: not decided
        ("r5", "a", "routed", "x"),
        ("r5", "b", "routed", "y"),
        ("r5", "", "completed", "hold"),
    ]
    assert decisions(rows) == {
        "r1": "out via decide=approve",
        "r2": "rejected at check",
        "r3": "dlq at score",
        "r5": "hold via a=x, b=y",
    }


def test_compare_counts_agreement_moves_and_pending_live_runs() -> None:
    found = {
        "a": "out",
        "a~shadow": "out",
        "b": "out",
        "b~shadow": "hold",
        "c": "out",
        "c~shadow": "hold",
        "d": "rejected at check",
        "e~shadow": "out",  # a shadow without its live run: not counted
    }
    agree, moves, sample, pending = compare(found)
    assert agree == 1
    assert moves == Counter({"out  ->  hold": 2})
    assert sample == {"out  ->  hold": "b"}  # the first run seen of each move
    assert pending == 1


def test_report_without_shadow_decisions_names_the_command_to_start_one(
    scoring: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scoring
    res = runner.invoke(app, ["shadow", "report", str(s.spec), "--audit", s.audit])  # type: ignore[attr-defined]
    assert res.exit_code == 2
    assert "no shadow decisions of workflow 'scoring'" in res.output
    assert "--shadow-of" in res.output


def test_report_of_an_unreadable_spec_is_a_usage_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["shadow", "report", str(tmp_path / "none.yaml"), "--audit", f"chdb://{tmp_path}"]
    )
    assert res.exit_code == 2
    assert "none.yaml" in res.output
