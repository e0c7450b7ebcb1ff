"""The claims example end to end through the CLI, on embedded defaults (chdb audit, file registry)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.sinks.verify import verify_rows
from dana_workflows.streams.local.outputs import read_jsonl

pytestmark = pytest.mark.e2e
runner = CliRunner()
CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")


def run(tmp_path: Path, name: str, audit: Path | None) -> Path:
    out = tmp_path / name
    args = [
        "run",
        str(CLAIMS / "claims.yaml"),
        "--input",
        str(CLAIMS / "events.jsonl"),
        "--out",
        str(out),
        "-q",
    ]
    args += ["--audit", f"chdb://{audit}"] if audit else ["--no-audit"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def test_generator_is_deterministic_and_matches_the_committed_events() -> None:
    sys.path.insert(0, str(CLAIMS))
    try:
        import generate
    finally:
        sys.path.remove(str(CLAIMS))
    lines, expected = generate.generate(10_000, 7)
    assert "\n".join(lines) + "\n" == (CLAIMS / "events.jsonl").read_text()
    assert dict(sorted(expected.items())) == json.loads((CLAIMS / "expected.json").read_text())


def test_outcome_counts_match_the_generators_expectations(tmp_path: Path) -> None:
    expected = json.loads((CLAIMS / "expected.json").read_text())
    out = run(tmp_path, "out", None)
    decided = read_jsonl(out / "dwf.claims-triage.out.jsonl")
    routes = Counter(r["payload"]["route"] for r in decided)
    assert routes == {"auto_pay": expected["auto_pay"], "review": expected["review"]}
    rejected = read_jsonl(out / "dwf.claims-triage.rejected.jsonl")
    assert len(rejected) == expected["rejected"]
    by_rule: Counter[str] = Counter()
    for r in rejected:
        failed = {
            x["rule_id"]
            for x in r["provenance"]["rule_results"]
            if not x["passed"] and x["severity"] == "reject"
        }
        by_rule["schema" if any(f.startswith("schema.") for f in failed) else failed.pop()] += 1
    assert by_rule == {k.split(":", 1)[1]: v for k, v in expected.items() if k.startswith("reject:")}
    dlq = read_jsonl(out / "dwf.claims-triage.dlq.jsonl")
    assert len(dlq) == expected["dlq"]
    assert all("not valid JSON" in r["provenance"]["error"] for r in dlq)
    # the objective held: nothing auto-paid above its policy limit
    assert all(
        r["payload"]["amount_usd"] <= r["payload"]["policy_limit"]
        for r in decided
        if r["payload"]["route"] == "auto_pay"
    )


def test_two_runs_are_byte_identical_and_audit_the_same(tmp_path: Path) -> None:
    from dana_workflows.sinks.chdb_store import ChdbAuditStore
    from dana_workflows.sinks.reader import read_rows

    a = run(tmp_path, "a", tmp_path / "audit")
    b = run(tmp_path, "b", None)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) == 4  # out, rejected, dlq, drift
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name

    again = run(tmp_path, "c", tmp_path / "audit")  # a second run into the same store
    assert again.exists()
    store = ChdbAuditStore(tmp_path / "audit")
    try:
        rows = read_rows(store)
    finally:
        store.close()
    assert verify_rows(rows).ok  # the rerun opened new runs and continued the drift chain: no fork

    # the second run audits what the first did, under the next epoch's run ids (streams/local/reruns.py)
    epoch_of = {r.run_id: json.loads(r.details).get("epoch", 0) for r in rows if r.kind == "received"}
    assert Counter(epoch_of.values()) == {0: 10_000, 1: 10_000}

    def strip(r):  # type: ignore[no-untyped-def]
        details = {k: v for k, v in json.loads(r.details).items() if k != "epoch"}
        event = r.event_id.replace(r.run_id, "<run>")
        return (r.seq, event, r.step, r.kind, r.decision, r.reason, r.rule_results, json.dumps(details))

    audited: dict[int, Counter[tuple[object, ...]]] = {0: Counter(), 1: Counter()}
    for r in rows:
        if r.run_id in epoch_of:
            audited[epoch_of[r.run_id]][strip(r)] += 1
    assert audited[0] == audited[1] and sum(audited[0].values()) > 10_000


def test_audit_sql_verify_and_tamper_detection(tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    run(tmp_path, "out", audit)
    dsn = f"chdb://{audit}"
    res = runner.invoke(
        app,
        [
            "audit",
            "sql",
            "SELECT kind, count() AS n FROM dwf.events GROUP BY kind ORDER BY kind",
            "--dsn",
            dsn,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    kinds = {
        json.loads(line)["kind"]: int(json.loads(line)["n"])
        for line in res.output.splitlines()
        if line.startswith("{")
    }
    assert kinds["received"] == 10_000 and kinds["dlq"] == 32 and kinds["completed"] == 9_465

    ok = runner.invoke(app, ["audit", "verify", "--dsn", dsn])
    assert ok.exit_code == 0 and "chains OK" in ok.output

    from chdb import session

    raw = session.Session(str(audit))  # an insider with write access edits one decision in place
    try:
        victim = str(
            raw.query(
                "SELECT run_id FROM dwf.events WHERE kind = 'routed' AND decision = 'review' "
                "ORDER BY run_id LIMIT 1",
                "TSVRaw",
            )
        ).strip()
        raw.query(
            f"ALTER TABLE dwf.events UPDATE decision = 'auto_pay' WHERE run_id = '{victim}' "
            "AND kind = 'routed' SETTINGS mutations_sync = 1"
        )
    finally:
        raw.close()
    bad = runner.invoke(app, ["audit", "verify", "--dsn", dsn])
    assert bad.exit_code == 3  # a broken chain has its own exit code (docs/cli.md), not a usage error's 2
    assert f"changed: run {victim} seq" in bad.output and "BROKEN" in bad.output

    report = runner.invoke(app, ["audit", "report", victim, "--dsn", dsn, "--html", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "BROKEN" in report.output and "triage" in report.output
    assert "<table>" in (tmp_path / "r.html").read_text()
    ours = runner.invoke(
        app,
        ["audit", "sql", f"SELECT hash FROM dwf.events WHERE run_id = '{victim}'", "--dsn", dsn, "--json"],
    )
    hashes = [json.loads(line)["hash"] for line in ours.output.splitlines() if line.startswith("{")]
    assert len(hashes) >= 5 and all(len(h) == 64 and f"`{h}`" in report.output for h in hashes)  # whole


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "workflow: w\ninput: {amount: dubble}\nsteps:\n  - v: {validate: [{id: r, rule: 'amount >'}]}\n"
    )
    res = runner.invoke(app, ["validate", str(CLAIMS / "claims.yaml"), str(bad)])
    assert res.exit_code == 1
    assert "✓" in res.output and "claims-triage" in res.output
    assert "bad.yaml:2: input.amount: unknown type 'dubble'" in res.output
    assert "bad.yaml:4" in res.output


def test_topology_prints_topics_schemas_and_mermaid(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["topology", str(CLAIMS / "claims.yaml"), "--write-schemas", str(tmp_path / "avsc")]
    )
    assert res.exit_code == 0, res.output
    for topic in (
        "dwf.claims-triage.in",
        "dwf.claims-triage.normalize",
        "dwf.claims-triage.out",
        "dwf.claims-triage.rejected",
        "dwf.claims-triage.dlq",
    ):
        assert topic in res.output
    assert "flowchart LR" in res.output and "-- auto_pay -->" in res.output
    schema = json.loads((tmp_path / "avsc" / "dwf.claims-triage.normalize.avsc").read_text())
    payload = next(f for f in schema["fields"] if f["name"] == "payload")["type"]
    assert {"name": "amount_usd", "type": "double"} in payload["fields"]


def test_missing_input_file_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(CLAIMS / "claims.yaml"), "--input", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 2 and "does not exist" in res.output  # a bad file is a usage error


def test_a_busy_or_unreachable_store_is_one_clear_line(tmp_path: Path) -> None:
    from dana_workflows.sinks.chdb_store import ChdbAuditStore

    store = ChdbAuditStore(tmp_path / "held")  # holds chdb in this process: another directory is busy
    (tmp_path / "other").mkdir()  # a store that exists (a missing one is refused before opening)
    try:
        busy = runner.invoke(app, ["audit", "verify", "--dsn", f"chdb://{tmp_path / 'other'}"])
    finally:
        store.close()
    assert busy.exit_code == 1 and "use a ClickHouse server" in busy.output
    down = runner.invoke(app, ["audit", "sql", "SELECT 1", "--dsn", "clickhouse://u:secret@127.0.0.1:1/db"])
    assert down.exit_code == 1 and "error:" in down.output
    assert "secret" not in down.output
    bad = runner.invoke(app, ["audit", "verify", "--dsn", "mysql://x"])
    assert bad.exit_code == 2 and "error:" in bad.output  # a bad option value is a usage error


def test_a_line_that_is_not_utf8_goes_to_dlq_and_the_run_goes_on(tmp_path: Path) -> None:
    good = (CLAIMS / "events.jsonl").read_bytes().splitlines()[:3]
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join([good[0], b'{"claim_id": "C-\xff", "amount": 1.0}', *good[1:]]) + b"\n")
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["run", str(CLAIMS / "claims.yaml"), "--input", str(src), "--out", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    dlq = read_jsonl(out / "dwf.claims-triage.dlq.jsonl")
    assert [d["provenance"]["error"] for d in dlq] == ["line 2: not valid UTF-8 (byte 0xff at column 17)"]
    decided = [out / f"dwf.claims-triage.{b}.jsonl" for b in ("out", "rejected")]
    assert sum(len(read_jsonl(p)) for p in decided if p.exists()) == 3  # the three good lines still ran


def test_run_into_a_malformed_audit_dsn_is_a_clear_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "run",
            str(CLAIMS / "claims.yaml"),
            "--input",
            str(CLAIMS / "events.jsonl"),
            "--out",
            str(tmp_path),
            "--audit",
            "clickhouse://",
        ],
    )
    assert res.exit_code == 2 and "error:" in res.output  # a bad option value is a usage error


def test_avro_container_outputs_hold_the_same_decisions(tmp_path: Path) -> None:
    import fastavro

    events = tmp_path / "events.jsonl"
    events.write_text("\n".join((CLAIMS / "events.jsonl").read_text().splitlines()[:500]) + "\n")
    for fmt in ("jsonl", "avro"):
        res = runner.invoke(
            app,
            [
                "run",
                str(CLAIMS / "claims.yaml"),
                "--input",
                str(events),
                "--out",
                str(tmp_path / fmt),
                "--format",
                fmt,
                "--no-audit",
                "-q",
            ],
        )
        assert res.exit_code == 0, res.output
    for boundary in ("out", "rejected", "dlq"):
        with (tmp_path / "avro" / f"dwf.claims-triage.{boundary}.avro").open("rb") as fh:
            records = list(fastavro.reader(fh))
        expected = read_jsonl(tmp_path / "jsonl" / f"dwf.claims-triage.{boundary}.jsonl")
        assert [(r["run_id"], json.loads(r["payload_json"])) for r in records] == [
            (e["run_id"], e["payload"]) for e in expected
        ]


def test_drift_baseline_and_report_commands(tmp_path: Path) -> None:
    out = run(tmp_path, "out", tmp_path / "audit")
    records = out / "dwf.claims-triage.drift.jsonl"
    from_file = runner.invoke(
        app,
        [
            "drift",
            "report",
            str(CLAIMS / "claims.yaml"),
            "--records",
            str(records),
            "--svg",
            str(tmp_path / "file.svg"),
        ],
    )
    assert from_file.exit_code == 0, from_file.output
    for monitor in ("currency_mix", "claim_amount", "description_terms"):
        assert monitor in from_file.output
    svg = (tmp_path / "file.svg").read_text()
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    assert "alert" in svg and "warn" in svg  # the thresholds are drawn
    from_audit = runner.invoke(
        app,
        [
            "drift",
            "report",
            str(CLAIMS / "claims.yaml"),
            "--dsn",
            f"chdb://{tmp_path / 'audit'}",
            "--svg",
            str(tmp_path / "audit.svg"),
        ],
    )
    assert from_audit.exit_code == 0, from_audit.output
    assert (tmp_path / "audit.svg").read_text() == svg  # the audit holds the same records as the topic file

    baseline = runner.invoke(
        app,
        [
            "drift",
            "baseline",
            str(CLAIMS / "claims.yaml"),
            "--input",
            str(CLAIMS / "events.jsonl"),
            "--out",
            str(tmp_path / "base.json"),
        ],
    )
    assert baseline.exit_code == 0, baseline.output
    doc = json.loads((tmp_path / "base.json").read_text())
    assert doc["events"] == 9_890 and set(doc["monitors"]) == {
        "currency_mix",
        "claim_amount",
        "description_terms",
    }
    assert sum(doc["monitors"]["currency_mix"]["counts"].values()) == 9_890
