"""Refinement names the known-good event that widened or dropped a rule; samples set bad lines aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.refine import refine
from dana_workflows.objectives.sample import SampleError, load_sample, parse_sample, split
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()
AMOUNT = FieldIR(name="amount", type="double")
KIND = FieldIR(name="kind", type="string")


def name_of(i: int) -> str:
    return f"event #{i}"


def test_range_widens_to_admit_a_good_event_and_says_which() -> None:
    col = Column(AMOUNT, [1.0, 50.0])
    cand = Candidate(
        "amount_range",
        "amount >= 0.0 && amount <= 100.0",
        "range",
        ("amount",),
        "m",
        "b",
        kind="range",
        refine={"lo": 0.0, "hi": 100.0},
    )
    out = refine(cand, col, [{"amount": 10.0}, {"amount": 180.0}], name_of, S)
    assert out.candidate is not None and out.candidate.refine["hi"] >= 180.0
    assert out.notes == ["widened to admit the known-good event event #1 (amount=180.0)"]


def test_domain_takes_the_value_in_and_a_pattern_is_dropped() -> None:
    col = Column(KIND, ["a", "b"])
    dom = Candidate(
        "kind_domain",
        'kind in ["a", "b"]',
        "domain",
        ("kind",),
        "m",
        "b",
        kind="domain",
        refine={"values": ["a", "b"]},
    )
    out = refine(dom, col, [{"kind": "c"}], name_of, S)
    assert out.candidate is not None and out.candidate.rule == 'kind in ["a", "b", "c"]'
    pat = Candidate("kind_pattern", 'kind.matches("^[a-b]$")', "pattern", ("kind",), "m", "b", kind="pattern")
    dropped = refine(pat, col, [{"kind": "c"}], name_of, S)
    assert dropped.candidate is None and dropped.notes == [
        "dropped: it rejected the known-good event event #0 (kind='c')"
    ]


def test_a_rule_that_fails_the_held_out_events_is_not_offered() -> None:
    fields = {"amount": AMOUNT}
    sample = parse_sample([f'{{"amount": {i}.5}}' for i in range(100)], [AMOUNT], "s")
    holdout = parse_sample(['{"amount": 5.5}'], [AMOUNT], "h")
    bad = Candidate("tiny", "amount < 1.0", "llm", (), "m", "b", strength=0.9)
    result = infer_boundary(Boundary("input", fields, sample, holdout), None, S, [bad])
    assert "tiny" not in {p.id for p in result.proposals}
    assert any(r.id == "tiny" for r in result.refused)


def test_sample_sets_aside_what_does_not_fit_and_names_lines(tmp_path: Path) -> None:
    lines = [
        '{"amount": 3, "kind": "a"}',
        "not json",
        "[1]",
        '{"amount": "x", "kind": "a"}',
        '{"kind": "a"}',
        "",
    ]
    s = parse_sample(lines, [AMOUNT, KIND], "f.jsonl")
    assert [e["amount"] for e in s.events] == [3.0] and isinstance(s.events[0]["amount"], float)
    assert s.skipped == [
        "line 2: not JSON",
        "line 3: not a JSON object",
        "line 4: field 'amount' is str, declared double",
        "line 5: missing field 'amount'",
    ]
    assert s.where(0) == "f.jsonl line 1"
    with pytest.raises(SampleError, match="too few to infer from"):
        parse_sample(lines, [AMOUNT, KIND], "f.jsonl", min_events=30)
    with pytest.raises(SampleError, match="cannot read the sample"):
        load_sample(tmp_path / "missing.jsonl", [AMOUNT])
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SampleError, match="not UTF-8"):
        load_sample(tmp_path / "bin.jsonl", [AMOUNT])


def test_split_spreads_held_out_events_over_the_file() -> None:
    s = parse_sample([f'{{"amount": {i}.0}}' for i in range(9)], [AMOUNT], "s")
    learn, held = split(s)
    assert [e["amount"] for e in held.events] == [2.0, 5.0, 8.0]
    assert held.lines == [3, 6, 9] and len(learn) == 6
