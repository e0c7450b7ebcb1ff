"""Edges of the processors found by mutation testing, each stated from the documented behaviour: run ids
(docs/audit.md: derived from the workflow, the input's position and its text), int fields at the int32
limits (Avro int) and long fields past them, an untouched envelope's provenance (the Avro provenance
record, all fields present), the LLM error classes and their texts (docs/llm.md, retries), a prompt
template that does not compile (naming the part), and a failing step's details kept on its outcome.
"""

from __future__ import annotations

import httpx2
import openai
import pytest

from dana_workflows.processors.base import FAIL, Outcome
from dana_workflows.processors.ingest import admit, check_field, empty_provenance, run_id_for
from dana_workflows.processors.llm.prompt import PromptError, PromptTemplate
from dana_workflows.processors.llm.retry import CallError, ErrorKind, classify
from dana_workflows.workflow.ir import FieldIR
from dana_workflows.workflow.spec import parse_spec
from tests.unit.processors.test_processors import env

pytestmark = pytest.mark.unit

REQ = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
SPEC = """
workflow: {name}
input: {{amount: double, n: int, big: long}}
steps:
  - v: {{validate: [{{id: r, rule: 'true'}}]}}
"""


def test_a_run_id_depends_on_the_workflow_the_position_and_the_text() -> None:
    line = '{"amount": 1.0, "n": 1, "big": 1}'
    ids = {run_id_for("claims", 0, line), run_id_for("refunds", 0, line), run_id_for("claims", 1, line)}
    ids.add(run_id_for("claims", 0, line + " "))
    assert len(ids) == 4 and all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    assert run_id_for("claims", 0, line) == run_id_for("claims", 0, line)
    # two workflows reading the same input open different runs
    a = admit(parse_spec(SPEC.format(name="claims")), line, 0, 0)
    b = admit(parse_spec(SPEC.format(name="refunds")), line, 0, 0)
    assert a.envelope.run_id != b.envelope.run_id


def test_a_line_that_is_not_text_still_gets_a_run_id() -> None:
    raw = b'{"amount": \xff}'.decode("utf-8", "surrogateescape")  # how input files are read
    run_id = run_id_for("claims", 3, raw)
    assert len(run_id) == 24 and run_id != run_id_for("claims", 3, '{"amount": ?}')


@pytest.mark.parametrize(
    ("type_", "value", "ok"),
    [
        ("int", -(2**31), True),
        ("int", 2**31 - 1, True),
        ("int", 2**31, False),
        ("int", -(2**31) - 1, False),
        ("long", 2**40, True),
        ("long", -(2**40), True),
    ],
)
def test_int_fields_hold_int32_and_long_fields_more(type_: str, value: int, ok: bool) -> None:
    got, problem = check_field(FieldIR(name="n", type=type_), value)  # type: ignore[arg-type]
    assert (problem is None) is ok
    if ok:
        assert got == value


def test_an_untouched_envelope_carries_every_provenance_field_empty() -> None:
    assert empty_provenance() == {
        "rule_results": [],
        "reasons": [],
        "route": None,
        "error": None,
        "model": None,
        "prompt_hash": None,
        "knowledge_versions": {},
    }


def test_a_failed_outcome_keeps_its_details() -> None:
    out = Outcome.fail(env(amount=1.0), "boom", details={"error_class": "timeout"})
    assert (out.kind, out.error, out.details) == (FAIL, "boom", {"error_class": "timeout"})


def test_llm_errors_are_classified_with_their_texts() -> None:
    assert classify(openai.APITimeoutError(REQ)) == CallError(ErrorKind.TRANSIENT, "timed out")
    connection = classify(openai.APIConnectionError(message="refused", request=REQ))
    unreachable = f"({REQ.url} unreachable; check the endpoint's base_url, e.g. DWF_LLM_DEFAULT__BASE_URL)"
    assert connection == CallError(ErrorKind.TRANSIENT, f"connection error: refused {unreachable}")
    invalid = classify(openai.APIError("no choices", REQ, body=None))
    assert invalid == CallError(ErrorKind.TRANSIENT, "invalid response: no choices")
    response = httpx2.Response(503, request=REQ, headers={"retry-after": "7"})
    busy = classify(openai.InternalServerError("Error code: 503", response=response, body=None))
    assert busy == CallError(ErrorKind.TRANSIENT, "HTTP 503: Error code: 503", 503, 7.0)


@pytest.mark.parametrize(("prompt", "system", "part"), [("{{ x", "", "prompt"), ("ok", "{% if %}", "system")])
def test_a_template_that_does_not_compile_names_its_part(prompt: str, system: str, part: str) -> None:
    with pytest.raises(PromptError) as raised:
        PromptTemplate(prompt, system, where="llm step 'assess'")
    message = str(raised.value)
    assert message.startswith(f"llm step 'assess': the {part} template does not compile (line 1: ")
    assert message.endswith("fix the Jinja2 syntax, e.g. '{{ field }}' for a field")
    assert "\n" not in message  # one line a person reads


def test_an_admitted_event_opens_its_run_with_received_then_emitted_pass() -> None:
    # docs/audit.md: `received` is always seq 0 and links to the genesis hash; ingest passes it on
    line = '{"amount": 1.0, "n": 1, "big": 1}'
    adm = admit(parse_spec(SPEC.format(name="claims")), line, 0, 5_000)
    assert adm.accepted
    assert [(r.seq, r.kind, r.step, r.decision) for r in adm.rows] == [
        (0, "received", "ingest", ""),
        (1, "emitted", "ingest", "pass"),
    ]
    assert adm.rows[0].prev_hash == "0" * 64 and adm.rows[1].prev_hash == adm.rows[0].hash


def test_a_passed_rule_has_no_message_and_a_failed_one_its_own() -> None:
    from dana_workflows.processors.rules import CompiledRule
    from dana_workflows.workflow.ir import RuleIR

    rule = CompiledRule.of(RuleIR(id="positive", expr="amount > 0.0", message="amount must be positive"), "v")
    assert rule.check({"amount": 1.0}).message == ""
    assert rule.check({"amount": -1.0}).message == "amount must be positive"


def test_a_rate_limit_is_classified_with_its_text() -> None:
    response = httpx2.Response(429, request=REQ, headers={"retry-after-ms": "250"})
    limited = classify(openai.RateLimitError("Error code: 429", response=response, body={"code": "rate"}))
    assert limited == CallError(ErrorKind.RATE_LIMITED, "HTTP 429: Error code: 429", 429, 0.25)
