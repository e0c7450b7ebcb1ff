"""A replayed context is audited like a first one: its token count is the count of the context the step
sends (the fakes of test_mut_step_prepare count words)."""

from __future__ import annotations

import pytest

from dana_workflows.knowledge.step import StepKnowledge
from dana_workflows.knowledge.store import ContextUse
from tests.unit.knowledge.test_mut_step_prepare import CHUNKS, FakeBase, FakeStore, _ir, _prepare

pytestmark = pytest.mark.unit


def test_a_replayed_context_records_the_tokens_of_the_context_sent() -> None:
    pinned = ContextUse([("knowledge", "pol:P2", CHUNKS[1].version)], {"pol": "old-sync-000"})
    p = _prepare(StepKnowledge(_ir(), "wf", "judge", "m"), FakeBase(CHUNKS, FakeStore(pinned)), pid="P2")
    assert p.details["dwf.knowledge.replayed"] is True
    # "## Knowledge / [pol:P2] / Policy P2 pays at most 9000 USD": 10 words
    assert p.details["dwf.knowledge.tokens"] == {"context": 10}
    assert len(p.context.split()) == 10
