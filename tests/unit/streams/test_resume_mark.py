"""The resume mark the worker's resume agent trusts (streams/kafka/resume_agent.py): a boundary, and a
first audit row that is sealed and is the tail of the envelope's own chain; anything else is refused."""

from __future__ import annotations

import pytest

from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.resume import ResumeError
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.streams.kafka.resume_agent import _read_mark

pytestmark = pytest.mark.unit


def marked() -> tuple[Envelope, dict[str, object]]:
    env = Envelope("r1/x", "r1", "wf", 1, "score", {"id": "a"}, 5, 0, {}, 3, "c" * 64)
    row = transition(env, "replayed", "score", 7, decision="replayed")  # advances env's chain past it
    return env, {"boundary": "in", "row": row.as_dict()}


def test_a_sealed_row_at_the_chain_tail_is_accepted() -> None:
    env, mark = marked()
    boundary, row = _read_mark(mark, env)
    assert (boundary, row.kind, row.seq, row.hash) == ("in", "replayed", 3, env.chain_hash)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, e: m.pop("boundary"), "no resume mark naming a boundary"),
        (lambda m, e: m.pop("row"), "incomplete"),
        (lambda m, e: m["row"].update(reason="edited"), "does not match"),
        (lambda m, e: setattr(e, "chain_hash", "d" * 64), "does not match"),
        (lambda m, e: setattr(e, "run_id", "r2"), "does not match"),
    ],
)
def test_anything_else_is_refused(change: object, message: str) -> None:
    env, mark = marked()
    change(mark, env)  # type: ignore[operator]
    with pytest.raises(ResumeError, match=message):
        _read_mark(mark, env)
    with pytest.raises(ResumeError, match="no resume mark"):
        _read_mark(None, env)
