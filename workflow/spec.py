"""The YAML workflow spec -> the IR, with every problem reported at once.

A domain expert writes the spec; so every error names the file, the line, the field and the fix.
See docs/spec.md for the format and docs/spec.schema.json for editor support.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from dana_workflows.core.yaml_errors import yaml_error_line, yaml_error_problem
from dana_workflows.workflow.cel_expr import compile_expr
from dana_workflows.workflow.errors import SpecError, SpecProblem
from dana_workflows.workflow.ir import (
    AVRO_PRIMITIVES,
    DeriveIR,
    DriftIR,
    EnforceStepIR,
    FieldIR,
    LLMStepIR,
    ObjectiveIR,
    RouteStepIR,
    RuleIR,
    StepIR,
    TransformStepIR,
    ValidateStepIR,
    WorkflowIR,
)
from dana_workflows.workflow.knowledge_ir import KnowledgeIR
from dana_workflows.workflow.objectives_lock import (
    INPUT_STEP,
    LockError,
    apply_objectives_lock,
    lock_path,
    lock_problems,
    merge_lock,
    read_lock,
)
from dana_workflows.workflow.payload_types import Fields, branch_type_conflicts, fields_after
from dana_workflows.workflow.spec_efficiency import (
    apply_workflow_efficiency,
    check_fallback_read,
    check_llm_step,
    note_fallback_unset,
    parse_workflow_efficiency,
)
from dana_workflows.workflow.spec_enum import enum_field, unknown_enum_literals
from dana_workflows.workflow.spec_knowledge import (
    KnownSources,
    check_step_knowledge,
    knowledge_node,
    parse_knowledge,
    written_source_ids,
)
from dana_workflows.workflow.spec_lines import follow_on, refused_field, rule_position
from dana_workflows.workflow.spec_steps import STEP_KINDS as STEP_KINDS
from dana_workflows.workflow.spec_steps import STEP_OPTIONS as STEP_OPTIONS
from dana_workflows.workflow.spec_steps import parse_steps
from dana_workflows.workflow.spec_support import (
    Collector,
    closest,
    line_of,
    loc,
    parse_fields,
    parse_rule,
    suggest,
)

TOP_KEYS = (
    "workflow",
    "version",
    "description",
    "input",
    "objective",
    "steps",
    "drift",
    "efficiency",
    "knowledge",
)
RESERVED_VARIABLES = frozenset({"null", "true", "false"})


def load_spec(path: str | Path) -> WorkflowIR:
    """Parse and check a spec file; raise SpecError listing every problem."""
    p = Path(path)
    return apply_objectives_lock(parse_spec(read_spec_text(p), str(p), base_dir=p.parent, lock_of=p), p)


def read_spec_text(p: Path) -> str:
    """A spec file's text. A file that cannot be read, or is not UTF-8, is one SpecError naming it and
    the line: every command that reads a spec (load_spec, the objectives commands) answers the same."""
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(
            [SpecProblem(str(p), 0, "<file>", f"cannot read: {exc.strerror}", "check the path")]
        ) from None
    except UnicodeDecodeError as exc:  # saved in Latin-1 or a Windows code page: name the byte and its line
        line = exc.object[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} cannot be read"
        raise SpecError([SpecProblem(str(p), line, "<file>", problem, "save the file as UTF-8")]) from None


def parse_spec(
    text: str, file: str = "<string>", base_dir: Path | None = None, lock_of: Path | None = None
) -> WorkflowIR:
    """The spec as written. `lock_of`: the spec file whose objectives lock (docs/objectives.md) a drift
    monitor may also watch after: its `input_objectives` and `<step>_objectives` steps run like written
    ones."""
    c = Collector(file)
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        line = yaml_error_line(exc) or 0
        problem = f"not valid YAML: {yaml_error_problem(exc)}"
        raise SpecError([SpecProblem(file, line, "<yaml>", problem, "fix the YAML syntax")]) from None
    if not isinstance(doc, CommentedMap):
        raise SpecError(
            [SpecProblem(file, 1, "<root>", "a spec is a mapping", "start with 'workflow: NAME'")]
        )

    c.unknown_keys(doc, TOP_KEYS, "")
    name = doc.get("workflow")
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        c.add(
            doc, "workflow", "workflow", "needs a name of letters, digits, - or _", "workflow: claims-triage"
        )
        name = "invalid"
    version = doc.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        c.add(doc, "version", "version", "must be a positive whole number", "version: 1")
        version = 1

    inputs = _parse_input(doc.get("input"), doc, c, base_dir)
    objective = _parse_objective(doc.get("objective"), doc, c)
    steps_node = doc.get("steps")
    steps: list[StepIR] = []
    if not isinstance(steps_node, CommentedSeq) or not steps_node:
        c.add(
            doc, "steps", "steps", "a workflow needs a list of steps", "steps:\n  - check: {validate: [...]}"
        )
    else:
        steps = parse_steps(steps_node, "steps", c)
    drift = _parse_drift(doc.get("drift"), doc, c)
    knowledge = parse_knowledge(doc.get("knowledge"), doc, c)
    wf_mode, wf_budget = parse_workflow_efficiency(doc.get("efficiency"), doc, c)
    steps = apply_workflow_efficiency(steps, wf_mode, wf_budget, base_dir)

    if steps:
        _check_names_and_fields(
            steps,
            {f.name: f for f in inputs},
            objective,
            c,
            steps_node,
            knowledge,
            doc.get("objective"),
            written_source_ids(doc.get("knowledge")),
        )
        # the constraints run in a last stage, enforce_objective, that the runtime observes like a step
        watched, lock_state = _locked_steps(str(name), inputs, steps, lock_of, bool(c.problems))
        if objective.constraints:
            watched = [*watched, EnforceStepIR(rules=objective.constraints)]
        _check_drift_monitors(drift, watched, {f.name: f for f in inputs}, c, doc.get("drift"), lock_state)
    if c.problems:
        raise SpecError(c.problems)
    try:
        return WorkflowIR(
            name=str(name),
            version=int(version),
            description=str(doc.get("description", "")),
            input=tuple(inputs),
            objective=objective,
            steps=tuple(steps),
            drift=drift,
            knowledge=knowledge,
            source=file,
        )
    except ValidationError as exc:
        raise SpecError([SpecProblem(file, 0, loc(e["loc"]), e["msg"]) for e in exc.errors()]) from None


def _parse_input(node: Any, doc: Any, c: Collector, base_dir: Path | None) -> list[FieldIR]:
    if isinstance(node, CommentedMap) and set(node) == {"schema"}:
        return _fields_from_avsc(node, c, base_dir)
    if node is None:
        c.add(doc, None, "input", "missing: the fields of an input event", "input:\n  claim_id: string")
        return []
    return parse_fields(node, doc, "input", "input", c)


def _fields_from_avsc(node: CommentedMap, c: Collector, base_dir: Path | None) -> list[FieldIR]:
    ref = Path(str(node["schema"]))
    path = ref if ref.is_absolute() else (base_dir or Path(".")) / ref
    try:
        schema = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        c.add(
            node, "schema", "input.schema", f"cannot read Avro schema {path}: {exc}", "point to an .avsc file"
        )
        return []
    out: list[FieldIR] = []
    for f in schema.get("fields", []):
        t = f["type"]
        enum = enum_field(str(f["name"]), t, node, "schema", f"input.schema.{f['name']}", c, avro=True)
        if enum is not None:
            out.extend(e.model_copy(update={"doc": f.get("doc", "")}) for e in enum)
            continue
        optional = isinstance(t, list) and "null" in t
        base = next((x for x in t if x != "null"), None) if isinstance(t, list) else t
        if base not in AVRO_PRIMITIVES:
            c.add(
                node,
                "schema",
                f"input.schema.{f['name']}",
                f"unsupported Avro type {t!r}",
                "use primitive fields (string, long, int, double, float, boolean)",
            )
            continue
        out.append(FieldIR(name=f["name"], type=base, optional=optional, doc=f.get("doc", "")))
    return out


def _parse_objective(node: Any, doc: Any, c: Collector) -> ObjectiveIR:
    if node is None:
        return ObjectiveIR()
    if not isinstance(node, CommentedMap):
        c.add(
            doc,
            "objective",
            "objective",
            "a mapping with goal, constraints, success_criteria",
            "objective: {goal: ...}",
        )
        return ObjectiveIR()
    c.unknown_keys(node, ("goal", "constraints", "success_criteria"), "objective.")
    rules: list[RuleIR] = []
    cons = node.get("constraints") or []
    for i, r in enumerate(cons):
        rule = parse_rule(r, cons, i, f"objective.constraints[{i}]", c)
        if rule is not None:
            rules.append(rule)
    crit = node.get("success_criteria") or []
    return ObjectiveIR(
        goal=str(node.get("goal", "")), constraints=tuple(rules), success_criteria=tuple(str(x) for x in crit)
    )


def _parse_drift(node: Any, doc: Any, c: Collector) -> DriftIR:
    if node is None:
        return DriftIR()
    try:
        return DriftIR.model_validate(_plain(node))
    except ValidationError as exc:
        for e in exc.errors():
            c.add(doc, "drift", f"drift.{loc(e['loc'])}", e["msg"], "see docs/drift.md")
        return DriftIR()


_LOCK_UNREAD = "unread"  # the spec has other problems: its lock is not set against it yet


def _locked_steps(
    name: str, inputs: list[FieldIR], steps: list[StepIR], spec: Path | None, other_problems: bool
) -> tuple[list[StepIR], str]:
    """The steps the runtime runs: the spec's with those its objectives lock adds, and the lock's state
    for the monitor check: "" (none, or merged), _LOCK_UNREAD (the spec has other problems: a step the
    lock adds is judged once they are fixed), or why the lock is ignored (a broken lock adds no step;
    apply_objectives_lock, after the parse, warns about it when the spec is otherwise valid)."""
    path = lock_path(spec) if spec is not None else None
    if path is None or not path.exists():
        return steps, ""
    if other_problems:
        return steps, _LOCK_UNREAD
    try:
        lock = read_lock(path)
    except LockError as exc:
        return steps, str(exc)
    ir = WorkflowIR(name=name, input=tuple(inputs), steps=tuple(steps))
    problems = lock_problems(lock, ir)
    return (steps, problems[0]) if problems else (list(merge_lock(ir, lock).steps), "")


def _check_drift_monitors(
    drift: DriftIR, steps: list[StepIR], inputs: Fields, c: Collector, node: Any, lock_state: str = ""
) -> None:
    """A monitor watches a field after a step (or of the input): a step or field that is not there would
    make it watch nothing, silently, and `drift report` say there are no records."""
    after: dict[str | None, Fields] = {None: inputs}
    current = inputs
    for step in steps:
        current = after[step.name] = fields_after(step, current)
    names = _step_names(steps)
    monitors = node.get("monitors") if isinstance(node, CommentedMap) else None
    for i, monitor in enumerate(drift.monitors):
        entry = monitors[i] if isinstance(monitors, CommentedSeq) and i < len(monitors) else node
        path = f"drift.monitors[{i}]"
        if monitor.step is not None and monitor.step not in names:
            fix = _step_fix(monitor.step, names, lock_state)
            if fix:
                c.add(entry, "step", f"{path}.step", f"no step '{monitor.step}'", fix)
            continue
        fields = after.get(monitor.step)  # a step inside a route's branch: its fields are not tracked here
        if fields is not None and monitor.field not in fields:
            where = f"after step {monitor.step}" if monitor.step else "of the input"
            message = f"'{monitor.field}' is not a field {where}"
            c.add(entry, "field", f"{path}.field", message, suggest(monitor.field, fields))


def _step_fix(step: str, names: list[str], lock_state: str) -> str:
    """A misspelt step's closest name; a lock's step (input_objectives, <step>_objectives) is there only
    while the lock file next to the spec holds accepted rules for it, and is read; "" while the lock is
    not read for the spec's other problems (nothing to say yet)."""
    meant = closest(step, names)
    if meant or not (step == INPUT_STEP or step.endswith("_objectives")):
        return suggest(step, names)
    if lock_state == _LOCK_UNREAD:
        return ""
    rest = f"or watch one of: {', '.join(sorted(names))}"
    if lock_state:
        ignored = f"the objectives lock file next to the spec is ignored ({lock_state})"
        return f"{ignored}: fix it or infer again; {rest}"
    return (
        f"'{step}' runs only while the objectives lock file next to the spec has accepted rules for it "
        f"(dana-wf objectives review, accept); {rest}"
    )


