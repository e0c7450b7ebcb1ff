"""`dana-wf objectives`: infer rules from samples, review them, and keep the choices in the lock file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dana_workflows.cli.conventions import EXIT_USAGE, OutputConsole, fail
from dana_workflows.devservices.llama.model import MODEL_ID
from dana_workflows.objectives.boundaries import boundaries
from dana_workflows.objectives.declared import rejected_by_the_spec
from dana_workflows.objectives.domain_packs import DomainPack, PackError, pack_for
from dana_workflows.objectives.infer import BoundaryResult, infer_boundary
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.review import (
    Change,
    ReviewError,
    accept,
    edit,
    merge_proposals,
    pick,
    pin,
    reject,
    written_rules,
)
from dana_workflows.objectives.sample import SampleError, load_sample, split
from dana_workflows.objectives.settings import WHOLE_ANSWER_TOKENS, InferenceSettings
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.ir import WorkflowIR
from dana_workflows.workflow.objectives_lock import (
    LockError,
    ObjectivesLock,
    lock_path,
    lock_problems,
    read_lock,
    target_fields,
    write_lock,
)
from dana_workflows.workflow.spec import parse_spec, read_spec_text

app = typer.Typer(no_args_is_help=True, help="Infer, review and lock the workflow's objectives.")
console = OutputConsole()  # piped or redirected: whole lines, never cut at 80 columns
err = Console(stderr=True, soft_wrap=True)

SpecArg = Annotated[Path, typer.Argument(help="workflow spec (YAML)")]
IdsArg = Annotated[
    list[str] | None, typer.Argument(help="rule ids (or target/id when an id is in several targets)")
]
FALLBACK = "the workflow runs on its explicit objectives"
DEFAULTS = InferenceSettings()
# the bundled model's answer budget (`dana-wf llm up`), for the help
BUNDLED_TOKENS = DEFAULTS.answer_tokens(MODEL_ID)


def _spec(spec: Path) -> WorkflowIR:
    """The spec as written (without its lock file's rules: inference speaks about the spec itself; a drift
    monitor may still watch after a step the lock adds).

    A spec that is missing or wrong is the user's file to fix: exit 2, as in every command that loads one
    (cli/specs.py)."""
    try:
        return parse_spec(read_spec_text(spec), str(spec), base_dir=spec.parent, lock_of=spec)
    except SpecError as exc:
        raise fail(str(exc), EXIT_USAGE) from None


def _lock(spec: Path, ir: WorkflowIR, must_exist: bool = True) -> ObjectivesLock:
    path = lock_path(spec)
    if not path.exists():
        if must_exist:
            raise fail(f"{path}: no lock file yet; run `dana-wf objectives infer {spec} --sample FILE` first")
        return ObjectivesLock(workflow=ir.name)
    try:
        lock = read_lock(path)
    except LockError as exc:
        raise fail(f"{exc} ({FALLBACK} until it is fixed)") from None
    problems = lock_problems(lock, ir)
    if problems:  # what `run` and `validate` say: a review listing these rules as enforced would mislead
        err.print(
            f"warning: {path} is ignored when the spec loads, {FALLBACK}:", markup=False, highlight=False
        )
        for problem in problems:
            err.print(f"  - {problem}", markup=False, highlight=False)
    return lock


@app.command()
def infer(
    spec: SpecArg,
    sample: Annotated[Path, typer.Option(help="known-good events, JSON lines")],
    holdout: Annotated[
        Path | None,
        typer.Option(help="more known-good events for refinement (default: every 3rd sample event)"),
    ] = None,
    domain: Annotated[
        str | None, typer.Option(help="a domain pack, e.g. insurance or finance:lending")
    ] = None,
    packs: Annotated[Path | None, typer.Option(help="a directory of your own domain packs (YAML)")] = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="also ask a model for rules (DWF_LLM_* settings)")
    ] = False,
    model: Annotated[str, typer.Option(help="model alias for --llm")] = "default",
    llm_timeout: Annotated[
        float,
        typer.Option(help="seconds the model may take for one call with --llm (one call a target, no retry)"),
    ] = DEFAULTS.llm_timeout_s,
    llm_max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"tokens of the model's answer for one target with --llm (default: {WHOLE_ANSWER_TOKENS}, "
            f"a capable model's whole answer; {BUNDLED_TOKENS} for the bundled {MODEL_ID}, which runs on "
            "to any limit)",
        ),
    ] = None,
    min_sample: Annotated[int, typer.Option(help="fewest usable sample events to infer from")] = 30,
) -> None:
    """Propose rules from a sample; new and changed proposals go to the lock file as a diff to review."""
    ir = _spec(spec)
    settings = InferenceSettings(
        min_sample=min_sample,
        llm_timeout_s=llm_timeout,
        llm_max_tokens=llm_max_tokens,  # None: by the model asked (InferenceSettings.answer_tokens)
    )
    try:
        pack: DomainPack = pack_for(domain, (packs,) if packs else ())  # a user's core overrides
        whole = load_sample(sample, ir.input, settings.min_sample)
        if holdout is not None:
            learn, held = whole, load_sample(holdout, ir.input)
        else:
            learn, held = split(whole)
    except (SampleError, PackError) as exc:
        raise fail(f"{exc}; nothing inferred, {FALLBACK}") from None
    lock = _lock(spec, ir, must_exist=False)
    bounds, notes = boundaries(ir, learn, held)
    rejected = rejected_by_the_spec(ir, whole)
    notes = [rejected, *notes] if rejected else notes
    extra: dict[str, list[Candidate]] = {}
    if llm:
        from dana_workflows.objectives.llm_proposals import propose_all

        progress = _progress if err.is_terminal else None  # piped: the notes say it all at the end
        extra, llm_notes = propose_all(ir, bounds, model, settings, progress)
        notes += llm_notes
    results = [infer_boundary(b, pack, settings, extra.get(b.target, ())) for b in bounds]
    proposals = [p for r in results for p in r.proposals]
    changes = merge_proposals(lock, proposals)
    path = lock_path(spec)
    write_lock(path, lock)
    _print_results(results, whole.skipped, notes)
    _print_changes(changes)
    console.print(f"lock file: {path} (review with `dana-wf objectives review {spec}`)")


def _progress(text: str) -> None:
    err.print(text, end="", markup=False, highlight=False)


def _print_results(results: list[BoundaryResult], skipped: list[str], notes: list[str]) -> None:
    for note in notes:
        console.print(f"note: {note}", highlight=False)
    if skipped:
        console.print(f"{len(skipped)} sample lines set aside (first: {skipped[0]})", highlight=False)
    table = Table(title="proposals")
    for col in ("target", "id", "rule", "profile", "support", "viol. sample/held-out", "confidence"):
        table.add_column(col)
    for r in results:
        for p in r.proposals:
            table.add_row(
                p.target,
                p.id,
                p.rule,
                p.profile,
                str(p.support),
                f"{p.sample_violations}/{p.holdout_violations}",
                f"{p.confidence:.2f}",
            )
    console.print(table)
    for r in results:
        refined = [f"{p.id}: {n}" for p in r.proposals for n in p.notes]
        for line in refined:
            console.print(f"refined {r.target} {line}", highlight=False)
        console.print(
            f"{r.target}: {len(r.proposals)} offered, {len(r.refused)} not offered; false alarms on "
            f"{r.holdout_size} held-out good events: {r.false_alarm_rate:.2%}",
            highlight=False,
        )
        for x in r.refused:
            console.print(f"  not offered: {x.id} ({x.profile}): {x.why}", highlight=False, markup=False)
        for o in r.observations:
            console.print(
                f"  observed (not a per-event rule): {o.field} {o.kind}: {o.detail}", highlight=False
            )


def _print_changes(changes: list[Change]) -> None:
    if not changes:
        console.print("no new or changed proposals")
        return
    console.print("changes to review:")
    for c in changes:
        if c.sign == "+":
            console.print(f"+ {c.target}/{c.id}: {c.new}", highlight=False, markup=False)
        elif c.sign == "?":
            console.print(f"? {c.target}/{c.id}: {c.why}", highlight=False, markup=False)
        else:
            console.print(
                f"{c.sign} {c.target}/{c.id} ({c.why})\n    - {c.old}\n    + {c.new}",
                highlight=False,
                markup=False,
            )


@app.command()
def review(
    spec: SpecArg, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
) -> None:
    """List every rule of the lock file with its origin, status, version and evidence."""
    ir = _spec(spec)
    lock = _lock(spec, ir)
    if as_json:
        console.print_json(json.dumps(lock.model_dump(mode="json", exclude_none=True)))
        return
    table = Table(title=f"objectives of {ir.name}")
    for col in ("target", "id", "rule", "origin", "status", "v", "confidence", "pending"):
        table.add_column(col)
    for where, rid, rule in written_rules(ir):
        table.add_row(where, rid, rule, "written", "in the spec", "", "", "")
    for r in lock.rules:
        table.add_row(
            r.target,
            r.id,
            r.rule,
            r.origin,
            r.status,
            str(r.version),
            str(r.evidence.get("confidence", "")),
            r.pending.rule if r.pending else "",
        )
    console.print(table)


def _verb(spec: Path, ids: list[str] | None, everything: bool, action: str) -> None:
    ir = _spec(spec)
    lock = _lock(spec, ir)
    try:
        chosen = pick(lock, ids or [], everything)
    except ReviewError as exc:
        raise fail(str(exc)) from None
    if not chosen:
        raise fail("name the rules, or pass --all")
    {"accept": accept, "reject": reject, "pin": pin}[action](chosen)
    write_lock(lock_path(spec), lock)
    for r in chosen:
        done = {"accept": "accepted", "reject": "rejected", "pin": "pinned"}[action]
        console.print(f"{done} {r.target}/{r.id} (v{r.version})", highlight=False)


AllOpt = Annotated[bool, typer.Option("--all", help="every inferred rule")]


@app.command("accept")
def accept_cmd(spec: SpecArg, ids: IdsArg = None, everything: AllOpt = False) -> None:
    """Accept proposals (and pending changes): they are enforced from the next load of the spec."""
    _verb(spec, ids, everything, "accept")


@app.command("reject")
def reject_cmd(spec: SpecArg, ids: IdsArg = None, everything: AllOpt = False) -> None:
    """Reject proposals: never enforced, and re-inference does not bring them back as new."""
    _verb(spec, ids, everything, "reject")


@app.command("pin")
def pin_cmd(spec: SpecArg, ids: IdsArg = None, everything: AllOpt = False) -> None:
    """Pin rules: enforced, and re-inference never changes them."""
    _verb(spec, ids, everything, "pin")


@app.command("edit")
def edit_cmd(
    spec: SpecArg,
    rule_id: Annotated[str, typer.Argument(help="the rule's id (or target/id)")],
    rule: Annotated[str, typer.Option(help="the new CEL rule")],
    message: Annotated[str | None, typer.Option(help="the new message")] = None,
) -> None:
    """Replace a rule's CEL text with yours: checked like a proposal, then accepted as origin 'edited'."""
    ir = _spec(spec)
    lock = _lock(spec, ir)
    try:
        (chosen,) = pick(lock, [rule_id])
        fields = target_fields(ir).get(chosen.target)
        if fields is None:
            raise ReviewError(
                f"rule '{rule_id}' names target '{chosen.target}', which the spec no longer has"
            )
        edit(chosen, rule, fields, message)
    except ReviewError as exc:
        raise fail(str(exc)) from None
    write_lock(lock_path(spec), lock)
    console.print(f"edited {chosen.target}/{chosen.id}: v{chosen.version} {chosen.rule}", highlight=False)


@app.command()
def diff(spec: SpecArg) -> None:
    """What awaits review: proposals not yet decided and pending changes to reviewed rules."""
    ir = _spec(spec)
    lock = _lock(spec, ir)
    waiting = [r for r in lock.rules if r.status == "proposed" or r.pending is not None]
    if not waiting:
        console.print("nothing to review")
        return
    for r in waiting:
        if r.pending is not None:
            console.print(
                f"~ {r.target}/{r.id} ({r.status})\n    - {r.rule}\n    + {r.pending.rule}", markup=False
            )
        else:
            console.print(f"+ {r.target}/{r.id}: {r.rule}", markup=False)
