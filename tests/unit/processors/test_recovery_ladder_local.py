"""The recovery ladder in the local runtime, through the real ``openai`` client against the project's test
server: each error class ends on the rung tests/fixtures/ladder_workflow.py declares for it, every event
gets exactly one outcome, and each rung attempt is an audit row (docs/recovery.md).

Marked ``unit``: the server is ours, in-process, on an ephemeral port; no Kafka, no ClickHouse. The Kafka
runtime runs the same ladder in tests/integration/test_kafka_recovery_ladder.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.llm import LLMClient
from dana_workflows.processors.llm.retry import RetryConfig
from dana_workflows.sinks.verify import verify_rows
from tests.fixtures import llm_server as llm_server_plugin
from tests.fixtures.ladder_workflow import FALLBACK, HIGH, PRIMARY, ladder_events, ladder_spec
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.local_runs import LocalRun, run_with_llm

pytestmark = pytest.mark.unit

llm_server_script = llm_server_plugin.llm_server_script
llm_server = llm_server_plugin.llm_server

# The step's limit where the server answers: a normal reply never comes near it, however loaded the machine
# (a 0.3 s limit there turned a schema failure into a timeout rung under load 6-10 on 2 cores).
LIMIT_S = 30.0
# The step's limit in the timeout test only, where the server answers after SLOW_S: so far past the limit
# that it fires for sure and may stay small (waited out once per call: 9 calls), yet under the client's
# LIMIT_S, so a step whose limit were not applied would get the replies and fail the test.
TIMEOUT_S = 0.3
SLOW_S = 10.0


async def run(
    tmp_path: Path, server: LLMServerHandle, case: str, limit_s: float = LIMIT_S, **faults: Any
) -> LocalRun:
    server.faults(**faults)
    client = LLMClient(
        LLMEndpoint(base_url=server.base_url, timeout_s=LIMIT_S),
        retry=RetryConfig(max_attempts=1, max_rate_limit_waits=2, base_s=0.01, max_s=0.02),
        breaker_threshold=1000,  # the breaker is the client's business: here every failure reaches the ladder
    )
    return await run_with_llm(ladder_spec(limit_s), ladder_events(case), tmp_path / case, client)


def outcomes(res: LocalRun) -> dict[str, tuple[str, dict[str, Any]]]:
    """claim id -> (where it ended, its record); fails unless every event has exactly one outcome."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    ends = Counter[str]()
    for boundary in ("out", "dlq", "review", "rejected"):
        for record in res.read(boundary):
            cid = record["payload"]["claim_id"]
            ends[cid] += 1
            seen[cid] = (boundary, record)
    assert set(ends.values()) == {1} and len(ends) == 3, f"not one outcome per event: {ends}"
    assert verify_rows(res.rows).ok
    return seen


def rungs(res: LocalRun, case: str, i: int) -> list[tuple[str, str, bool]]:
    """(rung, error class, succeeded) of each `recovery` row of one event, in order."""
    rows = [r for r in res.rows if r.kind == "recovery" and r.run_id == _run_of(res, case, i)]
    out = []
    for r in rows:
        d = json.loads(r.details)
        out.append((r.decision, d["error_class"], d["succeeded"]))
    return out


def _run_of(res: LocalRun, case: str, i: int) -> str:
    for boundary in ("out", "dlq", "review"):
        for record in res.read(boundary):
            if record["payload"]["claim_id"] == f"{case}-{i}":
                return str(record["run_id"])
    raise AssertionError(f"{case}-{i} has no outcome")


def models_asked(server: LLMServerHandle) -> Counter[str]:
    return Counter(str(e["model"]) for e in server.log())


