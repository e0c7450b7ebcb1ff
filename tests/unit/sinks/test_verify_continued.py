"""verify_rows(rows, continued=...): a chain whose first rows are already stored starts where they ended
(a `dana-wf run` continuing the drift chain); every other chain still starts at seq 0 from genesis."""

from __future__ import annotations

import pytest

from dana_workflows.sinks.verify import verify_rows
from tests.fixtures.clickhouse import audit_chain

pytestmark = pytest.mark.unit


def _kinds(report: object) -> list[tuple[str, int]]:
    return [(f.kind, f.seq) for f in report.findings]  # type: ignore[attr-defined]


def test_a_continued_chain_verifies_from_the_stored_head() -> None:
    chain = audit_chain("wf.drift", 6)
    stored, new = chain[:4], chain[4:]
    assert verify_rows(new, {"wf.drift": (4, stored[-1].hash)}).ok


def test_without_its_stored_head_the_tail_alone_is_named_as_missing_rows() -> None:
    new = audit_chain("wf.drift", 6)[4:]
    assert _kinds(verify_rows(new)) == [("removed", 0)]


def test_a_continued_chain_that_links_to_another_head_is_named() -> None:
    chain = audit_chain("wf.drift", 6)
    report = verify_rows(chain[4:], {"wf.drift": (4, chain[2].hash)})
    assert _kinds(report) == [("reordered", 4)]


def test_a_continued_chain_starting_later_than_its_head_is_named() -> None:
    chain = audit_chain("wf.drift", 6)
    report = verify_rows(chain[5:], {"wf.drift": (4, chain[3].hash)})
    assert _kinds(report) == [("removed", 4)]


def test_continued_applies_to_the_named_run_only() -> None:
    other = audit_chain("run-a", 3)
    drift = audit_chain("wf.drift", 5)
    assert verify_rows([*other, *drift[2:]], {"wf.drift": (2, drift[1].hash)}).ok
    assert _kinds(verify_rows(other[1:], {"wf.drift": (1, other[0].hash)})) == [("removed", 0)]
