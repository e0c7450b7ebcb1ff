"""Audit rows and compiled pipeline shape that no other unit test pinned (issue 22, processors group):
a failed attempt's `error` row (docs/audit.md: its phases first, `details` = the step's details, the error
class of a raised exception, processors/recovery.py `classify_exception`), a `review` placement
(docs/recovery.md: the `recovery` row and the `review` row carry the error and the class), ingest's
`dlq` and `rejected` rows (decision, step `ingest`, the given time, schema rule ids `schema.<field>`),
and what compile_pipeline records for a route's branches.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dana_workflows.processors.base import Outcome, Phase
from dana_workflows.processors.executor import execute
from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import REVIEW, CompileError, compile_pipeline
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.workflow.spec import parse_spec
from tests.unit.processors.test_executor_step_rows import ONE_STEP, arriving, clock, node_of

pytestmark = pytest.mark.unit

FAILED_PHASES = (
    Phase("perceive", "pass", 7, {"checks": []}),
    Phase("operate", "call", 900, {"dwf.llm.model_used": "m"}),
)


class Raises:
    """A step whose every attempt raises `exc` (what a processor does when its call fails)."""

    name = "assess"
    kind = "llm"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def process(self, env: Envelope, ctx: Any) -> Outcome:
        raise self.exc


def one_step_with(recovery: str) -> str:
    return ONE_STEP.replace(
        "  - assess: {validate: [{id: r, rule: 'true'}]}\n",
        f"  - assess:\n      validate: [{{id: r, rule: 'true'}}]\n      recovery: {recovery}\n",
    )


@pytest.mark.parametrize(
    ("exc", "error_class"),
    [
        (TimeoutError("slow"), "timeout"),
        (ConnectionError("gone"), "transport"),
        (ValueError("bad"), "step_error"),
    ],
)
async def test_a_raised_exceptions_error_row_names_its_error_class(exc: Exception, error_class: str) -> None:
    node = node_of(ONE_STEP, None)
    node.processor = Raises(exc)
    res = await execute(node, arriving(), clock())
    error = next(r for r in res.rows if r.kind == "error")
    assert json.loads(error.details) == {"error_class": error_class}
    assert error.reason == f"{type(exc).__name__}: {exc}"


async def test_a_failed_steps_phases_and_details_are_audited_before_its_error_row() -> None:
    details = {"dwf.llm.outcome": "schema_error"}
    node = node_of(
        ONE_STEP, lambda env: Outcome.fail(env, "no valid answer", details=details, phases=FAILED_PHASES)
    )
    res = await execute(node, arriving(), clock())
    kinds = [(r.kind, r.decision, r.step, r.attempt) for r in res.rows]
    assert kinds[:3] == [
        ("perceive", "pass", "assess", 0),
        ("operate", "call", "assess", 0),
        ("error", "", "assess", 0),
    ]
    assert json.loads(res.rows[0].details) == {"checks": []}
    assert json.loads(res.rows[1].details) == {"dwf.llm.model_used": "m"}
    assert res.rows[2].reason == "no valid answer"
    assert json.loads(res.rows[2].details) == details
    assert [r.seq for r in res.rows[:3]] == [3, 4, 5]


async def test_a_review_placement_carries_the_error_and_its_class() -> None:
    node = node_of(one_step_with("{ladder: [review]}"), lambda env: Outcome.fail(env, "model said no"))
    res = await execute(node, arriving(), clock())
    assert res.boundary == REVIEW and not res.forwarded
    recovery = next(r for r in res.rows if r.kind == "recovery")
    review = next(r for r in res.rows if r.kind == "review")
    # docs/recovery.md: a failed outcome without a class is a step error; review is a placement (succeeded)
    assert (recovery.decision, recovery.reason) == ("review", "model said no")
    assert json.loads(recovery.details) == {"error_class": "step_error", "succeeded": True}
    assert (review.decision, review.reason, review.step) == ("review", "model said no", "assess")
    assert json.loads(review.details) == {"error_class": "step_error", "rung": "review"}
    assert res.envelope.provenance["review"] == {
        "reason": "model said no",
        "error_class": "step_error",
        "rung": "review",
    }


INGEST_SPEC = (
    "workflow: w\ninput: {amount: double, who: string}\nsteps:\n  - v: {validate: [{id: r, rule: 'true'}]}\n"
)


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42", "null"])
def test_a_line_that_is_not_a_json_object_is_dead_lettered_at_ingest(line: str) -> None:
    adm = admit(parse_spec(INGEST_SPEC), line, 6, 5_000)
    assert adm.dead and not adm.accepted
    assert adm.reasons == ["line 7: an event must be a JSON object"]
    dlq = adm.rows[-1]
    assert [r.kind for r in adm.rows] == ["received", "dlq"]
    assert (dlq.step, dlq.decision, dlq.reason, dlq.ts_us) == (
        "ingest",
        "dlq",
        "line 7: an event must be a JSON object",
        5_000,
    )
    assert dlq.event_id == adm.rows[0].event_id  # the same event's chain
    assert adm.envelope.payload == {"raw": line}
    assert adm.envelope.provenance["error"] == "line 7: an event must be a JSON object"


def test_invalid_json_is_dead_lettered_with_decision_dlq() -> None:
    adm = admit(parse_spec(INGEST_SPEC), "{", 0, 9)
    assert adm.dead and (adm.rows[-1].kind, adm.rows[-1].decision) == ("dlq", "dlq")


def test_a_rejected_line_is_audited_at_ingest_with_schema_rule_ids() -> None:
    adm = admit(parse_spec(INGEST_SPEC), '{"amount": "lots", "who": "ann"}', 0, 7_000)
    assert not adm.accepted and not adm.dead
    rejected = adm.rows[-1]
    assert (rejected.kind, rejected.step, rejected.decision, rejected.ts_us) == (
        "rejected",
        "ingest",
        "reject",
        7_000,
    )
    results = json.loads(rejected.rule_results)
    assert [(r["rule_id"], r["step"], r["passed"]) for r in results] == [
        ("schema.amount", "ingest", False),
        ("schema.who", "ingest", True),
    ]
    assert rejected.reason.startswith("schema.amount: ")


ROUTED_TERMINAL = """
workflow: w
input: {amount: double}
steps:
  - triage:
      route:
        held:
          when: "amount > 100.0"
          terminal: true
          steps:
            - tag: {transform: {rename: {amount: held_amount}}}
        fine:
          when: "true"
          steps:
            - check: {validate: [{id: r, rule: 'true'}]}
  - after: {validate: [{id: r2, rule: 'true'}]}
"""


def test_a_terminal_branch_is_a_terminal_and_its_steps_are_entered_from_the_branch() -> None:
    p = compile_pipeline(parse_spec(ROUTED_TERMINAL))
    assert p.terminals == ["out", "held"]
    # a branch's first step consumes the branch's entry boundary `<route>.<branch>`
    assert p.consumers["triage.held"] == "triage.held.tag"
    assert p.consumers["triage.fine"] == "triage.fine.check"
    assert p.nodes["triage.fine.check"].input == "triage.fine"  # the topic it reads
    # the terminal boundary's fields: the routed input as the branch's steps leave it (amount renamed)
    assert set(p.boundaries["held"]) == {"held_amount", "route"}
    assert p.boundaries["held"]["held_amount"].type == "double"


def test_a_review_rung_and_a_review_branch_clash_with_a_message_naming_the_fix() -> None:
    text = one_step_with("{ladder: [review]}") + (
        "  - r:\n      route:\n        review: {when: 'true', terminal: true}\n"
    )
    with pytest.raises(CompileError) as err:
        compile_pipeline(parse_spec(text))
    assert str(err.value) == (
        "a recovery ladder sends events to 'review', but a step or terminal branch of that name "
        "already has the topic; rename it (e.g. manual_review)"
    )
