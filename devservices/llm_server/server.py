"""An OpenAI-compatible chat-completions server with scripted replies and injectable faults.

For tests, the benchmark and the offline example: it answers like a provider (usage, x-ratelimit-*
headers, Retry-After on 429, OpenAI error bodies) and logs every request so tests can count calls.
Control: POST /_control {"faults": {...}, "rules": [...], "latency_ms": x, "reset_log": true};
GET /_log returns the request log.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

from dana_workflows.devservices.llm_server.script import Faults, Rule, Script

_FAULTS = ("quota", "bad_request", "server_error", "slow", "hang", "malformed_json", "schema_break")
_GONE_POLL_S = 0.02  # how often a held request looks whether its client has hung up


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


async def _until_the_client_hangs_up(request: web.Request) -> None:
    """Wait until the client closes the connection: its timeout, however late on a loaded machine."""
    transport = request.transport
    while transport is not None and not transport.is_closing():
        await asyncio.sleep(_GONE_POLL_S)


def _gone() -> web.Response:
    """What the log records for a request whose client hung up first (nginx's 499); nobody reads it."""
    return _error(499, "the client gave up (test server)", "client_closed_request", None)


def _error(
    status: int, message: str, type_: str, code: str | None, param: str | None = None, **headers: str
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


class LLMTestServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.log: list[dict[str, Any]] = []
        self._counts: dict[str, int] = {}
        self._window: deque[tuple[float, int]] = deque()  # (monotonic arrival, tokens) of admitted requests
        self._n = 0

    # -- app ---------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/_control", self.control)
        app.router.add_get("/_log", self.get_log)
        return app

    async def models(self, request: web.Request) -> web.Response:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "dana-workflows"}
            for m in self.script.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def get_log(self, request: web.Request) -> web.Response:
        return web.json_response({"count": len(self.log), "requests": self.log})

    async def control(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "faults" in body:
            merged = {**self.script.faults.model_dump(), **body["faults"]}
            self.script.faults = Faults.model_validate(merged)
            self._counts.clear()
            self._window.clear()
        if "rules" in body:
            self.script.rules = [Rule.model_validate(r) for r in body["rules"]]
        if "latency_ms" in body:
            self.script.latency_ms = float(body["latency_ms"])
        if body.get("reset_log"):
            self.log.clear()
            self._n = 0
        return web.json_response({"ok": True, "faults": self.script.faults.model_dump()})

    # -- chat completions --------------------------------------------------------------------
    def _fires(self, name: str, model: str) -> bool:
        fault = getattr(self.script.faults, name)
        if not fault.applies(model):
            return False
        self._counts[name] = self._counts.get(name, 0) + 1
        return bool(fault.fires(self._counts[name]))

    def _rate_headers(self, now: float, tokens: int) -> dict[str, str]:
        rl = self.script.faults.rate_limit
        h: dict[str, str] = {}
        if not rl.headers:
            return h
        oldest = self._window[0][0] if self._window else now
        reset = max(0.0, oldest + rl.window_s - now)
        if rl.rpm is not None:
            h["x-ratelimit-limit-requests"] = str(rl.rpm)
            h["x-ratelimit-remaining-requests"] = str(max(0, rl.rpm - len(self._window)))
            h["x-ratelimit-reset-requests"] = f"{reset:.3f}s"
        if rl.tpm is not None:
            used = sum(t for _, t in self._window)
            h["x-ratelimit-limit-tokens"] = str(rl.tpm)
            h["x-ratelimit-remaining-tokens"] = str(max(0, rl.tpm - used))
            h["x-ratelimit-reset-tokens"] = f"{reset:.3f}s"
        return h

    def _rate_limited(self, now: float, tokens: int) -> web.Response | None:
        rl = self.script.faults.rate_limit
        while self._window and self._window[0][0] <= now - rl.window_s:
            self._window.popleft()
        over_requests = rl.rpm is not None and len(self._window) >= rl.rpm
        over_tokens = rl.tpm is not None and sum(t for _, t in self._window) + tokens > rl.tpm
        if not (over_requests or over_tokens):
            self._window.append((now, tokens))
            return None
        wait = max(0.001, self._window[0][0] + rl.window_s - now) if self._window else rl.window_s
        headers = self._rate_headers(now, tokens)
        secs = rl.retry_after_s if rl.retry_after_s is not None else math.ceil(wait)
        ms = rl.retry_after_ms if rl.retry_after_ms is not None else math.ceil(wait * 1000)
        if rl.retry_after in ("both", "seconds"):
            headers["retry-after"] = str(int(secs)) if float(secs).is_integer() else str(secs)
        if rl.retry_after in ("both", "ms"):
            headers["retry-after-ms"] = str(int(ms))
        what = "requests" if over_requests else "tokens"
        return _error(
            429, f"Rate limit reached for {what} (test server)", what, "rate_limit_exceeded", None, **headers
        )

    async def chat(self, request: web.Request) -> web.Response:
        arrival = time.time()
        now = time.monotonic()
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "body is not JSON", "invalid_request_error", None)
        model = str(body.get("model", ""))
        messages = body.get("messages") or []
        users = [m.get("content") or "" for m in messages if m.get("role") == "user"]
        prompt_text = "\n".join(str(m.get("content") or "") for m in messages)
        prompt_tokens = _tokens(prompt_text)
        self._n += 1
        entry: dict[str, Any] = {
            "n": self._n,
            "t": arrival,
            "mono": now,
            "model": model,
            "messages": len(messages),
            "user": users[0] if users else "",
            "response_format": (body.get("response_format") or {}).get("type"),
            "sdk_retry_count": request.headers.get("x-stainless-retry-count"),
            "status": 200,
            "fault": None,
        }
        self.log.append(entry)
        response = await self._answer(request, body, model, users, prompt_tokens, now, entry)
        entry["status"] = response.status
        return response

    async def _answer(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        users: list[str],
        prompt_tokens: int,
        now: float,
        entry: dict[str, Any],
    ) -> web.Response:
        limited = self._rate_limited(now, prompt_tokens + int(body.get("max_tokens") or 0))
        if limited is not None:
            entry["fault"] = "rate_limit"
            return limited
        if self._fires("quota", model):
            entry["fault"] = "quota"
            return _error(
                429,
                "You exceeded your current quota (test server)",
                "insufficient_quota",
                "insufficient_quota",
            )
        if self._fires("bad_request", model):
            entry["fault"] = "bad_request"
            return _error(400, "Invalid request (test server)", "invalid_request_error", None, "messages")
        rf = body.get("response_format") or {}
        if self.script.faults.json_schema_unsupported and rf.get("type") == "json_schema":
            entry["fault"] = "json_schema_unsupported"
            return _error(
                400,
                "response_format json_schema is not supported by this model",
                "invalid_request_error",
                None,
                "response_format",
            )
        if self._fires("server_error", model):
            entry["fault"] = "server_error"
            return _error(500, "The server had an error (test server)", "server_error", None)
        if self._fires("hang", model):
            # no reply at all, so a timeout test times out for sure and its limit can stay small
            entry["fault"] = "hang"
            await _until_the_client_hangs_up(request)
            return _gone()
        if self._fires("slow", model):
            entry["fault"] = "slow"
            try:
                await asyncio.wait_for(_until_the_client_hangs_up(request), self.script.faults.slow.delay_s)
            except TimeoutError:
                pass  # the client waited the delay out: it gets its reply
            else:
                return _gone()  # nobody to answer: the handler ends now, not delay_s later
        if self.script.latency_ms:
            await asyncio.sleep(self.script.latency_ms / 1000.0)
        rule, content = self.script.reply_for_messages(body.get("messages") or [], model)
        entry["rule"] = rule
        if self._fires("malformed_json", model):
            entry["fault"] = "malformed_json"
            content = content[: max(1, len(content) // 2)]
        elif self._fires("schema_break", model):
            entry["fault"] = "schema_break"
            content = json.dumps({"unexpected": "this reply breaks the output schema"})
        completion_tokens = _tokens(content)
        reply = {
            "id": f"chatcmpl-test-{self._n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        }
        headers = self._rate_headers(time.monotonic(), 0)
        headers["x-request-id"] = f"req-test-{self._n}"
        return web.json_response(reply, headers=headers)


class ServerThread:
    """Runs a server on its own event loop in a daemon thread (tests, benchmark)."""

    def __init__(self, script: Script, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = LLMTestServer(script)
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="llm-test-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"LLM test server did not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._stop())
        self._loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.server.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def serve(script: Script, host: str, port: int) -> None:
    """Serve until cancelled (the CLI)."""
    runner = web.AppRunner(LLMTestServer(script).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    print(f"LLM test server listening on http://{host}:{bound}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
