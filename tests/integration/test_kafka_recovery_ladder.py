"""The recovery ladder in the Kafka runtime: a worker subprocess on the real broker, the real ``openai``
client and the project's test server in this process. Each batch switches the server's faults and checks
that every event ends on the rung tests/fixtures/ladder_workflow.py declares for its error class, with
exactly one terminal outcome each (nothing lost, nothing twice). The local runtime runs the same ladder in
tests/unit/processors/test_recovery_ladder_local.py; both call processors/executor.py.

Which rung placed an event shows in its record: the fallback model's name in provenance.model, the
default's rationale in the payload, the review topic (with provenance.review), the dlq topic. The worker
uses the client's own retry settings (docs/llm.md) and its circuit breakers: server errors and timeouts
open them, so those batches come last (an open breaker is a server error too, with the same rungs).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dana_workflows.processors.pipeline import DLQ, REJECTED, REVIEW
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from tests.fixtures.kafka import delete_test_topics
from tests.fixtures.ladder_workflow import FALLBACK, PRIMARY, ladder_events, ladder_spec
from tests.fixtures.llm_server import LLMServerHandle
from tests.integration.kafka_support import (
    group_offsets,
    start_worker,
    stop_worker,
    terminal_decisions,
    wait_consumed,
    wait_for_outcomes,
    worker_with_test_server,
)
from tests.integration.test_kafka_metrics import metrics_url, samples, value

pytestmark = pytest.mark.integration

# The step's limit: the tests that expect answers need them within it, and on a loaded 2-core machine a
# normal reply took 1.3 s (1 in 150 at load 17), so not 1 s; the timeout test waits it out per call.
TIMEOUT_S = 2.0
# The slow fault's delay: far past TIMEOUT_S (the limit fires for sure), under the endpoint's 30 s default.
SLOW_S = 20.0
DEFAULT_RATIONALE = "no answer: the ladder's default"
NO_FAULTS: dict[str, Any] = {
    **{
        name: {}
        for name in ("quota", "bad_request", "server_error", "slow", "malformed_json", "schema_break")
    },
    "rate_limit": {},
}

Ends = dict[str, tuple[str, dict[str, Any]]]  # claim id -> (boundary, record)


class Worker:
    def __init__(self, tmp: Path, bootstrap: str, server: LLMServerHandle) -> None:
        self.tmp, self.bootstrap, self.server = tmp, bootstrap, server
        self.prefix = f"t{uuid.uuid4().hex[:8]}"
        spec = tmp / "ladder.yaml"
        spec.write_text(ladder_spec(TIMEOUT_S))
        self.pipeline = load_pipeline(spec)
        self.topology = Topology(self.pipeline, FileRegistry(tmp / "schemas"), prefix=self.prefix)
        self.log = tmp / "worker.log"
        self.proc = start_worker(
            tmp,
            bootstrap,
            self.prefix,
            extra=("--metrics-port", "0"),
            env={"DWF_LLM_DEFAULT__BASE_URL": server.base_url},
            spec=spec,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def batch(self, case: str, **faults: Any) -> Ends:
        """Set the faults, produce the case's three claims, wait for their outcomes; one each."""
        self.server.faults(**{**NO_FAULTS, **faults})
        self.server.reset_log()
        lines = ladder_events(case)
        ids = [json.loads(line)["claim_id"] for line in lines]
        started = time.monotonic()
        await produce_lines(self.pipeline, self.topology, self.bootstrap, lines, partitions=2)
        deadline = started + 120
        while True:
            got = await self._ends(ids)
            if len(got) >= len(ids) or time.monotonic() > deadline or not self.alive():
                break
            await asyncio.sleep(0.5)
        group = f"{self.prefix}-{self.pipeline.workflow.name}"
        for topic in sorted({topic for topic, _ in await group_offsets(self.bootstrap, group)}):
            assert await wait_consumed(self.bootstrap, group, topic, 60, self.alive), f"{topic} not consumed"
        got = await self._ends(ids)  # read again once everything is committed: a duplicate would show now
        print(f"{case}: {len(ids)} events to their outcomes in {time.monotonic() - started:.1f}s")
        assert self.alive(), self.log.read_text()[-3000:]
        return got

    async def _ends(self, ids: list[str]) -> Ends:
        ends: Ends = {}
        seen = Counter[str]()
        for boundary, records in (await terminal_decisions(self.bootstrap, self.topology)).items():
            for record in (json.loads(d) for d in records):
                cid = record["payload"]["claim_id"]
                if cid in ids:
                    seen[cid] += 1
                    ends[cid] = (boundary, record)
        assert all(n == 1 for n in seen.values()), f"an event with two outcomes: {seen}"
        return ends


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("ladder")
    with worker_with_test_server(tmp, lambda server: Worker(tmp, kafka_bootstrap, server)) as started:
        yield started
    delete_test_topics(kafka_bootstrap, started.prefix)


