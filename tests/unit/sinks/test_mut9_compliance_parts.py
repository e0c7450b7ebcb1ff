"""The compliance report's pieces (sinks/compliance.py) from hand-made audit rows: what one use records (Art.
12: period, models with the version that answered, prompt templates, knowledge syncs, the input as
recorded or why it is not), an override's fields and their fallbacks, the checkpoint status line, and
what an empty scope suggests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.audit_scope import AuditScope
from dana_workflows.sinks.compliance import (
    CheckpointStatus,
    _empty_message,
    _is_use,
    _override,
    _recorded_input,
    _use,
)

pytestmark = pytest.mark.unit


def _row(seq: int, kind: str, details: object = None, **kw: Any) -> AuditRow:
    text = "{}" if details is None else details if isinstance(details, str) else json.dumps(details)
    version, step = kw.pop("version", 2), kw.pop("step", "s")
    return AuditRow("claims", version, "run-9", seq, "e", step, kind, details=text, **kw)


def test_a_use_records_its_period_models_prompts_knowledge_and_input() -> None:
    run = [
        _row(0, "received", {"input": '{"amount":5}'}, ts_us=100, version=1),
        _row(1, "emitted", {"dwf.llm.model_used": "gpt-x", "gen_ai.response.model": "gpt-x-2025",
                            "dwf.llm.template_id": "triage", "dwf.llm.template_version": 3}, ts_us=300),
        _row(2, "emitted", {"gen_ai.request.model": "small", "gen_ai.response.model": "small",
                            "dwf.knowledge.syncs": {"policies": "s-7", "faq": "s-2"}}, ts_us=200),
        _row(3, "rejected", decision="deny", reason="over limit", step="enforce", ts_us=250),
    ]  # fmt: skip
    use = _use(run, ["ana"])
    assert (use.run_id, use.workflow, use.workflow_versions) == ("run-9", "claims", [1, 2])
    assert (use.start_us, use.end_us) == (100, 300)
    assert (use.outcome, use.final_step, use.decision, use.reason) == (
        "rejected",
        "enforce",
        "deny",
        "over limit",
    )
    assert use.input == '{"amount":5}'
    assert use.models == ["gpt-x@gpt-x-2025", "small"]  # the answering version only when it differs
    assert use.prompts == ["triage v3"]
    assert use.knowledge == ["faq=s-2", "policies=s-7"]
    assert use.reviewers == ["ana"]


@pytest.mark.parametrize(
    ("details", "recorded"),
    [
        ({"input": {"a": 1}}, "{'a': 1}"),
        ({"input_fields": {"b": "enc:xyz", "a": 1}}, '{"a":1,"b":"enc:xyz"}'),
        ({"input_withheld": "payload larger than 64 KiB"}, "withheld: payload larger than 64 KiB"),
        ({}, "not recorded (written before input recording existed)"),
        ("not json", "not recorded (written before input recording existed)"),
        ("[1, 2]", "not recorded (written before input recording existed)"),
    ],
)
def test_the_input_as_recorded_or_why_not(details: object, recorded: str) -> None:
    assert _recorded_input([_row(0, "received", details)]) == recorded


def test_only_a_journey_starting_with_received_is_a_use() -> None:
    assert _is_use([_row(0, "received"), _row(1, "emitted")])
    assert not _is_use([_row(0, "drift"), _row(1, "drift")])


def test_an_override_and_its_fallbacks() -> None:
    details = {
        "reviewer": "ana",
        "decided_at_us": 999,
        "before": {"b": 2, "a": 1},
        "after": {"decision": "approve"},
    }
    row = _row(4, "overridden", details, decision="approve", reason="checked", ts_us=5)
    o = _override(row)
    assert (o.run_id, o.step, o.reviewer, o.decided_at_us) == ("run-9", "s", "ana", 999)
    assert (o.decision, o.reason, o.before, o.after) == (
        "approve",
        "checked",
        '{"a":1,"b":2}',
        '{"decision":"approve"}',
    )
    bare = _override(_row(5, "overridden", ts_us=77))
    assert (bare.reviewer, bare.decided_at_us, bare.before, bare.after) == ("(not recorded)", 77, "{}", "{}")


def test_the_checkpoint_status_line() -> None:
    assert CheckpointStatus().summary() == "none: no checkpoint location was given (--checkpoints)"
    assert CheckpointStatus("s3://b/cp").summary() == "no checkpoint of these workflows in s3://b/cp"
    assert (
        CheckpointStatus("d", 3, 120).summary()
        == "3 checkpoints in d, 120 committed rows: the log extends every checkpoint"
    )
    broken = CheckpointStatus("d", 3, 120, ["x", "y"])
    assert broken.summary() == "3 checkpoints in d, 120 committed rows: 2 findings"
    assert broken.ok is False and CheckpointStatus("d", 1, 1).ok is True


def test_an_empty_scope_says_what_to_try() -> None:
    assert _empty_message(AuditScope(run_id="r-1")) == (
        "no audit rows for run r-1; list runs with: "
        'dana-wf audit sql "SELECT DISTINCT run_id FROM dwf.events LIMIT 10"'
    )
    period = _empty_message(AuditScope(since_us=0, until_us=10))
    assert period.startswith("no audit rows in the ")
    assert period.endswith(
        '; see when rows were written with: dana-wf audit sql "SELECT min(ts), max(ts) FROM dwf.events"'
    )
