"""The POET record and message builders, the typed output and the prompt template: pure edges.

From the docstrings: the naive protocol spends a perceive call and, when it proceeds, an operate and an
enforce call plus the same repairs; a phase row records the listed call fields only; the summary keeps
optional entries out until they are set; each message builder quotes rule id, CEL and message; extra
fields give a new output name with a suffix; strict schemas require every field; a fenced reply is
unfenced; a prompt with context puts the context before the question and gets a new hash.
"""

from __future__ import annotations

from collections import Counter

import pytest

from dana_workflows.processors.llm.output import OutputError, OutputSpec
from dana_workflows.processors.llm.phase_prompts import (
    CONFIDENCE,
    INPUT_OK,
    PERCEIVE_TASK,
    VERIFY_TASK,
    VIOLATED,
    combined_extra,
    combined_system,
    perceive_output,
    perceive_system,
    perceive_user,
    repair_history,
    rule_lines,
    verify_output,
    verify_system,
    verify_user,
    with_fields,
)
from dana_workflows.processors.llm.poet_record import EventRecord, call_fields_of
from dana_workflows.processors.llm.prompt import (
    PromptError,
    PromptTemplate,
    RenderedPrompt,
    prompt_hash,
    with_context,
)
from dana_workflows.workflow.ir import FieldIR, RuleIR

pytestmark = pytest.mark.unit

R1 = RuleIR(id="pos", expr="amount > 0", message="must be positive")
R2 = RuleIR(id="cap", expr="amount < 10")
OUT = OutputSpec((FieldIR(name="risk", type="string"),), "risk step")
RP = RenderedPrompt(system="SYS", user="USER", hash="h")


# -- the record ------------------------------------------------------------------------------------------


def test_naive_calls_are_perceive_then_operate_enforce_and_repairs_when_it_proceeds() -> None:
    ev = EventRecord("optimised", "s")
    assert ev.naive_calls == 3
    ev.repairs = 2
    assert ev.naive_calls == 5
    ev.proceeded = False
    assert ev.naive_calls == 1


def test_used_counts_attempts_tokens_and_cost_and_tolerates_missing_entries() -> None:
    ev = EventRecord("naive", "s")
    ev.used(
        "operate",
        {
            "dwf.llm.attempts": 2,
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 4,
            "dwf.llm.cost_usd": 0.25,
        },
    )
    ev.used("operate", {"dwf.llm.attempts": 1, "gen_ai.usage.input_tokens": None})
    ev.used("verify", {})
    assert ev.calls == Counter({"operate": 3, "verify": 0})
    assert (ev.input_tokens, ev.output_tokens, ev.cost_usd) == (10, 4, 0.25)


def test_the_summary_is_sorted_and_carries_optional_entries_only_when_set() -> None:
    ev = EventRecord("optimised", "s")
    ev.calls["verify"] += 1
    ev.calls["operate"] += 1
    ev.avoided["bypass"] += 1
    ev.cost_usd = 0.123456789
    s = ev.summary()
    assert s == {
        "mode": "optimised",
        "step": "s",
        "calls": {"operate": 1, "verify": 1},
        "avoided": {"bypass": 1},
        "tokens": {"input": 0, "output": 0},
        "cost_usd": 0.12345679,
        "settled_by": "call",
        "naive_calls": 3,
    }
    assert list(s["calls"]) == ["operate", "verify"]
    ev.risk = {"tier": "high"}
    ev.first_correct = False
    ev.confidence = 0.0
    ev.budget_alert = True
    s = ev.summary()
    assert s["risk"] == {"tier": "high"} and s["first_correct"] is False
    assert s["confidence"] == 0.0 and s["budget_alert"] is True


def test_phases_are_appended_in_order_with_their_details() -> None:
    ev = EventRecord("optimised", "s")
    ev.phase("perceive", "proceed", checks=2)
    ev.phase("operate", "answered")
    assert [(p.name, p.decision) for p in ev.phases] == [("perceive", "proceed"), ("operate", "answered")]
    assert ev.phases[0].details == {"checks": 2}
    assert all(p.duration_us >= 0 for p in ev.phases)


