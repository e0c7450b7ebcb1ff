"""The model inventory's SQL and the compliance report on every audit backend: the embedded store, the
embedded store behind its writer process, and a real ClickHouse server (Debian's 18.16 here, the oldest
docs/audit.md supports: the inventory uses only functions it has). Known answers: the rows of
tests/fixtures/compliance_rows.py, whose times and models are stated there."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.core.settings import ModelRecord
from dana_workflows.processors.recovery_report import recovery_rows, summarize
from dana_workflows.sinks.audit_model import AuditStore
from dana_workflows.sinks.audit_scope import AuditScope
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.compliance import build_report
from dana_workflows.sinks.dsn import ClickHouseServerConfig
from dana_workflows.sinks.model_inventory import REGISTERED, UNREGISTERED, model_inventory
from tests.fixtures.compliance_rows import T0, three_runs

pytestmark = pytest.mark.integration


def test_inventory_and_report_on_every_backend(audit_store: AuditStore) -> None:
    audit_store.insert(three_runs())
    registry = [ModelRecord(id="gpt-a", owner="claims-ml", risk_tier="high")]
    entries = {e.id: e for e in model_inventory(audit_store, AuditScope(), registry)}
    a, b = entries["gpt-a"], entries["gpt-b"]
    # gpt-a: r1's operate row at T0 + 10 to r2's failed call at T0 + 1_010, in two runs
    assert (a.first_use_us, a.last_use_us, a.runs, a.status) == (T0 + 10, T0 + 1_010, 2, REGISTERED)
    assert (b.first_use_us, b.last_use_us, b.status, b.versions) == (
        T0 + 1_020,
        T0 + 5_000_030,
        UNREGISTERED,
        ["gpt-b-2025-01"],
    )
    period = AuditScope(since_us=T0 + 1_005, until_us=T0 + 2_000)  # inside r2: r2 is read whole
    report = build_report(audit_store, period, registry)
    assert [u.run_id for u in report.uses] == ["r2"] and report.chain.ok and report.chain.rows == 3
    reviewed = build_report(audit_store, AuditScope(run_id="r3"), registry)
    assert [(o.reviewer, o.after) for o in reviewed.overrides] == [("alice@example.com", '{"risk":"low"}')]


def test_recovery_figures_read_the_stores_own_database(audit_store: AuditStore) -> None:
    """`dana-wf recovery report` and the compliance report's recovery section on every backend (the
    server's database here is a fresh dwf_test_* one, not dwf): r3's failed retry and placing fallback."""
    audit_store.insert(three_runs())
    rows = summarize(recovery_rows(audit_store, AuditScope(run_id="r3"))).rows()
    assert [(r["rung"], r["error_class"], r["attempts"], r["successes"]) for r in rows] == [
        ("retry", "timeout", 1, 0),
        ("fallback_model", "timeout", 1, 1),
    ]


def test_the_commands_on_the_server(clickhouse_database: ClickHouseServerConfig) -> None:
    c = clickhouse_database
    store = ServerAuditStore.from_config(c)
    store.ensure_schema()
    store.insert(three_runs())
    store.close()
    runner = CliRunner()
    dsn = f"clickhouse://{c.user}@{c.host}:{c.port}/{c.database}"
    got = runner.invoke(app, ["audit", "compliance", "--run-id", "r3", "--format", "json", "--audit", dsn])
    assert got.exit_code == 0, got.output
    report, _ = json.JSONDecoder().raw_decode(got.output, got.output.index("{"))  # stderr follows
    assert [o["reviewer"] for o in report["overrides"]] == ["alice@example.com"]
    assert [(r["rung"], r["successes"]) for r in report["recovery"]] == [("retry", 0), ("fallback_model", 1)]
    # a database that is not there: the server's refusal in one line, exit 1, no traceback
    missing = f"clickhouse://{c.user}@{c.host}:{c.port}/{c.database}_missing"
    for args in (["audit", "models"], ["audit", "compliance", "--since", "2020-01-01"]):
        refused = runner.invoke(app, [*args, "--audit", missing])
        assert refused.exit_code == 1 and "doesn't exist" in refused.output, refused.output
        assert refused.exception is None or isinstance(refused.exception, SystemExit)
