"""cli/llm_usage.LLMUsage built without the fields session 16 added (`failed`, `first_error`): a usage
that names no failed call had none, and its line says nothing of failures (mutation pass, session 17)."""

from __future__ import annotations

import pytest

from dana_workflows.cli.llm_usage import LLMUsage

pytestmark = pytest.mark.unit


def test_a_usage_without_failures_has_none_and_says_none() -> None:
    usage = LLMUsage(calls=3, cache_hits=1, input_tokens=1200, output_tokens=90, latency_ms=())
    assert usage.failed == 0 and usage.first_error == ""
    assert usage.line() == "llm: 3 calls, 1 from the cache; tokens 1,200 in, 90 out"
