"""LLM faults in the Kafka runtime not covered by test_kafka_llm.py: timeouts, 429 insufficient_quota,
400 bad request, a schema-breaking reply, a malformed-JSON reply (repaired, or not), and the fallback
model taking over from a failing primary.

One worker for the module (a worker subprocess on the real broker, the real ``openai`` client, the
project's test server in this process): each test switches the server's faults, produces a batch with
claim ids of its own and checks that every event reached exactly one terminal outcome (``out``, or
``dlq`` with the error: the step's policy is ``on_exhausted: dlq``), that the server saw exactly the
requests the retry rules allow, and that the worker still runs. The chain is the primary
(``dwf-test-model``) then ``dwf-fallback-model``; a fault on every model fails both. The timeout case
is last: its failures count towards the per-model circuit breakers (threshold 5).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors.pipeline import DLQ, REJECTED
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.fixtures.kafka import delete_test_topics
from tests.fixtures.llm_server import LLMServerHandle
from tests.integration.kafka_support import (
    group_offsets,
    terminal_decisions,
    wait_consumed,
    worker_env,
    worker_with_test_server,
)

pytestmark = pytest.mark.integration

# The step's limits.timeout_s: every other test here needs its replies within it, and on a loaded 2-core
# machine a normal reply took 1.3 s (1 in 150 at load 17), so not 1 s; the timeout test waits it out per call.
TIMEOUT_S = 2.0
# The slow fault's delay: so far past TIMEOUT_S that the step's limit fires for sure, yet under the
# endpoint's 30 s default, so a step whose limit were not applied would get the replies and fail the test.
SLOW_S = 20.0
SPEC = f"""
workflow: risk
input: {{claim_id: string, description: string}}
steps:
  - assess:
      llm:
        prompt: "Claim {{{{ claim_id }}}}: {{{{ description }}}}"
        output: {{risk: string, confidence: double, rationale: string}}
        fallback_models: [dwf-fallback-model]
        limits: {{timeout_s: {TIMEOUT_S}}}
      retry: {{max_attempts: 1, on_exhausted: dlq}}
"""
PRIMARY, FALLBACK = "dwf-test-model", "dwf-fallback-model"
NO_FAULTS: dict[str, Any] = {
    name: {} for name in ("quota", "bad_request", "server_error", "slow", "malformed_json", "schema_break")
}
TRANSIENT_ATTEMPTS = 4  # RetryConfig's default max_attempts (docs/llm.md)


class Worker:
    """The module's worker, its topology and the server it calls."""

    def __init__(self, tmp: Path, bootstrap: str, server: LLMServerHandle) -> None:
        self.tmp, self.bootstrap, self.server = tmp, bootstrap, server
        self.prefix = f"t{uuid.uuid4().hex[:8]}"
        spec = tmp / "risk.yaml"
        spec.write_text(SPEC)
        self.pipeline = load_pipeline(spec)
        self.topology = Topology(self.pipeline, FileRegistry(tmp / "schemas"), prefix=self.prefix)
        cmd = [
            *(sys.executable, "-m", "dana_workflows.cli.worker", "worker", str(spec), "--broker", bootstrap),
            *("--prefix", self.prefix, "--partitions", "2", "--session-timeout", "6"),
            *("--commit-interval", "0.5", "--no-audit-sink", "--metrics-port", "0"),
        ]
        env = worker_env(tmp)
        env["DWF_LLM_DEFAULT__BASE_URL"] = server.base_url
        self.log = tmp / "worker.log"
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, cwd=tmp
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def batch(
        self, case: str, descriptions: list[str], **faults: Any
    ) -> dict[str, list[dict[str, Any]]]:
        """Set the faults, produce one event per description, wait for their outcomes (by boundary)."""
        self.server.faults(**{**NO_FAULTS, **faults})
        self.server.reset_log()
        ids = [f"{case}-{i}" for i in range(len(descriptions))]
        lines = [
            json.dumps({"claim_id": c, "description": d}) for c, d in zip(ids, descriptions, strict=True)
        ]
        started = time.monotonic()
        await produce_lines(self.pipeline, self.topology, self.bootstrap, lines, partitions=2)
        deadline = started + 180  # only "eventually": the first batch waits for the worker's start too
        while True:
            got = {
                b: [r for r in (json.loads(d) for d in ds) if r["payload"]["claim_id"] in ids]
                for b, ds in (await terminal_decisions(self.bootstrap, self.topology)).items()
            }
            if sum(map(len, got.values())) >= len(ids) or time.monotonic() > deadline or not self.alive():
                break
            await asyncio.sleep(0.5)
        # A duplicate outcome could only come from a record handled again; once the worker's group has
        # committed every topic it reads to its end, nothing is left to handle again: read then.
        group = f"{self.prefix}-{self.pipeline.workflow.name}"
        for topic in sorted({topic for topic, _ in await group_offsets(self.bootstrap, group)}):
            assert await wait_consumed(self.bootstrap, group, topic, 60, self.alive), f"{topic} not consumed"
        got = {
            b: [r for r in (json.loads(d) for d in ds) if r["payload"]["claim_id"] in ids]
            for b, ds in (await terminal_decisions(self.bootstrap, self.topology)).items()
        }
        print(f"{case}: {len(ids)} events to their outcomes in {time.monotonic() - started:.1f}s")
        assert self.alive(), self.log.read_text()[-3000:]
        outcomes = Counter(r["payload"]["claim_id"] for rs in got.values() for r in rs)
        assert outcomes == Counter(ids), f"not exactly one outcome per event: {outcomes}"
        assert got[REJECTED] == []
        return got

    def requests(self) -> list[dict[str, Any]]:
        return self.server.log()


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("llm-faults")
    with worker_with_test_server(tmp, lambda server: Worker(tmp, kafka_bootstrap, server)) as started:
        yield started
    delete_test_topics(kafka_bootstrap, started.prefix)


