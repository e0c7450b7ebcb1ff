"""The test server's script: reply rules and injectable faults, loaded from YAML, changeable at run time.

A rule matches the first user message of a request (substring or regex) and gives the reply; the
first matching rule wins and a rule without ``match`` is the default. A match can look at another part
of the conversation (``where``: the system message, the last user message, all of it) and a rule can
list several matches that must all hit, so a scripted model can answer by the facts of the prompt and
by what it is asked (answer, check the input, verify an answer, fix a broken rule).

A fault applies to the first N matching requests (``first``), every Nth (``every``), or all
(``always``), optionally only to some models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


Where = Literal["first_user", "last_user", "system", "all"]


def conversation_part(messages: list[dict[str, Any]], where: Where) -> str:
    """The text a match looks at: a message's content, or every message's joined."""

    def content(m: dict[str, Any]) -> str:
        return str(m.get("content") or "")

    users = [content(m) for m in messages if m.get("role") == "user"]
    if where == "first_user":
        return users[0] if users else ""
    if where == "last_user":
        return users[-1] if users else ""
    if where == "system":
        return "\n".join(content(m) for m in messages if m.get("role") == "system")
    return "\n".join(content(m) for m in messages)


class Match(_M):
    contains: list[str] = Field(default_factory=list)  # any of these substrings (case-insensitive)
    all: list[str] = Field(default_factory=list)  # every one of these substrings (case-insensitive)
    none: list[str] = Field(default_factory=list)  # none of these substrings (case-insensitive)
    regex: str | None = None
    model: str | None = None
    where: Where = "first_user"  # the part of the conversation matched

    def hits(self, text: str, model: str) -> bool:
        if self.model is not None and self.model != model:
            return False
        low = text.lower()
        if self.contains and not any(c.lower() in low for c in self.contains):
            return False
        if not all(c.lower() in low for c in self.all) or any(c.lower() in low for c in self.none):
            return False
        return not (self.regex is not None and re.search(self.regex, text) is None)

    def hits_messages(self, messages: list[dict[str, Any]], model: str) -> bool:
        return self.hits(conversation_part(messages, self.where), model)


class Rule(_M):
    name: str = ""
    match: Match | list[Match] | None = None  # None: the default rule; a list: every match must hit
    reply: dict[str, Any] | None = None  # a JSON object, sent as the message content
    text: str | None = None  # or raw content


class Fault(_M):
    always: bool = False
    first: int = 0
    every: int = 0
    models: list[str] = Field(default_factory=list)  # empty: every model

    def applies(self, model: str) -> bool:
        return (self.always or self.first > 0 or self.every > 0) and (not self.models or model in self.models)

    def fires(self, n: int) -> bool:
        """n: 1-based count of requests this fault applied to."""
        return self.always or n <= self.first or (self.every > 0 and n % self.every == 0)


class SlowFault(Fault):
    delay_s: float = 5.0


class RateLimit(_M):
    rpm: int | None = None  # requests per window
    tpm: int | None = None  # tokens per window
    window_s: float = 60.0
    retry_after: Literal["both", "seconds", "ms", "none"] = "both"
    retry_after_s: float | None = None  # force the header values (tests of header precedence)
    retry_after_ms: float | None = None
    headers: bool = True  # send x-ratelimit-* on every reply (off: the client only learns from 429s)


class Faults(_M):
    rate_limit: RateLimit = RateLimit()
    quota: Fault = Fault()  # 429 insufficient_quota
    bad_request: Fault = Fault()  # 400 invalid_request_error
    server_error: Fault = Fault()  # 500
    slow: SlowFault = SlowFault()  # answers after delay_s, unless the client gave up before (then 499)
    hang: Fault = Fault()  # never answers: holds the request until the client gives up (then 499)
    malformed_json: Fault = Fault()  # content is truncated JSON
    schema_break: Fault = Fault()  # content is a JSON object without the expected fields
    json_schema_unsupported: bool = False  # 400 on response_format json_schema (JSON mode still works)


class Script(_M):
    models: list[str] = Field(default_factory=lambda: ["dwf-test-model"])
    latency_ms: float = 0.0
    rules: list[Rule] = Field(default_factory=list)
    faults: Faults = Faults()

    def reply_for(self, text: str, model: str) -> tuple[str, str]:
        """(rule name, content) of the first rule matching a request whose only user message is ``text``."""
        return self.reply_for_messages([{"role": "user", "content": text}], model)

    def reply_for_messages(self, messages: list[dict[str, Any]], model: str) -> tuple[str, str]:
        """(rule name, content) of the first rule matching the conversation."""
        for i, rule in enumerate(self.rules):
            matches = (
                [] if rule.match is None else rule.match if isinstance(rule.match, list) else [rule.match]
            )
            if all(m.hits_messages(messages, model) for m in matches):
                if rule.text is not None:
                    return rule.name or f"rule{i}", rule.text
                return rule.name or f"rule{i}", json.dumps(rule.reply or {})
        return "none", "{}"


def load_script(path: Path | str) -> Script:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from dana_workflows.core.yaml_errors import yaml_error_at

    p = Path(path)
    try:
        data = YAML(typ="safe").load(p.read_text()) or {}
    except OSError as exc:
        raise ValueError(f"{p}: cannot read the LLM server script ({exc.strerror})") from exc
    except YAMLError as exc:
        raise ValueError(yaml_error_at(p, exc)) from exc
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{p}: invalid LLM server script ({problems})") from exc
