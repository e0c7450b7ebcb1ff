"""Deterministic generator of claim events for the claims-triage example, with the expected outcomes.

    python docs/examples/claims/generate.py --count 10000 --seed 7 --out events.jsonl

Each event is built for one intended outcome, so the expected counts follow from construction,
not from running the engine: the end-to-end test compares the two.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

RATES = {"EUR": 1.1, "GBP": 1.25, "USD": 1.0}
START = 1_767_225_600  # 2026-01-01T00:00:00Z

# intended outcome -> share of events (the rest are valid)
MIX = [
    ("reject:positive_amount", 0.012),
    ("reject:known_currency", 0.010),
    ("reject:has_policy", 0.006),
    ("reject:within_limit", 0.010),
    ("reject:schema", 0.008),
    ("dlq:invalid_json", 0.004),
    ("review", 0.30),
]


def _claim(rng: random.Random, i: int, amount_usd: float, limit: float) -> dict[str, Any]:
    currency = rng.choice(["USD", "USD", "EUR", "GBP"])
    spelled = rng.choice([currency, currency.lower(), f" {currency} "])
    words = rng.choice(
        [
            "windscreen crack",
            "water damage in kitchen",
            "stolen bicycle",
            "hail on car roof",
            "broken phone screen",
            "burst pipe",
            "fire in garage",
            "lost luggage",
        ]
    )
    return {
        "claim_id": f"C{i:06d}",
        "policy_id": f"P{rng.randrange(10_000):05d}",
        "policy_limit": limit,
        "amount": round(amount_usd / RATES[currency], 2),
        "currency": spelled,
        "description": words if rng.random() > 0.05 else "",
        "submitted_at": START + i * 36 + rng.randrange(30),
        "channel": rng.choice(["web", "phone", "agent", None]),
    }


def generate(count: int, seed: int) -> tuple[list[str], Counter[str]]:
    rng = random.Random(seed)
    lines: list[str] = []
    expected: Counter[str] = Counter()
    for i in range(count):
        roll, kind, acc = rng.random(), "auto_pay", 0.0
        for name, share in MIX:
            acc += share
            if roll < acc:
                kind = name
                break
        limit = float(rng.choice([500, 1500, 2500, 5000, 10_000]))
        if kind == "auto_pay":
            ev = _claim(rng, i, rng.uniform(20, min(limit, 990) - 5), limit)
        elif kind == "review":
            ev = _claim(rng, i, rng.uniform(1010, 9000), limit)
        elif kind == "reject:within_limit":  # small enough to auto-pay, but above its policy's limit
            ev = _claim(rng, i, rng.uniform(300, 490), 250.0)
        elif kind == "reject:positive_amount":
            ev = _claim(rng, i, rng.uniform(20, 900), limit)
            ev["amount"] = rng.choice([0.0, -ev["amount"]])
        elif kind == "reject:known_currency":
            ev = _claim(rng, i, rng.uniform(20, 900), limit)
            ev["currency"] = rng.choice(["JPY", "CHF", "usdollars", ""])
        elif kind == "reject:has_policy":
            ev = _claim(rng, i, rng.uniform(20, 900), limit)
            ev["policy_id"] = ""
        elif kind == "reject:schema":  # malformed: a missing or ill-typed field
            ev = _claim(rng, i, rng.uniform(20, 900), limit)
            if rng.random() < 0.5:
                del ev[rng.choice(["amount", "claim_id", "policy_limit"])]
            else:
                ev["amount"] = rng.choice(["12.50", "n/a", True])
        else:  # dlq:invalid_json
            lines.append(json.dumps(_claim(rng, i, 100.0, limit))[:-7])
            expected["dlq"] += 1
            continue
        lines.append(json.dumps(ev))
        expected["rejected" if kind.startswith("reject") else kind] += 1
        if kind.startswith("reject"):
            expected[kind] += 1
    return lines, expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("events.jsonl"))
    ap.add_argument("--expected", type=Path, default=None, help="write the expected counts as JSON here")
    args = ap.parse_args()
    lines, expected = generate(args.count, args.seed)
    args.out.write_text("\n".join(lines) + "\n")
    if args.expected:
        args.expected.write_text(json.dumps(dict(sorted(expected.items())), indent=2) + "\n")
    print(json.dumps(dict(sorted(expected.items()))))


if __name__ == "__main__":
    main()
