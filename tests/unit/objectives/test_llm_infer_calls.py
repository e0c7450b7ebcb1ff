"""`objectives infer --llm` sized for a small model, against the project's OpenAI-compatible test server.

The spec of the behaviour (docs/objectives.md, the --llm paragraph): one call per target, never retried,
within `--llm-timeout` seconds and `--llm-max-tokens` tokens, a prompt within `llm_prompt_tokens`; a
timeout's note names the model, its URL and `--llm-timeout`; an answer that holds no rule says what came
back and names the model and URL; every rule the model gives passes the gates before it is offered.

The scripted model answers from the prompt's content (the last user message: the worked example comes
first): rules for the loan fields, prose for a workflow with a `remarks` field, a cut-off answer for one
with a `memo` field; the slow model answers every prompt, but only after 30 s
(far past any limit the tests give it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dana_workflows.cli import objectives as cli_objectives
from dana_workflows.cli.main import app
from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.objectives.boundaries import boundaries
from dana_workflows.objectives.llm_proposals import (
    EXAMPLE_ANSWER,
    EXAMPLE_PROMPT,
    OUTPUT,
    SYSTEM,
    prompt_for,
    propose_all,
    salvage,
)
from dana_workflows.objectives.sample import load_sample, split
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.processors.llm import LLMClient, LLMRequest
from dana_workflows.processors.llm.client import LLMResult
from dana_workflows.processors.llm.limits import estimate_tokens
from dana_workflows.workflow.objectives_lock import lock_path, read_lock
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

LENDING = Path(__file__).resolve().parents[3] / "docs" / "examples" / "lending"
LOAN_RULES = "\n".join(
    [
        "loan_positive | loan_amount > 0.0 | a loan has an amount",
        "int_on_double | loan_amount + 1 > 0.0 | a double plus an int: does not type-check",
        "ghost | premium > 1.0 | a field the workflow does not have",
        "too_tight | loan_amount < 10.0 | contradicted by the known-good events",
    ]
)
CUT_REPLY = '{"rules": "memo_set | size(memo) > 0 | a memo is never empty\\nmemo_short | size(memo) <'
SCRIPT = {
    "models": ["dwf-test-model", "slow-model"],
    "rules": [
        {
            "name": "loans",
            "match": {"contains": ["- loan_amount: double"], "where": "last_user"},
            "reply": {"rules": LOAN_RULES},
        },
        {
            "name": "prose",
            "match": {"contains": ["- remarks: string"], "where": "last_user"},
            "reply": {"rules": "Sure! Loans should be approved carefully."},
        },
        {
            "name": "cut",
            "match": {"contains": ["- memo: string"], "where": "last_user"},
            "text": CUT_REPLY,
        },
        {"name": "none", "reply": {"rules": ""}},
    ],
    "faults": {"slow": {"always": True, "models": ["slow-model"], "delay_s": 30.0}},
}
FIELD_SPEC = """
workflow: notes
description: Keep notes.
input: {{{field}: string, amount: double}}
steps:
  - check:
      validate:
        - {{id: positive, rule: "amount > 0.0"}}
