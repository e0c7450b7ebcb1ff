"""The run summary's LLM line: calls, real token usage, cache hits and call latency, read from the run's own
audit rows (the same numbers `dana-wf audit sql` shows), so a run against a real model says what it cost.

An llm step's phase rows (perceive, operate, enforce: processors/llm/poet_record.py) repeat the call's fields
of the step's own row; a call is counted once, from the step's row, as the worker's metrics count it
(streams/kafka/worker_metrics.py). The step's row carries ``gen_ai.usage.*`` of its first call only: when it
also carries the efficiency summary (``dwf.eff``: every call the event's step made, a verification or a
send-back included), calls, cache hits and tokens come from that summary, the numbers `dana-wf efficiency
report` adds up."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dana_workflows.processors.efficiency.monitor import PHASES, SUMMARY_KEY
from dana_workflows.sinks.audit_model import AuditRow

_USAGE_KEY = "gen_ai.usage.input_tokens"


def _counts(details: dict[str, Any]) -> tuple[int, int, int, int]:
    """(calls on the wire, cache hits, input tokens, output tokens) of one step row: from the efficiency
    summary when the row has one, else from the one call the row records."""
    summary = details.get(SUMMARY_KEY)
    if isinstance(summary, dict):
        tokens = summary.get("tokens") or {}
        return (
            sum(int(n) for n in (summary.get("calls") or {}).values()),
            int((summary.get("avoided") or {}).get("cache", 0)),
            int(tokens.get("input", 0)),
            int(tokens.get("output", 0)),
        )
    if details.get("dwf.llm.cache_hit"):
        return 0, 1, 0, 0
    return (
        1,
        0,
        int(details.get(_USAGE_KEY) or 0),
        int(details.get("gen_ai.usage.output_tokens") or 0),
    )


@dataclass(frozen=True)
class LLMUsage:
    calls: int  # calls to the provider, failed ones included (cache hits excluded)
    cache_hits: int
    input_tokens: int
    output_tokens: int
    latency_ms: tuple[float, ...]  # per provider call
    failed: int = 0  # step runs that got no answer (endpoint down, refused, timed out): their retry decided
    first_error: str = ""  # the first failed call's error: the cause, before a circuit breaker's echoes
    breaker_refused: int = 0  # of the failed: error circuit_open (the breaker had opened)

    def line(self) -> str:
        if not self.latency_ms:
            latency = ""
        else:
            ordered = sorted(self.latency_ms)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            latency = f"; latency p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms"
        # step runs, not calls: after 5 failed calls the breaker opens and refuses the next step runs
        refused = (
            f"{self.breaker_refused} refused by the open circuit breaker; " if self.breaker_refused else ""
        )
        failed = (
            f", {self.failed} step runs got no answer ({refused}first: {self.first_error})"
            if self.failed
            else ""
        )
        return (
            f"llm: {self.calls} calls, {self.cache_hits} from the cache{failed}; "
            f"tokens {self.input_tokens:,} in, {self.output_tokens:,} out{latency}"
        )


def llm_usage(rows: Iterable[AuditRow]) -> LLMUsage | None:
    """The usage of every LLM answer among the rows; None when the run asked no model."""
    calls = hits = tokens_in = tokens_out = failed = refused = 0
    first_error = ""
    latency: list[float] = []
    for row in rows:
        # cheap test before parsing: most rows are not LLM answers. A step row that failed after its
        # calls (an answer that broke a rule after its send-back) has the summary and no usage of its own.
        if _USAGE_KEY not in row.details and SUMMARY_KEY not in row.details:
            continue
        if row.kind in PHASES:  # the same call again, as one phase of the step's row below it
            continue
        details = json.loads(row.details)
        row_calls, row_hits, row_in, row_out = _counts(details)
        calls, hits = calls + row_calls, hits + row_hits
        tokens_in, tokens_out = tokens_in + row_in, tokens_out + row_out
        if details.get("dwf.llm.cache_hit"):
            continue
        if details.get("dwf.llm.outcome") == "error":  # a run against a model that is down says so
            failed += 1
            refused += details.get("error.type") == "circuit_open"
            first_error = first_error or str(details.get("dwf.llm.error") or "no reason recorded")
        if details.get("dwf.llm.latency_ms") is not None:
            latency.append(float(details["dwf.llm.latency_ms"]))
    if calls == 0 and hits == 0:
        return None
    return LLMUsage(calls, hits, tokens_in, tokens_out, tuple(latency), failed, first_error, refused)
