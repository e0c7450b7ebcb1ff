"""`--llm`: a model proposes more rules from the description, the goal and the field names.

The model's rules are candidates like any other: each is parsed, type-checked against the schema,
tested on the sample and refined on the held-out events before it is offered (objectives.infer), and
none is enforced until the user accepts it. The call goes through the project's LLM client (limits,
output validation), so a test server or any OpenAI-compatible endpoint answers it.

Sized for a small local model (docs/objectives.md): one call per target, a prompt within
`llm_prompt_tokens`, an answer within `InferenceSettings.answer_tokens` (`llm_max_tokens` when given, else
by the model), a timeout of `llm_timeout_s` (`--llm-timeout`) and no retry; a worked example goes first as
an earlier exchange, which a 135M model copies the form of where an instruction alone gets prose. When the
call fails or the answer holds no rule, the note names the model, its URL and what would help: a flag that
gives it more room, or a capable model for one that runs on to any limit (RUNS_ON_MODELS).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dana_workflows.core.settings import Settings, load_settings
from dana_workflows.objectives.boundaries import walk_steps
from dana_workflows.objectives.infer import Boundary
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import RUNS_ON_MODELS, InferenceSettings
from dana_workflows.processors.llm import LLMClient, LLMRequest, LLMResult, OutputSpec, RetryConfig
from dana_workflows.processors.llm.limits import estimate_tokens
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, TransformStepIR, WorkflowIR

SYSTEM = (
    "You write validation rules for a data workflow in CEL (Common Expression Language). "
    "Use only the fields listed, with their declared types; write doubles with a decimal point. "
    "Answer with one rule per line in `rules`, each as: id | CEL rule | short reason."
)
OUTPUT = OutputSpec((FieldIR(name="rules", type="string"),), "objective_rules")
# The worked example, sent as an earlier user turn and the model's answer to it (LLMRequest.history
# follows the prompt, so the example is the prompt and the real question the last user message).
EXAMPLE_PROMPT = (
    "Rules for: input\nFields (name: type, example values):\n"
    "- amount: double, e.g. 12.5, 80.0\n- country: string, e.g. DE, FR"
)
EXAMPLE_RULES = (
    "amount_positive | amount > 0.0 | an amount is positive\n"
    "country_code | size(country) == 2 | a two-letter ISO country code"
)
EXAMPLE_ANSWER = json.dumps({"rules": EXAMPLE_RULES})
STEP_CONTEXT_CHARS = 400
VALUE_CHARS = 40
# what a note on an answer that held no rule suggests: the served model may be too small for the form
LARGER = "; a larger model may follow the form: --model ALIAS or DWF_LLM_DEFAULT__MODEL"
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RULES_STRING = re.compile(r'"rules"\s*:\s*"')

Progress = Callable[[str], None]  # gets text to print as is: a call's line is written in two parts


@dataclass(frozen=True, slots=True)
class Answer:
    """What one call gave for one target: its candidates, and notes (why none, what the prompt left out)."""

    candidates: list[Candidate]
    notes: tuple[str, ...] = ()


def prompt_for(
    ir: WorkflowIR, boundary: Boundary, settings: InferenceSettings | None = None
) -> tuple[str, list[str]]:
    """The question for one target, within the prompt budget, and the fields left out to stay in it.

    Over the budget, the example values go first, then the last fields (the note names them)."""
    settings = settings or InferenceSettings()
    head = [
        f"Workflow: {ir.name}. {ir.description}".strip(),
        f"Goal: {ir.objective.goal}" if ir.objective.goal else "",
        _step_context(ir, boundary.target),
        f"Rules for: {boundary.target}",
        "Fields (name: type, example values):",
    ]
    fixed = estimate_tokens(SYSTEM, OUTPUT.instruction(), EXAMPLE_PROMPT, EXAMPLE_ANSWER)
    budget = settings.llm_prompt_tokens
    names = list(boundary.fields)
    lines = [x for x in head if x] + [_field_line(boundary, n, settings.llm_examples) for n in names]
    if fixed + estimate_tokens("\n".join(lines)) <= budget:
        return "\n".join(lines), []
    # without example values, as many fields as fit (the estimate only grows as lines are added)
    kept = [x for x in head if x]
    for i, name in enumerate(names):
        line = _field_line(boundary, name, 0)
        if fixed + estimate_tokens("\n".join([*kept, line])) > budget:
            return "\n".join(kept), names[i:]
        kept.append(line)
    return "\n".join(kept), []


def _field_line(boundary: Boundary, name: str, examples: int) -> str:
    f = boundary.fields[name]
    kind = f"{f.type} or null" if f.optional else f.type
    seen: list[str] = []
    for event in boundary.sample.events:
        if len(seen) >= examples:
            break
        value = event.get(name)
        text = str(value)[:VALUE_CHARS]
        if value is not None and text not in seen:
            seen.append(text)
    return f"- {name}: {kind}, e.g. {', '.join(seen)}" if seen else f"- {name}: {kind}"


def _step_context(ir: WorkflowIR, target: str) -> str:
    """What the step says about itself: an llm step's instructions, a transform's expressions."""
    step = next((s for path, s in walk_steps(ir.steps) if f"step:{path}" == target), None)
    if isinstance(step, LLMStepIR):
        said = " ".join((step.system + " " + step.prompt).split())[:STEP_CONTEXT_CHARS]
        return f"The step asks a model: {said}"
    if isinstance(step, TransformStepIR):
        computed = "; ".join(f"{d.field} = {d.expr}" for d in step.derive)
        return f"The step computes: {computed}"[:STEP_CONTEXT_CHARS]
    return ""


def reply_fields(line: str) -> list[str]:
    """A reply line's fields, `id | CEL rule | reason`, split at each lone `|` outside a string literal:
    CEL's `||` and a `|` in a quoted regex (`matches("^(A|B)$")`) belong to the rule."""
    fields, start, quote, i = [], 0, "", 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1  # the escaped character cannot end the string
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "|":
            if line[i + 1 : i + 2] == "|":
                i += 1  # `||`: CEL's or
            else:
                fields.append(line[start:i].strip())
                start = i + 1
        i += 1
    return [*fields, line[start:].strip()]


