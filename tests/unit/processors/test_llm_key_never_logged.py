"""The API key never reaches a log line: an llm step runs with a recognisable key from the environment
against the project's test server, through the real ``openai`` client over HTTP, with every logger
(ours, ``openai``, ``httpx``/``httpx2``, ``httpcore``) captured at DEBUG, through a failing request that
is retried (500 then success) and failing calls that end in the dlq (400, 429 insufficient_quota).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.settings import Settings
from dana_workflows.processors.llm import LLMClient
from dana_workflows.processors.llm.retry import RetryConfig
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.local_runs import run_with_llm

pytestmark = pytest.mark.unit

# the fixtures, whether or not the root conftest registers the plugin
llm_server_script = llm_server_plugin.llm_server_script
llm_server = llm_server_plugin.llm_server

SPEC = """
workflow: risk
input: {claim_id: string, description: string}
steps:
  - assess:
      llm:
        prompt: "Claim {{ claim_id }}: {{ description }}"
        output: {risk: string, confidence: double, rationale: string}
      retry: {max_attempts: 1, on_exhausted: dlq}
"""
EVENTS = [
    json.dumps({"claim_id": f"C{i}", "description": d})
    for i, d in enumerate(["stolen bike", "cracked screen"])
]
LOGGERS = ("", "openai", "httpx", "httpx2", "httpcore", "httpcore2", "aiohttp", "asyncio")


class Everything(logging.Handler):
    """Every record at every level, rendered every way a handler could render it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{self.format(r)} {r.args!r} {r.exc_text or ''} {vars(r)!r}" for r in self.records)


async def run(tmp_path: Path, settings: Settings) -> dict[str, Any]:
    client = LLMClient.from_settings(settings, retry=RetryConfig(max_attempts=2, base_s=0.01, max_s=0.02))
    res = await run_with_llm(SPEC, EVENTS, tmp_path, client)
    return {"out": res.read("out"), "dlq": res.read("dlq"), "rows": res.rows, "client": repr(client)}


async def test_the_api_key_appears_in_no_log_line(
    tmp_path: Path,
    llm_server: LLMServerHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = f"sk-test-SECRET-{uuid.uuid4().hex}"
    monkeypatch.chdir(tmp_path)  # no config file of the checkout's
    monkeypatch.setenv("DWF_LLM_DEFAULT__API_KEY", key)
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", llm_server.base_url)
    settings = Settings()
    assert settings.llm_default.api_key.get_secret_value() == key

    handler = Everything()
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in LOGGERS}
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).propagate = True
    logging.getLogger().addHandler(handler)
    try:
        llm_server.faults(server_error={"first": 1})  # the first request fails with 500, its retry answers
        retried = await run(tmp_path / "retried", settings)
        llm_server.faults(server_error={}, bad_request={"always": True})  # 400: never retried, dlq
        bad = await run(tmp_path / "bad", settings)
        llm_server.faults(bad_request={}, quota={"always": True})  # 429 insufficient_quota: dlq
        quota = await run(tmp_path / "quota", settings)
    finally:
        logging.getLogger().removeHandler(handler)
        for name, (level, propagate) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = propagate

    # the run did what it says: a 500 retried into an answer, then a 400 and a quota 429 into the dlq
    assert {r["payload"]["claim_id"]: r["payload"]["risk"] for r in retried["out"]} == {
        "C0": "high",
        "C1": "low",
    }
    assert len(bad["dlq"]) == 2 and len(quota["dlq"]) == 2
    statuses = [e["status"] for e in llm_server.log()]
    assert statuses.count(500) == 1 and statuses.count(400) == 2 and statuses.count(429) == 2

    # the capture saw the SDK's and the HTTP client's DEBUG lines, the failures among them
    text = handler.text() + "\n" + caplog.text
    assert any(r.name.startswith("openai") and r.levelno == logging.DEBUG for r in handler.records), text
    assert any(r.name.startswith(("httpx", "httpcore")) for r in handler.records), text
    assert "500" in text and "400" in text and "429" in text

    # the key, or a telltale part of it, is nowhere: logs, outputs, dlq errors, audit rows, repr
    telltale = key.removeprefix("sk-test-SECRET-")
    everything = "\n".join(
        [
            text,
            json.dumps([retried["out"], bad["dlq"], quota["dlq"]]),
            *(repr(r) for res in (retried, bad, quota) for r in res["rows"]),
            retried["client"],
            repr(settings),
        ]
    )
    assert key not in everything and telltale not in everything
    assert "Bearer sk-" not in everything
