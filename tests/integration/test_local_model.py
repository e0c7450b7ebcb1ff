"""LLM steps against a real model: llama.cpp's server with SmolLM2-135M (``dana-wf llm up``), through the
real ``openai`` client, in both runtimes. What is asserted is the engine's behaviour with a real server
(schema-valid answers, real usage in the audit, truncation at ``max_tokens`` going through repair and
recovery, the concurrency limit seen from the server's own slots, timeouts, a server killed mid-run), never
the model's judgement: a 135M model says "low" to nearly everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from dana_workflows.devservices import llama
from dana_workflows.processors.llm.limits import RateLimiter
from dana_workflows.processors.pipeline import DLQ
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.local.outputs import read_jsonl
from dana_workflows.streams.topology import Topology
from tests.fixtures.local_model import LocalModel, start_own_server
from tests.integration.kafka_support import start_worker, stop_worker, wait_for_outcomes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STEP = "assess"
SPEC = """
workflow: local-risk
input: {claim_id: string, description: string}
steps:
  - assess:
      llm:
        system: You assess insurance claims for fraud risk. Answer in JSON.
        prompt: |
          Claim {{ claim_id }}. The claimant wrote: "{{ description }}".
          Rate the fraud risk as low, medium or high, with your confidence and a one-line rationale.
        output: {risk: string, confidence: double, rationale: string}
        limits: LIMITS
      retry: RETRY
"""
DESCRIPTIONS = [
    "my bike was stolen from the garage",
    "a cracked phone screen after a fall",
    "water damage in the kitchen",
    "fire destroyed the shed and the tools in it",
    "hail dented the car roof",
    "lost luggage on a flight",
]


def _events(n: int) -> list[str]:
    return [
        json.dumps({"claim_id": f"C{i}", "description": DESCRIPTIONS[i % len(DESCRIPTIONS)]})
        for i in range(n)
    ]


def _spec(tmp: Path, limits: str, retry: str = "{max_attempts: 1, on_exhausted: dlq}") -> Path:
    path = tmp / "local-risk.yaml"
    path.write_text(SPEC.replace("LIMITS", limits).replace("RETRY", retry))
    return path


def _dana_wf() -> list[str]:
    exe = shutil.which("dana-wf")
    return [exe] if exe else [sys.executable, "-m", "dana_workflows.cli"]


def _env(model: LocalModel, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    env.update(model.env())
    env.update({"DWF_DATA_DIR": str(tmp / ".dwf"), "DWF_LLM_CACHE_PATH": str(tmp / "llm-cache")})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_args(tmp: Path, spec: Path, n: int) -> list[str]:
    """`dana-wf run` of the spec over n events, its outputs and audit under tmp."""
    events = tmp / "events.jsonl"
    events.write_text("\n".join(_events(n)) + "\n")
    where = ("--out", str(tmp / "out"), "--audit", f"chdb://{tmp / 'audit'}")
    return [*_dana_wf(), "run", str(spec), "--input", str(events), *where]


def _run_local(model: LocalModel, tmp: Path, spec: Path, n: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _run_args(tmp, spec, n),
        env=_env(model, tmp),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _outcomes(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for boundary in ("out", "rejected", "dlq"):
        path = tmp / "out" / f"dwf.local-risk.{boundary}.jsonl"
        found[boundary] = read_jsonl(path) if path.exists() else []
    return found


def _llm_details(model: LocalModel, tmp: Path) -> list[dict[str, Any]]:
    """The details of every audited answer of the llm step (one row per event that reached the model)."""
    query = (
        "SELECT details FROM dwf.events WHERE step = 'assess' "
        "AND JSONHas(details, 'gen_ai.request.model') ORDER BY run_id, seq"
    )
    done = subprocess.run(
        [*_dana_wf(), "audit", "sql", query, "--json", "--audit", f"chdb://{tmp / 'audit'}"],
        env=_env(model, tmp),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [
        json.loads(json.loads(line)["details"]) for line in done.stdout.splitlines() if line.startswith("{")
    ]


def test_local_runtime_gets_schema_valid_answers_and_audits_real_usage(
    local_model: LocalModel, tmp_path: Path
) -> None:
    n = 8
    done = _run_local(local_model, tmp_path, _spec(tmp_path, "{max_tokens: 120, concurrency: 2}"), n)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    got = _outcomes(tmp_path)
    assert sum(map(len, got.values())) == n  # one outcome per event
    answered = got["out"]
    assert answered, got["dlq"][:2]  # grammar-constrained JSON: the answers parse and fit the schema
    for record in answered:
        p = record["payload"]
        assert (
            isinstance(p["risk"], str)
            and isinstance(p["confidence"], float)
            and isinstance(p["rationale"], str)
        )
        assert record["provenance"]["model"] == local_model.model
    details = [d for d in _llm_details(local_model, tmp_path) if d.get("dwf.llm.outcome") == "ok"]
    assert len(details) == len(answered)
    for d in details:  # the server's own token counts, not an estimate
        assert d["gen_ai.usage.input_tokens"] > 20 and d["gen_ai.usage.output_tokens"] > 0
        assert d["gen_ai.response.model"]
    assert "llm: " in done.stdout and " calls, " in done.stdout and "tokens " in done.stdout


def test_a_reply_cut_by_max_tokens_is_repaired_once_then_recovered(
    local_model: LocalModel, tmp_path: Path
) -> None:
    n = 3
    spec = _spec(
        tmp_path, "{max_tokens: 6}", "{max_attempts: 1, on_exhausted: default, default: {risk: unknown}}"
    )
    done = _run_local(local_model, tmp_path, spec, n)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    got = _outcomes(tmp_path)
    assert sum(map(len, got.values())) == n
    # six tokens cannot hold the JSON object: the reply stops mid-way, the one repair ask is cut too, and the
    # step's recovery (its symbolic default) decides
    assert [r["payload"]["risk"] for r in got["out"]] == ["unknown"] * n
    details = _llm_details(local_model, tmp_path)
    assert len(details) == n
    for d in details:
        assert d["dwf.llm.outcome"] == "error" and d["dwf.llm.repairs"] == 1
        assert "invalid output" in d["dwf.llm.error"]
        assert "length" in json.dumps(d.get("gen_ai.response.finish_reasons"))


class _SlotWatch:
    """Samples the server's own view of its slots (GET /slots) while calls go on.

    ``sustained`` is the most slots seen busy with the same tasks in three samples in a row: a slot stays
    marked busy for a moment after its answer was sent, so a single sample can show the next request on the
    other slot beside an answer that is already out; calls that really run together are seen together for
    as long as they run (hundreds of milliseconds here)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.removesuffix("/v1") + "/slots"
        self.sustained = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _SlotWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        recent: list[frozenset[tuple[int, int]]] = []
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                try:
                    slots = client.get(self.url).json()
                except (httpx.HTTPError, ValueError):
                    continue
                busy = frozenset((s["id"], s.get("id_task", -1)) for s in slots if s.get("is_processing"))
                recent = [*recent[-2:], busy]
                if len(recent) == 3 and recent[0] == recent[1] == recent[2]:
                    self.sustained = max(self.sustained, len(busy))
                self.samples += 1
                self._stop.wait(0.01)