def test_a_phase_row_keeps_only_the_call_fields() -> None:
    audit = {
        "gen_ai.usage.input_tokens": 1,
        "dwf.llm.cache_hit": False,
        "dwf.llm.cost_usd": 0.0,
        "gen_ai.request.model": "m",
        "dwf.llm.error": "x",
    }
    assert call_fields_of(audit) == {
        "gen_ai.usage.input_tokens": 1,
        "dwf.llm.cache_hit": False,
        "dwf.llm.cost_usd": 0.0,
    }
    assert call_fields_of({}) == {}


# -- messages --------------------------------------------------------------------------------------------


def test_rule_lines_quote_id_cel_and_message() -> None:
    assert rule_lines([R1, R2]) == "- pos: amount > 0 (must be positive)\n- cap: amount < 10"
    assert rule_lines([]) == ""


def test_perceive_system_lists_checks_and_the_guard_only_when_given() -> None:
    full = perceive_system("s", [R1], "amount > 5")
    parts = full.split("\n\n")
    assert parts[0] == PERCEIVE_TASK and parts[1] == "Step: s."
    assert parts[2] == "Checks the input must pass:\n- pos: amount > 0 (must be positive)"
    assert parts[3] == "The step applies only when: amount > 5 (check id: when)."
    assert parts[4].startswith("Reply proceed=true")
    bare = perceive_system("s", [], None).split("\n\n")
    assert len(bare) == 3 and bare[2].startswith("Reply proceed=true")


def test_perceive_user_and_output() -> None:
    assert perceive_user(RP, {"b": 1, "a": "x"}) == 'USER\n\nInput record: {"a":"x","b":1}'
    spec = perceive_output("s")
    assert [f.name for f in spec.fields] == ["proceed", "failed_check"]
    assert spec.fields[1].optional and not spec.fields[0].optional
    assert spec.name == "s_perceive"


def test_combined_system_adds_only_what_is_asked() -> None:
    assert combined_system(RenderedPrompt("", "u", "h"), [], [], False) == ""
    text = combined_system(RP, [R2], [R1], True).split("\n\n")
    assert text[0] == "SYS"
    assert text[1].startswith(f"Before answering, check the input against these rules; set {INPUT_OK}=false")
    assert text[1].endswith("- cap: amount < 10")
    assert text[2] == "Your answer must meet these objectives:\n- pos: amount > 0 (must be positive)"
    assert text[3] == f"Set {CONFIDENCE} to the probability (0 to 1) that your answer is right."
    assert combined_system(RP, [], [], True).split("\n\n")[1].startswith(f"Set {CONFIDENCE}")


def test_extra_fields_are_optional_and_named_by_suffix() -> None:
    assert combined_extra(False, False) == ()
    assert [(f.name, f.type, f.optional) for f in combined_extra(True, True)] == [
        (INPUT_OK, "boolean", True),
        (CONFIDENCE, "double", True),
    ]
    assert [f.name for f in combined_extra(False, True)] == [CONFIDENCE]
    assert with_fields(OUT, (), "x") is OUT
    more = with_fields(OUT, combined_extra(True, False), "op")
    assert more.name == "risk_step_op" and [f.name for f in more.fields] == ["risk", INPUT_OK]
    v = verify_output(OUT)
    assert v.name == "risk_step_verify" and [f.name for f in v.fields] == ["risk", VIOLATED]


def test_verify_messages() -> None:
    parts = verify_system("s", [R2]).split("\n\n")
    assert parts[:3] == [
        VERIFY_TASK,
        "Step: s.",
        "The answer must meet these objectives:\n- cap: amount < 10",
    ]
    assert f"set {VIOLATED} to the id" in parts[3]
    assert len(verify_system("s", []).split("\n\n")) == 3
    assert verify_user(RP, {"z": 1, "a": 2}) == 'USER\n\nAnswer to verify: {"a":2,"z":1}'


