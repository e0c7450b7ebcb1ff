"""Context assembly on the labelled suite (bench/data/context): figures, never a pass/fail.

    python bench/context_assembly.py [--budgets 512 1000 2000] [--limit N] [--latency-pool 10000]

For every step instance of the suite and every budget it reports, for the assembler
(dana_workflows.knowledge) and two baselines measured in the same run:

* recall of the gold facts, share of the budget spent on gold chunks, overruns (the context's true
  size, counted with cl100k and o200k, over the allowance the method gave itself), latency p50/p95;
* baseline "trust x recency": chunks ranked by declared trust x recency with no regard to the
  question, a fixed 40% of the budget filled greedily, sizes estimated at 1.3 tokens per word;
* baseline "BM25 top-k": the same bm25s scores, the top chunks taken in order while they fit the same
  allowance the assembler has (no filters, no required facts, no quality weighting).

Also: the token estimator against the real BPE tables (largest under-count; none is allowed), the
completeness check (each needed fact declared required; a pool with one of them removed must be
caught, the full pool must pass) and assembly latency over a pool of 10,000 chunks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from dana_workflows.knowledge.assemble import Assembler, edges_first, render
from dana_workflows.knowledge.chunks import Chunk
from dana_workflows.knowledge.facts import Fact
from dana_workflows.knowledge.index import Candidate, ChunkIndex, block
from dana_workflows.knowledge.tokens import EstimatingCounter, TokenCounter, counter_for
from dana_workflows.knowledge.validate import check_facts

DATA = Path(__file__).parent / "data" / "context"
DOMAINS = ("insurance", "incidents", "returns")
INSTRUCTIONS = (
    "You are a careful case handler. Use only the knowledge below; cite chunk ids in brackets. "
    "Answer in JSON with the fields decision, amount and rationale.\n\nCase: {query}"
)
DAY_US = 86_400_000_000
NOW_US = 1_780_000_000_000_000


@dataclass
class Instance:
    id: str
    part: str  # "ids in the query" (part 1) or "free text" (part 2)
    domain: str
    query: str
    filters: dict[str, Any]
    declared: list[Fact]
    gold: list[str]
    gold_facts: list[Fact]


@dataclass
class Pool:
    chunks: list[Chunk]
    trust: dict[str, float]  # chunk id -> declared trust of its source


@dataclass
class Tally:
    recall: list[float] = field(default_factory=list)
    gold_share: list[float] = field(default_factory=list)
    overruns: int = 0
    ms: list[float] = field(default_factory=list)


def load_suite(limit: int | None = None) -> tuple[dict[str, Pool], list[Instance]]:
    pools: dict[str, Pool] = {}
    for d in DOMAINS:
        rows = [json.loads(line) for line in (DATA / f"pool_{d}.jsonl").open()]
        chunks = [
            Chunk(r["chunk_id"], r["source"], r["text"], r["meta"], r["chunk_id"], r["updated_us"])
            for r in rows
        ]
        pools[d] = Pool(chunks, {r["chunk_id"]: float(r["trust"]) for r in rows})
    instances = []
    lines = [*(DATA / "suite.jsonl").open(), *(DATA / "suite_free_text.jsonl").open()]
    for line in lines:
        r = json.loads(line)
        instances.append(
            Instance(
                r["id"],
                r.get("part", "ids in the query"),
                r["domain"],
                r["query"],
                r["filters"],
                [Fact(f["id"], f["source"], f["where"]) for f in r["declared"]],
                r["gold"],
                [Fact(f"gold{i}", g["source"], g["where"]) for i, g in enumerate(r["gold_where"])],
            )
        )
    return pools, instances[:limit] if limit else instances


def trust_recency(pool: Pool, budget: int) -> list[Chunk]:
    """The reference: trust x recency, a fixed 40% of the budget, 1.3 tokens per word."""

    def score(c: Chunk) -> float:
        age_days = max(0.0, (NOW_US - c.updated_us) / DAY_US)
        return pool.trust[c.chunk_id] * math.exp(-age_days / 365.0)

    allowance = 0.4 * budget
    used = 0.0
    out = []
    for c in sorted(pool.chunks, key=score, reverse=True):
        size = 1.3 * len(block(c).split())
        if used + size <= allowance:
            out.append(c)
            used += size
    return out


def bm25_topk(index: ChunkIndex, query: str, allowance: int) -> list[Candidate]:
    scores = index.scores(query)
    out: list[Candidate] = []
    used = 0
    for i in np.argsort(-scores, kind="stable"):
        c = index.candidates[int(i)]
        if used + c.tokens > allowance:
            break  # top-k: k is how many of the best fit, in order
        out.append(c)
        used += c.tokens
    return out


def score(
    selected: Sequence[Chunk], gold: Sequence[str], budget: int, truth: TokenCounter
) -> tuple[float, float]:
    ids = {c.chunk_id for c in selected}
    found = [g for g in gold if g in ids]
    gold_tokens = sum(truth.count(block(c)) for c in selected if c.chunk_id in set(gold))
    return len(found) / len(gold), gold_tokens / budget


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    # method -> (its counter, the tokenizers its overruns are checked against: the model's own)
    "assembler, cl100k model": ("cl100k_base", ("cl100k_base",)),
    "assembler, o200k model": ("o200k_base", ("o200k_base",)),
    "assembler, estimator": ("estimate", ("cl100k_base", "o200k_base")),
}


def _counter(name: str) -> TokenCounter:
    return EstimatingCounter() if name == "estimate" else counter_for(name)


def run_budgets(pools: dict[str, Pool], instances: list[Instance], budgets: list[int]) -> None:
    truth = {n: counter_for(n) for n in ("cl100k_base", "o200k_base")}
    indexes = {
        (d, m): ChunkIndex(pools[d].chunks, _counter(c)) for d in DOMAINS for m, (c, _) in METHODS.items()
    }
    parts = sorted({i.part for i in instances})
    print(
        f"\n## Assembly on {len(instances)} step instances "
        f"({', '.join(f'{d}: {len(pools[d].chunks)} chunks' for d in DOMAINS)})"
    )
    print("overruns: the context's true size (instructions + sections) over the allowance the method gave")
    print("itself; each assembler against its model's tokenizer, the estimator and baselines against both")
    print(
        "\nmethod | budget | recall (all / "
        + " / ".join(parts)
        + ") | gold share of budget | overruns | p50 ms | p95 ms"
    )
    for budget in budgets:
        rows: dict[str, Tally] = {}
        for name, (_, checks) in METHODS.items():
            tally = Tally()
            for inst in instances:
                asm = Assembler(indexes[(inst.domain, name)], budget)
                instructions = INSTRUCTIONS.format(query=inst.query)
                t0 = time.perf_counter()
                out = asm.assemble(inst.query, instructions, filters=inst.filters, facts=inst.declared)
                tally.ms.append((time.perf_counter() - t0) * 1000.0)
                r, share = score([c.chunk for c in out.used], inst.gold, budget, truth["cl100k_base"])
                tally.recall.append(r)
                tally.gold_share.append(share)
                allowance = budget - asm.reserve
                size = max(truth[t].count(instructions) + 8 + truth[t].count(out.context()) for t in checks)
                tally.overruns += size > allowance
            rows[name] = tally
        tr = Tally()  # baseline: trust x recency (query-blind, 40%, 1.3 tokens/word)
        for inst in instances:
            t0 = time.perf_counter()
            chosen = trust_recency(pools[inst.domain], budget)
            tr.ms.append((time.perf_counter() - t0) * 1000.0)
            r, share = score(chosen, inst.gold, budget, truth["cl100k_base"])
            tr.recall.append(r)
            tr.gold_share.append(share)
            text = "".join(block(c) for c in chosen)
            tr.overruns += max(t.count(text) for t in truth.values()) > 0.4 * budget
        rows["baseline trust x recency (40%, 1.3 tok/word)"] = tr
        bm = Tally()  # baseline: BM25 top-k in the assembler's own allowance, same counter
        for inst in instances:
            index = indexes[(inst.domain, "assembler, cl100k model")]
            asm = Assembler(index, budget)
            instructions = INSTRUCTIONS.format(query=inst.query)
            allowance = budget - asm.reserve - asm.check_instructions(instructions, "bench")
            t0 = time.perf_counter()
            picked = bm25_topk(index, inst.query, allowance - 4)
            bm.ms.append((time.perf_counter() - t0) * 1000.0)
            r, share = score([c.chunk for c in picked], inst.gold, budget, truth["cl100k_base"])
            bm.recall.append(r)
            bm.gold_share.append(share)
            bm.overruns += (
                max(t.count(render("knowledge", edges_first(picked))) for t in truth.values()) > allowance
            )
        rows["baseline BM25 top-k"] = bm
        for name, t in rows.items():
            by_part = [
                statistics.mean(r for i, r in zip(instances, t.recall, strict=True) if i.part == p)
                for p in parts
            ]
            print(
                f"{name} | {budget} | {statistics.mean(t.recall):.3f} / "
                + " / ".join(f"{v:.3f}" for v in by_part)
                + f" | {statistics.mean(t.gold_share):.3f} | {t.overruns} of {len(instances)} | "
                f"{pct(t.ms, 50):.2f} | {pct(t.ms, 95):.2f}"
            )


def estimator_check(pools: dict[str, Pool], instances: list[Instance]) -> None:
    est = EstimatingCounter()
    suite = [block(c) for p in pools.values() for c in p.chunks] + [
        INSTRUCTIONS.format(query=i.query) for i in instances
    ]
    docs = Path(__file__).resolve().parents[1] / "docs"
    held_out = [p for f in sorted(docs.glob("*.md")) for p in f.read_text().split("\n\n") if p.strip()]
    for label, texts in (
        ("the suite: every chunk block and instruction", suite),
        ("held out: the paragraphs of docs/*.md", held_out),
    ):
        _estimator_on(label, texts, est)


def _estimator_on(label: str, texts: list[str], est: EstimatingCounter) -> None:
    print(f"\n## Token estimator vs the real BPE tables, {len(texts)} texts ({label})")
    for name in ("cl100k_base", "o200k_base"):
        truth = counter_for(name)
        ratios = [truth.count(t) / est.count(t) for t in texts]
        under = sum(r > 1.0 for r in ratios)
        total_true = sum(truth.count(t) for t in texts)
        total_est = sum(est.count(t) for t in texts)
        print(
            f"{name}: under-counted texts {under}; largest true/estimate {max(ratios):.3f}; "
            f"estimate/true overall {total_est / total_true:.3f}"
        )


def completeness(pools: dict[str, Pool], instances: list[Instance]) -> None:
    counter = EstimatingCounter()  # the check reads metadata only: the counter does not matter
    caught = trials = alarms = 0
    for inst in instances:
        full = ChunkIndex(pools[inst.domain].chunks, counter)
        alarms += not check_facts(full, inst.gold_facts).ok
        for fact, gold_id in zip(inst.gold_facts, inst.gold, strict=True):
            reduced = ChunkIndex([c for c in pools[inst.domain].chunks if c.chunk_id != gold_id], counter)
            trials += 1
            caught += fact.id in check_facts(reduced, inst.gold_facts).missing
    print("\n## Completeness check (every needed fact declared required)")
    print(f"contexts with one required fact removed: caught {caught} of {trials} ({caught / trials:.1%})")
    print(f"complete contexts: false alarms {alarms} of {len(instances)} ({alarms / len(instances):.1%})")


def big_pool(pools: dict[str, Pool], size: int) -> list[Chunk]:
    """The three pools, then copies of them under new ids (other documents of the same kinds) to `size`."""
    base = [c for d in DOMAINS for c in pools[d].chunks]
    out = list(base)
    n = 0
    while len(out) < size:
        c = base[n % len(base)]
        copy = n // len(base) + 1
        meta = {k: (f"{v}~{copy}" if isinstance(v, str) else v) for k, v in c.meta.items()}
        out.append(
            Chunk(
                f"{c.chunk_id}~{copy}",
                c.source,
                c.text.replace(" ", " ", 1) + f" (copy {copy})",
                meta,
                c.version,
                c.updated_us,
            )
        )
        n += 1
    return out


def latency(pools: dict[str, Pool], instances: list[Instance], size: int, budget: int) -> None:
    chunks = big_pool(pools, size)
    for label, counter in (
        ("cl100k tokenizer", counter_for("cl100k_base")),
        ("estimator", EstimatingCounter()),
    ):
        t0 = time.perf_counter()
        index = ChunkIndex(chunks, counter)
        build_s = time.perf_counter() - t0
        asm = Assembler(index, budget)
        times, cpu = [], []
        for inst in instances:
            instructions = INSTRUCTIONS.format(query=inst.query)
            t0, c0 = time.perf_counter(), time.thread_time()
            asm.assemble(inst.query, instructions, filters=inst.filters, facts=inst.declared)
            cpu.append((time.thread_time() - c0) * 1000.0)
            times.append((time.perf_counter() - t0) * 1000.0)
        print(
            f"\n## Latency over {len(chunks)} chunks, budget {budget}, {label}: "
            f"index built in {build_s:.2f} s; "
            f"assembly p50 {pct(times, 50):.2f} ms, p95 {pct(times, 95):.2f} ms, "
            f"max {max(times):.2f} ms; on the CPU (no waiting for a core) p50 {pct(cpu, 50):.2f} ms, "
            f"p95 {pct(cpu, 95):.2f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=int, nargs="+", default=[512, 1000, 2000])
    ap.add_argument("--limit", type=int, default=None, help="only the first N instances")
    ap.add_argument("--latency-pool", type=int, default=10_000)
    args = ap.parse_args(argv)
    print(f"# context assembly: python {platform.python_version()}, {platform.machine()}")
    pools, instances = load_suite(args.limit)
    run_budgets(pools, instances, args.budgets)
    estimator_check(pools, instances)
    completeness(pools, instances)
    if args.latency_pool:
        latency(pools, instances, args.latency_pool, max(args.budgets))


if __name__ == "__main__":
    main()
