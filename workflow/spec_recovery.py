"""A step's `recovery:` block -> RecoveryIR, every problem named with its place and its fix.

The checks are the ones a runtime could otherwise only find on the first failing event: a rung that is
not one, a default rung with nothing to set, a fallback_model rung where there is no fallback model, a
rule that starts at a rung the ladder does not have, a CEL condition that does not compile.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from dana_workflows.workflow.recovery_ir import (
    DEFAULT,
    DLQ,
    ERROR_CLASSES,
    FALLBACK_MODEL,
    RUNGS,
    LadderRetryIR,
    RecoveryIR,
    RecoveryRuleIR,
)
from dana_workflows.workflow.spec_support import Collector, check_expr, suggest

RECOVERY_KEYS = ("ladder", "retry", "default", "rules")
RULE_KEYS = ("when_error", "when", "start_at", "never")
EXAMPLE = "recovery: {ladder: [retry, default, dlq], retry: {max_attempts: 3}, default: {risk: unknown}}"


def parse_recovery(
    node: Any, parent: Any, path: str, c: Collector, *, kind: str, fallback_models: Any
) -> RecoveryIR | None:
    """The step's ladder, or None after recording why it cannot be one."""
    if not isinstance(node, CommentedMap):
        c.add(parent, "recovery", path, "recovery is a mapping with a ladder", EXAMPLE)
        return None
    before = len(c.problems)
    c.unknown_keys(node, RECOVERY_KEYS, f"{path}.")
    ladder = _ladder(node, path, c)
    if ladder is None:
        return None
    _check_rungs(node, ladder, path, c, kind=kind, fallback_models=fallback_models)
    retry = _retry(node, path, c)
    rules = _rules(node, ladder, path, c)
    if len(c.problems) > before or retry is None or rules is None:
        return None
    default = node.get("default")
    return RecoveryIR(
        ladder=ladder,
        retry=retry,
        default=dict(default) if isinstance(default, CommentedMap) else None,
        rules=rules,
    )


def _ladder(node: CommentedMap, path: str, c: Collector) -> tuple[Any, ...] | None:
    seq = node.get("ladder")
    if not isinstance(seq, CommentedSeq) or not seq:
        c.add(node, "ladder" if "ladder" in node else None, f"{path}.ladder", "a list of rungs", EXAMPLE)
        return None
    # the rungs that are right, so the rest of the block is checked against them in the same pass
    rungs: list[str] = []
    for i, rung in enumerate(seq):
        where = f"{path}.ladder[{i}]"
        if rung not in RUNGS:
            c.add(seq, i, where, f"unknown rung {rung!r}", suggest(str(rung), RUNGS))
        elif rung in rungs:
            c.add(seq, i, where, f"rung {rung!r} is on the ladder twice", "name each rung once")
        elif DLQ in rungs:
            c.add(seq, i, where, f"rung {rung!r} comes after dlq", "dlq is the last rung: move it to the end")
        else:
            rungs.append(str(rung))
    if DLQ not in rungs:
        rungs.append(DLQ)  # nothing is lost: whatever the ladder, an event it cannot place goes to dlq
    return tuple(rungs)


def _check_rungs(
    node: CommentedMap, ladder: tuple[Any, ...], path: str, c: Collector, *, kind: str, fallback_models: Any
) -> None:
    default = node.get("default")
    if DEFAULT in ladder and not (isinstance(default, CommentedMap) and default):
        c.add(
            node,
            "default" if "default" in node else "ladder",
            f"{path}.default",
            "the default rung needs the payload fields it sets",
            "default: {risk: unknown, confidence: 0.0}",
        )
    if "default" in node and DEFAULT not in ladder:
        c.add(
            node, "default", f"{path}.default", "default is set but the ladder has no default rung", EXAMPLE
        )
    if FALLBACK_MODEL in ladder:
        where = f"{path}.ladder"
        if kind != "llm":
            c.add(
                node,
                "ladder",
                where,
                f"a fallback_model rung on a {kind} step: only llm steps call a model",
                "remove fallback_model from this step's ladder",
            )
        elif not fallback_models:
            c.add(
                node,
                "ladder",
                where,
                "a fallback_model rung, but the llm step has no fallback_models",
                "add fallback_models: [gpt-4o-mini] to the llm step, or remove the rung",
            )


