"""The decision diff as text, JSON and a page (docs/changes.md, "dana-wf diff"): changes grouped by cause,
largest group first, expected when every cause matches an --expect glob; the text lines of the documented
example; the JSON lists every changed event."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dana_workflows.cli.diff_replay import Change, Replay
from dana_workflows.cli.diff_report import as_json, group, html, text

pytestmark = pytest.mark.unit


def change(i: int, causes: tuple[str, ...], old: str = "out via t=a", new: str = "out via t=b") -> Change:
    return Change(i, f"run{i}", f'{{"n": {i}}}', old, new, causes, f"detail of {'+'.join(causes)}")


CHANGES = [
    change(0, ("rule:check.max",), "out", "rejected at check (max)"),
    change(1, ("route:triage",)),
    change(2, ("route:triage",)),
    change(3, ("route:triage",), "out via t=a", "out via t=c"),
    change(4, ("constraint:cap", "rule:check.max")),
]


def test_changes_are_grouped_by_cause_largest_first_and_marked_expected_by_glob() -> None:
    groups = group(CHANGES, ["route:*", "rule:check.*"])
    assert [(g.label, len(g.changes), g.expected) for g in groups] == [
        ("route:triage", 3, True),
        ("constraint:cap + rule:check.max", 1, False),  # one cause matches no pattern: not expected
        ("rule:check.max", 1, True),
    ]
    assert groups[0].moves() == Counter(
        {"out via t=a  ->  out via t=b": 2, "out via t=a  ->  out via t=c": 1}
    )
    assert [g.expected for g in group(CHANGES, [])] == [False, False, False]


def test_the_text_report() -> None:
    old = Replay({}, Counter({"out": 10, "rejected": 2}))
    new = Replay({}, Counter({"out": 9, "rejected": 3, "dlq": 1}), llm_misses=2)
    lines = text(group(CHANGES[1:4], ["route:triage"]), old, new, events=12, samples=2)
    assert lines == [
        "12 events replayed through both versions: 3 decisions changed",
        "  dlq                 0 -> 1       ",
        "  out                10 -> 9       ",
        "  rejected            2 -> 3       ",
        "\nroute:triage: 3 events (expected)",
        "  detail of route:triage",
        "       2  out via t=a  ->  out via t=b",
        "       1  out via t=a  ->  out via t=c",
        '  e.g. #1: {"n": 1}',
        '  e.g. #2: {"n": 2}',
        "\n2 events of the new version needed an LLM reply that was never recorded",
    ]
    unexpected = text(group(CHANGES[:1], []), old, old, events=12, samples=5)
    assert unexpected[-4] == "\nrule:check.max: 1 events (UNEXPECTED)"


def test_a_long_line_is_cut_in_the_sample() -> None:
    long = Change(7, "r", "x" * 300, "a", "b", ("step:s",), "d")
    lines = text(group([long], []), Replay({}), Replay({}), events=1, samples=1)
    assert lines[-1] == "  e.g. #7: " + "x" * 160


def test_the_json_lists_every_changed_event_with_its_group_verdict(tmp_path: Path) -> None:
    path = tmp_path / "diff.json"
    as_json(group(CHANGES[:2], ["route:*"]), path)
    written = path.read_text(encoding="utf-8")
    assert written.endswith("}\n")
    # in group order: equal sizes by label, so route:triage before rule:check.max
    assert json.loads(written) == {
        "changes": [
            {
                "index": 1,
                "run_id": "run1",
                "line": '{"n": 1}',
                "old": "out via t=a",
                "new": "out via t=b",
                "causes": ["route:triage"],
                "detail": "detail of route:triage",
                "expected": True,
            },
            {
                "index": 0,
                "run_id": "run0",
                "line": '{"n": 0}',
                "old": "out",
                "new": "rejected at check (max)",
                "causes": ["rule:check.max"],
                "detail": "detail of rule:check.max",
                "expected": False,
            },
        ]
    }


def test_the_page_counts_changes_and_escapes_the_events() -> None:
    risky = Change(9, "r", "<script>alert(1)</script>", "a", "b", ("step:s",), "d")
    old, new = Replay({}, Counter({"out": 3})), Replay({}, Counter({"out": 2, "dlq": 1}))
    page = html(group([risky, *CHANGES[1:3]], ["route:*"]), old, new, ("v1.yaml", "v2.yaml"), 3, 5)
    assert "<title>Decision diff: v1.yaml -&gt; v2.yaml</title>" in page
    assert (
        "v1.yaml &rarr; v2.yaml: 3 events replayed,\n<strong>3</strong> decisions changed (1 unexpected)."
        in page
    )
    assert "<tr><td>dlq</td><td>0</td><td>1</td></tr>" in page
    assert '<h2 class="expected">route:triage: 2 events' in page
    assert '<h2 class="unexpected">step:s: 1 events' in page
    assert "<tr><td>2</td><td>out via t=a</td><td>out via t=b</td></tr>" in page
    assert "&lt;script&gt;" in page and "<script>" not in page
