"""Deterministic loan applications for the lending example, with a known-good sample for inference.

    python docs/examples/lending/generate.py            # events.jsonl (with bad ones) and sample.jsonl

Each bad event is built to break one thing a reviewed objective should catch (an applicant of 7, a
credit score of 990, an unknown purpose, an amount in cents); the sample holds only good applications.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

PURPOSES = ["car", "home_improvement", "debt_consolidation", "education", "other"]
BAD = [
    ("applicant_age", 7),
    ("credit_score", 990),
    ("purpose", "gambling"),
    ("term_months", 7),
    ("currency", "XYZ"),
    ("application_id", "LA-12"),
]


def application(rng: random.Random, i: int) -> dict[str, Any]:
    income = float(round(min(max(math.exp(rng.gauss(11.0, 0.45)), 15000), 600000), -2))
    joint = rng.random() < 0.3
    return {
        "application_id": f"LA{i:08d}",
        "applicant_age": rng.randint(18, 79),
        "annual_income": income,
        "loan_amount": float(round(min(max(math.exp(rng.gauss(9.6, 0.7)), 1000), 250000), -2)),
        "term_months": rng.choice([12, 24, 36, 48, 60]),
        "credit_score": rng.randint(520, 850),
        "purpose": rng.choice(PURPOSES),
        "currency": rng.choice(["EUR", "EUR", "EUR", "GBP"]),
        "submitted_on": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "co_applicant_id": f"LA{rng.randrange(10**8):08d}" if joint else None,
    }


def events(count: int, seed: int, bad_share: float) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        ev = application(rng, i)
        if rng.random() < bad_share:
            field, value = rng.choice(BAD)
            ev[field] = value
        out.append(ev)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = ap.parse_args()
    (args.out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events(2000, 17, 0.05)))
    (args.out / "sample.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events(400, 23, 0.0)))


if __name__ == "__main__":
    main()
