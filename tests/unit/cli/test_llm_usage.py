"""The run summary's LLM line adds up the audited answers: provider calls and cache hits apart, the usage
the server reported, the latency of each call; a run without an LLM answer has no line."""

from __future__ import annotations

import json

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit


def _row(details: dict[str, object]) -> AuditRow:
    return AuditRow("wf", 1, "run", 0, "e", "assess", "emitted", details=json.dumps(details))


def _answer(tokens_in: int, tokens_out: int, latency_ms: float, hit: bool = False) -> AuditRow:
    return _row(
        {
            "gen_ai.usage.input_tokens": tokens_in,
            "gen_ai.usage.output_tokens": tokens_out,
            "dwf.llm.latency_ms": latency_ms,
            "dwf.llm.cache_hit": hit,
        }
    )


def test_calls_tokens_and_latency_are_added_up() -> None:
    rows = [
        _row({"dwf.drift.psi": 0.1}),  # not an LLM answer
        _answer(10, 5, 100.0),
        _answer(20, 7, 300.0),
        _answer(99, 99, 1.0, hit=True),  # served from the cache: no provider call, no tokens billed
    ]
    usage = llm_usage(rows)
    assert usage is not None
    assert (usage.calls, usage.cache_hits, usage.input_tokens, usage.output_tokens) == (2, 1, 30, 12)
    assert usage.line() == (
        "llm: 2 calls, 1 from the cache; tokens 30 in, 12 out; latency p50 200 ms, p95 300 ms"
    )


def test_a_run_without_llm_answers_has_no_line() -> None:
    assert llm_usage([_row({}), _row({"dwf.llm.when": False})]) is None


def test_only_cache_hits_print_no_latency() -> None:
    usage = llm_usage([_answer(5, 5, 1.0, hit=True)])
    assert usage is not None and usage.line() == "llm: 0 calls, 1 from the cache; tokens 0 in, 0 out"
