"""Every cookbook query in docs/audit.md, read from the page itself, run against the embedded store filled by
the claims example, with the figures checked against the generator's expectations and the input file.

One store for the module (the example writes ~68k rows in a few seconds), closed at the end: chdb serves one
directory per process at a time.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.sql_verify import sql_chain_findings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "audit.md"
CLAIMS = ROOT / "docs" / "examples" / "claims"
EXPECTED: dict[str, int] = json.loads((CLAIMS / "expected.json").read_text())
TERMINAL = {"completed", "rejected", "dlq"}


def cookbook() -> dict[str, str]:
    """The page's ```sql blocks that start with `-- cookbook: NAME`, by name (the SQL without that line)."""
    blocks = re.findall(r"```sql\n-- cookbook: (\w+)\n(.*?)\n```", DOC.read_text(), flags=re.S)
    names = [name for name, _ in blocks]
    assert len(names) == len(set(names)), f"duplicate cookbook names in docs/audit.md: {names}"
    return dict(blocks)


def rows(store: ChdbAuditStore, name: str) -> list[dict[str, Any]]:
    res = store.query(cookbook()[name])
    return [dict(zip(res.columns, r, strict=True)) for r in res.rows]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbAuditStore]:
    """The claims example run in-process through the CLI into a fresh embedded store."""
    from dana_workflows.cli.main import app

    tmp = tmp_path_factory.mktemp("cookbook")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp / 'schemas'}")
        args = ["run", str(CLAIMS / "claims.yaml"), "--input", str(CLAIMS / "events.jsonl")]
        args += ["--out", str(tmp / "out"), "--audit", f"chdb://{tmp / 'audit'}", "-q"]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    s = ChdbAuditStore(tmp / "audit")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def admitted() -> list[dict[str, Any]]:
    """The payloads of the input events that pass ingest, computed from the input file, not the audit."""
    from dana_workflows.processors.ingest import admit
    from dana_workflows.workflow.spec import load_spec

    ir = load_spec(CLAIMS / "claims.yaml")
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()
    return [a.envelope.payload for i, raw in enumerate(lines) if (a := admit(ir, raw, i, 0)).accepted]


def test_every_cookbook_query_is_tested() -> None:
    tested = {n[len("test_") :] for n in globals() if n.startswith("test_")}
    assert set(cookbook()) <= tested, f"untested cookbook queries: {set(cookbook()) - tested}"


def test_the_filled_store_is_intact(store: ChdbAuditStore) -> None:
    assert store.query("SELECT count() FROM dwf.events").rows == [(68_725,)]
    assert sql_chain_findings(store) == []


def test_rejections_by_rule(store: ChdbAuditStore) -> None:
    by_rule: Counter[str] = Counter()
    for r in rows(store, "rejections_by_rule"):
        by_rule["schema" if r["rule_id"].startswith("schema.") else r["rule_id"]] += r["rejections"]
        assert r["step"] == {"within_limit": "enforce_objective", "schema": "ingest"}.get(
            "schema" if r["rule_id"].startswith("schema.") else r["rule_id"], "check_claim"
        )
    assert by_rule == {k.split(":", 1)[1]: v for k, v in EXPECTED.items() if k.startswith("reject:")}
    assert sum(by_rule.values()) == EXPECTED["rejected"]


def test_outcomes_per_version(store: ChdbAuditStore) -> None:
    got = {
        (r["workflow"], r["workflow_version"], r["outcome"]): r["runs"]
        for r in rows(store, "outcomes_per_version")
    }
    assert got == {
        ("claims-triage", 3, "completed:auto_pay"): EXPECTED["auto_pay"],
        ("claims-triage", 3, "completed:review"): EXPECTED["review"],
        ("claims-triage", 3, "rejected"): EXPECTED["rejected"],
        ("claims-triage", 3, "dlq"): EXPECTED["dlq"],
    }


def test_slowest_steps(store: ChdbAuditStore) -> None:
    got = rows(store, "slowest_steps")
    past_ingest = 10_000 - EXPECTED["dlq"] - EXPECTED["reject:schema"]
    past_check = past_ingest - sum(
        EXPECTED[f"reject:{r}"] for r in ("positive_amount", "known_currency", "has_policy")
    )
    calls = {r["step"]: r["calls"] for r in got}
    assert calls == {
        "normalize": past_ingest,
        "check_claim": past_ingest,
        "triage": past_check,
        "enforce_objective": past_check,
    }
    for r in got:
        assert 0 <= r["p50_us"] <= r["p99_us"] <= r["max_us"], r
    assert [r["p99_us"] for r in got] == sorted((r["p99_us"] for r in got), reverse=True)


def test_dlq_runs(store: ChdbAuditStore) -> None:
    got = rows(store, "dlq_runs")
    assert len(got) == EXPECTED["dlq"]
    bad_lines = set()
    for n, raw in enumerate((CLAIMS / "events.jsonl").read_text().splitlines(), start=1):
        try:
            json.loads(raw)
        except json.JSONDecodeError:
            bad_lines.add(n)
    reported = set()
    for r in got:
        assert r["dlq_at"] == "ingest" and r["failed_attempts"] == 0
        m = re.fullmatch(r"line (\d+): not valid JSON \(.+\)", r["reason"])
        assert m, r["reason"]
        reported.add(int(m.group(1)))
    assert reported == bad_lines


def test_warn_rule_hit_rates(store: ChdbAuditStore, admitted: list[dict[str, Any]]) -> None:
    (got,) = rows(store, "warn_rule_hit_rates")
    no_description = sum(1 for p in admitted if p["description"] == "")
    assert (got["step"], got["rule_id"]) == ("check_claim", "has_description")
    assert got["evaluated"] == len(admitted) == 9_890
    assert got["hits"] == no_description == 505
    assert got["hit_rate"] == round(no_description / len(admitted), 4)


def test_run_latency(store: ChdbAuditStore) -> None:
    (got,) = rows(store, "run_latency")
    assert got["workflow"] == "claims-triage" and got["runs"] == 10_000
    assert 0 <= got["p50_us"] <= got["p99_us"] <= got["max_us"]
    assert got["max_us"] == rows(store, "slowest_runs")[0]["latency_us"]


def test_slowest_runs(store: ChdbAuditStore) -> None:
    got = rows(store, "slowest_runs")
    assert len(got) == 20
    assert [r["latency_us"] for r in got] == sorted((r["latency_us"] for r in got), reverse=True)
    for r in got:
        assert r["final"] in TERMINAL
        # a run is 2 rows (dlq at ingest) to 7 (completed)
        assert 2 <= r["transitions"] <= 7 and r["latency_us"] >= 0


def test_objective_violations(store: ChdbAuditStore) -> None:
    (got,) = rows(store, "objective_violations")
    assert (got["constraint_id"], got["violations"]) == ("within_limit", EXPECTED["reject:within_limit"])
    assert got["message"] == "never auto-pay above the policy limit"
    values = json.loads(got["example_values"])
    assert values["route"] == "auto_pay" and values["amount_usd"] > values["policy_limit"]


def test_unfinished_runs(store: ChdbAuditStore) -> None:
    assert rows(store, "unfinished_runs") == []


def test_drift_alerts(store: ChdbAuditStore) -> None:
    assert rows(store, "drift_alerts") == []
    windows = store.query("SELECT decision, count() FROM dwf.events WHERE kind = 'drift' GROUP BY decision")
    assert windows.rows == [("ok", 300)]
