"""The compliance report and the model inventory (issue 18 item 5), from audit rows written by hand into a
real embedded store: first and last use are the times of the rows that record a use of the model, a model
used but not registered is flagged, overrides show who, when, why, before and after, and each use carries
the Art. 12 fields (period of use, reference data, input data, the reviewers who verified it).

Expected values come from the rows each test writes (their times, models and reviewers), never from the
code under test."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pypdf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dana_workflows.core.settings import ModelRecord
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.sinks import checkpoints
from dana_workflows.sinks.audit_model import AuditRow, seal
from dana_workflows.sinks.audit_scope import AuditScope, utc_text
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.checkpoint_storage import LocalDirectory
from dana_workflows.sinks.compliance import CheckpointStatus, EmptyScope, build_report
from dana_workflows.sinks.compliance_render import render_html, render_json, write_pdf
from dana_workflows.sinks.model_inventory import (
    REGISTERED,
    UNREGISTERED,
    UNUSED,
    VERSION_MISMATCH,
    model_inventory,
)
from tests.fixtures.compliance_rows import INPUT, T0, WF, three_runs

pytestmark = pytest.mark.unit


def store_of(path: Path, rows: Sequence[AuditRow]) -> ChdbAuditStore:
    store = ChdbAuditStore(path)
    store.ensure_schema()
    store.insert(list(rows))
    return store


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[ChdbAuditStore, list[AuditRow]]]:
    rows = three_runs()
    store = store_of(tmp_path / "audit", rows)
    yield store, rows
    store.close()


REGISTRY = [
    ModelRecord(id="gpt-a", owner="claims-ml", risk_tier="high", provider="openai_compatible"),
    ModelRecord(id="gpt-b", version="gpt-b-2024-06", owner="claims-ml", risk_tier="limited"),
    ModelRecord(id="gpt-retired", owner="platform", risk_tier="minimal"),
]


def by_id(entries: Sequence[Any]) -> dict[str, Any]:
    return {entry.id: entry for entry in entries}


def test_first_and_last_use_are_the_times_of_the_rows_that_record_it(logged: Any) -> None:
    store, _ = logged
    entries = by_id(model_inventory(store, AuditScope(), REGISTRY))
    a, b = entries["gpt-a"], entries["gpt-b"]
    # gpt-a: r1's operate row (T0 + 10) to r2's failed call (T0 + 1_000 + 10): a failed call is a use
    assert (a.first_use_us, a.last_use_us, a.rows, a.runs) == (T0 + 10, T0 + 1_010, 3, 2)
    assert (b.first_use_us, b.last_use_us, b.runs) == (T0 + 1_020, T0 + 5_000_030, 2)
    assert b.versions == ["gpt-b-2025-01"] and a.providers == ["openai_compatible@127.0.0.1"]
    assert a.workflows == [WF]


def test_registry_status_owner_and_risk_tier(logged: Any) -> None:
    store, _ = logged
    entries = by_id(model_inventory(store, AuditScope(), REGISTRY))
    assert (entries["gpt-a"].status, entries["gpt-a"].owner, entries["gpt-a"].risk_tier) == (
        REGISTERED,
        "claims-ml",
        "high",
    )
    # the provider answered as a snapshot the registry does not name: flagged, not silently accepted
    assert entries["gpt-b"].status == VERSION_MISMATCH and entries["gpt-b"].flagged
    assert entries["gpt-retired"].status == UNUSED and not entries["gpt-retired"].flagged
    assert entries["gpt-retired"].first_use_us is None
    unregistered = by_id(model_inventory(store, AuditScope(), REGISTRY[1:]))["gpt-a"]
    assert unregistered.status == UNREGISTERED and unregistered.flagged and unregistered.owner == ""


def test_a_period_is_half_open_and_a_run_scope_is_that_run(logged: Any) -> None:
    store, _ = logged
    # [T0 + 10, T0 + 1_010): r1's two rows; r2's failed call at exactly T0 + 1_010 is excluded
    early = by_id(model_inventory(store, AuditScope(since_us=T0 + 10, until_us=T0 + 1_010), []))
    assert set(early) == {"gpt-a"} and early["gpt-a"].last_use_us == T0 + 20
    late = by_id(model_inventory(store, AuditScope(since_us=T0 + 1_010), []))
    assert late["gpt-a"].first_use_us == T0 + 1_010 and late["gpt-b"].runs == 2
    only_r3 = by_id(model_inventory(store, AuditScope(run_id="r3"), []))
    assert set(only_r3) == {"gpt-b"} and only_r3["gpt-b"].first_use_us == T0 + 5_000_030
    assert not model_inventory(store, AuditScope(workflow="another"), [])


def test_each_use_carries_the_art_12_fields(logged: Any) -> None:
    store, _ = logged
    report = build_report(store, AuditScope(), REGISTRY, clock=lambda: T0 + 10**7)
    uses = {use.run_id: use for use in report.uses}
    r3 = uses["r3"]
    assert (r3.start_us, r3.end_us) == (T0 + 5_000_000, T0 + 5_000_040)  # its first and last row
    assert r3.start == utc_text(T0 + 5_000_000) and r3.input == INPUT
    assert r3.models == ["gpt-b@gpt-b-2025-01"] and r3.prompts == ["fraud_risk v3"]
    assert r3.knowledge == ["policies=sync-7"] and r3.workflow_versions == [2]
    assert r3.reviewers == ["alice@example.com"] and uses["r1"].reviewers == []
    assert uses["r2"].models == ["gpt-a", "gpt-b@gpt-b-2025-01"]
    assert report.generated_us == T0 + 10**7


def test_overrides_recovery_and_chains(logged: Any) -> None:
    store, _ = logged
    report = build_report(store, AuditScope(run_id="r3"), REGISTRY)
    (override,) = report.overrides
    assert (override.reviewer, override.decided_at_us, override.decision, override.reason) == (
        "alice@example.com",
        T0 + 9_000_000,
        "low",
        "the rationale cites a police report",
    )
    assert json.loads(override.before) == {"risk": "high"} and json.loads(override.after) == {"risk": "low"}
    assert report.chain.ok and (report.chain.runs, report.chain.rows) == (1, 5)
    assert report.transitions == {"emitted": 1, "override": 1, "received": 1, "recovery": 2}
    assert report.ok and [e.id for e in report.flagged_models] == ["gpt-b"]


def test_a_row_delivered_twice_is_listed_counted_once_and_breaks_nothing(tmp_path: Path) -> None:
    """A replayed insert stores a row again (docs/audit.md, duplicates): `audit verify` lists it and passes,
    so the report does too, and no figure counts it twice."""
    from dana_workflows.processors.recovery_report import recovery_rows, summarize

    rows = three_runs()
    twice = [r for r in rows if r.run_id == "r3" and r.kind in ("recovery", "override")]
    store = store_of(tmp_path / "redelivered", [*rows, *twice])
    scope = AuditScope(run_id="r3")
    recovery = summarize(recovery_rows(store, scope)).rows()
    report = build_report(store, scope, REGISTRY, recovery=recovery)
    assert len(report.chain.findings) == 3 and all("duplicate" in f for f in report.chain.findings)
    assert report.chain.ok and report.ok
    assert report.transitions == {"emitted": 1, "override": 1, "received": 1, "recovery": 2}
    assert len(report.overrides) == 1
    assert [(r["rung"], r["attempts"], r["successes"]) for r in recovery] == [
        ("retry", 1, 0),
        ("fallback_model", 1, 1),
    ]
    store.close()


def test_a_period_reads_whole_runs_and_an_altered_row_breaks_the_report(tmp_path: Path) -> None:
    altered = three_runs()
    target = next(r for r in altered if r.run_id == "r2" and r.seq == 1)
    target.reason = "rewritten after the fact"
    store = store_of(tmp_path / "tampered", altered)
    # the period starts after r2's first row: r2 is still read from seq 0, so its chain is judged whole
    report = build_report(store, AuditScope(since_us=T0 + 1_005, until_us=T0 + 2_000), [])
    assert [u.run_id for u in report.uses] == ["r2"] and report.chain.rows == 3
    assert not report.chain.ok and not report.ok
    assert any("r2" in finding for finding in report.chain.findings)
    store.close()


def test_empty_scopes_say_what_to_try(logged: Any) -> None:
    store, _ = logged
    with pytest.raises(EmptyScope, match="no audit rows for run nope; list runs with"):
        build_report(store, AuditScope(run_id="nope"), [])
    with pytest.raises(EmptyScope, match="no audit rows in the period"):
        build_report(store, AuditScope(since_us=T0 - 100, until_us=T0), [])


def test_checkpoint_status(tmp_path: Path, logged: Any) -> None:
    store, rows = logged
    assert CheckpointStatus().summary().startswith("none: no checkpoint location")
    directory = LocalDirectory(tmp_path / "cp")
    key = Ed25519PrivateKey.generate()
    checkpoints.create(store, directory, key, WF, T0 + 10**7)
    result = checkpoints.verify(store, directory, key.public_key(), [WF])
    status = CheckpointStatus(str(tmp_path / "cp"), result.checkpoints, result.rows_committed)
    assert status.ok and status.summary().endswith(
        f"{len(rows)} committed rows: the log extends every checkpoint"
    )
    broken = CheckpointStatus("cp", 1, len(rows), ["tail_cut: claims: run r3 seq 5 ..."])
    assert not broken.ok and broken.summary().endswith("1 findings")
    assert CheckpointStatus("cp").summary() == "no checkpoint of these workflows in cp"


def test_html_json_and_pdf_hold_the_report(tmp_path: Path, logged: Any) -> None:
    store, _ = logged
    figures = {
        "workflow": WF,
        "step": "risk",
        "error_class": "timeout",
        "rung": "fallback_model",
        "attempts": 4,
        "successes": 3,
        "success_rate": 0.75,
    }  # as `dana-wf recovery report` gives them
    report = build_report(store, AuditScope(), REGISTRY[1:], recovery=[figures])  # gpt-a unregistered
    html = render_html(report)
    assert re.search(
        r"<td>risk</td><td>timeout</td><td>fallback_model</td><td class=\"num\">4</td>"
        r"<td class=\"num\">3</td><td class=\"num\">75%</td>",
        html,
    )
    for text in (
        "Uses (EU AI Act Art. 12 logging)",
        "alice@example.com",
        "the rationale cites a police report",
        utc_text(T0 + 5_000_000),
        utc_text(T0 + 5_000_040),
        "knowledge policies=sync-7",
        "model gpt-b@gpt-b-2025-01",
        "prompt fraud_risk v3",
    ):
        assert text in html, text
    assert re.search(r'class="loud">UNREGISTERED: model <code>gpt-a</code>', html)
    assert html.count("{&#34;claim_id&#34;: &#34;C1&#34;") == 3  # each use's input, escaped
    assert render_html(report, limit=1).count("{&#34;claim_id&#34;") == 1  # one use listed ...
    assert "the first 1 of 3 uses" in render_html(report, limit=1)  # ... and the cut said loudly
    data = json.loads(render_json(report))
    assert data["unregistered_models"] == ["gpt-a", "gpt-b"] and len(data["uses"]) == 3
    assert data["overrides"][0]["reviewer"] == "alice@example.com" and data["recovery"] == [figures]
    path = tmp_path / "report.pdf"
    write_pdf(report, path)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages)
    flat = re.sub(r"\s+", "", text)
    assert "UNREGISTERED" in text and "alice@example.com" in flat and "Modelinventory" in flat


@pytest.mark.parametrize(
    ("received", "shown"),
    [
        # sensitive fields: the parsed event as recorded, each sensitive value still encrypted
        ({"input_fields": {"id": "C9", "iban": {"$encrypted": "gAAA"}}, "ordinal": 1},
         '{"iban":{"$encrypted":"gAAA"},"id":"C9"}'),
        ({"input_withheld": "not a JSON object", "ordinal": 2}, "withheld: not a JSON object"),
        ({"ordinal": 3}, "not recorded (written before input recording existed)"),
        ("not json", "not recorded (written before input recording existed)"),  # unreadable details
    ],
)  # fmt: skip
def test_the_input_data_is_shown_as_recorded(
    tmp_path: Path, received: dict[str, Any] | str, shown: str
) -> None:
    details = received if isinstance(received, str) else canonical_json(received)
    rows = [
        AuditRow(WF, 1, "r9", 0, "r9/in", "ingest", "received", details=details, ts_us=T0),
        AuditRow(WF, 1, "r9", 1, "r9/in", "out", "completed", decision="out", details="[1]", ts_us=T0 + 5),
    ]
    prev = "0" * 64
    for row in rows:
        prev = seal(row, prev).hash
    store = store_of(tmp_path / "audit", rows)
    try:
        (use,) = build_report(store, AuditScope(run_id="r9"), []).uses
    finally:
        store.close()
    assert use.input == shown and use.models == [] and (use.start_us, use.end_us) == (T0, T0 + 5)


def test_drift_chains_are_verified_but_are_no_use_and_a_broken_checkpoint_fails_the_report(
    tmp_path: Path,
) -> None:
    drift = [
        AuditRow(WF, 2, f"{WF}.drift", seq, f"{WF}.drift", "amount", kind, decision="ok", ts_us=T0 + seq)
        for seq, kind in enumerate(["drift", "drift_late"])
    ]
    prev = "0" * 64
    for row in drift:
        prev = seal(row, prev).hash
    store = store_of(tmp_path / "audit", [*three_runs(), *drift])
    try:
        report = build_report(store, AuditScope(), [])
        broken = CheckpointStatus("cp", 1, 12, ["tail_cut: claims: run r3 seq 4 ..."])
        cut = build_report(store, AuditScope(), [], checkpoints=broken)
    finally:
        store.close()
    assert sorted(u.run_id for u in report.uses) == ["r1", "r2", "r3"]  # the drift chain is no input's use
    assert report.chain.runs == 4 and report.chain.ok and report.transitions["drift_late"] == 1
    assert report.ok and cut.chain.ok and not cut.ok  # the chains verify, the checkpoint does not