"""


@pytest.fixture
def llm_server_script() -> Script:
    return Script.model_validate(SCRIPT)


@pytest.fixture
def served(llm_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DWF_LLM_DEFAULT__BASE_URL", llm_server.base_url)
    monkeypatch.setenv("DWF_LLM_DEFAULT__MODEL", "dwf-test-model")
    return llm_server


def _lending(tmp_path: Path) -> Path:
    for name in ("lending.yaml", "sample.jsonl"):
        shutil.copy(LENDING / name, tmp_path / name)
    return tmp_path / "lending.yaml"


def _infer(spec: Path, sample: Path, *extra: str) -> Any:
    args = ["objectives", "infer", str(spec), "--sample", str(sample), "--llm", *extra]
    return CliRunner().invoke(app, args)


def _field_workflow(tmp_path: Path, field: str) -> Path:
    spec = tmp_path / f"{field}.yaml"
    spec.write_text(FIELD_SPEC.format(field=field))
    events = [{field: f"text {i % 7}", "amount": 10.0 + i} for i in range(60)]
    (tmp_path / f"{field}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return spec


def test_a_valid_rule_is_offered_with_its_evidence_and_the_others_are_not(
    tmp_path: Path, served: Any
) -> None:
    spec = _lending(tmp_path)
    result = _infer(spec, tmp_path / "sample.jsonl")
    assert result.exit_code == 0, result.output
    rules = {r.id: r for r in read_lock(lock_path(spec)).rules}
    offered = rules["loan_positive"]
    assert offered.rule == "loan_amount > 0.0" and offered.status == "proposed"
    assert offered.evidence["profile"] == "llm"
    assert offered.evidence["sample_violations"] == 0 and offered.evidence["holdout_violations"] == 0
    assert not {"int_on_double", "ghost", "too_tight"} & set(rules)
    for refused in ("int_on_double", "ghost", "too_tight"):
        assert f"not offered: {refused} (llm)" in result.output
    log = served.log()
    assert len(log) == 1  # one target (the input), one call
    assert "the model gave no rules" not in result.output


def test_the_request_is_sized_for_a_small_model(
    tmp_path: Path, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[LLMRequest] = []
    complete = LLMClient.complete

    async def recording(self: LLMClient, req: LLMRequest, **kw: Any) -> LLMResult:
        sent.append(req)
        return await complete(self, req, **kw)

    monkeypatch.setattr(LLMClient, "complete", recording)
    spec = _lending(tmp_path)
    result = _infer(spec, tmp_path / "sample.jsonl", "--llm-max-tokens", "77", "--llm-timeout", "12")
    assert result.exit_code == 0, result.output
    (req,) = sent
    assert req.max_tokens == 77 and req.timeout_s == 12.0
    (entry,) = served.log()
    assert entry["messages"] == 4 and entry["user"] == EXAMPLE_PROMPT  # the worked example goes first
    asked = req.history[-1]["content"]
    assert "- loan_amount: double, e.g. 6800.0, 8600.0, 36200.0" in asked
    texts = (req.system, req.output.instruction(), req.prompt, *(m["content"] for m in req.history))
    assert estimate_tokens(*texts) <= InferenceSettings().llm_prompt_tokens


def test_a_timeout_is_one_call_and_its_note_names_the_flag_the_model_and_the_url(
    tmp_path: Path, served: Any
) -> None:
    spec = _lending(tmp_path)
    result = _infer(spec, tmp_path / "sample.jsonl", "--model", "slow-model", "--llm-timeout", "0.5")
    assert result.exit_code == 0, result.output
    note = " ".join(line for line in result.output.splitlines() if "note: input" in line)
    assert "slow-model" in note and served.base_url in note
    assert "did not answer within 0.5 s" in note and "--llm-timeout" in note
    assert len(served.log()) == 1  # not retried
    # the profilers' proposals are offered all the same
    assert "loan_amount_range" in {r.id for r in read_lock(lock_path(spec)).rules}


def test_an_answer_in_prose_names_the_model_and_what_it_said(tmp_path: Path, served: Any) -> None:
    spec = _field_workflow(tmp_path, "remarks")
    result = _infer(spec, tmp_path / "remarks.jsonl")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "note: input: the model gave no rules: dwf-test-model at " + served.base_url in flat
    assert "answered 'Sure! Loans should be approved carefully.'" in flat
    assert "DWF_LLM_DEFAULT__MODEL" in flat
    assert not [r for r in read_lock(lock_path(spec)).rules if r.evidence.get("profile") == "llm"]


def test_a_cut_answer_keeps_its_whole_rules_only(tmp_path: Path, served: Any) -> None:
    spec = _field_workflow(tmp_path, "memo")
    result = _infer(spec, tmp_path / "memo.jsonl")
    assert result.exit_code == 0, result.output
    llm_rules = {r.id: r.rule for r in read_lock(lock_path(spec)).rules if r.evidence.get("profile") == "llm"}
    assert llm_rules == {"memo_set": "size(memo) > 0"}
    assert "its lines with a whole rule are used" in " ".join(result.output.split())


def test_progress_is_one_line_a_call_on_a_terminal_only(
    tmp_path: Path, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _lending(tmp_path)
    out = tmp_path / "stderr.txt"
    with out.open("w") as f:
        monkeypatch.setattr(cli_objectives, "err", Console(file=f, force_terminal=True, width=300))
        assert _infer(spec, tmp_path / "sample.jsonl").exit_code == 0
    lines = [x for x in out.read_text().splitlines() if x.startswith("llm ")]
    assert len(lines) == 1
    assert lines[0].startswith(f"llm 1/1 input: asking dwf-test-model at {served.base_url} (timeout 90 s)")
    assert lines[0].endswith(" s") and "... 4 rules in " in lines[0]  # 4 lines parse; the gates come later
    piped = _infer(spec, tmp_path / "sample.jsonl")  # CliRunner's stderr is no terminal
    assert "llm 1/1" not in piped.output


def test_progress_reports_each_target(tmp_path: Path, served: Any) -> None:
    spec = _lending(tmp_path)
    ir = parse_spec(spec.read_text(), str(spec), base_dir=tmp_path)
    learn, held = split(load_sample(tmp_path / "sample.jsonl", ir.input, 30))
    bounds, _ = boundaries(ir, learn, held)
    said: list[str] = []
    found, notes = propose_all(ir, bounds * 2, "default", InferenceSettings(), said.append)
    assert "".join(said).count("\n") == 2 and "llm 2/2 input" in said[2]
    assert [c.id for c in found["input"]] == ["loan_positive", "int_on_double", "ghost", "too_tight"]
    assert notes == []
    _, notes = propose_all(ir, bounds, "default", InferenceSettings(llm_prompt_tokens=300))
    (note,) = notes
    assert note.startswith("input: the model was not shown ") and ", co_applicant_id: the prompt" in note
    assert note.endswith("holds llm_prompt_tokens 300 (objectives/settings.py)")


def test_the_prompt_keeps_within_its_budget() -> None:
    ir = parse_spec((LENDING / "lending.yaml").read_text(), "lending.yaml", base_dir=LENDING)
    sample = load_sample(LENDING / "sample.jsonl", ir.input, 30)
    (bound,), _ = boundaries(ir, sample, sample)
    fixed = estimate_tokens(SYSTEM, OUTPUT.instruction(), EXAMPLE_PROMPT, EXAMPLE_ANSWER)

    def size(prompt: str) -> int:
        return fixed + estimate_tokens(prompt)

    roomy, left = prompt_for(ir, bound, InferenceSettings())
    ids = ", ".join(str(e["application_id"]) for e in sample.events[:3])
    assert left == [] and f"- application_id: string, e.g. {ids}" in roomy
    # one token short of the roomy prompt: the example values go, every field stays
    bare, left = prompt_for(ir, bound, InferenceSettings(llm_prompt_tokens=size(roomy) - 1))
    assert left == [] and "e.g." not in bare and "- co_applicant_id: string or null" in bare.splitlines()
    # one token short of that: the last field goes too, and the note can name it
    budget = size(bare) - 1
    tight, left = prompt_for(ir, bound, InferenceSettings(llm_prompt_tokens=budget))
    assert left == ["co_applicant_id"] and size(tight) <= budget
    assert tight.splitlines() == bare.splitlines()[:-1]
    # room for none of the fields: all are named
    _, left = prompt_for(ir, bound, InferenceSettings(llm_prompt_tokens=fixed))
    assert left == list(bound.fields)


@pytest.mark.parametrize(
    ("reply", "lines"),
    [
        ('{"rules": "a | x > 0.0 | pos\\nb | y > 1', "a | x > 0.0 | pos"),
        (
            '{"rules": "a | x > 0.0 | pos\\nb | y > 1.0 | whole rule, cut reas',
            "a | x > 0.0 | pos\nb | y > 1.0 | whole rule, cut reas",
        ),
        ('{"rules": "a | s == \\"q\\" | quoted\\nb | t\\u00', 'a | s == "q" | quoted'),
        ('{"rules": "a | x > 1', ""),
        ("Sure, here are rules", ""),
    ],
)
def test_salvage_keeps_the_lines_whose_rule_is_whole(reply: str, lines: str) -> None:
    assert salvage(reply) == lines
