"""Hostile input lines (issue 12): each lands in rejected or dlq with a reason naming the problem, the run
goes on, and every input line has exactly one terminal outcome and its audit rows. The same lines through
`dana-wf produce` on a real broker: tests/integration/test_produce_hostile.py."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from dana_workflows.cli.run import read_input_lines
from dana_workflows.processors.ingest import admit
from dana_workflows.schemas.canonical import canonical_json, canonical_json_line
from dana_workflows.streams.app_builder import load_pipeline
from tests.fixtures.local_runs import LocalRun

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "docs" / "examples" / "claims"
sys.path.insert(0, str(ROOT / "bench"))
from fuzz_hostile import GOOD, local_run  # noqa: E402  (one valid claim, shared with the fuzz bench)


def good(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def with_raw(field: str, literal: str) -> str:
    """A good event whose `field` is the JSON text `literal`, as written (not re-encoded)."""
    return good(**{field: "@@"}).replace('"@@"', literal)


# (line, outcome, words the reason must hold): outcomes and reasons from the wording of each case
HOSTILE = [
    ("[" * 1500 + "]" * 1500, "dlq", "nested deeper than 1024 levels"),
    (with_raw("amount", "1" + "0" * 400), "rejected", "'amount' is out of range for double"),
    (with_raw("claim_id", '"S0\\ud800"'), "dlq", "lone surrogate"),
    (with_raw("amount", "Infinity"), "dlq", "Infinity is not a JSON number"),
    (with_raw("amount", "-Infinity"), "dlq", "Infinity is not a JSON number"),
    (with_raw("amount", "NaN"), "dlq", "NaN is not a JSON number"),
    (with_raw("amount", "1e400"), "rejected", "'amount' must be a finite number"),
    (with_raw("submitted_at", "9" * 30), "rejected", "'submitted_at' must be long, got float"),
    (with_raw("amount", "1" * 5000), "dlq", "integer string conversion"),
    ("", "dlq", "a blank line, no event"),
    ("   \t", "dlq", "a blank line, no event"),
    ("{", "dlq", "not valid JSON"),
]


# admitted (orjson reads 2**63 as an int, and the fast path takes an int for a long), then refused where
# the record is encoded for its first topic: dlq with the encoder's reason
PAST_ADMISSION = [(with_raw("submitted_at", str(2**63)), "dlq", "does not fit the Avro schema")]


@pytest.fixture(scope="module")
def ir():  # type: ignore[no-untyped-def]
    return load_pipeline(CLAIMS / "claims.yaml").workflow


@pytest.mark.parametrize(("line", "outcome", "named"), HOSTILE, ids=[h[2] for h in HOSTILE])
def test_each_hostile_line_has_one_verdict_naming_the_problem(ir, line, outcome, named) -> None:  # type: ignore[no-untyped-def]
    adm = admit(ir, line, 4, 0)
    assert not adm.accepted
    assert ("dlq" if adm.dead else "rejected") == outcome
    assert any(named in r for r in adm.reasons), adm.reasons
    assert [r.kind for r in adm.rows] == ["received", outcome]
    canonical_json(adm.envelope.payload)  # every sink can render it: no exception
    canonical_json_line(adm.envelope.to_record())


def test_canonical_json_renders_what_orjson_refuses() -> None:
    assert canonical_json({"s": "a\ud800b"}) == '{"s":"a\\ud800b"}'  # the JSON escape: valid UTF-8
    assert canonical_json({"n": 10**30, "a": 1}) == '{"a":1,"n":' + "1" + "0" * 30 + "}"
    deep: object = []
    for _ in range(400):  # orjson stops at 255 levels
        deep = [deep]
    assert canonical_json(deep) == "[" * 401 + "]" * 401
    assert canonical_json_line({"s": "\udcff"}) == b'{"s":"\\udcff"}\n'


def test_input_file_lines_keep_blank_lines_but_not_the_last_newline(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2}\n')
    assert read_input_lines(path) == ['{"a": 1}', "", '{"b": 2}']
    path.write_text("")
    assert read_input_lines(path) == []


def test_dana_wf_run_goes_on_and_every_line_has_one_outcome(tmp_path: Path) -> None:
    cases = HOSTILE + PAST_ADMISSION
    lines = [good(claim_id="first")] + [h[0] for h in cases] + [good(claim_id="last")]
    summary, rows = local_run(lines, tmp_path / "out")
    run = LocalRun(summary, rows, tmp_path / "out", "claims-triage")
    assert summary.events == len(lines)
    assert sum(summary.outcomes.values()) == len(lines)
    expected = Counter(h[1] for h in cases)
    assert summary.outcomes["dlq"] == expected["dlq"]
    assert summary.outcomes["rejected"] == expected["rejected"]
    assert summary.outcomes["out"] == 2  # the good lines before and after all went through
    written = run.read("dlq") + run.read("rejected") + run.read("out")
    assert len(written) == len(lines)
    # every line: one received row, and exactly one terminal row for its run
    received = Counter(r.run_id for r in rows if r.kind == "received")
    assert len(received) == len(lines) and set(received.values()) == {1}
    terminal = Counter(r.run_id for r in rows if r.kind in ("dlq", "rejected", "completed"))
    assert terminal == received
    dlq_reasons = [r.reason for r in rows if r.kind == "dlq"]
    for _line, outcome, named in cases:
        reasons = dlq_reasons if outcome == "dlq" else [r.reason for r in rows if r.kind == "rejected"]
        assert any(named in reason for reason in reasons), named
