"""The run summary's llm line counts the calls of an event whose step failed after calling.

With the real SmolLM2-135M, two of six events broke an enforce rule after their one send-back and went to
review: 2 calls each, in the `error` row's efficiency summary (`dwf.eff`) and nowhere else, since that row
has no `gen_ai.usage.*` of its own. The summary said "llm: 5 calls" where 9 were made, while
`dana-wf efficiency report` counted them (NEWCOMER5, session 19, N5-4). docs/llm.md: the line counts every
call from the step's efficiency summary, so it agrees with `efficiency report`."""

from __future__ import annotations

import json

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit

# the step rows of two events of that run, as audited (details cut to the keys the line reads)
ANSWERED = {
    "dwf.eff": {"calls": {"combined": 1}, "avoided": {"combined": 1}, "tokens": {"input": 381, "output": 47}},
    "dwf.llm.cache_hit": False,
    "dwf.llm.latency_ms": 11036.0,
    "gen_ai.usage.input_tokens": 381,
    "gen_ai.usage.output_tokens": 47,
}
BROKE_A_RULE = {
    "dwf.eff": {"calls": {"combined": 1, "repair": 1}, "tokens": {"input": 835, "output": 98}},
    "error.type": "enforce_violation",
}


def _row(kind: str, details: dict[str, object]) -> AuditRow:
    return AuditRow("tickets", 1, "run", 0, "e", "classify", kind, details=json.dumps(details))


def test_the_calls_of_an_event_that_failed_after_its_answer_are_counted() -> None:
    usage = llm_usage([_row("emitted", ANSWERED), _row("error", BROKE_A_RULE)])
    assert usage is not None
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (1 + 2, 381 + 835, 47 + 98)
    assert usage.failed == 0  # the model answered every call: the rule failed, not the endpoint


def test_a_failed_step_row_without_calls_adds_nothing() -> None:
    no_call = {"dwf.eff": {"calls": {}, "tokens": {}}, "error.type": "knowledge_missing"}
    usage = llm_usage([_row("emitted", ANSWERED), _row("error", no_call)])
    assert usage is not None and (usage.calls, usage.input_tokens) == (1, 381)