def _retry(node: CommentedMap, path: str, c: Collector) -> LadderRetryIR | None:
    spec = node.get("retry")
    if spec is None:
        return LadderRetryIR()
    try:
        return LadderRetryIR(**dict(spec))
    except (ValidationError, TypeError, ValueError) as exc:
        msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        c.add(
            node,
            "retry",
            f"{path}.retry",
            f"invalid retry rung: {msg}",
            "retry: {max_attempts: 3, backoff_ms: 100}",
        )
        return None


def _rules(
    node: CommentedMap, ladder: tuple[Any, ...], path: str, c: Collector
) -> tuple[RecoveryRuleIR, ...] | None:
    seq = node.get("rules")
    if seq is None:
        return ()
    if not isinstance(seq, CommentedSeq):
        c.add(
            node, "rules", f"{path}.rules", "a list of rules", "rules: [{when_error: schema, start_at: dlq}]"
        )
        return None
    rules: list[RecoveryRuleIR] = []
    for i, spec in enumerate(seq):
        rule = _rule(spec, seq, i, ladder, f"{path}.rules[{i}]", c)
        if rule is not None:
            rules.append(rule)
    return tuple(rules) if len(rules) == len(seq) else None


def _rule(
    spec: Any, seq: CommentedSeq, i: int, ladder: tuple[Any, ...], path: str, c: Collector
) -> RecoveryRuleIR | None:
    if not isinstance(spec, CommentedMap):
        c.add(seq, i, path, "a rule is a mapping", "{when_error: quota, start_at: fallback_model}")
        return None
    ok = c.unknown_keys(spec, RULE_KEYS, f"{path}.")
    errors = spec.get("when_error", [])
    errors = [errors] if isinstance(errors, str) else errors
    for name in errors or []:
        if name not in ERROR_CLASSES:
            c.add(
                spec,
                "when_error",
                f"{path}.when_error",
                f"unknown error class {name!r}",
                suggest(str(name), ERROR_CLASSES),
            )
            ok = False
    when = spec.get("when")
    if when is not None and not (isinstance(when, str) and check_expr(when, spec, "when", f"{path}.when", c)):
        if not isinstance(when, str):
            c.add(spec, "when", f"{path}.when", "a CEL condition", "when: \"risk_tier == 'high'\"")
        ok = False
    if not errors and when is None:
        c.add(
            spec, None, path, "a rule needs when_error, when or both", "{when_error: schema, start_at: dlq}"
        )
        ok = False
    start, never = spec.get("start_at"), spec.get("never", [])
    never = [never] if isinstance(never, str) else never
    for key, rung in [("start_at", start), *(("never", r) for r in never or [])]:
        if rung is None:
            continue
        if rung not in ladder:
            c.add(
                spec,
                key,
                f"{path}.{key}",
                f"rung {rung!r} is not on this step's ladder {list(ladder)}",
                f"add it to the ladder, or use one of {', '.join(ladder)}",
            )
            ok = False
    if DLQ in (never or []):
        c.add(
            spec,
            "never",
            f"{path}.never",
            "dlq cannot be ruled out: it is the last resort",
            "remove dlq from never",
        )
        ok = False
    if start is None and not never:
        c.add(
            spec,
            None,
            path,
            "a rule without start_at or never changes nothing",
            "add start_at: <rung> or never: [<rung>]",
        )
        ok = False
    if start is not None and start in (never or []):
        c.add(
            spec,
            "start_at",
            f"{path}.start_at",
            f"the rule starts at {start!r} and also never uses it",
            "drop one of the two",
        )
        ok = False
    if not ok:
        return None
    return RecoveryRuleIR(when_error=tuple(errors or ()), when=when, start_at=start, never=tuple(never or ()))
