"""Deterministic generator of refund requests for the refund-decisions example and the efficiency bench.

    python docs/examples/refunds/generate.py --count 6000 --seed 11 --out events.jsonl

Each request is built from one intent (a kind of customer message, or a fact the symbols settle),
drawn with the shares below; what the store's policy says for each intent is written in
llm_script.yaml's verify rules, from the policy, not from any run.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

# intent -> (share, message); the policy's answer for each is in llm_script.yaml
INTENTS: list[tuple[str, float, str]] = [
    ("never_arrived", 0.15, "The parcel never arrived."),
    ("damaged", 0.17, "It arrived damaged, the box was crushed."),
    ("wrong_size", 0.14, "Wrong size, it does not fit."),
    ("changed_mind", 0.14, "I changed my mind about it."),
    ("late", 0.12, "It arrived late for the event."),
    ("used", 0.05, "I opened and used it, now I want my money back."),
    ("double_charged", 0.04, "I was double charged for this order."),
    ("gift_wrong_size", 0.004, "It was a gift and the wrong size."),
    ("no_reason", 0.086, "Please refund this order."),
    ("empty", 0.03, ""),
    ("past_window", 0.04, "I would like to return this."),
    ("late_grocery", 0.03, "The fruit was not fresh."),
]
CATEGORIES = ["electronics", "apparel", "home", "grocery"]


def _total(rng: random.Random) -> float:
    total = round(min(3000.0, max(5.0, rng.lognormvariate(5.9, 1.0))), 2)
    return 1500.01 if total == 1500.0 else total  # the high-risk line is "> 1500.0": keep it unambiguous


def request(rng: random.Random, i: int) -> dict[str, Any]:
    r = rng.random()
    acc = 0.0
    intent, message = INTENTS[-1][0], INTENTS[-1][2]
    for name, share, text in INTENTS:
        acc += share
        if r < acc:
            intent, message = name, text
            break
    category = rng.choice(CATEGORIES[:3]) if intent != "late_grocery" else "grocery"
    days = rng.randrange(0, 60)
    if intent == "past_window":
        days = rng.randrange(91, 400)
    elif intent == "late_grocery":
        days = rng.randrange(8, 60)
    elif rng.random() < 0.1:  # some groceries inside their 7-day window, asked like anything else
        category, days = "grocery", rng.randrange(0, 8)
    return {
        "request_id": f"R{i:06d}",
        "order_total": _total(rng),
        "days_since_delivery": days,
        "category": category,
        "customer_tier": "gold" if rng.random() < 0.12 else "standard",
        "message": message,
    }


def generate(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [json.dumps(request(rng, i)) for i in range(count)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=Path("events.jsonl"))
    args = ap.parse_args()
    args.out.write_text("\n".join(generate(args.count, args.seed)) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
