"""A one-llm-step workflow and two reply scripts of the local test server, for CLI tests that run it offline
(`--llm-script`): the first model refuses every request (400: never retried, so the step's one attempt
fails and the event goes to dlq with that error); the second answers `{"label": "ok"}` (out)."""

from __future__ import annotations

SPEC = """\
workflow: offline
input: {id: string, text: string}
steps:
  - label:
      llm:
        prompt: "Label {{ text }}"
        output: {label: string}
      retry: {max_attempts: 1}
"""
REFUSES = "models: [dwf-test-model]\nfaults: {bad_request: {always: true}}\nrules:\n  - reply: {label: ok}\n"
ANSWERS = "models: [dwf-test-model]\nrules:\n  - reply: {label: ok}\n"
