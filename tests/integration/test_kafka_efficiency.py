"""Both efficiency modes in the Kafka runtime: a real worker subprocess on the real broker, the refunds
example against the project's test server with the example's scripted model.

The ten requests and their expected calls are those of tests/unit/processors/llm/test_bench_counts.py
(written from the protocol of each mode): the Kafka runtime runs the same processor, so it makes the same
calls and the same decisions as the local runtime, audits the same POET phases, and shows the calls per
phase and per saving mechanism on /metrics.
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

from dana_workflows.devservices.llm_server.script import Script, load_script
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.fixtures.llm_server import LLMServerHandle
from tests.integration.kafka_support import stop_worker, terminal_decisions, worker_env
from tests.unit.processors.llm.test_bench_counts import REQUESTS, request_lines

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "examples" / "refunds" / "refunds.yaml"


@pytest.fixture
def llm_server_script() -> Script:
    return load_script(ROOT / "docs" / "examples" / "refunds" / "llm_script.yaml")


async def _run_worker(
    tmp: Path,
    bootstrap: str,
    prefix: str,
    server: LLMServerHandle,
    mode: str,
    spec: Path = SPEC,
    lines: list[str] | None = None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp / "schemas"), prefix=prefix)
    lines = lines if lines is not None else request_lines()
    await produce_lines(pipeline, topology, bootstrap, lines, partitions=2)
    cmd = [sys.executable, "-m", "dana_workflows.cli.worker", "worker", str(spec), "--broker", bootstrap]
    cmd += ["--prefix", prefix, "--partitions", "2", "--session-timeout", "6", "--commit-interval", "0.5"]
    cmd += ["--no-audit-sink", "--metrics-port", "0"]
    env = worker_env(tmp)
    env["DWF_LLM_DEFAULT__BASE_URL"] = server.base_url
    env["DWF_LLM_EFFICIENCY"] = mode
    log = tmp / f"{mode}.log"
    worker = subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=tmp)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while True:
            got = await terminal_decisions(bootstrap, topology)
            if (
                sum(map(len, got.values())) >= len(lines)
                or loop.time() > deadline
                or worker.poll() is not None
            ):
                break
            await asyncio.sleep(0.5)
        found = re.search(r"metrics and health on (http://\S+) ", log.read_text())
        assert found, log.read_text()[-3000:]
        metrics: dict[str, float] = {}
        for family in text_string_to_metric_families(httpx.get(f"{found.group(1)}/metrics", timeout=10).text):
            for s in family.samples:
                if s.name in ("dwf_llm_phase_calls_total", "dwf_llm_calls_avoided_total"):
                    key = f"{s.name}{{{s.labels.get('phase') or s.labels.get('mechanism')}}}"
                    metrics[key] = metrics.get(key, 0.0) + s.value
    finally:
        code = stop_worker(worker)
    assert code == 0, log.read_text()[-3000:]
    return {b: [json.loads(d) for d in ds] for b, ds in got.items()}, metrics


def _decisions(got: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[str, Any, Any]]:
    return {
        r["payload"]["request_id"]: (boundary, r["payload"].get("decision"), r["payload"].get("refund_share"))
        for boundary, records in got.items()
        for r in records
    }


async def test_both_modes_make_the_protocols_calls_and_the_same_decisions(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    naive, naive_metrics = await _run_worker(
        tmp_path / "n", kafka_bootstrap, f"{topic_prefix}n", llm_server, "naive"
    )
    assert llm_server.count() == sum(n for *_, n, _ in REQUESTS) == 26
    assert naive_metrics["dwf_llm_phase_calls_total{perceive}"] == 10
    assert naive_metrics["dwf_llm_phase_calls_total{enforce}"] == 8
    llm_server.reset_log()
    opt, opt_metrics = await _run_worker(
        tmp_path / "o", kafka_bootstrap, f"{topic_prefix}o", llm_server, "optimised"
    )
    assert llm_server.count() == sum(o for *_, o in REQUESTS) == 11
    assert opt_metrics["dwf_llm_phase_calls_total{combined}"] == 7
    assert opt_metrics["dwf_llm_phase_calls_total{verify}"] == 3
    assert opt_metrics["dwf_llm_calls_avoided_total{known_answer}"] == 3
    assert _decisions(opt) == _decisions(naive) and len(_decisions(opt)) == len(REQUESTS)
    assert _decisions(opt)["T5"] == ("out", "approve", 1.0)  # the double charge, sent back once
    assert _decisions(opt)["T8"][0] == "rejected"  # past the return window


SEND_BACK_SPEC = """
workflow: sendback
input: {id: string, text: string, amount: double, age: long}
steps:
  - decide:
      llm:
        prompt: "Request {{ id }}: {{ text }} (amount {{ amount }})"
        output: {decision: string, share: double, confidence: double}
        enforce: [{id: share_ok, rule: "share >= 0.0 && share <= 1.0", message: refund at most what was paid}]
      retry: {max_attempts: 1, on_exhausted: default, default: {decision: review}}
"""


async def test_a_broken_rule_is_sent_back_once_then_the_recovery_takes_over(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    from tests.unit.processors.llm.test_poet_phases import RULES

    llm_server.control(rules=RULES)
    spec = tmp_path / "sendback.yaml"
    spec.write_text(SEND_BACK_SPEC)
    lines = [
        json.dumps({"id": "a", "text": "fixable", "amount": 5.0, "age": 1}),
        json.dumps({"id": "b", "text": "stubborn", "amount": 5.0, "age": 1}),
    ]
    got, _ = await _run_worker(tmp_path, kafka_bootstrap, topic_prefix, llm_server, "optimised", spec, lines)
    assert sorted(e["rule"] for e in llm_server.log()) == ["greedy", "greedy", "greedy", "send-back-fix"]
    decisions = {r["payload"]["id"]: (r["payload"]["decision"], r["payload"]["share"]) for r in got["out"]}
    assert decisions == {"a": ("approve", 1.0), "b": ("review", None)}  # b: the step's default
