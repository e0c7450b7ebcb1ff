"""LLMClient: calls OpenAI-compatible endpoints through the official ``openai`` client, safely at volume.

One call = cache lookup, then for each model of the chain (primary, then fallbacks): circuit breaker,
rate limits, the request (SDK retries off: ``max_retries=0``, this module is the one retry layer),
validation of the reply with at most one repair request, then a cache write. Every call returns an
audit record named after the OpenTelemetry GenAI conventions (``gen_ai.*``), plus ``dwf.llm.*`` fields
the conventions do not cover. The API key never leaves the ``openai`` client object.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

import openai

from dana_workflows.core.settings import LLMEndpoint, Settings
from dana_workflows.processors.efficiency.state import EfficiencyState
from dana_workflows.processors.llm.cache import LLMCache, cache_key
from dana_workflows.processors.llm.limits import RateLimiter, estimate_tokens
from dana_workflows.processors.llm.output import OutputError, OutputSpec, ResponseMode
from dana_workflows.processors.llm.retry import CallError, CircuitBreaker, ErrorKind, RetryConfig, classify
from dana_workflows.schemas.canonical import canonical_json

StorePrompts = Literal["store", "hash"]


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True, frozen=True)
class LLMRequest:
    """One logical call of one step for one event."""

    models: tuple[str, ...]  # model aliases: the primary, then the fallbacks in order
    prompt: str  # the rendered user prompt
    output: OutputSpec
    system: str = ""  # the rendered system prompt
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float | None = None
    template_id: str = ""
    template_version: str = ""
    prompt_hash: str = ""
    limiter: RateLimiter | None = None  # the step's own limits, applied on top of the endpoint's
    # messages after the prompt (an answer and the rule it broke: the POET send-back); part of the key
    history: tuple[dict[str, str], ...] = ()


@dataclass(slots=True)
class LLMResult:
    output: dict[str, Any] | None
    audit: dict[str, Any]
    error: str | None = None
    model: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class _Target:
    """One model on one endpoint, with the limiter and breaker every caller of it shares."""

    alias: str
    model: str
    endpoint: LLMEndpoint
    limiter: RateLimiter
    breaker: CircuitBreaker
    mode: ResponseMode


@dataclass(slots=True)
class _Reply:
    text: str | None
    response_id: str
    response_model: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int


@dataclass(slots=True)
class _Stats:
    attempts: int = 0
    rate_limited: int = 0
    repairs: int = 0
    call_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    errors: list[str] = field(default_factory=list)


def _transient_type(exc: openai.APIError) -> str:
    """error.type of a transient failure that used up its retries (processors/recovery.py reads it)."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    return "server_error"


