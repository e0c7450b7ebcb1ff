"""A drift monitor on an llm step's output, through the in-process runtime and the project's LLM test server.

The inputs never change; after a known event the server's script is swapped so the model answers
differently. The monitor on the step's `risk` field alerts after the swap and never before.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.settings import LLMEndpoint
from dana_workflows.processors.llm import LLMClient
from dana_workflows.processors.llm.retry import RetryConfig
from dana_workflows.streams.local.outputs import read_jsonl
from tests.fixtures.llm_server import LLMServerHandle
from tests.fixtures.local_runs import run_with_llm

pytestmark = pytest.mark.unit

# The claims_llm example's monitor (`llm_risk` on `triage.review.fraud_risk`), on a workflow small enough
# to run a few thousand llm calls: the model's answer, observed after the step, with the default thresholds.
SPEC = """
workflow: llm-drift
input: {claim_id: string, description: string, ts: long}
steps:
  - assess:
      llm:
        prompt: "Claim {{ claim_id }}: {{ description }}"
        output: {risk: string, confidence: double, rationale: string}
      retry: {max_attempts: 1}
drift:
  window: {size_s: 100, time_field: ts}
  monitors:
    - {id: llm_risk, field: risk, feature: categorical, step: assess}
"""
PER_WINDOW = 300  # one claim every 1/3 s; above min_count (240 for three labels)
WINDOWS = 6
SHIFT_AT = 3 * PER_WINDOW + 150  # mid window 3, on a whole second (the claim's ts) and a whole 10
# every 10 claims: 7 routine, 2 fires, 1 theft -> the model says low 70%, medium 20%, high 10%
DESCRIPTIONS = ["routine water damage"] * 7 + ["fire in the garage"] * 2 + ["stolen bike"]


def reply(risk: str) -> dict[str, Any]:
    return {"risk": risk, "confidence": 0.8, "rationale": f"{risk} risk"}


BEFORE = [
    {"name": "medium", "match": {"contains": ["fire"]}, "reply": reply("medium")},
    {"name": "high", "match": {"contains": ["stolen"]}, "reply": reply("high")},
    {"name": "low", "reply": reply("low")},
]
# after the swap the model calls routine claims high: low 0%, medium 20%, high 80%
AFTER = [BEFORE[0], {"name": "high", "reply": reply("high")}]


def claims() -> list[str]:
    return [
        json.dumps({"claim_id": f"C{i}", "description": DESCRIPTIONS[i % 10], "ts": i // 3})
        for i in range(WINDOWS * PER_WINDOW)
    ]


async def test_monitor_on_an_llm_output_alerts_after_the_model_shifts_and_never_before(
    tmp_path: Path, llm_server: LLMServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dana_workflows.drift.alerts")
    llm_server.control(rules=BEFORE)
    lines = claims()
    shift_us = json.loads(lines[SHIFT_AT])["ts"] * 1_000_000
    assert json.loads(lines[SHIFT_AT - 1])["ts"] * 1_000_000 < shift_us  # a clean cut, mid-window
    client = LLMClient(
        LLMEndpoint(base_url=llm_server.base_url, timeout_s=5.0),
        retry=RetryConfig(max_attempts=1, base_s=0.01, max_s=0.02),
    )

    def swap_the_model(ordinal: int) -> None:  # after claim SHIFT_AT - 1 finished: the model changes
        if ordinal == SHIFT_AT - 1:
            llm_server.control(rules=AFTER)

    res = await run_with_llm(SPEC, lines, tmp_path, client, on_event=swap_the_model)
    summary, out = res.summary, res.out

    # every claim went through the model: the monitor saw the step's output, not a default
    assert summary.outcomes["out"] == len(lines)
    assert llm_server.count(200) == len(lines)
    risks = [r["payload"]["risk"] for r in read_jsonl(out / "dwf.llm-drift.out.jsonl")]
    assert risks[:SHIFT_AT].count("low") == SHIFT_AT * 7 // 10
    assert set(risks[SHIFT_AT:]) == {"medium", "high"}

    records = read_jsonl(out / "dwf.llm-drift.drift.jsonl")
    assert [r["monitor"] for r in records] == ["llm_risk"] * WINDOWS
    assert {r["step"] for r in records} == {"assess"}
    assert records[0]["reference"] == "building"
    before = [r for r in records if int(r["window_end_us"]) <= shift_us]
    assert len(before) == 3 and all(r["level"] == "ok" for r in before), before
    first_full = next(r for r in records if int(r["window_start_us"]) >= shift_us)
    alerts = [r for r in records if r["level"] == "alert"]
    assert alerts and int(alerts[0]["window_end_us"]) > shift_us  # never before the shift
    assert int(alerts[0]["window_start_us"]) <= int(first_full["window_start_us"])  # by the first full one
    assert first_full["level"] == "alert" and first_full["closed_by"] == "watermark"
    movers = json.loads(str(first_full["top_movers"]))
    assert movers[0]["bin"] in {"low", "high"} and movers[0]["reference_share"] in (0.7, 0.1)
    # the alert is a log line naming the monitor and the labels that moved, and a run-summary line
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        logged
        == summary.drift_alerts
        == [
            line for line in summary.drift_alerts if line.startswith("drift alert: llm-drift/llm_risk (risk)")
        ]
    )
    assert len(logged) == len(alerts) and "low 70.0%->" in logged[-1] and "high 10.0%->" in logged[-1]
