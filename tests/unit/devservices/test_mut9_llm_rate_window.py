"""The LLM test server's rate-limit window as pure state (devservices/llm_server/server.py): ``_rate_limited``
and ``_rate_headers`` take the monotonic time as an argument, so the window is driven by hand here with
no clock at all. What they must do (docs/llm.md's test server; the module docstring): admit requests while
the window of ``window_s`` seconds holds fewer than rpm requests and at most tpm tokens, drop arrivals
``window_s`` old, answer 429 in OpenAI's error shape with Retry-After / retry-after-ms rounded up from the
time until the oldest request leaves the window, and send x-ratelimit-* headers with what remains.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.devservices.llm_server.server import LLMTestServer, _tokens

pytestmark = pytest.mark.unit


def _server(**rate_limit: Any) -> LLMTestServer:
    return LLMTestServer(Script.model_validate({"faults": {"rate_limit": {"window_s": 10.0, **rate_limit}}}))


def _body(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.text))


@pytest.mark.parametrize(("text", "tokens"), [("", 1), ("abc", 1), ("abcd", 1), ("abcde", 2), ("x" * 40, 10)])
def test_four_characters_a_token_rounded_up_at_least_one(text: str, tokens: int) -> None:
    assert _tokens(text) == tokens


def test_requests_past_rpm_wait_for_the_oldest_to_leave_the_window() -> None:
    server = _server(rpm=2, tpm=100)
    assert server._rate_limited(100.0, 5) is None
    assert server._rate_limited(103.0, 5) is None
    limited = server._rate_limited(104.5, 5)
    assert limited is not None and limited.status == 429
    assert _body(limited) == {
        "error": {
            "message": "Rate limit reached for requests (test server)",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    # the oldest request (at 100) leaves the window at 110: 5.5 s from now, rounded up for Retry-After
    assert limited.headers["retry-after"] == "6"
    assert limited.headers["retry-after-ms"] == "5500"
    assert limited.headers["x-ratelimit-limit-requests"] == "2"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-ratelimit-reset-requests"] == "5.500s"
    assert limited.headers["x-ratelimit-limit-tokens"] == "100"
    assert limited.headers["x-ratelimit-remaining-tokens"] == "90"
    assert limited.headers["x-ratelimit-reset-tokens"] == "5.500s"
    assert len(server._window) == 2  # a refused request takes no place in the window
    # at exactly 110 the request of 100 is window_s old: it has left, one place is free
    assert server._rate_limited(110.0, 5) is None
    assert [t for t, _ in server._window] == [103.0, 110.0]


def test_tokens_past_tpm_are_refused_as_tokens() -> None:
    server = _server(tpm=100)
    assert server._rate_limited(0.0, 60) is None
    limited = server._rate_limited(1.0, 41)  # 60 + 41 > 100
    assert limited is not None
    assert _body(limited)["error"]["type"] == "tokens"
    assert _body(limited)["error"]["message"] == "Rate limit reached for tokens (test server)"
    assert limited.headers["retry-after"] == "9"
    assert limited.headers["retry-after-ms"] == "9000"
    assert "x-ratelimit-limit-requests" not in limited.headers
    assert server._rate_limited(1.0, 40) is None  # exactly 100: still admitted


def test_a_request_larger_than_the_whole_window_waits_a_whole_window() -> None:
    server = _server(tpm=10)
    limited = server._rate_limited(50.0, 11)  # nothing in the window, yet too big
    assert limited is not None
    assert limited.headers["retry-after"] == "10"
    assert limited.headers["retry-after-ms"] == "10000"
    assert limited.headers["x-ratelimit-reset-tokens"] == "10.000s"  # an empty window resets in window_s


def test_the_retry_after_wait_is_at_least_a_millisecond() -> None:
    server = _server(rpm=1)
    assert server._rate_limited(0.0, 1) is None
    limited = server._rate_limited(9.9999999, 1)
    assert limited is not None
    assert limited.headers["retry-after-ms"] == "1"
    assert limited.headers["retry-after"] == "1"


def test_headers_of_an_admitted_request_count_what_remains() -> None:
    server = _server(rpm=3, tpm=50)
    server._rate_limited(0.0, 20)
    server._rate_limited(4.0, 10)
    assert server._rate_headers(6.0, 0) == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "1",
        "x-ratelimit-reset-requests": "4.000s",
        "x-ratelimit-limit-tokens": "50",
        "x-ratelimit-remaining-tokens": "20",
        "x-ratelimit-reset-tokens": "4.000s",
    }
    assert server._rate_headers(12.0, 0)["x-ratelimit-reset-requests"] == "0.000s"  # never negative
    assert _server(rpm=3, headers=False)._rate_headers(0.0, 0) == {}


def test_a_fault_counts_only_the_requests_it_applies_to() -> None:
    server = LLMTestServer(
        Script.model_validate({"faults": {"server_error": {"first": 1, "models": ["big"]}}})
    )
    assert server._fires("server_error", "small") is False
    assert server._fires("server_error", "big") is True  # the first request of model big
    assert server._fires("server_error", "big") is False
    assert server._counts == {"server_error": 2}
    assert server._fires("quota", "big") is False  # a fault that is off never counts
    assert "quota" not in server._counts