def where(got: Ends) -> dict[str, str]:
    return {cid: boundary for cid, (boundary, _) in got.items()}


def defaulted(record: dict[str, Any]) -> bool:
    return bool(
        record["payload"]["risk"] == "unknown" and record["payload"]["rationale"] == DEFAULT_RATIONALE
    )


def review_class(record: dict[str, Any]) -> str:
    return str(record["provenance"]["review"]["error_class"])


async def test_schema_failures_go_straight_to_dlq(worker: Worker) -> None:
    got = await worker.batch("schema", schema_break={"always": True})
    assert where(got) == {f"schema-{i}": DLQ for i in range(3)}
    assert all("after one repair attempt" in rec["provenance"]["error"] for _, rec in got.values())
    # the reply and its repair on the primary per event: no retry, no fallback model
    assert Counter(e["model"] for e in worker.server.log()) == {PRIMARY: 6}


async def test_quota_on_the_primary_goes_to_the_fallback_model(worker: Worker) -> None:
    got = await worker.batch("quota", quota={"always": True, "models": [PRIMARY]})
    assert where(got) == {f"quota-{i}": "out" for i in range(3)}
    assert {rec["provenance"]["model"] for _, rec in got.values()} == {FALLBACK}
    assert got["quota-0"][1]["payload"]["risk"] == "high"  # the fallback's answer ("stolen bike")
    assert Counter((e["model"], e["status"]) for e in worker.server.log()) == {
        (PRIMARY, 429): 3,
        (FALLBACK, 200): 3,
    }


async def test_quota_everywhere_takes_the_default_but_high_risk_goes_to_review(worker: Worker) -> None:
    got = await worker.batch("broke", quota={"always": True})
    assert where(got) == {"broke-0": "out", "broke-1": "out", "broke-2": REVIEW}
    assert defaulted(got["broke-0"][1]) and defaulted(got["broke-1"][1])
    review = got["broke-2"][1]
    assert review_class(review) == "high_risk" and review["step"] == "assess"
    assert review["provenance"]["review"]["rung"] == "review"


async def test_a_refused_request_goes_to_review(worker: Worker) -> None:
    got = await worker.batch("refused", bad_request={"always": True})
    assert where(got) == {f"refused-{i}": REVIEW for i in range(3)}
    assert [review_class(got[f"refused-{i}"][1]) for i in range(3)] == ["refusal", "refusal", "high_risk"]


async def test_rate_limits_take_the_default(worker: Worker) -> None:
    limit = {"rpm": 0, "retry_after_s": 0.01, "retry_after_ms": 10, "headers": False}
    got = await worker.batch("limited", rate_limit=limit)
    assert where(got) == {"limited-0": "out", "limited-1": "out", "limited-2": REVIEW}
    assert defaulted(got["limited-0"][1]) and defaulted(got["limited-1"][1])
    # the default came without the fallback model: rate_limit starts at the default
    assert {e["model"] for e in worker.server.log()} == {PRIMARY}