def _step_names(steps: Iterable[StepIR], prefix: str = "") -> list[str]:
    """Every step a monitor can name: a step in a route's branch as `route.branch.step` (docs/drift.md)."""
    names: list[str] = []
    for step in steps:
        names.append(f"{prefix}{step.name}")
        if isinstance(step, RouteStepIR):
            for branch in step.branches:
                names.extend(_step_names(branch.steps, f"{prefix}{step.name}.{branch.name}."))
    return names


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _check_names_and_fields(
    steps: list[StepIR],
    fields: Fields,
    objective: ObjectiveIR,
    c: Collector,
    seq: Any,
    knowledge: KnowledgeIR | None = None,
    objective_node: Any = None,
    source_ids: frozenset[str] = frozenset(),
) -> None:
    """Resolve untyped derived fields, and check every expression reads fields that exist at that point."""
    seen: set[str] = set()
    sources = KnownSources(knowledge or KnowledgeIR(), source_ids)
    final = _check_steps(steps, fields, c, seq, "steps", seen, sources, set())
    # each constraint is named by its place in the file (a refused constraint before it is not in the IR),
    # with its line: the written entries by id, the first of an id kept
    written = objective_node.get("constraints") if isinstance(objective_node, CommentedMap) else None
    by_id: dict[str, tuple[int, CommentedMap]] = {}
    for j, entry in enumerate(written if isinstance(written, CommentedSeq) else ()):
        if isinstance(entry, CommentedMap):
            by_id.setdefault(str(entry.get("id")), (j, entry))
    for i, rule in enumerate(objective.constraints):
        index, node = by_id.get(rule.id, (i, None))
        _check_reads(rule.expr, final, c, node, f"objective.constraints[{index}].rule")