async def test_a_first_attempt_that_succeeds_never_touches_the_ladder(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    res = await run(tmp_path, llm_server, "ok")
    assert {cid: where for cid, (where, _) in outcomes(res).items()} == {f"ok-{i}": "out" for i in range(3)}
    assert [r for r in res.rows if r.kind in ("recovery", "error")] == []
    assert models_asked(llm_server) == {PRIMARY: 3}  # the primary only: the fallback is the ladder's rung


async def test_a_schema_failure_skips_the_retries_and_goes_to_dlq(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    res = await run(tmp_path, llm_server, "schema", schema_break={"always": True})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {f"schema-{i}": "dlq" for i in range(3)}
    assert all("after one repair attempt" in rec["provenance"]["error"] for _, rec in got.values())
    for i in range(3):
        cls = "high_risk" if i == HIGH else "schema"
        assert rungs(res, "schema", i) == [("dlq", cls, False)]
    # one reply and its repair per event on the primary; no retry, no fallback
    assert models_asked(llm_server) == {PRIMARY: 6}


async def test_quota_goes_to_the_fallback_model_at_once(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    res = await run(tmp_path, llm_server, "quota", quota={"always": True, "models": [PRIMARY]})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {f"quota-{i}": "out" for i in range(3)}
    assert {rec["provenance"]["model"] for _, rec in got.values()} == {FALLBACK}
    assert got["quota-0"][1]["payload"]["risk"] == "high"  # the fallback's own answer ("stolen")
    assert rungs(res, "quota", 0) == [("fallback_model", "quota", True)]
    assert rungs(res, "quota", HIGH) == [("fallback_model", "high_risk", True)]
    assert models_asked(llm_server) == {PRIMARY: 3, FALLBACK: 3}  # no retry on the primary


async def test_quota_everywhere_ends_on_the_default_and_high_risk_on_review(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    res = await run(tmp_path, llm_server, "broke", quota={"always": True})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {
        "broke-0": "out",
        "broke-1": "out",
        "broke-2": "review",
    }
    assert got["broke-0"][1]["payload"]["risk"] == "unknown"
    assert rungs(res, "broke", 0) == [("fallback_model", "quota", False), ("default", "quota", True)]
    review = got["broke-2"][1]
    assert review["step"] == "assess"
    assert review["provenance"]["review"]["error_class"] == "high_risk"
    assert review["provenance"]["review"]["rung"] == "review"
    assert "quota" in review["provenance"]["review"]["reason"]
    assert [r.kind for r in res.rows if r.kind == "review"] == ["review"]


async def test_server_errors_climb_retry_fallback_then_default(
    tmp_path: Path, llm_server: LLMServerHandle
) -> None:
    res = await run(tmp_path, llm_server, "down", server_error={"always": True})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {
        "down-0": "out",
        "down-1": "out",
        "down-2": "review",  # a default exists, but never for an event the domain rule names
    }
    assert rungs(res, "down", 1) == [
        ("retry", "server", False),
        ("fallback_model", "server", False),
        ("default", "server", True),
    ]
    assert rungs(res, "down", HIGH) == [
        ("retry", "high_risk", False),
        ("fallback_model", "high_risk", False),
        ("review", "high_risk", True),
    ]
    # per event: the first attempt and the retry on the primary, one attempt on the fallback
    assert models_asked(llm_server) == {PRIMARY: 6, FALLBACK: 3}


async def test_timeouts_climb_the_same_way(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    res = await run(tmp_path, llm_server, "slow", limit_s=TIMEOUT_S, slow={"always": True, "delay_s": SLOW_S})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {
        "slow-0": "out",
        "slow-1": "out",
        "slow-2": "review",
    }
    assert rungs(res, "slow", 0) == [
        ("retry", "timeout", False),
        ("fallback_model", "timeout", False),
        ("default", "timeout", True),
    ]
    # per event: the first attempt and the retry on the primary, one attempt on the fallback; none answered
    assert models_asked(llm_server) == {PRIMARY: 6, FALLBACK: 3}
    assert {e["fault"] for e in llm_server.log()} == {"slow"}


async def test_a_refused_request_goes_to_review(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    res = await run(tmp_path, llm_server, "refused", bad_request={"always": True})
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {f"refused-{i}": "review" for i in range(3)}
    assert rungs(res, "refused", 0) == [("review", "refusal", True)]


async def test_rate_limits_go_to_the_default(tmp_path: Path, llm_server: LLMServerHandle) -> None:
    limit = {"rpm": 0, "retry_after_s": 0.01, "retry_after_ms": 10, "headers": False}
    res = await run(tmp_path, llm_server, "limited", rate_limit=limit)
    got = outcomes(res)
    assert {cid: where for cid, (where, _) in got.items()} == {
        "limited-0": "out",
        "limited-1": "out",
        "limited-2": "review",
    }
    assert rungs(res, "limited", 0) == [("default", "rate_limit", True)]


async def test_a_connection_failure_is_transport(tmp_path: Path) -> None:
    client = LLMClient(
        LLMEndpoint(base_url="http://127.0.0.1:9/v1", timeout_s=2.0),  # discard port: nothing listens
        retry=RetryConfig(max_attempts=1, base_s=0.01, max_s=0.02),
        breaker_threshold=1000,
    )
    res = await run_with_llm(ladder_spec(LIMIT_S), ladder_events("gone"), tmp_path, client)
    got = outcomes(res)
    assert got["gone-0"][0] == "out" and got["gone-0"][1]["payload"]["risk"] == "unknown"
    assert rungs(res, "gone", 0) == [
        ("retry", "transport", False),
        ("fallback_model", "transport", False),
        ("default", "transport", True),
    ]