async def test_timeouts_climb_to_the_default_and_high_risk_to_review(worker: Worker) -> None:
    got = await worker.batch("slow", slow={"always": True, "delay_s": SLOW_S})
    assert where(got) == {"slow-0": "out", "slow-1": "out", "slow-2": REVIEW}
    assert defaulted(got["slow-0"][1]) and defaulted(got["slow-1"][1])
    assert review_class(got["slow-2"][1]) == "high_risk"
    assert FALLBACK in {e["model"] for e in worker.server.log()}  # the fallback rung was tried


async def test_server_errors_climb_to_the_default_and_high_risk_to_review(worker: Worker) -> None:
    got = await worker.batch("down", server_error={"always": True})
    assert where(got) == {"down-0": "out", "down-1": "out", "down-2": REVIEW}
    assert defaulted(got["down-0"][1]) and defaulted(got["down-1"][1])
    assert "review" in got["down-2"][1]["provenance"] and got["down-2"][1]["provenance"]["error"]
    assert [b for b, _ in got.values()].count(REJECTED) == 0


async def test_each_rung_attempt_is_counted_in_the_metrics(worker: Worker) -> None:
    """The batches above, as the worker's /metrics counts them (labels only those batches produce)."""
    scraped = samples(httpx.get(f"{metrics_url(worker.log)}/metrics", timeout=10).text)

    def attempts(rung: str, error_class: str, outcome: str) -> float:
        labels = {"workflow": "ladder", "step": "assess", "rung": rung, "error_class": error_class}
        return value(scraped, "dwf_recovery_attempts_total", **labels, outcome=outcome)

    assert attempts("dlq", "schema", "failure") == 2  # schema-0, schema-1 (schema-2 is high_risk)
    assert attempts("fallback_model", "quota", "success") == 2  # quota-0, quota-1
    assert attempts("fallback_model", "quota", "failure") == 2  # broke-0, broke-1
    assert attempts("default", "quota", "success") == 2
    assert attempts("review", "refusal", "success") == 2  # refused-0, refused-1
    assert attempts("default", "rate_limit", "success") == 2  # limited-0, limited-1
    review_out = value(scraped, "dwf_events_out_total", workflow="ladder", step="assess", outcome="review")
    assert review_out == 1 + 3 + 1 + 1 + 1  # broke-2, refused-*, limited-2, slow-2, down-2


async def test_a_model_nobody_answers_is_transport_and_climbs_to_the_default(
    kafka_bootstrap: str, tmp_path: Path, topic_prefix: str
) -> None:
    """A worker whose endpoint is a port where nothing listens (the discard port): every call fails to
    connect. The ladder climbs retry -> fallback model -> default; the high-amount claim goes to review.
    (The local runtime's twin: test_a_connection_failure_is_transport in test_recovery_ladder_local.py.)"""
    prefix = topic_prefix
    spec = tmp_path / "ladder.yaml"
    spec.write_text(ladder_spec(TIMEOUT_S))
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=prefix)
    await produce_lines(pipeline, topology, kafka_bootstrap, ladder_events("gone"), partitions=2)
    nobody = {"DWF_LLM_DEFAULT__BASE_URL": "http://127.0.0.1:9/v1"}
    worker = start_worker(tmp_path, kafka_bootstrap, prefix, env=nobody, spec=spec)
    try:
        got = await wait_for_outcomes(kafka_bootstrap, topology, 3, 180, alive=lambda: worker.poll() is None)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    ends = {json.loads(d)["payload"]["claim_id"]: (b, json.loads(d)) for b, ds in got.items() for d in ds}
    assert where(ends) == {"gone-0": "out", "gone-1": "out", "gone-2": REVIEW}
    assert defaulted(ends["gone-0"][1]) and defaulted(ends["gone-1"][1])
    assert review_class(ends["gone-2"][1]) == "high_risk"
    # the error names the failure: the connection, or the breaker that opened after enough of them (an
    # open breaker is a server error with the same rungs: the module docstring)
    error = ends["gone-2"][1]["provenance"]["error"].lower()
    assert "all models failed" in error and ("connect" in error or "circuit open" in error)