def by_model(requests: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    return Counter((r["model"], r["status"]) for r in requests)


def errors(records: list[dict[str, Any]]) -> list[str]:
    return [r["provenance"]["error"] for r in records]


async def test_fallback_model_answers_when_the_primary_fails(worker: Worker) -> None:
    got = await worker.batch(
        "fallback", ["stolen bike", "cracked screen"], quota={"always": True, "models": [PRIMARY]}
    )
    assert got[DLQ] == []
    assert {r["payload"]["claim_id"]: r["payload"]["risk"] for r in got["out"]} == {
        "fallback-0": "high",
        "fallback-1": "low",
    }
    assert {r["provenance"].get("model") for r in got["out"]} == {FALLBACK}
    # one refused request on the primary and one answer from the fallback per event
    assert by_model(worker.requests()) == {(PRIMARY, 429): 2, (FALLBACK, 200): 2}


async def test_insufficient_quota_is_never_retried(worker: Worker) -> None:
    got = await worker.batch("quota", ["stolen bike", "hail"], quota={"always": True})
    assert got["out"] == [] and len(got[DLQ]) == 2
    assert all("llm step 'assess'" in e and "quota" in e for e in errors(got[DLQ])), errors(got[DLQ])
    # one request per model of the chain per event: no retry, no wait
    assert by_model(worker.requests()) == {(PRIMARY, 429): 2, (FALLBACK, 429): 2}


async def test_bad_request_is_never_retried(worker: Worker) -> None:
    got = await worker.batch("bad", ["stolen bike", "hail"], bad_request={"always": True})
    assert got["out"] == [] and len(got[DLQ]) == 2
    assert all("llm step 'assess'" in e for e in errors(got[DLQ])), errors(got[DLQ])
    assert by_model(worker.requests()) == {(PRIMARY, 400): 2, (FALLBACK, 400): 2}


async def test_schema_breaking_reply_gets_one_repair_then_the_policy(worker: Worker) -> None:
    got = await worker.batch("schema", ["stolen bike", "hail"], schema_break={"always": True})
    assert got["out"] == [] and len(got[DLQ]) == 2
    assert all("after one repair attempt" in e for e in errors(got[DLQ])), errors(got[DLQ])
    # the reply and its one repair, on the primary: an invalid output is not a model failure, so the
    # fallback is not asked
    requests = worker.requests()
    assert by_model(requests) == {(PRIMARY, 200): 4}
    assert sorted(r["fault"] for r in requests) == ["schema_break"] * 4


async def test_malformed_json_reply_gets_one_repair_then_the_policy(worker: Worker) -> None:
    got = await worker.batch("malformed", ["stolen bike", "hail"], malformed_json={"always": True})
    assert got["out"] == [] and len(got[DLQ]) == 2
    assert all(
        "llm step 'assess'" in e and "after one repair attempt" in e and "not valid JSON" in e
        for e in errors(got[DLQ])
    ), errors(got[DLQ])
    # the truncated reply and its one repair, on the primary: the fallback is not asked
    requests = worker.requests()
    assert by_model(requests) == {(PRIMARY, 200): 4}
    assert sorted(r["fault"] for r in requests) == ["malformed_json"] * 4
    # the repair request carries the bad reply back: system, user, the bad reply, the repair message
    assert sorted(r["messages"] for r in requests) == [2, 2, 4, 4]


async def test_malformed_json_reply_repaired_once_reaches_out(worker: Worker) -> None:
    # only the first request of the batch gets a truncated reply: its repair answers, the other event
    # is answered at once, so both reach ``out`` with their typed fields and nothing reaches the dlq
    got = await worker.batch("repaired", ["stolen bike", "cracked screen"], malformed_json={"first": 1})
    assert got[DLQ] == []
    assert {r["payload"]["claim_id"]: r["payload"]["risk"] for r in got["out"]} == {
        "repaired-0": "high",
        "repaired-1": "low",
    }
    assert {r["provenance"].get("model") for r in got["out"]} == {PRIMARY}
    requests = worker.requests()
    assert by_model(requests) == {(PRIMARY, 200): 3}
    assert [r["fault"] for r in requests].count("malformed_json") == 1
    assert sorted(r["messages"] for r in requests) == [2, 2, 4]


async def test_timeouts_are_retried_then_the_policy(worker: Worker) -> None:
    got = await worker.batch("slow", ["stolen bike"], slow={"always": True, "delay_s": SLOW_S})
    assert got["out"] == [] and len(got[DLQ]) == 1
    assert "timed out" in errors(got[DLQ])[0], errors(got[DLQ])
    requests = worker.requests()  # logged on arrival: the ones still sleeping count too
    assert Counter(r["model"] for r in requests) == {
        PRIMARY: TRANSIENT_ATTEMPTS,
        FALLBACK: TRANSIENT_ATTEMPTS,
    }
    assert {r["fault"] for r in requests} == {"slow"}
