"""The run summary's llm line against a server that is down: step runs without an answer, not calls.

With the model server down, 9 tickets reached the llm step: the first step run made 4 requests (the
transient-error retries), the breaker then opened, one more run made 1 request and 7 made none. The line
said "llm: 5 calls, 0 from the cache, 9 failed": 9 failed of 5 (NEWCOMER5, session 19, N5-5). The rows
below are those step rows as audited (details cut to the keys the line reads)."""

from __future__ import annotations

import json

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit

DOWN = "all models failed: m: connection error: Connection error."


def _failed(calls: int, error_type: str) -> AuditRow:
    details = {
        "dwf.eff": {"calls": {"combined": calls}, "tokens": {}},
        "dwf.llm.outcome": "error",
        "dwf.llm.error": DOWN if error_type == "connection_error" else "circuit open",
        "error.type": error_type,
        "gen_ai.usage.input_tokens": 0,
    }
    return AuditRow("tickets", 1, "run", 0, "e", "classify", "error", details=json.dumps(details))


def test_step_runs_without_an_answer_and_those_the_breaker_refused() -> None:
    rows = [_failed(4, "connection_error"), _failed(1, "circuit_open"), *[_failed(0, "circuit_open")] * 7]
    usage = llm_usage(rows)
    assert usage is not None
    assert usage.line() == (
        "llm: 5 calls, 0 from the cache, 9 step runs got no answer "
        f"(8 refused by the open circuit breaker; first: {DOWN}); tokens 0 in, 0 out"
    )
