"""The compliance report and the model inventory after real runs (issue 18 item 5): ``dana-wf run`` of the
claims example's llm workflow against the project's OpenAI-compatible test server (``--llm-script``),
once with the registered model and once with a model the registry does not list; a reviewer's override
appended to one run's chain with the fields ``dana-wf review decide`` writes (kind ``override``, issue 18's
contract; the example has no review rung, so the real command's path is tests/e2e/test_compliance_review.py);
then ``dana-wf audit models`` and ``dana-wf audit compliance`` as a user runs them.

Expected values are read from the audit rows by this test (JSON parsed here, times formatted here), never
from the code under test."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.sinks.audit_model import AuditRow, seal
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.reader import read_rows

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "docs" / "examples" / "claims"
STEP = "triage.review.fraud_risk"
REGISTRY = """models:
  - {id: dwf-test-model, provider: openai_compatible, owner: claims-ml-team, risk_tier: high}
"""
REVIEWER = "r.auditor@example.com"
WHY = "the police report confirms the theft"


def dana_wf() -> list[str]:
    exe = shutil.which("dana-wf")
    return [exe] if exe else [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]


def cli(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
    base.update(
        DWF_AUDIT_DSN=f"chdb://{workdir / 'audit'}",
        DWF_CONFIG_FILE=str(workdir / "registry.yaml"),
        DWF_SCHEMA_REGISTRY=f"file://{workdir / 'schemas'}",
        **env,
    )
    return subprocess.run(
        [*dana_wf(), *args], cwd=workdir, env=base, capture_output=True, text=True, timeout=300
    )


def utc(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def details(row: AuditRow) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(row.details)
    return parsed


def model_of(row: AuditRow) -> str | None:
    """The model a row records a use of: the one that answered, else the one asked (a failed call)."""
    d = details(row)
    found = d.get("dwf.llm.model_used") or d.get("gen_ai.request.model")
    return str(found) if found else None


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[AuditRow], AuditRow]:
    """Two real runs into one audit store, then one override: (workdir, rows, the override row)."""
    workdir = tmp_path_factory.mktemp("compliance")
    (workdir / "registry.yaml").write_text(REGISTRY)
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()
    (workdir / "a.jsonl").write_text("\n".join(lines[:60]) + "\n")
    (workdir / "b.jsonl").write_text("\n".join(lines[60:120]) + "\n")
    script = str(CLAIMS / "llm_script.yaml")
    # the example without its drift monitors: two runs into one store fork the `<workflow>.drift` chain
    # (each run starts it at seq 0 again), which the report would rightly call broken
    spec = (CLAIMS / "claims_llm.yaml").read_text()
    (workdir / "claims_llm.yaml").write_text(spec[: spec.index("\ndrift:")] + "\n")
    for events, model in (("a.jsonl", "dwf-test-model"), ("b.jsonl", "dwf-fallback-model")):
        proc = cli(
            workdir,
            "run",
            "claims_llm.yaml",
            "--input",
            events,
            "--llm-script",
            script,
            DWF_LLM_DEFAULT__MODEL=model,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    store = ChdbAuditStore(workdir / "audit")
    try:
        rows = read_rows(store)
        # a reviewer overrides the answer of one event of the first run, as `dana-wf review decide` records it
        answered = next(
            r for r in rows if r.step == STEP and r.kind == "emitted" and model_of(r) == "dwf-test-model"
        )
        run = [r for r in rows if r.run_id == answered.run_id]
        decided_at = run[-1].ts_us + 1_000
        override = AuditRow(
            answered.workflow,
            answered.workflow_version,
            answered.run_id,
            run[-1].seq + 1,
            answered.event_id,
            STEP,
            "override",
            decision="risk=high",
            reason=WHY,
            details=canonical_json(
                {
                    "reviewer": REVIEWER,
                    "decided_at_us": decided_at,
                    "before": {"risk": "medium"},
                    "after": {"risk": "high"},
                }
            ),
            ts_us=decided_at,
        )
        store.insert([seal(override, run[-1].hash)])
    finally:
        store.close()
    return workdir, rows, override


def uses_of(rows: list[AuditRow], model: str) -> list[int]:
    return sorted(r.ts_us for r in rows if model_of(r) == model)


def test_the_inventory_lists_each_model_with_its_use_from_the_rows(audited: Any) -> None:
    workdir, rows, _ = audited
    proc = cli(workdir, "audit", "models", "--json")
    assert proc.returncode == 0, proc.stderr
    entries = {e["id"]: e for e in map(json.loads, proc.stdout.splitlines())}
    assert set(entries) == {"dwf-test-model", "dwf-fallback-model"}
    for model, entry in entries.items():
        times = uses_of(rows, model)
        assert (entry["first_use_us"], entry["last_use_us"]) == (times[0], times[-1]), model
        assert entry["runs"] == len({r.run_id for r in rows if model_of(r) == model})
    registered, stray = entries["dwf-test-model"], entries["dwf-fallback-model"]
    assert (registered["status"], registered["owner"], registered["risk_tier"]) == (
        "registered",
        "claims-ml-team",
        "high",
    )
    assert registered["versions"] == ["dwf-test-model"] and registered["providers"] == [
        "openai_compatible@127.0.0.1"
    ]
    # the second run used a model nobody registered: it is listed, flagged, and warned about on stderr
    assert stray["status"] == "unregistered" and stray["owner"] == ""
    assert "warning: model dwf-fallback-model is used" in proc.stderr
    assert uses_of(rows, "dwf-test-model")[-1] < uses_of(rows, "dwf-fallback-model")[0]
    table = cli(workdir, "audit", "models")
    assert "UNREGISTERED" in table.stdout and "claims-ml-team" in table.stdout


def test_the_run_report_holds_the_override_and_the_art_12_fields(audited: Any) -> None:
    workdir, rows, override = audited
    run = [r for r in rows if r.run_id == override.run_id] + [override]
    proc = cli(workdir, "audit", "compliance", "--run-id", override.run_id, "-o", "run.html")
    assert proc.returncode == 0, proc.stderr
    html = (workdir / "run.html").read_text()
    claim = json.loads(details(run[0])["input"])["claim_id"]
    for text in (
        utc(run[0].ts_us),
        utc(override.ts_us),  # the period of use: its first and last row
        f"{claim}&#34;",  # the input data the decision rests on (escaped)
        "model dwf-test-model",
        "prompt fraud_risk v1",  # reference data
        REVIEWER,
        WHY,
        "{&#34;risk&#34;:&#34;medium&#34;}",
        "{&#34;risk&#34;:&#34;high&#34;}",
        "Uses (EU AI Act Art. 12 logging)",
        ">registered<",
        "claims-ml-team",
    ):
        assert text in html, text
    assert "dwf-fallback-model" not in html  # the run's own inventory: that model was not used in it
    assert 'class="badge pass">verified</span> 1 runs' in html  # the override row extends the chain


def test_the_period_report_as_pdf_and_json(audited: Any) -> None:
    workdir, rows, override = audited
    first = min(r.ts_us for r in rows)
    since = datetime.fromtimestamp(first // 1_000_000, tz=UTC).isoformat()  # whole seconds: the first row in
    proc = cli(workdir, "audit", "compliance", "--since", since, "--format", "pdf", "-o", "period.pdf")
    assert proc.returncode == 0, proc.stderr
    assert "warning: model dwf-fallback-model is used" in proc.stderr
    pdf = pypdf.PdfReader(io.BytesIO((workdir / "period.pdf").read_bytes()))
    text = " ".join(page.extract_text() for page in pdf.pages)
    flat = re.sub(r"\s+", "", text)
    assert "UNREGISTERED" in text and "dwf-fallback-model" in flat and REVIEWER in flat
    proc = cli(workdir, "audit", "compliance", "--since", since, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["unregistered_models"] == ["dwf-fallback-model"] and report["ok"]
    assert [(o["reviewer"], o["reason"], o["run_id"]) for o in report["overrides"]] == [
        (REVIEWER, WHY, override.run_id)
    ]
    event_runs = {r.run_id for r in rows if r.kind == "received"}
    assert {u["run_id"] for u in report["uses"]} == event_runs  # 120 inputs, drift rows aside
    assert report["checkpoints"]["location"] is None and report["checkpoints"]["summary"].startswith("none")


def test_the_report_checks_exported_checkpoints(audited: Any, tmp_path: Path) -> None:
    workdir, _, override = audited
    key = tmp_path / "signing.pem"
    assert cli(workdir, "audit", "checkpoint", "keygen", "--out", str(key)).returncode == 0
    signing = {"DWF_AUDIT_SIGNING_KEY_FILE": str(key)}
    made = cli(
        workdir, "audit", "checkpoint", "create", "--to", str(tmp_path / "cp"), "--lag-s", "0", **signing
    )
    assert made.returncode == 0, made.stderr
    proc = cli(
        workdir,
        "audit",
        "compliance",
        "--run-id",
        override.run_id,
        "--format",
        "json",
        "--checkpoints",
        str(tmp_path / "cp"),
        **signing,
    )
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)["checkpoints"]
    assert status["ok"] and status["checkpoints"] == 1 and status["rows_committed"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--run-id", "0000nope"), "no audit rows for run 0000nope"),
        (("--since", "2020-01-01", "--until", "2020-02-01"), "no audit rows in the period 2020-01-01"),
        (("--since", "2020-02-01", "--until", "2020-01-01"), "is not before --until"),
        (("--since", "last tuesday"), "is not a time: give an ISO time"),
        (("--run-id", "x", "--since", "2020-01-01"), "not both"),
        ((), "name a run (--run-id ID) or a period"),
        (
            ("--since", "2020-01-01", "--checkpoints", "no-such-dir"),
            "--checkpoints no-such-dir: no such directory",
        ),
        (("--since", "2020-01-01", "--format", "pdf"), "name it with -o FILE.pdf"),
    ],
)
def test_bad_input_is_one_clear_line_and_writes_nothing(
    audited: Any, args: tuple[str, ...], message: str
) -> None:
    workdir, _, _ = audited
    out = workdir / "bad.html"
    proc = (
        cli(workdir, "audit", "compliance", *args, "-o", str(out))
        if "pdf" not in args
        else cli(workdir, "audit", "compliance", *args)
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
