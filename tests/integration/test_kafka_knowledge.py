"""The policy_claims example in the Kafka runtime: a real worker subprocess on the real broker, its
knowledge store on the real ClickHouse server (``DWF_KNOWLEDGE_DSN``), the scripted LLM server in this
process. Checked: the same answers as the local runtime (each claim from its own policy's terms, the
claim without a policy document in dlq with no call), and after the policy document changes and is
synced, a new claim is answered from the new terms while the earlier claims, produced again, replay
the versions they were decided on and make no new call.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.devservices.llm_server.script import load_script
from dana_workflows.knowledge.store import KnowledgeStore
from dana_workflows.knowledge.sync import sync
from dana_workflows.processors.pipeline import DLQ
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.stores import open_store
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.producer import produce_lines
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import load_spec
from tests.fixtures.llm_server import LLMServerHandle
from tests.integration.kafka_support import stop_worker, terminal_decisions, worker_env

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policy_claims"


@pytest.fixture
def llm_server_script() -> Any:
    return load_script(EXAMPLE / "llm_script.yaml")


def _dsn(config: ClickHouseServerConfig) -> str:
    auth = config.user + (
        f":{config.password.get_secret_value()}" if config.password.get_secret_value() else ""
    )
    return f"clickhouse://{auth}@{config.host}:{config.port}/{config.database}"


def _sync(spec: Path, dsn: str) -> None:
    store = KnowledgeStore.open(dsn)
    try:
        report = sync(
            load_spec(spec), store, lambda d: (open_store(dsn).query, "dwf"), only={"policies", "guidelines"}
        )
        assert not report.failed, report.failed
    finally:
        store.close()


async def _outcomes(
    bootstrap: str, topology: Topology, expected: int, worker: subprocess.Popen[bytes]
) -> dict[str, list[Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while True:
        got = await terminal_decisions(bootstrap, topology)
        if sum(map(len, got.values())) >= expected or loop.time() > deadline or worker.poll() is not None:
            return {b: [json.loads(d) for d in ds] for b, ds in got.items()}
        await asyncio.sleep(0.5)


async def test_policy_claims_on_kafka(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    llm_server: LLMServerHandle,
    clickhouse_database: ClickHouseServerConfig,
) -> None:
    ex = tmp_path / "ex"
    shutil.copytree(EXAMPLE, ex)
    spec = ex / "policy_claims.yaml"
    dsn = _dsn(clickhouse_database)
    _sync(spec, dsn)
    pipeline = load_pipeline(spec)
    topology = Topology(pipeline, FileRegistry(tmp_path / "schemas"), prefix=topic_prefix)
    claims = (ex / "claims.jsonl").read_text().splitlines()

    def start(log: str) -> subprocess.Popen[bytes]:
        env = worker_env(tmp_path)
        env["DWF_LLM_DEFAULT__BASE_URL"] = llm_server.base_url
        env["DWF_KNOWLEDGE_DSN"] = dsn
        cmd = [
            sys.executable,
            "-m",
            "dana_workflows.cli.worker",
            "worker",
            str(spec),
            "--broker",
            kafka_bootstrap,
        ]
        cmd += ["--prefix", topic_prefix, "--partitions", "2", "--session-timeout", "6"]
        cmd += ["--commit-interval", "0.5", "--no-audit-sink", "--metrics-port", "0"]
        return subprocess.Popen(
            cmd, env=env, stdout=(tmp_path / log).open("ab"), stderr=subprocess.STDOUT, cwd=tmp_path
        )

    await produce_lines(pipeline, topology, kafka_bootstrap, claims, partitions=2)
    worker = start("first.log")
    try:
        got = await _outcomes(kafka_bootstrap, topology, len(claims), worker)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "first.log").read_text()[-3000:]
    out = {r["payload"]["claim_id"]: r["payload"] for r in got["out"]}
    assert set(out) == {"C-1", "C-2", "C-3", "C-4", "C-5", "C-6"}
    assert all(
        p["limit_usd"] == p["policy_limit_usd"] and p["cited_policy"] == p["policy_id"] for p in out.values()
    )
    assert out["C-1"]["policy_limit_usd"] == 5000.0 and out["C-4"]["covered"] is False
    assert [r["payload"]["claim_id"] for r in got[DLQ]] == ["C-7"]
    assert "required fact 'terms' is missing" in got[DLQ][0]["provenance"]["error"]
    calls = llm_server.count()
    assert calls >= 6

    doc = ex / "policies" / "P-1001.md"
    doc.write_text(doc.read_text().replace("5000", "8000"))
    _sync(spec, dsn)
    new = json.dumps(
        {"claim_id": "C-9", "policy_id": "P-1001", "amount": 7000.0, "description": "Burst pipe."}
    )
    await produce_lines(pipeline, topology, kafka_bootstrap, [*claims[:1], new], partitions=2)
    worker = start("second.log")
    try:
        got = await _outcomes(kafka_bootstrap, topology, len(claims) + 2, worker)
    finally:
        assert stop_worker(worker) == 0, (tmp_path / "second.log").read_text()[-3000:]
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for r in got["out"]:
        by_claim.setdefault(r["payload"]["claim_id"], []).append(r["payload"])
    assert by_claim["C-9"][0]["policy_limit_usd"] == 8000.0 and by_claim["C-9"][0]["limit_usd"] == 8000.0
    assert [p["policy_limit_usd"] for p in by_claim["C-1"]] == [5000.0, 5000.0]  # replayed: same version
    assert llm_server.count() - calls <= 2  # C-9's call (and its verification); C-1 was answered by the cache
