"""The LLM test server through its real HTTP interface, in this process (aiohttp's test client): what a
provider-like server answers (docs/llm.md's test server: replies from the script's first matching rule,
usage counted as 4 characters a token, x-ratelimit-* headers, Retry-After on 429, OpenAI error bodies), the
faults it injects on request and the control and log endpoints tests steer it with."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dana_workflows.devservices.llm_server.script import (
    Fault,
    Match,
    Rule,
    Script,
    conversation_part,
    load_script,
)
from dana_workflows.devservices.llm_server.server import LLMTestServer

pytestmark = pytest.mark.unit

Call = Callable[[TestClient[Any, Any]], Awaitable[None]]


def _serve(script: Script, body: Call) -> LLMTestServer:
    server = LLMTestServer(script)

    async def main() -> None:
        async with TestClient(TestServer(server.app())) as client:
            await body(client)

    asyncio.run(main())
    return server


def _chat(user: str, model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": user}], **extra}


RULES = [
    Rule(name="deny", match=Match(contains=["stolen"]), reply={"decision": "deny"}),
    Rule(name="raw", match=Match(regex=r"^say \w+$"), text="plain words"),
    Rule(name="fallback", reply={"decision": "approve"}),
]


def test_a_reply_is_the_first_matching_rules_with_usage_and_a_request_id() -> None:
    seen: dict[str, Any] = {}

    async def body(client: TestClient[Any, Any]) -> None:
        res = await client.post("/v1/chat/completions", json=_chat("my car was STOLEN"))
        seen["status"], seen["json"], seen["headers"] = res.status, await res.json(), res.headers

    server = _serve(Script(rules=RULES), body)
    assert seen["status"] == 200
    reply = seen["json"]
    content = reply["choices"][0]["message"]["content"]
    assert json.loads(content) == {"decision": "deny"}  # case-insensitive substring: the first rule
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["model"] == "m"
    assert reply["id"] == "chatcmpl-test-1"
    # 4 characters a token, rounded up: "my car was STOLEN" is 17 characters -> 5
    assert reply["usage"]["prompt_tokens"] == 5
    assert reply["usage"]["completion_tokens"] == -(-len(content) // 4)
    assert reply["usage"]["total_tokens"] == 5 + reply["usage"]["completion_tokens"]
    assert seen["headers"]["x-request-id"] == "req-test-1"
    assert [(e["n"], e["status"], e["rule"], e["user"], e["fault"]) for e in server.log] == [
        (1, 200, "deny", "my car was STOLEN", None)
    ]


def test_raw_text_rules_regex_rules_and_the_default_rule() -> None:
    contents: list[str] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for user in ("say hello", "say hello twice", "something else"):
            res = await client.post("/v1/chat/completions", json=_chat(user))
            contents.append((await res.json())["choices"][0]["message"]["content"])

    server = _serve(Script(rules=RULES), body)
    assert contents == ["plain words", '{"decision": "approve"}', '{"decision": "approve"}']
    assert [e["rule"] for e in server.log] == ["raw", "fallback", "fallback"]
    assert [e["n"] for e in server.log] == [1, 2, 3]


def test_no_rule_at_all_answers_an_empty_object() -> None:
    assert Script().reply_for("anything", "m") == ("none", "{}")
    unnamed = Script(rules=[Rule(match=Match(contains=["x"]), text="a"), Rule(text="b")])
    assert unnamed.reply_for("x", "m") == ("rule0", "a")
    assert unnamed.reply_for("y", "m") == ("rule1", "b")


def test_a_body_that_is_not_json_is_a_400_in_openais_error_shape() -> None:
    seen: dict[str, Any] = {}

    async def body(client: TestClient[Any, Any]) -> None:
        res = await client.post("/v1/chat/completions", data=b"{not json", headers={"content-type": "x"})
        seen["status"], seen["json"] = res.status, await res.json()

    server = _serve(Script(), body)
    assert seen["status"] == 400
    assert seen["json"] == {
        "error": {"message": "body is not JSON", "type": "invalid_request_error", "param": None, "code": None}
    }
    assert server.log == []  # not a request the log counts


def test_models_lists_the_scripts_models() -> None:
    seen: dict[str, Any] = {}

    async def body(client: TestClient[Any, Any]) -> None:
        seen["json"] = await (await client.get("/v1/models")).json()

    _serve(Script(models=["a", "b"]), body)
    assert seen["json"]["object"] == "list"
    assert [(m["id"], m["object"]) for m in seen["json"]["data"]] == [("a", "model"), ("b", "model")]


def test_requests_over_the_rpm_window_get_429_with_retry_after_and_remaining_headers() -> None:
    statuses: list[int] = []
    replies: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(3):
            res = await client.post("/v1/chat/completions", json=_chat("hi"))
            statuses.append(res.status)
            replies.append((res.headers, await res.json()))

    script = Script(faults={"rate_limit": {"rpm": 2, "retry_after_s": 7, "retry_after_ms": 7000}})
    server = _serve(script, body)
    assert statuses == [200, 200, 429]
    ok_headers = replies[0][0]
    assert ok_headers["x-ratelimit-limit-requests"] == "2"
    assert ok_headers["x-ratelimit-remaining-requests"] == "1"  # the first request is in the window
    assert replies[1][0]["x-ratelimit-remaining-requests"] == "0"
    limited_headers, limited = replies[2]
    assert limited["error"]["code"] == "rate_limit_exceeded"
    assert limited["error"]["type"] == "requests"
    assert limited["error"]["message"] == "Rate limit reached for requests (test server)"
    assert limited_headers["retry-after"] == "7"
    assert limited_headers["retry-after-ms"] == "7000"
    assert [e["fault"] for e in server.log] == [None, None, "rate_limit"]
    assert [e["status"] for e in server.log] == [200, 200, 429]


@pytest.mark.parametrize(
    ("mode", "seconds", "ms"), [("seconds", "3", None), ("ms", None, "2500"), ("none", None, None)]
)
def test_the_retry_after_mode_picks_the_headers(mode: str, seconds: str | None, ms: str | None) -> None:
    headers: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(2):
            headers.append((await client.post("/v1/chat/completions", json=_chat("hi"))).headers)

    rl = {"rpm": 1, "retry_after": mode, "retry_after_s": 3, "retry_after_ms": 2500}
    _serve(Script(faults={"rate_limit": rl}), body)
    assert headers[1].get("retry-after") == seconds
    assert headers[1].get("retry-after-ms") == ms


def test_a_fractional_forced_retry_after_keeps_its_fraction() -> None:
    headers: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(2):
            headers.append((await client.post("/v1/chat/completions", json=_chat("hi"))).headers)

    _serve(Script(faults={"rate_limit": {"rpm": 1, "retry_after_s": 1.5}}), body)
    assert headers[1]["retry-after"] == "1.5"


def test_the_token_window_counts_prompt_and_max_tokens() -> None:
    seen: list[tuple[int, Any]] = []

    async def body(client: TestClient[Any, Any]) -> None:
        # "x" * 40 is 10 prompt tokens; with max_tokens 20 a request needs 30 of the 50 a window allows
        for _ in range(2):
            res = await client.post("/v1/chat/completions", json=_chat("x" * 40, max_tokens=20))
            seen.append((res.status, await res.json()))

    _serve(Script(faults={"rate_limit": {"tpm": 50}}), body)
    assert seen[0][0] == 200
    assert seen[1][0] == 429
    assert seen[1][1]["error"]["type"] == "tokens"


def test_no_rate_limit_headers_when_the_script_turns_them_off() -> None:
    headers: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        headers.append((await client.post("/v1/chat/completions", json=_chat("hi"))).headers)

    _serve(Script(faults={"rate_limit": {"rpm": 5, "tpm": 100, "headers": False}}), body)
    assert not [h for h in headers[0] if h.lower().startswith("x-ratelimit")]


def test_token_headers_count_the_window_used() -> None:
    headers: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        headers.append((await client.post("/v1/chat/completions", json=_chat("x" * 8))).headers)

    _serve(Script(faults={"rate_limit": {"tpm": 100}}), body)
    assert headers[0]["x-ratelimit-limit-tokens"] == "100"
    assert headers[0]["x-ratelimit-remaining-tokens"] == "98"  # 8 characters: 2 tokens admitted
    assert "x-ratelimit-limit-requests" not in headers[0]


@pytest.mark.parametrize(
    ("fault", "status", "code", "type_"),
    [
        ("quota", 429, "insufficient_quota", "insufficient_quota"),
        ("bad_request", 400, None, "invalid_request_error"),
        ("server_error", 500, None, "server_error"),
    ],
)
def test_an_error_fault_fires_on_the_first_n_requests_only(
    fault: str, status: int, code: str | None, type_: str
) -> None:
    seen: list[tuple[int, Any]] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(3):
            res = await client.post("/v1/chat/completions", json=_chat("hi"))
            seen.append((res.status, await res.json()))

    server = _serve(Script(faults={fault: {"first": 2}}), body)
    assert [s for s, _ in seen] == [status, status, 200]
    assert seen[0][1]["error"]["code"] == code
    assert seen[0][1]["error"]["type"] == type_
    assert [e["fault"] for e in server.log] == [fault, fault, None]


def test_a_bad_request_names_the_messages_parameter() -> None:
    seen: list[Any] = []

    async def body(client: TestClient[Any, Any]) -> None:
        seen.append(await (await client.post("/v1/chat/completions", json=_chat("hi"))).json())

    _serve(Script(faults={"bad_request": {"always": True}}), body)
    assert seen[0]["error"]["param"] == "messages"


def test_a_fault_limited_to_models_spares_the_others() -> None:
    statuses: list[int] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for model in ("big", "small", "big"):
            statuses.append((await client.post("/v1/chat/completions", json=_chat("hi", model))).status)

    _serve(Script(faults={"server_error": {"always": True, "models": ["big"]}}), body)
    assert statuses == [500, 200, 500]


def test_every_nth_and_first_n_counts() -> None:
    every = Fault(every=3)
    assert [n for n in range(1, 10) if every.fires(n)] == [3, 6, 9]
    first = Fault(first=2)
    assert [n for n in range(1, 6) if first.fires(n)] == [1, 2]
    assert Fault(always=True).fires(99)
    assert not Fault().applies("m")  # nothing asked for: never applies
    assert Fault(first=1, models=["a"]).applies("a")
    assert not Fault(first=1, models=["a"]).applies("b")


def test_json_schema_unsupported_refuses_json_schema_but_not_json_mode() -> None:
    seen: list[tuple[int, Any]] = []

    async def body(client: TestClient[Any, Any]) -> None:
        for rf in ({"type": "json_schema", "json_schema": {}}, {"type": "json_object"}):
            res = await client.post("/v1/chat/completions", json=_chat("hi", response_format=rf))
            seen.append((res.status, await res.json()))

    server = _serve(Script(faults={"json_schema_unsupported": True}), body)
    assert [s for s, _ in seen] == [400, 200]
    assert seen[0][1]["error"]["param"] == "response_format"
    assert [e["response_format"] for e in server.log] == ["json_schema", "json_object"]
    assert server.log[0]["fault"] == "json_schema_unsupported"


def test_malformed_json_cuts_the_reply_in_half_and_schema_break_replaces_it() -> None:
    contents: list[str] = []
    reply = {"decision": "approve", "reason": "within the limit"}

    async def body(client: TestClient[Any, Any]) -> None:
        for _ in range(2):
            res = await client.post("/v1/chat/completions", json=_chat("hi"))
            contents.append((await res.json())["choices"][0]["message"]["content"])

    full = json.dumps(reply)
    _serve(Script(rules=[Rule(reply=reply)], faults={"malformed_json": {"first": 1}}), body)
    assert contents[0] == full[: len(full) // 2]
    assert contents[1] == full
    contents.clear()
    server = _serve(Script(rules=[Rule(reply=reply)], faults={"schema_break": {"first": 1}}), body)
    assert json.loads(contents[0]) == {"unexpected": "this reply breaks the output schema"}
    assert json.loads(contents[1]) == reply
    assert [e["fault"] for e in server.log] == ["schema_break", None]


def test_control_merges_faults_replaces_rules_and_resets_the_log() -> None:
    seen: dict[str, Any] = {}

    async def body(client: TestClient[Any, Any]) -> None:
        await client.post("/v1/chat/completions", json=_chat("hi"))
        res = await client.post(
            "/_control",
            json={"faults": {"server_error": {"first": 1}}, "rules": [{"text": "new"}], "reset_log": True},
        )
        seen["control"] = await res.json()
        seen["log_after_reset"] = await (await client.get("/_log")).json()
        first = await client.post("/v1/chat/completions", json=_chat("hi"))
        second = await client.post("/v1/chat/completions", json=_chat("hi"))
        seen["statuses"] = [first.status, second.status]
        seen["content"] = (await second.json())["choices"][0]["message"]["content"]
        seen["log"] = await (await client.get("/_log")).json()

    script = Script(faults={"quota": {"every": 100}})
    _serve(script, body)
    assert seen["control"]["ok"] is True
    assert seen["control"]["faults"]["server_error"]["first"] == 1
    assert seen["control"]["faults"]["quota"]["every"] == 100  # merged, not replaced
    assert seen["log_after_reset"] == {"count": 0, "requests": []}
    assert seen["statuses"] == [500, 200]
    assert seen["content"] == "new"
    assert seen["log"]["count"] == 2
    assert [r["n"] for r in seen["log"]["requests"]] == [1, 2]  # numbering restarts with the log


def test_control_sets_latency_and_the_log_records_each_request() -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        await client.post("/_control", json={"latency_ms": 1})
        messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
        ]
        await client.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": messages},
            headers={"x-stainless-retry-count": "2"},
        )

    server = _serve(Script(), body)
    assert server.script.latency_ms == 1.0
    entry = server.log[0]
    assert (entry["messages"], entry["user"], entry["sdk_retry_count"], entry["model"]) == (
        3,
        "first",
        "2",
        "m",
    )
    assert entry["response_format"] is None


def test_conversation_parts_a_match_can_look_at() -> None:
    messages = [
        {"role": "system", "content": "S1"},
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": None},
        {"role": "system", "content": "S2"},
        {"role": "user", "content": "U2"},
    ]
    assert conversation_part(messages, "first_user") == "U1"
    assert conversation_part(messages, "last_user") == "U2"
    assert conversation_part(messages, "system") == "S1\nS2"
    assert conversation_part(messages, "all") == "S1\nU1\n\nS2\nU2"
    assert conversation_part([], "first_user") == ""
    assert conversation_part([], "last_user") == ""


def test_a_match_needs_any_of_contains_all_of_all_none_of_none_the_regex_and_the_model() -> None:
    assert Match(contains=["a", "B"]).hits("xbx", "m")
    assert not Match(contains=["a", "b"]).hits("xyz", "m")
    assert Match(all=["a", "b"]).hits("BA", "m")
    assert not Match(all=["a", "b"]).hits("a", "m")
    assert not Match(none=["no"]).hits("say NO", "m")
    assert Match(none=["no"]).hits("yes", "m")
    assert Match(regex=r"\d{3}").hits("id 123", "m")
    assert not Match(regex=r"\d{3}").hits("id 12", "m")
    assert not Match(regex="A").hits("a", "m")  # a regex is case-sensitive
    assert Match(model="m").hits("", "m")
    assert not Match(model="m").hits("", "other")
    assert Match().hits("anything", "m")


def test_a_list_of_matches_must_all_hit_and_where_picks_the_part() -> None:
    rule = Rule(
        name="both",
        match=[Match(contains=["policy"], where="system"), Match(contains=["claim"], where="last_user")],
        text="ok",
    )
    script = Script(rules=[rule])
    system = {"role": "system", "content": "the POLICY"}
    assert script.reply_for_messages([system, {"role": "user", "content": "a claim"}], "m") == ("both", "ok")
    assert script.reply_for_messages([{"role": "user", "content": "a claim"}], "m") == ("none", "{}")
    assert script.reply_for_messages(
        [system, {"role": "user", "content": "a claim"}, {"role": "user", "content": "later"}], "m"
    ) == ("none", "{}")


def test_load_script_reads_yaml_and_names_the_file_on_each_problem(tmp_path: Path) -> None:
    good = tmp_path / "s.yaml"
    good.write_text("models: [a]\nrules:\n  - name: r\n    match: {contains: [x]}\n    text: hi\n")
    script = load_script(good)
    assert script.models == ["a"]
    assert script.reply_for("x", "a") == ("r", "hi")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_script(empty).models == ["dwf-test-model"]  # an empty file is the default script
    with pytest.raises(ValueError, match=r"missing\.yaml: cannot read the LLM server script"):
        load_script(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n")
    with pytest.raises(ValueError, match=r"broken\.yaml:2: not valid YAML \([^\n]+\)$"):
        load_script(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("rules:\n  - nmae: typo\n")
    with pytest.raises(ValueError, match=r"unknown\.yaml: invalid LLM server script \(rules\.0\.nmae: "):
        load_script(unknown)