async def _calls_through_the_limiter(model: LocalModel, concurrency: int, n: int) -> None:
    """n chat calls at once, each admitted by the project's RateLimiter as an llm step's calls are."""
    limiter = RateLimiter(None, None, concurrency, window_s=60.0, name="local model test")
    client = openai.AsyncOpenAI(base_url=model.base_url, api_key="local", max_retries=0)

    async def one(i: int) -> None:
        reservation = await limiter.acquire(100)
        try:
            await client.chat.completions.create(
                model=model.model,
                messages=[{"role": "user", "content": f"Claim C{i}: {DESCRIPTIONS[i % len(DESCRIPTIONS)]}."}],
                max_tokens=24,
            )
        finally:
            reservation.finish()

    try:
        await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await client.close()


@pytest.mark.parametrize("concurrency", [1, 2])
def test_the_concurrency_limit_holds_against_a_server_that_queues(
    local_model: LocalModel, concurrency: int
) -> None:
    # the server has two slots and queues what is beyond them; the limiter may let only `concurrency` through
    with _SlotWatch(local_model.base_url) as watch:
        asyncio.run(_calls_through_the_limiter(local_model, concurrency, 6))
    assert watch.samples > 10
    assert (
        watch.sustained == concurrency
    )  # never more than the limit; and the probe does see two when allowed