def _check_steps(
    steps: list[StepIR],
    fields: Fields,
    c: Collector,
    seq: Any,
    path: str,
    seen: set[str],
    sources: KnownSources,
    routes_wrote: set[str],
) -> Fields:
    current = fields
    for pos, step in enumerate(steps):
        i = getattr(step, "__written_index__", pos)
        spath = f"{path}[{i}].{step.name}"
        node = seq[i] if isinstance(seq, CommentedSeq) and i < len(seq) else None
        if step.name in seen:
            c.add(node, step.name, spath, "duplicate step name", "give every step its own name")
        seen.add(step.name)
        if isinstance(step, TransformStepIR):
            pending = getattr(step, "__pending__", [])
            resolved = list(step.derive)
            for fname, expr, sets in pending:
                if fname not in current:
                    c.add(
                        sets,
                        fname,
                        f"{spath}.transform.set.{fname}",
                        "a new field needs a type",
                        f'{fname}: {{expr: "{expr}", type: double}}',
                    )
                    continue
                resolved.append(DeriveIR(field=fname, expr=expr, type=current[fname].type))
            for d in resolved:
                _check_reads(d.expr, current, c, node, f"{spath}.transform.set.{d.field}")
            for old in step.rename:
                if old not in current:
                    c.add(
                        node,
                        step.name,
                        f"{spath}.transform.rename.{old}",
                        f"no field '{old}' to rename",
                        suggest(old, current),
                    )
            object.__setattr__(step, "derive", tuple(resolved))
        elif isinstance(step, ValidateStepIR | EnforceStepIR):
            ids = set()
            for j, rule in enumerate(step.rules):
                if rule.id in ids:
                    c.add(
                        node,
                        step.name,
                        f"{spath}.validate[{j}].id",
                        f"duplicate rule id '{rule.id}'",
                        "give every rule its own id",
                    )
                ids.add(rule.id)
                index, rule_node = rule_position(node, step.name, rule.id, j)
                _check_reads(rule.expr, current, c, rule_node, f"{spath}.validate[{index}].rule")
        elif isinstance(step, RouteStepIR):
            _check_route_field(step, current, c, node, spath, routes_wrote)
            routed = dict(current)
            routed[step.field] = _route_field(step, [b.name for b in step.branches])
            joining: dict[str, Fields] = {}
            joined_routes: set[str] = (
                set()
            )  # what routes wrote in the branches that join: for the steps after
            for branch in step.branches:
                if _a_name_for_a_condition(branch.name, branch.when, current, c, node, spath):
                    continue
                _check_reads(branch.when, current, c, node, f"{spath}.route.{branch.name}")
                bpath = f"{spath}.route.{branch.name}.steps"
                on_path = set(routes_wrote)  # a sibling branch's routes are not on this branch's path
                after_branch = _check_steps(
                    list(branch.steps), routed, c, None, bpath, seen, sources, on_path
                )
                if not branch.terminal:
                    joining[branch.name] = after_branch
                    joined_routes |= on_path
            routes_wrote |= joined_routes
            for name, by_branch in branch_type_conflicts(joining).items():
                typed = ", ".join(f"{t} in '{b}'" for b, t in by_branch.items())
                c.add(
                    node,
                    step.name,
                    f"{spath}.route",
                    f"field '{name}' has different types where the branches join ({typed})",
                    "give the field one type in every branch, or a different name in each",
                )
        elif isinstance(step, LLMStepIR):
            if step.when:
                _check_reads(step.when, current, c, node, f"{spath}.llm.when")
            check_llm_step(step, current, c, node, spath, _check_reads)  # perceive, enforce, efficiency
            check_step_knowledge(step, current, sources, c, knowledge_node(node, step.name), spath)
        before, current = current, fields_after(step, current)
        for written in (k for k in current if current[k] is not before.get(k)):  # set again: not unset now
            c.fallback_unset.pop(written, None)
        if isinstance(step, LLMStepIR):
            note_fallback_unset(step, c, spath)
        plain = FieldIR(name=step.field, type="string") if isinstance(step, RouteStepIR) else None
        if isinstance(step, RouteStepIR) and current.get(step.field) == plain:
            # the route's field holds a branch name: a rule comparing it with any other text never matches
            open_branches = [b.name for b in step.branches if not b.terminal]
            ended = tuple(b.name for b in step.branches if b.terminal)
            current[step.field] = _route_field(step, open_branches, ended)
    return current


