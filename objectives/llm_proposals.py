"""`--llm`: a model proposes more rules from the description, the goal and the field names.

The model's rules are candidates like any other: each is parsed, type-checked against the schema,
tested on the sample and refined on the held-out events before it is offered (objectives.infer), and
none is enforced until the user accepts it. The call goes through the project's LLM client (limits,
one retry layer, output validation), so a test server or any OpenAI-compatible endpoint answers it.
"""

from __future__ import annotations

import asyncio
import re

from dana_workflows.core.settings import load_settings
from dana_workflows.objectives.boundaries import walk_steps
from dana_workflows.objectives.infer import Boundary
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.processors.llm import LLMClient, LLMRequest, OutputSpec
from dana_workflows.workflow.ir import FieldIR, LLMStepIR, TransformStepIR, WorkflowIR

SYSTEM = (
    "You propose validation rules for a data workflow, written in CEL (Common Expression Language). "
    "Use only the fields listed, with their declared types; write doubles with a decimal point. "
    "Answer with one rule per line in `rules`, each as: id | CEL rule | short reason."
)
OUTPUT = OutputSpec((FieldIR(name="rules", type="string"),), "objective_rules")
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXAMPLES = 5


def prompt_for(ir: WorkflowIR, boundary: Boundary) -> str:
    lines = [
        f"Workflow: {ir.name}. {ir.description}".strip(),
        f"Goal: {ir.objective.goal}" if ir.objective.goal else "",
        f"Rules for: {boundary.target}",
        _step_context(ir, boundary.target),
        "Fields (name: type, example values):",
    ]
    for name, f in boundary.fields.items():
        seen = [e.get(name) for e in boundary.sample.events[:EXAMPLES]]
        lines.append(f"- {name}: {f.type}{'?' if f.optional else ''}, e.g. {seen}")
    return "\n".join(x for x in lines if x)


def _step_context(ir: WorkflowIR, target: str) -> str:
    """What the step says about itself: an llm step's instructions, a transform's expressions."""
    step = next((s for path, s in walk_steps(ir.steps) if f"step:{path}" == target), None)
    if isinstance(step, LLMStepIR):
        return f"The step asks a model: {' '.join((step.system + ' ' + step.prompt).split())[:600]}"
    if isinstance(step, TransformStepIR):
        return "The step computes: " + "; ".join(f"{d.field} = {d.expr}" for d in step.derive)
    return ""


def parse_reply(text: str) -> list[Candidate]:
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
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


async def propose(
    client: LLMClient, ir: WorkflowIR, boundary: Boundary, model: str
) -> tuple[list[Candidate], str]:
    """The model's candidates for one boundary, and an error text when the call failed."""
    result = await client.complete(
        LLMRequest(
            models=(model,), prompt=prompt_for(ir, boundary), output=OUTPUT, system=SYSTEM, max_tokens=800
        )
    )
    if not result.ok or result.output is None:
        return [], result.error or "no answer"
    return parse_reply(str(result.output.get("rules") or "")), ""


def propose_all(
    ir: WorkflowIR, bounds: list[Boundary], model: str
) -> tuple[dict[str, list[Candidate]], list[str]]:
    async def run() -> tuple[dict[str, list[Candidate]], list[str]]:
        client = LLMClient.from_settings(load_settings())
        found: dict[str, list[Candidate]] = {}
        errors: list[str] = []
        try:
            for b in bounds:
                cands, error = await propose(client, ir, b, model)
                found[b.target] = cands
                if error:
                    errors.append(f"{b.target}: the model gave no rules ({error})")
        finally:
            await client.aclose()
        return found, errors

    return asyncio.run(run())
