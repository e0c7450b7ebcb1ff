"""Deterministic events of the labelled suite: sample, held-out clean, evaluation clean, injected errors.

    python bench/data/objectives/generate.py            # check the suite: gold holds on clean events,
                                                         # every injected error breaks a gold rule

The generator never looks at inferred rules: it reads the suite's YAML (fields, gold, errors) only.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

SUITE_DIR = Path(__file__).with_name("suite")
SIZES = {"sample": 300, "holdout": 100, "clean": 200}
ERRORS_PER_KIND = 3
_NAMES = [
    "ana",
    "ben",
    "chen",
    "dara",
    "eli",
    "fay",
    "gus",
    "hana",
    "ivan",
    "jo",
    "kim",
    "lea",
    "maria",
    "noor",
]
_HOSTS = ["example.com", "mail.example.org", "corp.example.net", "uni.example.edu"]

Event = dict[str, Any]


@dataclass(slots=True)
class Dataset:
    domain: str
    name: str
    pack: str
    fields: dict[str, dict[str, Any]]
    gold: list[str]
    errors: list[dict[str, Any]]
    batch: int = 1  # when added: 1 the first 30, 2 energy and telecom, 3 the blind set of 2026-12
    sample: list[Event] = field(default_factory=list)
    holdout: list[Event] = field(default_factory=list)
    clean: list[Event] = field(default_factory=list)
    injected: list[tuple[str, Event]] = field(default_factory=list)  # (error kind, event)

    def field_types(self) -> dict[str, str]:
        return {name: str(spec["type"]) for name, spec in self.fields.items()}


def load_suite(directory: Path = SUITE_DIR) -> list[Dataset]:
    out = []
    for path in sorted(directory.glob("*.yaml")):
        doc = YAML(typ="safe").load(path.read_text())
        for d in doc["datasets"]:
            out.append(
                Dataset(
                    doc["domain"],
                    d["name"],
                    d.get("pack", "core"),
                    d["fields"],
                    d["gold"],
                    d["errors"],
                    doc.get("batch", 1),
                )
            )
    return out


def _value(spec: dict[str, Any], row: Event, rng: random.Random, index: int) -> Any:
    gen = spec["gen"]
    kind, arg = next(iter(gen.items()))
    if kind == "int":
        return rng.randint(arg[0], arg[1])
    if kind in ("normal", "lognormal"):
        x = rng.gauss(arg[0], arg[1])
        x = math.exp(x) if kind == "lognormal" else x
        lo, hi = gen.get("clip", [-math.inf, math.inf])
        x = min(max(x, lo), hi)
        digits = gen.get("round")
        if digits == 0:
            return round(x) if spec["type"].rstrip("?") in ("long", "int") else float(round(x))
        return round(x, digits) if digits is not None else x
    if kind == "choice":
        return rng.choices(arg, weights=gen.get("weights"))[0]
    if kind == "pattern":
        return "".join(
            rng.choice(string.ascii_uppercase) if c == "@" else str(rng.randint(0, 9)) if c == "#" else c
            for c in arg
        )
    if kind == "seq":
        return arg.format(index)
    if kind == "date":
        start, end = (dt.date.fromisoformat(x) for x in arg)
        return (start + dt.timedelta(days=rng.randint(0, (end - start).days))).isoformat()
    if kind == "after":
        base = dt.date.fromisoformat(row[arg[0]])
        return (base + dt.timedelta(days=rng.randint(arg[1], arg[2]))).isoformat()
    if kind == "email":
        return f"{rng.choice(_NAMES)}.{rng.choice(_NAMES)}{rng.randint(1, 999)}@{rng.choice(_HOSTS)}"
    if kind == "bool":
        return rng.random() < arg
    if kind == "expr":
        # row among the globals, so a comprehension in an expression sees it too
        value = eval(arg, {"round": round, "random": rng, "row": row})  # the suite's own expressions
        return float(value) if spec["type"].rstrip("?") == "double" and isinstance(value, int) else value
    raise ValueError(f"unknown generator {kind!r}")


def clean_event(ds: Dataset, rng: random.Random, index: int) -> Event:
    row: Event = {}
    for name, spec in ds.fields.items():
        value = _value(spec, row, rng, index)
        # a double field carries floats, as the Avro decoder hands them to rules
        row[name] = float(value) if spec["type"].rstrip("?") == "double" and isinstance(value, int) else value
    # conditions may read fields generated after this one
    for name, spec in ds.fields.items():
        if ("when" in spec and not eval(spec["when"], {}, {"row": row})) or (
            spec.get("null") and rng.random() < spec["null"]
        ):
            row[name] = None
    return row


def inject(error: dict[str, Any], base: Event) -> Event | None:
    """One error applied to a clean event; None when this event cannot carry it (e.g. equal swap)."""
    ev = dict(base)
    for k, v in (error.get("set") or {}).items():
        ev[k] = v
    kind = error["kind"]
    if kind == "swapped":
        a, b = error["fields"]
        if ev.get(a) is None or ev.get(b) is None or ev[a] == ev[b]:
            return None
        ev[a], ev[b] = ev[b], ev[a]
        return ev
    name = error["field"]
    if kind == "null_required":
        ev[name] = None
    elif kind == "unit_mistake":
        if ev.get(name) is None:
            return None
        value = ev[name]
        if "expr" in error:
            new = eval(error["expr"], {"round": round}, {"value": value})
        else:
            new = value * error["factor"]
            if "min" in error:
                new = max(new, error["min"])
        ev[name] = round(float(new), 4) if isinstance(value, float) else round(new)
    else:  # out_of_range, unknown_category, new_enum_value, broken_pattern: a given wrong value
        ev[name] = error["value"]
    return ev


def build(ds: Dataset, seed: int = 20260101) -> Dataset:
    rng = random.Random(f"{seed}:{ds.domain}:{ds.name}")
    index = 0
    for part, size in SIZES.items():
        events = getattr(ds, part)
        for _ in range(size):
            events.append(clean_event(ds, rng, index))
            index += 1
    for error in ds.errors:
        made = 0
        for _ in range(200):
            if made == ERRORS_PER_KIND:
                break
            ev = inject(error, clean_event(ds, rng, index))
            index += 1
            if ev is not None:
                ds.injected.append((error["kind"], ev))
                made += 1
    return ds


def check(ds: Dataset) -> list[str]:
    """Problems of the suite itself: gold broken by clean events, or errors no gold rule catches."""
    from dana_workflows.workflow.cel_expr import compile_expr

    rules = [compile_expr(g) for g in ds.gold]

    def ok(rule: Any, ev: Event) -> bool:
        try:
            return rule.evaluate(ev) is True
        except Exception:
            return False

    problems = []
    for part in ("sample", "holdout", "clean"):
        for ev in getattr(ds, part):
            bad = [r.source for r in rules if not ok(r, ev)]
            if bad:
                problems.append(f"{ds.name}: clean {part} event breaks gold {bad[0]}: {ev}")
                break
    for kind, ev in ds.injected:
        if all(ok(r, ev) for r in rules):
            problems.append(f"{ds.name}: injected {kind} breaks no gold rule: {ev}")
    return problems


def main() -> int:
    suite = [build(d) for d in load_suite()]
    problems = [p for d in suite for p in check(d)]
    for p in problems:
        print(p)
    domains = {d.domain for d in suite}
    print(
        f"{len(suite)} datasets in {len(domains)} domains, {sum(len(d.gold) for d in suite)} gold rules, "
        f"{sum(len(d.injected) for d in suite)} injected errors; {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
