"""Two `dana-wf run` processes with different hash seeds give the same outputs and the same audit rows.

Python randomises str hashing per process (PYTHONHASHSEED), so a set or dict iterated somewhere on the
way to an output or an audit column would show up here as a difference; a second run inside one process
(test_claims_example.py) cannot see it, since both share one seed. Time is the only thing allowed to
differ: ts_us and duration_us, and so prev_hash and hash, which cover them. Each run's hash chains are
verified, by the CLI (`audit verify`) and by reading the rows back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.reader import read_rows
from dana_workflows.sinks.verify import verify_rows

pytestmark = pytest.mark.e2e

CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"
EVENTS = 3000


def dana_wf(tmp_path: Path, seed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONHASHSEED": seed,
        "DWF_SCHEMA_REGISTRY": f"file://{tmp_path / f'schemas-{seed}'}",
    }
    cmd = [sys.executable, "-m", "dana_workflows.cli", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def run_in_process(tmp_path: Path, seed: str, events: Path) -> tuple[Path, list[AuditRow]]:
    out, audit = tmp_path / f"out-{seed}", f"chdb://{tmp_path / f'audit-{seed}'}"
    args = ["run", str(CLAIMS / "claims.yaml"), "--input", str(events), "--out", str(out), "-q"]
    done = dana_wf(tmp_path, seed, *args, "--audit", audit)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    verified = dana_wf(tmp_path, seed, "audit", "verify", "--audit", audit)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    store = ChdbAuditStore(tmp_path / f"audit-{seed}")
    try:
        rows = read_rows(store)
    finally:
        store.close()
    return out, rows


def timeless(rows: list[AuditRow]) -> list[tuple[object, ...]]:
    """Every column but the times and the hashes that cover them."""
    keep = ("workflow", "workflow_version", "run_id", "seq", "event_id", "step", "kind", "decision",
            "reason", "rule_results", "attempt", "details")  # fmt: skip
    return sorted(tuple(getattr(r, c) for c in keep) for r in rows)


def test_two_processes_with_different_hash_seeds_agree(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    with (CLAIMS / "events.jsonl").open() as src:
        events.write_text("".join(line for _, line in zip(range(EVENTS), src, strict=False)))
    out_a, rows_a = run_in_process(tmp_path, "1", events)
    out_b, rows_b = run_in_process(tmp_path, "2", events)

    names = sorted(p.name for p in out_a.iterdir())
    assert names == sorted(p.name for p in out_b.iterdir()) and len(names) == 4  # out, rejected, dlq, drift
    for name in names:
        assert (out_a / name).read_bytes() == (out_b / name).read_bytes(), name

    assert len(rows_a) == len(rows_b) > EVENTS  # at least a received and a terminal row per event
    assert timeless(rows_a) == timeless(rows_b)
    for rows in (rows_a, rows_b):
        report = verify_rows(rows)
        assert report.ok and not report.duplicates and report.runs > EVENTS
