"""LLM steps in the Kafka runtime: a real worker subprocess on the real broker, calling the project's
OpenAI-compatible test server (in this process) through the real ``openai`` client over HTTP.

The worker gets the server's address from ``DWF_LLM_DEFAULT__BASE_URL``, as a deployment would.
Checked: replies fill the step's typed fields; a server that always fails sends events to the dlq or to
the step's symbolic default, per its retry policy; 429s with Retry-After are waited out; and a rerun of
the same events by a restarted worker makes no new call (the reply cache is a changelog-backed table).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dana_workflows.processors.pipeline import DLQ
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.risk_workflow import RISK_EVENTS, RISK_SPEC
from tests.integration.kafka_support import stop_worker, terminal_decisions, worker_env

pytestmark = pytest.mark.integration

SPEC, EVENTS = RISK_SPEC, RISK_EVENTS
RISKS = {"C0": "high", "C1": "low", "C2": None, "C3": "high", "C4": "low"}


class Run:
    def __init__(self, tmp: Path, bootstrap: str, prefix: str, server: LLMServerHandle, retry: str) -> None:
        self.tmp, self.bootstrap, self.prefix, self.server = tmp, bootstrap, prefix, server
        self.spec = tmp / "risk.yaml"
        self.spec.write_text(SPEC.replace("RETRY", retry))
        self.pipeline = load_pipeline(self.spec)
        self.topology = Topology(self.pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)

    def start(self, log_name: str) -> subprocess.Popen[bytes]:
        cmd = [
            *(
                sys.executable,
                "-m",
                "dana_workflows.cli.worker",
                "worker",
                str(self.spec),
                "--broker",
                self.bootstrap,
            ),
            *("--prefix", self.prefix, "--partitions", "2", "--session-timeout", "6"),
            *("--commit-interval", "0.5", "--no-audit-sink", "--metrics-port", "0"),
        ]
        env = worker_env(self.tmp)
        env["DWF_LLM_DEFAULT__BASE_URL"] = self.server.base_url
        log = (self.tmp / log_name).open("ab")
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)

    async def events(self, log_name: str = "worker.log", expected: int = len(EVENTS)) -> dict[str, Any]:
        """Produce the events, let a worker take them to their outcomes, stop it (SIGTERM)."""
        await produce_lines(self.pipeline, self.topology, self.bootstrap, EVENTS, partitions=2)
        worker = self.start(log_name)
        try:
            # a bound, not a measure: a worker that takes over a group and rebuilds its cache table from
            # the changelog under a loaded CI machine (coverage in every process) needed more than 60 s
            got = await self.outcomes(expected, 180, alive=lambda: worker.poll() is None)
            scraped = scrape(self.tmp / log_name)
        finally:
            code = stop_worker(worker)
        assert code == 0, (self.tmp / log_name).read_text()[-3000:]
        return {**{b: [json.loads(d) for d in ds] for b, ds in got.items()}, "metrics": scraped}

    async def outcomes(self, expected: int, timeout_s: float, alive: Any) -> dict[str, list[str]]:
        """Terminal records (reruns included: the same run ids twice), once ``expected`` arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            got = await terminal_decisions(self.bootstrap, self.topology)
            if sum(map(len, got.values())) >= expected or loop.time() > deadline or not alive():
                return got
            await asyncio.sleep(0.5)


def scrape(log: Path) -> dict[str, float]:
    """The worker's LLM metrics (``name{status}`` -> value, summed over the other labels)."""
    found = re.search(r"metrics and health on (http://\S+) ", log.read_text())
    assert found, log.read_text()[-2000:]
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{found.group(1)}/metrics", timeout=10).text):
        for s in family.samples:
            if s.name.startswith("dwf_llm_") and not s.name.endswith("_created"):
                key = f"{s.name}{{{s.labels.get('status') or s.labels.get('kind') or ''}}}"
                out[key] = out.get(key, 0.0) + s.value
    return out


def risks(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {r["payload"]["claim_id"]: r["payload"]["risk"] for r in records}


async def test_replies_fill_typed_fields_and_a_rerun_after_restart_makes_no_call(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    run = Run(tmp_path, kafka_bootstrap, topic_prefix, llm_server, "{max_attempts: 1}")
    first = await run.events("first.log")
    assert risks(first["out"]) == RISKS
    assert all(isinstance(r["payload"]["confidence"], float) for r in first["out"] if r["payload"]["risk"])
    assert llm_server.count() == 4  # the empty description was settled by the `when` guard, no call
    assert first["metrics"]["dwf_llm_calls_total{ok}"] == 4
    assert first["metrics"]["dwf_llm_tokens_total{input}"] > 0

    # the same lines again (same run ids, same partitions), a new worker of the same group: its cache
    # table is rebuilt from the changelog and answers every call
    second = await run.events("second.log", expected=2 * len(EVENTS))
    assert len(second["out"]) == 2 * len(EVENTS) and second[DLQ] == []
    assert llm_server.count() == 4, "the rerun called the LLM again instead of using the table cache"
    assert second["metrics"]["dwf_llm_cache_hits_total{}"] == 4
    assert second["metrics"].get("dwf_llm_calls_total{ok}", 0.0) == 0
    print(f"llm cache: rerun of {len(EVENTS)} events after a restart made {llm_server.count() - 4} calls")


@pytest.mark.parametrize(
    "policy",
    [
        "{max_attempts: 1, on_exhausted: dlq}",
        "{max_attempts: 1, on_exhausted: default, default: {risk: unknown}}",
    ],
)
async def test_server_failing_sends_events_to_the_policys_end(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle, policy: str
) -> None:
    llm_server.faults(server_error={"always": True})
    got = await Run(tmp_path, kafka_bootstrap, topic_prefix, llm_server, policy).events()
    calls = llm_server.count(500)
    assert got["metrics"]["dwf_llm_calls_total{error}"] == 4
    assert calls >= 1 and llm_server.count() == calls  # nothing but failures was answered
    if "dlq" in policy:
        assert risks(got["out"]) == {"C2": None}
        assert sorted(r["payload"]["claim_id"] for r in got[DLQ]) == ["C0", "C1", "C3", "C4"]
        assert all("llm step 'assess'" in r["provenance"]["error"] for r in got[DLQ])
    else:
        assert got[DLQ] == []
        assert risks(got["out"]) == {c: None if r is None else "unknown" for c, r in RISKS.items()}
    print(f"500s ({policy}): {calls} requests for 4 calls (retries, then the circuit breaker)")


async def test_429_with_retry_after_is_waited_out(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    llm_server.faults(rate_limit={"rpm": 2, "window_s": 0.5, "retry_after_ms": 200, "headers": False})
    got = await Run(tmp_path, kafka_bootstrap, topic_prefix, llm_server, "{max_attempts: 1}").events()
    assert risks(got["out"]) == RISKS and got[DLQ] == []
    assert llm_server.count(429) >= 1 and llm_server.count(200) == 4
    assert got["metrics"]["dwf_llm_rate_limited_total{}"] == llm_server.count(429)
    print(f"429s: {llm_server.count(429)} refused requests waited out, 4 calls answered")