# the route's field, as the checks see it: an enum of the branch names, so a rule or constraint comparing
# it with a name no branch has (`decision != 'dispnse'`) is refused like an enum's typo
_ROUTE_DOC = "the branch taken at route step "
_ENDED = "; ended: "  # after the route, the doc also names its terminal branches, for the message


def _route_field(step: RouteStepIR, branches: list[str], ended: tuple[str, ...] = ()) -> FieldIR:
    doc = f"{_ROUTE_DOC}{step.name}" + (f"{_ENDED}{','.join(ended)}" if ended else "")
    return FieldIR(name=step.field, type="string", symbols=tuple(branches), doc=doc)


def _a_name_for_a_condition(
    branch: str, when: str, current: Fields, c: Collector, node: Any, spath: str
) -> bool:
    """`review: nurse_check`: a name where the branch's condition goes, as if a branch jumped to a step.
    A name close to a field's is left to the field check, which offers that field."""
    if not when.isidentifier() or when in current or when in RESERVED_VARIABLES or closest(when, current):
        return False
    c.add(
        node,
        None,
        f"{spath}.route.{branch}",
        f"'{when}' is a name, not a condition: a branch's value says when it is taken",
        f'{branch}: "true" (or a rule); to run steps on it: {branch}: {{when: "true", steps: [...]}}',
    )
    return True


