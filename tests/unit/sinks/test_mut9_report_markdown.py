"""The Markdown compliance report of one run (sinks/report.py), line by line, for a hand-made three-row chain:
the header (workflow, version, times in UTC, the final decision, the chain's status), the steps table, the
rule results table (pipes and newlines escaped so a cell never breaks the table) and every hash whole.
"""

from __future__ import annotations

import json

import pytest

from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks.audit_model import AuditRow, seal
from dana_workflows.sinks.report import render_markdown

pytestmark = pytest.mark.unit

T0 = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC in µs


def _chain() -> list[AuditRow]:
    rules = [
        {"step": "check", "rule_id": "within_limit", "passed": False, "severity": "error",
         "message": "amount | over\nlimit", "values": {"amount": 379.45}},
        {"step": "check", "rule_id": "positive", "passed": True, "severity": "warning",
         "message": "ok", "values": {}},
    ]  # fmt: skip
    rows = [
        AuditRow("claims", 3, "run-1", 0, "e1", "intake", "received", ts_us=T0),
        AuditRow("claims", 3, "run-1", 1, "e1", "check|limits", "routed", "pay", "small\nclaim",
                 json.dumps(rules), attempt=2, duration_us=1500, ts_us=T0 + 1_500_000),
        AuditRow("claims", 3, "run-1", 2, "e1", "enforce", "rejected", "deny", "over limit",
                 ts_us=T0 + 61_000_250),
    ]  # fmt: skip
    prev = GENESIS_HASH
    for row in rows:
        prev = seal(row, prev).hash
    return rows


def test_the_report_of_a_verified_run() -> None:
    rows = _chain()
    h0, h1, h2 = (r.hash for r in rows)
    assert render_markdown(rows) == "\n".join(
        [
            "# Audit report: run `run-1`",
            "",
            "- Workflow: **claims**, version **3**",
            "- Started: 2026-01-01 00:00:00.000000 UTC; last event: 2026-01-01 00:01:01.000250 UTC",
            "- Final decision: **rejected** at `enforce` (deny)",
            "- Audit rows: 3; hash chain: "
            "**verified: every row matches its hash and links to the one before**",
            "",
            "## Steps",
            "",
            "| # | step | transition | decision | reason | attempt | µs |",
            "|---|---|---|---|---|---|---|",
            "| 0 | intake | received |  |  | 0 | 0 |",
            "| 1 | check\\|limits | routed | pay | small claim | 2 | 1500 |",
            "| 2 | enforce | rejected | deny | over limit | 0 | 0 |",
            "",
            "## Rule results",
            "",
            "| step | rule | passed | severity | message | values read |",
            "|---|---|---|---|---|---|",
            "| check | within_limit | NO | error | amount \\| over limit | `{'amount': 379.45}` |",
            "| check | positive | yes | warning | ok | `{}` |",
            "",
            "## Hashes",
            "",
            "| # | prev_hash | hash |",
            "|---|---|---|",
            f"| 0 | `{GENESIS_HASH}` | `{h0}` |",
            f"| 1 | `{h0}` | `{h1}` |",
            f"| 2 | `{h1}` | `{h2}` |",
            "",
        ]
    )


def test_a_broken_chain_is_said_with_its_findings_and_no_decision_in_parentheses() -> None:
    rows = _chain()[:2]
    rows[1].decision = ""  # changed after sealing: its hash no longer matches
    text = render_markdown(rows)
    lines = text.splitlines()
    assert lines[4] == "- Final decision: **routed** at `check|limits`"
    assert lines[5] == "- Audit rows: 2; hash chain: **BROKEN**"
    assert lines[6].startswith("  - ") and "seq 1" in lines[6]
    assert lines[7] == ""
    assert text.endswith("\n")