def parse_reply(text: str) -> list[Candidate]:
    out = []
    for line in text.splitlines():
        parts = reply_fields(line)
        if len(parts) < 2 or not _ID.match(parts[0]) or not parts[1]:
            continue
        out.append(
            Candidate(
                id=parts[0],
                rule=parts[1],
                profile="llm",
                fields=(),
                message=parts[2] if len(parts) > 2 and parts[2] else f"rule {parts[0]}",
                basis="proposed by the model from the description and field names",
                strength=0.7,
            )
        )
    return out


def salvage(reply: str) -> str:
    """The usable lines of a `rules` string cut off mid-answer (at max_tokens): `{"rules": "a\\nb...`.

    The cut line is kept only when its rule is whole (a separator `|` follows it, not one of CEL's `||`
    nor one inside a string); each kept line still goes through every gate."""
    found = _RULES_STRING.search(reply)
    if found is None:
        return ""
    body = reply[found.end() :]
    for cut in range(min(6, len(body)) + 1):  # a cut may fall inside an escape (`\\`, `\\u00e9`)
        try:
            text: str = json.loads(f'"{body[: len(body) - cut]}"')
        except json.JSONDecodeError:
            continue
        *whole, last = text.split("\n")
        return "\n".join([*whole, last] if len(reply_fields(last)) >= 3 else whole)
    return ""


def _request(prompt: str, model: str, tokens: int, settings: InferenceSettings) -> LLMRequest:
    return LLMRequest(
        models=(model,),
        prompt=EXAMPLE_PROMPT,
        history=(
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": prompt},
        ),
        output=OUTPUT,
        system=SYSTEM,
        max_tokens=tokens,
        timeout_s=settings.llm_timeout_s,
    )


async def propose(
    client: LLMClient, ir: WorkflowIR, boundary: Boundary, model: str, settings: InferenceSettings
) -> Answer:
    """The model's candidates for one boundary, or a note saying why there are none."""
    prompt, left_out = prompt_for(ir, boundary, settings)
    tokens = settings.answer_tokens(client.resolve(model).model)  # by the model the alias asks for
    result = await client.complete(_request(prompt, model, tokens, settings))
    found, why_none = _read(result, client, boundary.target, model, tokens, settings)
    notes: tuple[str, ...] = (why_none,) if why_none else ()
    if left_out:
        notes += (
            f"{boundary.target}: the model was not shown {', '.join(left_out)}: the prompt holds "
            f"llm_prompt_tokens {settings.llm_prompt_tokens} (objectives/settings.py)",
        )
    return Answer(found, notes)


