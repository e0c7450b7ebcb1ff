"""Mutation pass over session 17's lines of cli/llm_usage.py: tests for the mutants that survived.

The run summary's llm line takes calls, cache hits and tokens from a step row's efficiency summary
(``dwf.eff``) when it has one: "the numbers `dana-wf efficiency report` adds up" (the module's docstring),
so a summary that leaves a count out adds what the report's EfficiencyTotals adds for it. A row without a
summary counts the one call it records, and a usage the server did not report (null) is no token.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY, EfficiencyTotals
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit


def step_row(details: dict[str, Any]) -> AuditRow:
    return AuditRow("wf", 1, "run", 0, "e", "assess", "emitted", details=json.dumps(details))


@pytest.mark.parametrize(
    "summary",
    [
        {"calls": {"answer": 1}, "tokens": {"output": 7}},  # no input count
        {"calls": {"answer": 2}, "avoided": {"combined": 1}, "tokens": {"input": 40}},  # no output count
        {"calls": {"answer": 1}},  # no tokens at all
    ],
)
def test_the_summarys_counts_are_the_efficiency_reports(summary: dict[str, Any]) -> None:
    row = {"gen_ai.usage.input_tokens": 11, "gen_ai.usage.output_tokens": 3, SUMMARY_KEY: summary}
    usage = llm_usage([step_row(row)])
    report = EfficiencyTotals()
    report.add(summary)
    assert usage is not None
    assert (usage.calls, usage.cache_hits) == (sum(report.calls.values()), report.avoided["cache"])
    assert (usage.input_tokens, usage.output_tokens) == (report.input_tokens, report.output_tokens)


def test_a_call_whose_usage_the_server_did_not_report_adds_no_token() -> None:
    row = {"gen_ai.usage.input_tokens": None, "gen_ai.usage.output_tokens": None, "dwf.llm.latency_ms": 5.0}
    usage = llm_usage([step_row(row)])
    assert usage is not None
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (1, 0, 0)
