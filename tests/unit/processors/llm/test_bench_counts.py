"""A count-based check of bench/llm_efficiency.py: ten refund requests, one per kind, both modes.

Expected calls are written from the protocol (docs/efficiency.md) and the scripted model's policy
(docs/examples/refunds/llm_script.yaml), before running: naive makes a perceive call per request, and
an operate and an enforce call for each it proceeds with; optimised settles the empty message (guard),
the request past the window (input rule) and the late perishable (known answer) with no call, makes one
combined call for the rest, sends the double charge back once (share 2.0 breaks share_within_paid) and
verifies the gold customer and the low-confidence answer (medium, uncalibrated) and the 2,500 USD
order (high). No calibration: the low tier bypasses, the medium tier is always verified.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "bench"))

import llm_efficiency as bench  # noqa: E402

REQUESTS = [  # (message, order total, days, category, tier) -> naive calls, optimised calls
    ("The parcel never arrived.", 100.0, 3, "home", "standard", 3, 1),
    ("It arrived damaged, the box was crushed.", 200.0, 4, "electronics", "standard", 3, 1),
    ("Wrong size, it does not fit.", 300.0, 5, "apparel", "gold", 3, 2),  # medium: verified
    ("I changed my mind about it.", 50.0, 6, "home", "standard", 3, 1),
    ("I opened and used it, now I want my money back.", 80.0, 7, "home", "standard", 3, 2),  # 0.62 < floor
    ("I was double charged for this order.", 120.0, 8, "home", "standard", 3, 2),  # one send-back
    ("It arrived late for the event.", 2500.0, 9, "home", "standard", 3, 2),  # high: verified
    ("", 90.0, 2, "home", "standard", 1, 0),  # the guard; naive: the perceive call says so
    ("I would like to return this.", 90.0, 120, "home", "standard", 1, 0),  # past the 90-day window
    ("The fruit was not fresh.", 40.0, 20, "grocery", "standard", 3, 0),  # the known answer
]


def request_lines() -> list[str]:
    return [
        json.dumps(
            {
                "request_id": f"T{i}",
                "order_total": total,
                "days_since_delivery": days,
                "category": category,
                "customer_tier": tier,
                "message": message,
            }
        )
        for i, (message, total, days, category, tier, _, _) in enumerate(REQUESTS)
    ]


async def test_call_counts_of_a_small_fixed_run(tmp_path: Path) -> None:
    w = bench.WORKLOADS["refunds"]
    r = await bench.measure(w, w.spec(tmp_path), request_lines(), [], tmp_path)
    assert r["naive"]["calls"] == sum(n for *_, n, _ in REQUESTS) == 26
    assert r["optimised"]["calls"] == sum(o for *_, o in REQUESTS) == 11
    assert r["naive"]["calls_by_phase"] == {"perceive": 10, "operate": 8, "enforce": 8}
    assert r["optimised"]["calls_by_phase"] == {"combined": 7, "repair": 1, "verify": 3}
    assert r["optimised"]["avoided_by_mechanism"] == {
        "combined": 7,  # the perceive call folded into each combined call
        "bypass": 4,  # low, unverified: never arrived, damaged, changed mind, the repaired double charge
        "guard": 1,
        "rules": 1,
        "known_answer": 3,
    }
    assert r["differences"] == [] and r["high_risk_bypassed"] == 0 and r["high_risk_events"] == 1
    # the estimate counts this mode's send-back too; measured naive fixed that answer in its enforce call
    assert r["optimised"]["naive_calls_estimate"] == 27


def test_the_counting_proxy_forwards_and_counts_chat_calls_only() -> None:
    """--endpoint measures a real server through this proxy: calls counted as the test server counts them."""
    import httpx

    from dana_workflows.devservices.llm_server.script import Script
    from dana_workflows.devservices.llm_server.server import ServerThread

    script = Script.model_validate({"models": ["dwf-test-model"], "rules": [{"reply": {"answer": "yes"}}]})
    upstream = ServerThread(script).start()
    proxy = bench.CountingProxy(upstream.base_url).start()
    try:
        body = {"model": "dwf-test-model", "messages": [{"role": "user", "content": "hello"}]}
        for _ in range(2):
            reply = httpx.post(f"{proxy.base_url}/chat/completions", json=body, timeout=10)
            assert reply.status_code == 200
            assert json.loads(reply.json()["choices"][0]["message"]["content"]) == {"answer": "yes"}
        assert httpx.get(f"{proxy.base_url}/models", timeout=10).status_code == 200
        assert len(proxy.server.log) == 2  # the two chat calls, not the model listing
        assert len(upstream.server.log) == 2  # and each reached the upstream server once
    finally:
        proxy.stop()
        upstream.stop()
