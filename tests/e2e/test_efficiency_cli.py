"""The efficiency commands end to end through the CLI, on the refunds example with its scripted model:
`dana-wf run` in each mode, `dana-wf efficiency report`, `dana-wf feedback`, `dana-wf efficiency
calibrate` (a versioned file and an audit row), and `dana-wf audit verify` over all of it.

The ten requests and their calls per mode are those of tests/unit/processors/llm/test_bench_counts.py,
written from the protocol of each mode before running.
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

from tests.unit.processors.llm.test_bench_counts import REQUESTS, request_lines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REFUNDS = ROOT / "docs" / "examples" / "refunds"


def dana_wf(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dana-wf")
    cmd = [exe] if exe else [sys.executable, "-c", "from dana_workflows.cli.main import main; main()"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=300
    )


def run_mode(tmp: Path, mode: str) -> str:
    audit = f"chdb://{tmp / mode}"
    proc = dana_wf(
        *("run", str(REFUNDS / "refunds.yaml"), "--input", "requests.jsonl", "--audit", audit),
        *("--llm-script", str(REFUNDS / "llm_script.yaml"), "--out", f"out-{mode}"),
        cwd=tmp,
        DWF_LLM_EFFICIENCY=mode,
        DWF_LLM_CACHE_PATH=str(tmp / f"cache-{mode}"),
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return audit


def report(tmp: Path, audit: str, *extra: str) -> dict[str, Any]:
    proc = dana_wf("efficiency", "report", *extra, "--audit", audit, "--json", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    figures: dict[str, Any] = json.loads(proc.stdout)
    return figures


def test_run_report_feedback_calibrate_verify(tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl").write_text("\n".join(request_lines()) + "\n")
    naive = run_mode(tmp_path, "naive")
    optimised = run_mode(tmp_path, "optimised")
    n, o = report(tmp_path, naive), report(tmp_path, optimised)
    assert (n["events"], n["calls"], n["naive_calls_estimate"]) == (10, 26, 26)
    assert (o["events"], o["calls"], o["calls_by_phase"]) == (
        10,
        11,
        {"combined": 7, "repair": 1, "verify": 3},
    )
    assert o["ratio_to_naive"] == round(11 / 27, 4)  # the estimate counts the send-back naive would not need
    assert o["high_risk_bypassed"] == 0
    text = dana_wf("efficiency", "report", "--audit", optimised, cwd=tmp_path)
    assert text.returncode == 0 and "share of savings" in text.stdout and "known_answer" in text.stdout

    # one run's report: the first request (never arrived: one combined call, bypassed)
    runs = dana_wf(
        *("audit", "sql", "SELECT run_id FROM dwf.events WHERE kind = 'operate' ORDER BY ts_us LIMIT 1"),
        *("--audit", optimised, "--json"),
        cwd=tmp_path,
    )
    run_id = json.loads(runs.stdout.splitlines()[0])["run_id"]
    one = report(tmp_path, optimised, run_id)
    assert (one["events"], one["calls"]) == (1, 1)

    # a person says that answer was wrong; the calibration counts it (with every naive verdict)
    bad = dana_wf(
        "feedback", "no-such-run", "--step", "decide", "--wrong", "--audit", optimised, cwd=tmp_path
    )
    assert bad.returncode == 2 and "no answer of an llm step" in bad.stderr and "Traceback" not in bad.stderr
    ok = dana_wf(
        "feedback", run_id, "--step", "decide", "--wrong", "--by", "qa", "--audit", optimised, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    cal = tmp_path / "cal"
    for version in (1, 2):
        proc = dana_wf(
            "efficiency",
            "calibrate",
            str(REFUNDS / "refunds.yaml"),
            "--audit",
            optimised,
            "--out",
            str(cal),
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"calibration v{version}" in proc.stdout
    written = json.loads((cal / "refund-decisions.v1.json").read_text())
    # judged answers: the two medium ones optimised verified (gold, low confidence; the high one is no
    # bypass candidate), and the bypassed low one a person called wrong; too few for any threshold
    tiers = written["steps"]["decide"]
    assert (tiers["medium"]["records"], tiers["low"]["records"]) == (2, 1)
    assert tiers["low"]["threshold"] is None and tiers["medium"]["threshold"] is None
    rows = dana_wf(
        *(
            "audit",
            "sql",
            "SELECT kind, decision FROM dwf.events WHERE kind IN ('feedback', 'calibration') ORDER BY seq",
        ),
        *("--audit", optimised, "--json"),
        cwd=tmp_path,
    )
    kinds = [(json.loads(line)["kind"], json.loads(line)["decision"]) for line in rows.stdout.splitlines()]
    assert sorted(kinds) == [("calibration", "v1"), ("calibration", "v2"), ("feedback", "wrong")]
    verify = dana_wf("audit", "verify", "--audit", optimised, cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert len(REQUESTS) == 10
