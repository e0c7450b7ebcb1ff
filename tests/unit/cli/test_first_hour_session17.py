"""Session 17's second newcomer pass (/tmp/newcomer2/FINDINGS.md): what a user meets after the first run, each
mistake answered in one line that names the place and the fix, and the run summary telling the real cost."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.cli.main import main
from dana_workflows.sinks.audit_model import AuditRow

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[object, str]:
    """`dana-wf ARGV` as the installed command runs it (cli.main.main, home of the last one-line answers)."""
    monkeypatch.setattr(sys, "argv", ["dana-wf", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _step_row(details: dict[str, object]) -> AuditRow:
    return AuditRow("wf", 1, "run", 3, "e", "assess", "emitted", details=json.dumps(details))


# E1: the step's row carries gen_ai.usage.* of its first call only; a verified answer made a second call
# (the policy_claims example: 410 tokens on the row, 886 in dwf.eff, `efficiency report` says 2 calls)
_VERIFIED = {
    "gen_ai.usage.input_tokens": 410,
    "gen_ai.usage.output_tokens": 17,
    "dwf.llm.cache_hit": False,
    "dwf.llm.latency_ms": 5.6,
    "dwf.eff": {
        "calls": {"combined": 1, "verify": 1},
        "avoided": {"combined": 1},
        "tokens": {"input": 886, "output": 34},
    },
}
_REPLAYED = {  # the same event again: both calls answered by the cache
    "gen_ai.usage.input_tokens": 0,
    "gen_ai.usage.output_tokens": 0,
    "dwf.llm.cache_hit": True,
    "dwf.eff": {"calls": {}, "avoided": {"cache": 2, "combined": 1}, "tokens": {"input": 0, "output": 0}},
}


def test_the_run_summary_counts_the_verification_call_too() -> None:
    usage = llm_usage([_step_row(_VERIFIED), _step_row(_VERIFIED)])
    assert usage is not None
    assert (usage.calls, usage.cache_hits, usage.input_tokens, usage.output_tokens) == (4, 0, 1772, 68)


def test_a_rerun_counts_every_call_the_cache_answered() -> None:
    usage = llm_usage([_step_row(_REPLAYED)])
    assert usage is not None
    assert (usage.calls, usage.cache_hits, usage.input_tokens, usage.output_tokens) == (0, 2, 0, 0)