def _read(
    result: LLMResult, client: LLMClient, target: str, model: str, tokens: int, settings: InferenceSettings
) -> tuple[list[Candidate], str]:
    """The candidates of a reply, and a note naming the model, its URL and the flag that would help."""
    endpoint = client.resolve(model)
    who = f"{endpoint.model} at {endpoint.endpoint.base_url}"
    head = f"{target}: the model gave no rules"
    if result.output is not None:
        text = str(result.output.get("rules") or "")
        found = parse_reply(text)
        if found:
            return found, ""
        if not text.strip():
            return [], f"{head} ({who} answered with none)"
        first = text.strip().splitlines()[0][:80]
        return [], f"{head}: {who} answered {first!r}, not lines `id | CEL rule | reason`{LARGER}"
    if result.audit.get("error.type") == "timeout":
        return [], (
            f"{head}: {who} did not answer within {settings.llm_timeout_s:g} s (raise it with "
            f"--llm-timeout, setting llm_timeout_s, or lower --llm-max-tokens {tokens} for "
            "a small model that runs on to it; the call is not retried)"
        )
    if result.audit.get("error.type") == "output_invalid":
        found = parse_reply(salvage(_reply_text(result.audit)))
        cut = "length" in (result.audit.get("gen_ai.response.finish_reasons") or [])
        why = (
            f"its answer was cut at {tokens} tokens ({_more_room(endpoint.model)})"
            if cut
            else f"its answer was not the JSON asked for ({result.error}){LARGER}"
        )
        if found:
            return found, f"{target}: {who}: {why}; its lines with a whole rule are used"
        return [], f"{head}: {who}: {why}"
    return [], f"{head}: {who}: {result.error or 'no answer'}"


def _more_room(model: str) -> str:
    """What helps an answer cut at its budget: more tokens, except for a model that runs on to any limit
    (objectives/settings.py RUNS_ON_MODELS), which they only take to the timeout."""
    if model in RUNS_ON_MODELS:
        return (
            "this model runs on to any limit, so more room only reaches the timeout; for a whole answer ask "
            "a capable model: DWF_LLM_DEFAULT__BASE_URL and DWF_LLM_DEFAULT__MODEL, or --model ALIAS"
        )
    return "raise it with --llm-max-tokens"


def _reply_text(audit: dict[str, Any]) -> str:
    messages = audit.get("gen_ai.output.messages") or []
    return str(messages[0].get("content") or "") if messages else ""


def client_for(settings: Settings, inference: InferenceSettings) -> LLMClient:
    """The LLM client of inference: every endpoint's timeout is `llm_timeout_s`, one attempt a call, no
    repair call (an answer cut at max_tokens is salvaged, not asked for again), replies kept in the
    in-memory audit so that a cut answer can be read."""
    timeout = {"timeout_s": inference.llm_timeout_s}
    return LLMClient(
        settings.llm_default.model_copy(update=timeout),
        {name: e.model_copy(update=timeout) for name, e in settings.llm_endpoints.items()},
        store_prompts="store",
        retry=RetryConfig(max_attempts=1),
        repair_attempts=0,
    )


def propose_all(
    ir: WorkflowIR,
    bounds: list[Boundary],
    model: str,
    settings: InferenceSettings | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, list[Candidate]], list[str]]:
    """Each target's candidates, and the notes of the calls that gave none. `progress` gets one line a
    call: which model is asked, then how it went."""
    inference = settings or InferenceSettings()

    async def run() -> tuple[dict[str, list[Candidate]], list[str]]:
        client = client_for(load_settings(), inference)
        found: dict[str, list[Candidate]] = {}
        notes: list[str] = []
        try:
            for i, b in enumerate(bounds, 1):
                target = client.resolve(model)
                if progress is not None:
                    progress(
                        f"llm {i}/{len(bounds)} {b.target}: asking {target.model} at "
                        f"{target.endpoint.base_url} (timeout {inference.llm_timeout_s:g} s) ... "
                    )
                started = time.perf_counter()
                answer = await propose(client, ir, b, model, inference)
                found[b.target] = answer.candidates
                notes.extend(answer.notes)
                if progress is not None:
                    seconds = time.perf_counter() - started
                    n = len(answer.candidates)
                    progress(f"{n} rule{'' if n == 1 else 's'} in {seconds:.1f} s\n")
        finally:
            await client.aclose()
        return found, notes

    return asyncio.run(run())