_DEFAULT_ROUTE_FIELD = RouteStepIR.model_fields["field"].default  # where a route without `as:` writes


def _check_route_field(
    step: RouteStepIR, current: Fields, c: Collector, node: Any, spath: str, routes_wrote: set[str]
) -> None:
    """A route writes the chosen branch's name into its field: naming a field the event already has (an
    input field, a derived one) would overwrite that value on every event. A field an earlier route wrote
    may be reused, also when a transform rewrote it in between (two routes both `as: route` with a
    relabelling between): the name is the routes', the transform's value is read before this route, and
    a rule after it is checked against this route's branches. `routes_wrote`: every field a route wrote
    so far in the walk."""
    existing = current.get(step.field)
    reused = existing is None or existing.doc.startswith(_ROUTE_DOC) or step.field in routes_wrote
    routes_wrote.add(step.field)
    if reused:
        return
    body = node.get(step.name) if isinstance(node, CommentedMap) else None
    # a step inside a branch has no node here: `as` was written when the field is not the default one
    written = "as" in body if isinstance(body, CommentedMap) else step.field != _DEFAULT_ROUTE_FIELD
    if written:
        key, where, default = "as", f"{spath}.as", ""
    else:  # `as` not written: say the route writes its default field, at the step the user wrote
        key, where, default = step.name, spath, f" (a route without `as:` writes to '{step.field}')"
    c.add(
        body if key == "as" else node,
        key,
        where,
        f"'{step.field}' is already a field here; the route would overwrite it with the branch's name"
        + default,
        f"name a new field for the branch: as: {step.name}_branch",
    )


