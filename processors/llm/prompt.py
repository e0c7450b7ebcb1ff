"""Prompt templates: sandboxed Jinja2 over an event's fields, and the hash that identifies a rendering.

Sandboxed because a spec's author is not the engine's author: a template may read the event, never
reach into Python. StrictUndefined because a misspelt field must fail loudly, not render as "".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dana_workflows.schemas.canonical import canonical_json

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


class PromptError(ValueError):
    """A template that does not compile or cannot be rendered for an event."""


@dataclass(slots=True, frozen=True)
class RenderedPrompt:
    system: str
    user: str
    hash: str  # sha256 over (system, user): identifies this exact rendering in audit and provenance


def prompt_hash(system: str, user: str) -> str:
    return hashlib.sha256(canonical_json([system, user]).encode("utf-8")).hexdigest()


class PromptTemplate:
    """A step's user prompt and system prompt, compiled once."""

    def __init__(self, prompt: str, system: str = "", *, where: str = "llm step") -> None:
        self.where = where
        self._user = self._compile(prompt, "prompt")
        self._system = self._compile(system, "system") if system else None

    def _compile(self, source: str, part: str) -> jinja2.Template:
        try:
            return _ENV.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(
                f"{self.where}: the {part} template does not compile (line {exc.lineno}: {exc.message}); "
                "fix the Jinja2 syntax, e.g. '{{ field }}' for a field"
            ) from exc

    def render(self, variables: Mapping[str, Any]) -> RenderedPrompt:
        try:
            user = self._user.render(variables)
            system = self._system.render(variables) if self._system is not None else ""
        except jinja2.UndefinedError as exc:
            raise PromptError(
                f"{self.where}: the prompt uses a name the event does not have ({exc.message}); "
                f"available: {', '.join(sorted(variables))}"
            ) from exc
        except jinja2.exceptions.SecurityError as exc:
            raise PromptError(f"{self.where}: the prompt tried an unsafe operation ({exc})") from exc
        return RenderedPrompt(system=system, user=user, hash=prompt_hash(system, user))


def with_context(rendered: RenderedPrompt, context: str) -> RenderedPrompt:
    """The prompt with assembled knowledge (docs/context.md) placed before the user's question."""
    if not context:
        return rendered
    user = f"{context}\n{rendered.user}"
    return RenderedPrompt(system=rendered.system, user=user, hash=prompt_hash(rendered.system, user))