def test_a_call_over_its_timeout_goes_to_recovery(local_model: LocalModel, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{max_tokens: 200, timeout_s: 0.01}", "{max_attempts: 2, on_exhausted: dlq}")
    done = _run_local(local_model, tmp_path, spec, 2)
    assert done.returncode == 0, done.stderr[-3000:]
    got = _outcomes(tmp_path)
    assert not got["out"] and len(got["dlq"]) == 2
    # the first calls time out; after them the circuit breaker fails the rest fast: both are recovery
    errors = [r["provenance"]["error"].lower() for r in got["dlq"]]
    assert all("timed out" in e or "timeout" in e or "circuit open" in e for e in errors), errors
    audited = json.dumps(_llm_details(local_model, tmp_path)).lower()
    assert "timed out" in audited or "timeout" in audited  # the timeout itself is on record


def test_a_server_killed_mid_run_loses_no_event(local_model: LocalModel, tmp_path: Path) -> None:
    own = start_own_server(tmp_path / "server", parallel=1, ctx_size=2048)
    model = LocalModel(own.base_url, own.model)
    n = 30
    spec = _spec(tmp_path, "{max_tokens: 60, concurrency: 1}", "{max_attempts: 2, on_exhausted: dlq}")
    run = subprocess.Popen(
        _run_args(tmp_path, spec, n),
        env=_env(model, tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_answers(own.base_url, tokens=60, alive=lambda: run.poll() is None)
        llama.down(own.data_dir, timeout_s=0)  # SIGKILL at once: the server dies mid-run
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, output[-3000:]
    got = _outcomes(tmp_path)
    assert sum(map(len, got.values())) == n  # nothing lost
    assert got["out"] and got["dlq"]  # answers before the kill, recovery after it
    # the first calls after the kill fail to connect; then the circuit breaker fails the rest fast
    reasons = Counter(r["provenance"]["error"] for r in got["dlq"])
    assert all("connect" in reason.lower() or "circuit open" in reason for reason in reasons), reasons
    assert "connect" in json.dumps(_llm_details(model, tmp_path)).lower()  # the cause is on record


def _wait_for_answers(base_url: str, tokens: int, alive: Any, limit_s: float = 300.0) -> None:
    """Until the server has predicted ``tokens`` tokens of finished answers (its own counter), or the run
    ended."""
    deadline = time.monotonic() + limit_s
    url = base_url.removesuffix("/v1") + "/metrics"
    while time.monotonic() < deadline and alive():
        try:
            text = httpx.get(url, timeout=2).text
        except httpx.HTTPError:
            text = ""
        predicted = next(
            (
                float(line.split()[1])
                for line in text.splitlines()
                if line.startswith("llamacpp:tokens_predicted_total ")
            ),
            0.0,
        )
        if predicted >= tokens:
            return
        time.sleep(0.2)
    raise AssertionError("the run ended or stalled before the server answered anything")


@pytest.mark.parametrize("guarantee", ["at_least_once"])
def test_kafka_runtime_gets_schema_valid_answers_from_the_real_model(
    local_model: LocalModel, kafka_bootstrap: str, tmp_path: Path, guarantee: str
) -> None:
    spec = _spec(tmp_path, "{max_tokens: 120, concurrency: 2}")
    pipeline = load_pipeline(spec)
    prefix = f"lm{os.getpid()}"
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=prefix)
    n = 6
    asyncio.run(produce_lines(pipeline, topology, kafka_bootstrap, _events(n), partitions=2))
    worker = start_worker(
        tmp_path,
        kafka_bootstrap,
        prefix,
        guarantee=guarantee,
        audit=f"chdb://{tmp_path / 'audit'}",
        extra=("--metrics-port", "0"),
        env=local_model.env(),
        spec=spec,
    )
    try:
        got = asyncio.run(wait_for_outcomes(kafka_bootstrap, topology, n, 300))
    finally:
        code = stop_worker(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    decided = {b: [json.loads(d) for d in ds] for b, ds in got.items()}
    assert sum(map(len, decided.values())) == n  # one outcome each
    # a 135M model's JSON can still break (cut or malformed): such an event goes to dlq naming the step
    assert all("llm step 'assess'" in r["provenance"]["error"] for r in decided.get(DLQ, []))
    assert decided["out"], decided.get(DLQ)
    for record in decided["out"]:
        p = record["payload"]
        assert isinstance(p["risk"], str) and isinstance(p["confidence"], float)
        assert record["provenance"]["model"] == local_model.model
    # the worker's audit sink stored the server's own usage for every answer, as the local runtime does
    details = [d for d in _llm_details(local_model, tmp_path) if d.get("dwf.llm.outcome") == "ok"]
    assert len({d["gen_ai.response.id"] for d in details}) == len(decided["out"])
    assert all(d["gen_ai.usage.input_tokens"] > 20 and d["gen_ai.usage.output_tokens"] > 0 for d in details)