def _check_reads(expr: str, fields: Fields, c: Collector, node: Any, path: str) -> None:
    compiled = compile_expr(expr)
    for var in compiled.fields_read:
        if var in fields:
            check_fallback_read(var, expr, c, node, path)
        if var in fields or var in RESERVED_VARIABLES or var in c.dropped_fields:
            continue
        refused = refused_field(c.problems, var)
        if refused is not None:  # a follow-on error: say why the field is missing, and where
            c.problems.append(follow_on(c.file, line_of(node), path, var, refused))
            continue
        c.add(node, None, path, f"reads '{var}', which is not a field at this step", suggest(var, fields))
    for name, literal in unknown_enum_literals(expr, fields):  # a typo the rule would never match
        allowed = ", ".join(repr(v) for v in fields[name].symbols)
        doc = fields[name].doc
        if doc.startswith(_ROUTE_DOC):
            if not literal:  # `decision != ''`: a test that a branch was taken, not a branch's name
                continue
            route, _, ended = doc.partition(_ENDED)
            message = f"compares '{name}' ({route}) with {literal!r}, " + (
                "a terminal branch: its events end at their own topic and never reach this point"
                if literal in ended.split(",")
                else "which no branch is"
            )
        else:
            message = f"compares enum field '{name}' with {literal!r}, not one of its values"
        c.add(node, None, path, message, allowed)