class _ModelFailed(Exception):
    def __init__(self, error: CallError, error_type: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.error_type = error_type


def _provider_name(base_url: str) -> str:
    host = urlparse(base_url).hostname or ""
    if host.endswith("openai.com"):
        return "openai"
    if host.endswith("openai.azure.com"):
        return "azure.ai.openai"
    return "openai_compatible"


def _mentions_response_format(exc: openai.APIError) -> bool:
    return "response_format" in f"{exc.message} {getattr(exc, 'param', '')}"


class LLMClient:
    """The LLM client a worker shares between all its llm steps (``ctx.llm``)."""

    def __init__(
        self,
        default: LLMEndpoint | None = None,
        endpoints: Mapping[str, LLMEndpoint] | None = None,
        *,
        cache: LLMCache | None = None,
        store_prompts: StorePrompts = "hash",
        retry: RetryConfig | None = None,
        breaker_threshold: int = 5,
        breaker_cooldown_s: float = 30.0,
        breaker_clock: Callable[[], float] = time.monotonic,
        window_s: float = 60.0,
        response_mode: ResponseMode = "json_schema",
        repair_attempts: int = 1,
        efficiency: EfficiencyState | None = None,
    ) -> None:
        self.default = default or LLMEndpoint()
        self.endpoints = dict(endpoints or {})
        self.cache = cache
        self.store_prompts: StorePrompts = store_prompts
        self.retry = retry or RetryConfig()
        self.breaker_threshold = breaker_threshold
        self.breaker_cooldown_s = breaker_cooldown_s
        self.breaker_clock = breaker_clock  # the breakers' cooldowns run on it (tests drive a fake one)
        self.window_s = window_s
        self.response_mode: ResponseMode = response_mode
        self.repair_attempts = repair_attempts
        self.efficiency = efficiency or EfficiencyState()  # budgets, coalescing, monitor: one per worker
        self._targets: dict[str, _Target] = {}
        self._shared: dict[tuple[str, str], tuple[RateLimiter, CircuitBreaker]] = {}
        self._clients: dict[tuple[str, str, int], openai.AsyncOpenAI] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, cache: LLMCache | None = None, **kw: Any) -> LLMClient:
        return cls(
            settings.llm_default,
            settings.llm_endpoints,
            cache=cache,
            store_prompts=settings.llm_store_prompts,
            efficiency=EfficiencyState(settings.llm_efficiency, settings.data_dir / "calibration"),
            **kw,
        )

    def __repr__(self) -> str:  # never the key
        return f"LLMClient(default={self.default.base_url!r}, endpoints={sorted(self.endpoints)!r})"

    # -- endpoints ---------------------------------------------------------------------------
    def resolve(self, alias: str) -> _Target:
        """An alias names an endpoint in settings; "default" or an unknown name uses the default
        endpoint (an unknown name as the model)."""
        target = self._targets.get(alias)
        if target is not None:
            return target
        if alias in self.endpoints:
            endpoint = self.endpoints[alias]
            model = endpoint.model
        else:
            endpoint = self.default
            model = endpoint.model if alias in ("default", "") else alias
        key = (endpoint.base_url, model)
        if key not in self._shared:
            limiter = RateLimiter(
                endpoint.rpm,
                endpoint.tpm,
                endpoint.concurrency,
                window_s=self.window_s,
                name=f"{model}@endpoint",
            )
            breaker = CircuitBreaker(self.breaker_threshold, self.breaker_cooldown_s, self.breaker_clock)
            self._shared[key] = (limiter, breaker)
        limiter, breaker = self._shared[key]
        target = _Target(alias, model, endpoint, limiter, breaker, self.response_mode)
        self._targets[alias] = target
        return target

    def _client(self, endpoint: LLMEndpoint) -> openai.AsyncOpenAI:
        """One SDK client per endpoint and event loop (its connection pool belongs to one loop)."""
        secret = endpoint.api_key.get_secret_value()
        try:
            loop_id = id(asyncio.get_running_loop())
        except RuntimeError:
            loop_id = 0
        key = (endpoint.base_url, sha256_text(secret), loop_id)
        if key not in self._clients:
            self._clients[key] = openai.AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=secret or "no-key",  # local endpoints need none, the SDK insists on one
                max_retries=0,  # exactly one retry layer: ours
                timeout=endpoint.timeout_s,
            )
        return self._clients[key]

    async def aclose(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):  # a client of a finished event loop cannot close cleanly
                await client.close()
        self._clients.clear()
        self._targets.clear()

    # -- one logical call --------------------------------------------------------------------
    async def complete(self, req: LLMRequest, *, cache: LLMCache | None = None) -> LLMResult:
        """The validated output for ``req``, or an error; never raises for endpoint faults."""
        started = time.perf_counter()
        cache = cache if cache is not None else self.cache
        targets = [self.resolve(a) for a in req.models]
        key = self.request_key(req)
        system = (req.system + "\n\n" if req.system else "") + req.output.instruction()
        messages = [{"role": "system", "content": system}, {"role": "user", "content": req.prompt}]
        messages.extend(dict(m) for m in req.history)
        audit = self._base_audit(req, targets[0], messages)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return self._from_cache(hit, audit, started, req.output.fields)
        stats = _Stats()
        last: _ModelFailed | None = None
        for target in targets:
            try:
                reply = await self._call(target, req, messages, stats)
            except _ModelFailed as failed:
                stats.errors.append(f"{target.model}: {failed.error.message}")
                last = failed
                continue
            try:
                output = req.output.parse(reply.text)
            except OutputError as first_error:
                repaired = await self._repair(target, req, messages, reply, first_error, stats)
                if isinstance(repaired, str):
                    return self._failure(audit, stats, started, "output_invalid", repaired, reply)
                reply, output = repaired
            if cache is not None:
                cache.put(key, self._cache_entry(output, reply))
            return self._success(audit, stats, started, target, reply, output)
        assert last is not None
        message = "; ".join(stats.errors)
        return self._failure(audit, stats, started, last.error_type, f"all models failed: {message}", None)

    def request_key(self, req: LLMRequest) -> str:
        """The cache key of a request (also what makes two in-flight requests identical)."""
        models = tuple(self.resolve(a).model for a in req.models)
        params = {"temperature": req.temperature, "max_tokens": req.max_tokens}
        # a request without history keeps the key it always had, so existing caches stay valid
        prompt = req.prompt if not req.history else canonical_json([req.prompt, *req.history])
        return cache_key(models, req.system, prompt, params, req.output.schema)

    async def _repair(
        self,
        target: _Target,
        req: LLMRequest,
        messages: list[dict[str, str]],
        reply: _Reply,
        error: OutputError,
        stats: _Stats,
    ) -> tuple[_Reply, dict[str, Any]] | str:
        """The one repair attempt; an error message when it does not yield a valid output."""
        if self.repair_attempts < 1:
            return f"invalid output from {target.model}: {error}"
        stats.repairs += 1
        try:
            second = await self._call(
                target, req, messages + req.output.repair_messages(reply.text, str(error)), stats
            )
        except _ModelFailed as failed:
            why = failed.error.message
            return f"invalid output from {target.model} ({error}); the repair call failed: {why}"
        try:
            return second, req.output.parse(second.text)
        except OutputError as again:
            return f"invalid output from {target.model} after one repair attempt: {again}"

    async def _call(
        self, target: _Target, req: LLMRequest, messages: list[dict[str, str]], stats: _Stats
    ) -> _Reply:
        """One request that succeeds at the HTTP level, with retries; _ModelFailed when it cannot."""
        failures = 0
        waits = 0
        delay = 0.0
        timeout = min(req.timeout_s or target.endpoint.timeout_s, target.endpoint.timeout_s)
        reserve = estimate_tokens(*(m["content"] for m in messages)) + req.max_tokens
        while True:
            if delay:  # backoff after a transient failure, outside the limiter (no slot held)
                await asyncio.sleep(delay)
                delay = 0.0
            if not target.breaker.allow():
                raise _ModelFailed(
                    CallError(ErrorKind.TRANSIENT, f"circuit open for {target.model}; failing fast"),
                    "circuit_open",
                )
            step_slot = await req.limiter.acquire(reserve) if req.limiter is not None else None
            try:
                slot = await target.limiter.acquire(reserve)
            except BaseException:
                if step_slot is not None:
                    step_slot.finish(0)
                raise
            stats.attempts += 1
            used: int | None = None  # None keeps the reservation (a timed-out call may have used it)
            t0 = time.perf_counter()
            try:
                raw = await self._client(target.endpoint).chat.completions.with_raw_response.create(  # type: ignore[call-overload]
                    model=target.model,
                    messages=messages,
                    temperature=req.temperature,
                    max_tokens=req.max_tokens,
                    response_format=req.output.response_format(target.mode),
                    timeout=timeout,
                )
                reply = self._reply(raw.parse(), target)
                used = reply.input_tokens + reply.output_tokens
            except openai.APIError as exc:
                err = classify(exc)
                if isinstance(exc, openai.APIStatusError):
                    used = 0
                    target.limiter.observe_headers(exc.response.headers)
                if (
                    err.kind is ErrorKind.REQUEST
                    and target.mode == "json_schema"
                    and _mentions_response_format(exc)
                ):
                    target.mode = "json_object"  # no JSON-schema outputs here: JSON mode from now on
                    target.breaker.neutral()
                    continue
                if err.kind is ErrorKind.RATE_LIMITED:
                    stats.rate_limited += 1
                    waits += 1
                    target.breaker.neutral()
                    if waits > self.retry.max_rate_limit_waits:
                        raise _ModelFailed(err, "rate_limited") from exc
                    # a Retry-After concerns every caller of this model: pause the shared limiter
                    wait = err.retry_after_s if err.retry_after_s is not None else self.retry.backoff(waits)
                    target.limiter.pause_for(wait)
                    continue
                if err.kind is ErrorKind.TRANSIENT:
                    target.breaker.failure()
                    failures += 1
                    if failures >= self.retry.max_attempts:
                        raise _ModelFailed(err, _transient_type(exc)) from exc
                    delay = max(err.retry_after_s or 0.0, self.retry.backoff(failures))
                    continue
                target.breaker.neutral()
                raise _ModelFailed(err, err.kind.value) from exc
            finally:
                stats.call_s += time.perf_counter() - t0
                slot.finish(used)
                if step_slot is not None:
                    step_slot.finish(used)
            target.breaker.success()
            target.limiter.observe_headers(raw.headers)
            stats.input_tokens += reply.input_tokens
            stats.output_tokens += reply.output_tokens
            stats.cached_tokens += reply.cached_tokens
            return reply

    @staticmethod
    def _reply(completion: Any, target: _Target) -> _Reply:
        choice = completion.choices[0] if completion.choices else None
        usage = completion.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
        return _Reply(
            text=choice.message.content if choice is not None else None,
            response_id=completion.id or "",
            response_model=completion.model or target.model,
            finish_reason=(choice.finish_reason or "") if choice is not None else "",
            input_tokens=usage.prompt_tokens if usage is not None else 0,
            output_tokens=usage.completion_tokens if usage is not None else 0,
            cached_tokens=(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0,
        )

    # -- audit -------------------------------------------------------------------------------
    def _base_audit(self, req: LLMRequest, target: _Target, messages: list[dict[str, str]]) -> dict[str, Any]:
        audit: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": _provider_name(target.endpoint.base_url),
            "gen_ai.request.model": target.model,
            "gen_ai.request.temperature": req.temperature,
            "gen_ai.request.max_tokens": req.max_tokens,
            "server.address": urlparse(target.endpoint.base_url).hostname or "",
            "dwf.llm.template_id": req.template_id,
            "dwf.llm.template_version": req.template_version,
            "dwf.llm.prompt_hash": req.prompt_hash,
            "dwf.llm.fallback_models": [self.resolve(a).model for a in req.models[1:]],
        }
        if self.store_prompts == "store":
            audit["gen_ai.input.messages"] = messages
        return audit

    def _finish_audit(self, audit: dict[str, Any], stats: _Stats, started: float) -> None:
        audit.update(
            {
                "gen_ai.usage.input_tokens": stats.input_tokens,
                "gen_ai.usage.output_tokens": stats.output_tokens,
                "gen_ai.usage.cache_read.input_tokens": stats.cached_tokens,
                "dwf.llm.attempts": stats.attempts,
                "dwf.llm.rate_limited": stats.rate_limited,
                "dwf.llm.repairs": stats.repairs,
                "dwf.llm.latency_ms": round((time.perf_counter() - started) * 1000.0, 3),
                "dwf.llm.call_ms": round(stats.call_s * 1000.0, 3),
                "dwf.llm.cache_hit": False,
            }
        )

    def _reply_fields(self, audit: dict[str, Any], reply: _Reply) -> None:
        audit["gen_ai.response.id"] = reply.response_id
        audit["gen_ai.response.model"] = reply.response_model
        audit["gen_ai.response.finish_reasons"] = [reply.finish_reason] if reply.finish_reason else []
        if self.store_prompts == "store":
            audit["gen_ai.output.messages"] = [{"role": "assistant", "content": reply.text or ""}]
        else:
            audit["dwf.llm.reply_hash"] = sha256_text(reply.text or "")

    def _success(
        self,
        audit: dict[str, Any],
        stats: _Stats,
        started: float,
        target: _Target,
        reply: _Reply,
        out: dict[str, Any],
    ) -> LLMResult:
        self._finish_audit(audit, stats, started)
        self._reply_fields(audit, reply)
        audit["dwf.llm.model_used"] = target.model
        audit["dwf.llm.fallback_used"] = target.model != audit["gen_ai.request.model"]
        audit["dwf.llm.cost_usd"] = self.cost(
            target.endpoint, stats.input_tokens, stats.output_tokens, stats.cached_tokens
        )
        audit["dwf.llm.output_hash"] = sha256_text(canonical_json(out))
        audit["dwf.llm.outcome"] = "ok"
        if stats.errors:
            audit["dwf.llm.errors"] = stats.errors
        return LLMResult(output=out, audit=audit, model=reply.response_model)

    def _failure(
        self,
        audit: dict[str, Any],
        stats: _Stats,
        started: float,
        error_type: str,
        message: str,
        reply: _Reply | None,
    ) -> LLMResult:
        self._finish_audit(audit, stats, started)
        if reply is not None:
            self._reply_fields(audit, reply)
        audit["dwf.llm.cost_usd"] = self.cost(
            self.resolve(audit["gen_ai.request.model"]).endpoint,
            stats.input_tokens,
            stats.output_tokens,
            stats.cached_tokens,
        )
        audit["error.type"] = error_type
        audit["dwf.llm.error"] = message
        audit["dwf.llm.outcome"] = "error"
        return LLMResult(output=None, audit=audit, error=message, model=audit["gen_ai.request.model"])

    def _cache_entry(self, output: dict[str, Any], reply: _Reply) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "output": output,
            "response_id": reply.response_id,
            "response_model": reply.response_model,
            "finish_reason": reply.finish_reason,
            "reply_hash": sha256_text(reply.text or ""),
        }
        if self.store_prompts == "store":
            entry["reply"] = reply.text
        return entry

    def _from_cache(
        self, hit: dict[str, Any], audit: dict[str, Any], started: float, fields: tuple[Any, ...]
    ) -> LLMResult:
        self._finish_audit(audit, _Stats(), started)
        stored: dict[str, Any] = hit["output"]
        output = {f.name: stored.get(f.name) for f in fields}  # the spec's field order, not the store's
        audit.update(
            {
                "gen_ai.response.id": hit.get("response_id", ""),
                "gen_ai.response.model": hit.get("response_model", ""),
                "gen_ai.response.finish_reasons": [hit["finish_reason"]] if hit.get("finish_reason") else [],
                "dwf.llm.cache_hit": True,
                "dwf.llm.cost_usd": 0.0,
                "dwf.llm.output_hash": sha256_text(canonical_json(output)),
                "dwf.llm.reply_hash": hit.get("reply_hash", ""),
                "dwf.llm.model_used": hit.get("response_model", ""),
                "dwf.llm.outcome": "ok",
            }
        )
        if self.store_prompts == "store" and "reply" in hit:
            audit["gen_ai.output.messages"] = [{"role": "assistant", "content": hit["reply"] or ""}]
        return LLMResult(output=output, audit=audit, model=hit.get("response_model", ""))

    @staticmethod
    def cost(endpoint: LLMEndpoint, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Estimated USD from the endpoint's price table ({"input", "output", optional "cached_input"})."""
        prices = endpoint.price_per_mtok
        if not prices:
            return 0.0
        p_in = prices.get("input", 0.0)
        p_cached = prices.get("cached_input", p_in)
        fresh = max(0, input_tokens - cached_tokens)
        total = fresh * p_in + cached_tokens * p_cached + output_tokens * prices.get("output", 0.0)
        return round(total / 1_000_000.0, 8)
