"""A count-based check of bench/context_assembly.py and its suite (no figures asserted)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import context_assembly as bench  # noqa: E402

from dana_workflows.knowledge.index import ChunkIndex, block  # noqa: E402
from dana_workflows.knowledge.tokens import counter_for  # noqa: E402


def test_the_suite_has_what_the_issue_asks() -> None:
    pools, instances = bench.load_suite()
    assert len(instances) >= 100
    assert len({i.domain for i in instances}) >= 3
    for pool in pools.values():
        assert 50 <= len(pool.chunks) <= 1000
        assert len({c.chunk_id for c in pool.chunks}) == len(pool.chunks)
    for inst in instances:
        ids = {c.chunk_id for c in pools[inst.domain].chunks}
        assert inst.gold and set(inst.gold) <= ids
        assert len(inst.gold_facts) == len(inst.gold)
    assert Counter(i.part for i in instances) == {"ids in the query": 120, "free text": 60}


def test_the_bench_runs_and_prints_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--limit", "6", "--budgets", "512", "--latency-pool", "1500"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " | 512 | " in line]
    assert len(rows) == len(bench.METHODS) + 2  # the assembler variants and the two baselines
    trials = sum(len(i.gold) for i in bench.load_suite(limit=6)[1])
    assert f"of {trials} (" in out and "false alarms" in out  # one context per removed fact, and 6 complete
    assert "## Latency over 1500 chunks" in out
    assert "under-counted texts" in out


def test_baselines_do_what_they_say() -> None:
    pools, instances = bench.load_suite(limit=3)
    pool = pools[instances[0].domain]
    picked = bench.trust_recency(pool, 1000)
    assert sum(1.3 * len(block(c).split()) for c in picked) <= 400  # 40% at 1.3 tokens per word
    index = ChunkIndex(pool.chunks, counter_for("cl100k_base"))
    top = bench.bm25_topk(index, instances[0].query, 300)
    assert sum(c.tokens for c in top) <= 300
    scores = index.scores(instances[0].query)
    assert [c.position for c in top] == sorted(range(len(scores)), key=lambda i: -scores[i])[: len(top)]
