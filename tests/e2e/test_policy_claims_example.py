"""docs/examples/policy_claims run as documented (docs/context.md), through the CLI, offline.

``dana-wf knowledge sync``, then ``dana-wf run ... --llm-script`` (the project's test server
in-process; its replies depend on whether the claim's own policy terms are in the prompt). Checked:
every claim is answered from its own policy's terms (the limit the model states equals the one in the
document, the payout stays under it), a claim without a policy document makes no call and lands in dlq
with the reason, the audit records each call's chunk ids and versions. Then the policy document of P-1001
changes: ``knowledge sync`` stores a new version, ``knowledge diff`` shows it, a new claim on P-1001 is
answered with the new limit, and a re-run of the earlier claims replays the versions they were answered
with (flagged stale) and makes no new LLM call (same prompts: the cache answers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.sinks.stores import open_store
from dana_workflows.streams.local.outputs import read_jsonl

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "policy_claims"


def dana_wf(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def outputs(cwd: Path, kind: str) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(cwd / ".dwf" / "out" / f"dwf.policy-claims.{kind}.jsonl")
    return {r["payload"]["claim_id"]: r for r in rows}


def audit_details(cwd: Path) -> list[dict[str, Any]]:
    store = open_store(f"chdb://{cwd / '.dwf' / 'audit'}")
    try:
        sql = "SELECT details FROM dwf.events WHERE step = 'assess' AND kind = 'emitted' ORDER BY ts_us"
        return [json.loads(details) for (details,) in store.query(sql).rows]
    finally:
        store.close()


def drift_rows(cwd: Path) -> list[dict[str, Any]]:
    store = open_store(f"chdb://{cwd / '.dwf' / 'audit'}")
    try:
        sql = "SELECT details FROM dwf.events WHERE kind = 'drift' ORDER BY ts_us"
        return [json.loads(details) for (details,) in store.query(sql).rows]
    finally:
        store.close()


def test_policy_claims_example(tmp_path: Path) -> None:
    ex = tmp_path / "ex"
    shutil.copytree(EXAMPLE, ex)
    run = ("run", "ex/policy_claims.yaml", "--input", "ex/claims.jsonl", "--llm-script", "ex/llm_script.yaml")

    synced = dana_wf(tmp_path, "knowledge", "sync", "ex/policy_claims.yaml")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "policies" in synced.stdout and "new version" in synced.stdout
    first = dana_wf(tmp_path, *run)
    assert first.returncode == 0, first.stdout + first.stderr
    out = outputs(tmp_path, "out")
    assert set(out) == {"C-1", "C-2", "C-3", "C-4", "C-5", "C-6"}
    limits = {"P-1001": 5000.0, "P-1002": 10000.0, "P-1003": 20000.0, "P-1004": 7500.0, "P-1005": 50000.0}
    for claim in out.values():
        p = claim["payload"]
        assert p["limit_usd"] == limits[p["policy_id"]] == p["policy_limit_usd"]
        assert p["cited_policy"] == p["policy_id"]
        assert p["payout_usd"] <= p["policy_limit_usd"]
        assert claim["provenance"]["knowledge_versions"]["policies"]
    assert out["C-4"]["payload"]["covered"] is False  # its policy excludes theft from an unlocked car
    assert out["C-2"]["payload"]["payout_usd"] == 10000.0  # capped at the limit the terms give
    dlq = outputs(tmp_path, "dlq")
    assert "required fact 'terms' is missing; no call made" in dlq["C-7"]["provenance"]["error"]
    details = audit_details(tmp_path)
    assert len(details) == 6
    mix = drift_rows(tmp_path)  # context drift: the sources@versions mix, watched by a drift monitor
    assert [(d["monitor"], d["field"], d["count"]) for d in mix] == [("context_mix", "context_mix", 6)]
    assert all(any(cid.startswith("policies:") for cid, _ in d["dwf.knowledge.chunks"]) for d in details)

    # the policy document of P-1001 changes
    doc = ex / "policies" / "P-1001.md"
    doc.write_text(doc.read_text().replace("5000", "8000"))
    resynced = dana_wf(tmp_path, "knowledge", "sync", "ex/policy_claims.yaml")
    assert resynced.returncode == 0, resynced.stderr
    diff = dana_wf(tmp_path, "knowledge", "diff", "policies")
    assert diff.returncode == 0, diff.stderr
    assert "~ policies:P-1001.md#terms" in diff.stdout
    assert "-Policy P-1001 pays at most 5000 USD" in diff.stdout
    assert "+Policy P-1001 pays at most 8000 USD" in diff.stdout
    listed = dana_wf(tmp_path, "knowledge", "ls")
    assert "policies" in listed.stdout and "duplicate" in listed.stdout  # the shared procedure sections

    (ex / "new.jsonl").write_text(
        json.dumps({"claim_id": "C-9", "policy_id": "P-1001", "amount": 7000.0, "description": "Burst pipe."})
        + "\n"
    )
    new = dana_wf(
        tmp_path,
        "run",
        "ex/policy_claims.yaml",
        "--input",
        "ex/new.jsonl",
        "--llm-script",
        "ex/llm_script.yaml",
    )
    assert new.returncode == 0, new.stderr
    c9 = outputs(tmp_path, "out")["C-9"]["payload"]
    assert c9["limit_usd"] == c9["policy_limit_usd"] == 8000.0 and c9["payout_usd"] == 7000.0
    c9_details = audit_details(tmp_path)[-1]
    # the earlier decisions on P-1001 (the history source, synced from the first run's audit)
    assert any(cid.startswith("history:") for cid, _ in c9_details["dwf.knowledge.chunks"])
    versions = {d["dwf.knowledge.syncs"]["policies"] for d in audit_details(tmp_path)}
    assert len(versions) == 2  # the audit shows the new version next to the old one

    replay = dana_wf(tmp_path, *run)
    assert replay.returncode == 0, replay.stderr
    again = outputs(tmp_path, "out")
    assert again["C-1"]["payload"]["policy_limit_usd"] == 5000.0  # the version it was answered with
    assert again["C-6"]["payload"]["limit_usd"] == 5000.0
    replayed = [d for d in audit_details(tmp_path)[-6:] if d.get("dwf.knowledge.replayed")]
    assert len(replayed) == 6
    assert all(d["dwf.llm.cache_hit"] for d in replayed if "dwf.llm.cache_hit" in d)
    p1001 = [d for d in replayed if d["dwf.memory"]["keys"]["policy_id"] == "P-1001"]
    assert p1001 and all(d["dwf.knowledge.stale"] == ["terms"] for d in p1001)