def test_the_send_back_names_each_broken_rule() -> None:
    answer, ask = repair_history({"risk": "low"}, [R1, R2])
    assert answer == {"role": "assistant", "content": '{"risk":"low"}'}
    assert ask == {
        "role": "user",
        "content": "Your answer breaks the objective 'pos': amount > 0 (must be positive); "
        "'cap': amount < 10. Answer again so that it holds.",
    }


# -- output and prompt ----------------------------------------------------------------------------------


def test_output_names_are_sanitised_and_capped() -> None:
    assert OutputSpec(OUT.fields, "a b.c-d_e").name == "a_b_c-d_e"
    assert len(OutputSpec(OUT.fields, "x" * 100).name) == 64
    assert OutputSpec(OUT.fields, "").name == "output"


def test_the_schema_types_descriptions_and_the_instruction() -> None:
    spec = OutputSpec(
        (
            FieldIR(name="n", type="long", doc="how many"),
            FieldIR(name="x", type="float"),
            FieldIR(name="ok", type="boolean"),
            FieldIR(name="i", type="int", optional=True),
        ),
        "s",
    )
    props = spec.schema["properties"]
    assert props["n"] == {"type": "integer", "description": "how many"}
    assert props["x"] == {"type": "number"} and props["ok"] == {"type": "boolean"}
    assert props["i"] == {"type": ["integer", "null"]}
    assert spec.instruction().startswith(
        "Reply with only a JSON object, no prose, matching this JSON schema: {"
    )
    assert spec.nulls() == {"n": None, "x": None, "ok": None, "i": None}
    assert spec.parse('{"n": 3, "x": 1, "ok": true}') == {"n": 3, "x": 1.0, "ok": True, "i": None}


def test_replies_that_are_not_the_output_say_exactly_why() -> None:
    with pytest.raises(OutputError) as e:
        OUT.parse("[1]")
    assert str(e.value) == "the reply is JSON but not an object (got list)"
    with pytest.raises(OutputError) as e:
        OUT.parse("{}")
    assert str(e.value) == "the reply does not match the output fields (risk: Field required)"
    with pytest.raises(OutputError, match=r"^the reply is not valid JSON \(Expecting value at char 0\)$"):
        OUT.parse("nope")
    with pytest.raises(OutputError, match=r"^the reply is empty$"):
        OUT.parse("")
    assert OUT.parse('  ```\n{"risk": "a"}\n```  ') == {"risk": "a"}
    msgs = OUT.repair_messages(None, "bad")
    assert msgs[0] == {"role": "assistant", "content": ""}
    assert msgs[1]["content"] == f"That reply was rejected: bad. {OUT.instruction()}"


def test_a_template_renders_system_and_user_and_hashes_both() -> None:
    t = PromptTemplate("Claim {{ id }}", "You judge {{ kind }}.")
    r = t.render({"id": 7, "kind": "fraud"})
    assert (r.system, r.user) == ("You judge fraud.", "Claim 7")
    assert r.hash == prompt_hash("You judge fraud.", "Claim 7")
    assert r.hash != prompt_hash("Claim 7", "You judge fraud.")
    assert PromptTemplate("u").render({}).system == ""


def test_template_errors_name_the_place_and_the_part() -> None:
    with pytest.raises(PromptError, match=r"^claims\.risk: the system template does not compile \(line 1: "):
        PromptTemplate("ok", "{{ x ", where="claims.risk")
    with pytest.raises(PromptError) as e:
        PromptTemplate("{{ y }}", where="w").render({"b": 1, "a": 2})
    assert str(e.value).startswith("w: the prompt uses a name the event does not have (")
    assert str(e.value).endswith("available: a, b")


def test_context_goes_before_the_question_with_a_new_hash() -> None:
    r = PromptTemplate("Q?", "S").render({})
    assert with_context(r, "") is r
    c = with_context(r, "## Knowledge\nfacts\n")
    assert (c.system, c.user) == ("S", "## Knowledge\nfacts\n\nQ?")
    assert c.hash == prompt_hash("S", c.user) and c.hash != r.hash
