"""The README's offline LLM example, run as documented: ``dana-wf run claims_llm.yaml --input ...
--llm-script llm_script.yaml`` (the test server in-process), and the same workflow against the standalone
``dana-wf dev llm-server --script ...`` of docs/llm.md on a free port. No Kafka.

Input: the first 1,000 lines of docs/examples/claims/events.jsonl, which are exactly what the example's
generator makes for 1,000 claims, so its expected counts hold (the committed file is checked against the
generator in test_claims_example.py). Checked: exit code 0; outcome counts; one LLM call per review claim
with a description (the step's ``when``), none for the others; and a
second run over the same events, same working directory (same ``.dwf/llm-cache``), makes no new call.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dana_workflows.streams.local.outputs import read_jsonl

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "docs" / "examples" / "claims"
EVENTS = 1000
STEP = "triage.review.fraud_risk"


def dana_wf() -> list[str]:
    exe = shutil.which("dana-wf")
    return [exe] if exe else [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]


def expected_counts() -> Counter[str]:
    sys.path.insert(0, str(CLAIMS))
    try:
        import generate
    finally:
        sys.path.remove(str(CLAIMS))
    lines, expected = generate.generate(EVENTS, 7)
    assert lines == (CLAIMS / "events.jsonl").read_text().splitlines()[:EVENTS]
    counts: Counter[str] = expected
    return counts


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The working directory of the example: its events, and ``.dwf`` (outputs, cache, audit, schemas)."""
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()[:EVENTS]
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_example(workdir: Path, audit: str, *extra: str, env: dict[str, str] | None = None) -> None:
    """The README's command, with a smaller --input; each run audits to its own store (DWF_AUDIT_DSN)
    so the two runs' LLM calls can be told apart."""
    cmd = [
        *dana_wf(),
        *("run", str(CLAIMS / "claims_llm.yaml"), "--input", "events.jsonl"),
        *extra,
    ]
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        env={**(env or clean_env()), "DWF_AUDIT_DSN": f"chdb://{workdir / audit}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def llm_rows(workdir: Path, audit: str) -> Counter[tuple[str, bool]]:
    """(outcome, cache_hit) of every LLM transition in that run's audit store."""
    query = (
        "SELECT JSONExtractString(details, 'dwf.llm.outcome') AS outcome, "
        "JSONExtractBool(details, 'dwf.llm.cache_hit') AS hit, count() AS n "
        f"FROM dwf.events WHERE step = '{STEP}' AND kind = 'emitted' GROUP BY outcome, hit"
    )
    proc = subprocess.run(
        [*dana_wf(), "audit", "sql", query, "--json", "--dsn", f"chdb://{workdir / audit}"],
        cwd=workdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return Counter({(r["outcome"], bool(r["hit"])): int(r["n"]) for r in rows})


def check_outcomes(workdir: Path) -> int:
    """Outcome counts and risks as the generator and the reply script say; returns the calls due."""
    expected = expected_counts()
    out_dir = workdir / ".dwf" / "out"
    decided = read_jsonl(out_dir / "dwf.claims-triage-llm.out.jsonl")
    rejected = read_jsonl(out_dir / "dwf.claims-triage-llm.rejected.jsonl")
    dlq = read_jsonl(out_dir / "dwf.claims-triage-llm.dlq.jsonl")
    routes = Counter(r["payload"]["route"] for r in decided)
    assert routes == {"auto_pay": expected["auto_pay"], "review": expected["review"]}
    assert len(rejected) == expected["rejected"] and len(dlq) == expected["dlq"]
    review = [r for r in decided if r["payload"]["route"] == "review"]
    # the model answered every review claim with a description, and its answer reaches `out` (optional
    # fields after the branches join: null on auto-paid claims); no other claim was sent
    asked = [r for r in review if r["payload"]["description"]]
    assert all(r["provenance"].get("model") == "dwf-test-model" for r in asked)
    assert not any(r["provenance"].get("model") for r in decided if r not in asked)
    for r in asked:  # the reply script's rules: loss words -> risk, first match wins
        text, p = r["payload"]["description"], r["payload"]
        words = [("high", HIGH_RISK_WORDS), ("medium", MEDIUM_RISK_WORDS)]
        want = next((risk for risk, ws in words if any(w in text for w in ws)), "low")
        assert (p["risk"], p["confidence"] > 0, bool(p["rationale"])) == (want, True, True), r
    assert all(r["payload"]["risk"] is None for r in decided if r["payload"]["route"] == "auto_pay")
    return len(asked)


HIGH_RISK_WORDS = ("stolen", "theft", "fire", "total loss", "burglary", "arson")
MEDIUM_RISK_WORDS = ("water damage", "flood", "cash", "lost", "missing")


def test_readme_offline_llm_example_and_its_rerun_from_the_cache(workdir: Path) -> None:
    script = ["--llm-script", str(CLAIMS / "llm_script.yaml")]
    run_example(workdir, "audit-1", *script)
    calls = check_outcomes(workdir)
    assert calls > 200  # ~29% of the claims go to review, nearly all with a description
    skipped = expected_counts()["review"] - calls
    assert llm_rows(workdir, "audit-1") == {("ok", False): calls, ("skipped", False): skipped}

    run_example(workdir, "audit-2", *script)  # same events, same working directory: same cache
    assert check_outcomes(workdir) == calls
    assert llm_rows(workdir, "audit-2") == {("ok", True): calls, ("skipped", False): skipped}
    # no time limit asserted here: how fast the cache answers is bench/'s to measure (docs/testing.md)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def llm_server(tmp_path: Path) -> Iterator[str]:
    """``dana-wf dev llm-server --script docs/examples/claims/llm_script.yaml --port <free>``."""
    port = free_port()
    log = (tmp_path / "llm-server.log").open("w")
    proc = subprocess.Popen(
        [*dana_wf(), "dev", "llm-server", "--script", str(CLAIMS / "llm_script.yaml"), "--port", str(port)],
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "llm-server.log").read_text()
            try:
                if httpx.get(f"{root}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the llm server did not answer within 30 s"
            time.sleep(0.1)
        yield root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def server_log(root: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{root}/_log", timeout=10)
    r.raise_for_status()
    entries: list[dict[str, Any]] = r.json()["requests"]
    return entries


def test_standalone_llm_server_counts_one_call_per_review_claim_and_none_on_rerun(
    workdir: Path, llm_server: str
) -> None:
    env = clean_env(DWF_LLM_DEFAULT__BASE_URL=f"{llm_server}/v1")
    run_example(workdir, "audit-1", env=env)
    calls = check_outcomes(workdir)
    log = server_log(llm_server)
    assert len(log) == calls and {e["status"] for e in log} == {200}  # no retry, no 429
    assert {e["sdk_retry_count"] for e in log} == {"0"}  # the SDK retried nothing itself

    run_example(workdir, "audit-2", env=env)
    assert check_outcomes(workdir) == calls
    assert len(server_log(llm_server)) == calls  # the rerun was served from .dwf/llm-cache
