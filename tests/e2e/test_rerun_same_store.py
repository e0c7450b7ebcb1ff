"""Two `dana-wf run`s of one input into one audit store: both verify, and so does the store.

Run ids come from the input, so without the store's epoch (streams/local/reruns.py) the second run's rows
took the first run's chain positions and its drift chain restarted at seq 0: `audit verify` said forked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()
CLAIMS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "claims"
LINES = 400


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")


def _run(tmp_path: Path, events: Path, audit: Path, out: str) -> None:
    args = ["run", str(CLAIMS / "claims.yaml"), "--input", str(events), "--out", str(tmp_path / out)]
    result = runner.invoke(app, [*args, "--audit", f"chdb://{audit}", "-q"])
    assert result.exit_code == 0, result.output  # the run's own chain check passes on the rerun too


def _sql(audit: Path, query: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["audit", "sql", query, "--audit", f"chdb://{audit}", "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def test_a_rerun_into_the_same_store_opens_new_runs_and_continues_the_drift_chain(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = (CLAIMS / "events.jsonl").read_text().splitlines()[:LINES]
    events.write_text("\n".join(lines) + "\n")
    audit = tmp_path / "audit"
    _run(tmp_path, events, audit, "first")
    _run(tmp_path, events, audit, "second")

    verified = runner.invoke(app, ["audit", "verify", "--audit", f"chdb://{audit}"])
    assert verified.exit_code == 0, verified.output
    assert "chains OK" in verified.output

    received = _sql(
        audit,
        "SELECT run_id, visitParamExtractUInt(details, 'ordinal') AS ordinal, "
        "visitParamExtractUInt(details, 'epoch') AS epoch FROM dwf.events WHERE kind = 'received'",
    )
    by_epoch: dict[int, dict[int, str]] = {}
    for row in received:
        by_epoch.setdefault(int(str(row["epoch"])), {})[int(str(row["ordinal"]))] = str(row["run_id"])
    assert sorted(by_epoch) == [0, 1] and all(len(runs) == LINES for runs in by_epoch.values())
    # the store's first run keeps the documented id: sha256(workflow \0 ordinal \0 line), 24 hex chars
    first = hashlib.sha256(f"claims-triage\x000\x00{lines[0]}".encode()).hexdigest()[:24]
    assert by_epoch[0][0] == first
    assert not set(by_epoch[0].values()) & set(by_epoch[1].values())

    drift = _sql(audit, "SELECT seq FROM dwf.events WHERE run_id = 'claims-triage.drift' ORDER BY seq")
    seqs = [int(str(r["seq"])) for r in drift]
    assert seqs == list(range(len(seqs))) and len(seqs) >= 2  # one chain, no second seq 0
