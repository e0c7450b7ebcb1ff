"""A step's rule results as their audit column: ``canonical_json([r.to_record() for r in results])``,
written from pieces that do not change between events.

A rule result's record (``RuleResult.to_record``) has six keys; canonical JSON sorts them, and ``values``
sorts last. Everything before it (``{"message":..,"passed":..,"rule_id":..,"severity":..,"step":..,
"values":``) depends only on the rule and its verdict, so a compiled rule renders it once per verdict
(``record_head``, ``CompiledRule.heads``) and hands it on in each result it makes (``RuleResult.head``);
each event renders only its values (``canonical_json(r.values)``, as ``to_record`` does) and that
string's JSON form. Where orjson renders every record (a head exists only where it does; the values'
string always is: ``canonical_json`` returns valid UTF-8 or ASCII), ``canonical_json`` of the list is
orjson's bytes, which are ``[`` + the records joined by ``,`` + ``]``, and each record's bytes are its
head + the values' string rendered + ``}``: the same text. A list with any result without a head (made
elsewhere than ``check``, or a rule whose head orjson refuses) takes the general path whole.

Measured on the claims example (five rule results an event): docs/performance.md, session 19.
tests/unit/processors/test_rule_render.py holds it to the general path (hypothesis).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from dana_workflows.processors.base import RuleResult
from dana_workflows.schemas.canonical import canonical_json

_dumps = orjson.dumps


def record_head(rule_id: str, step: str, passed: bool, severity: str, message: str) -> bytes | None:
    """The canonical JSON of a record with these fields, up to its values' string: None where that is
    not orjson's rendering (then ``canonical_json`` of a list holding it is not orjson's either)."""
    record = {"rule_id": rule_id, "step": step, "passed": passed, "severity": severity, "message": message}
    record["values"] = ""
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate
        return None
    if canonical_json(record).encode() != text:
        return None  # canonical JSON is no longer orjson's sorted text: the argument above fails
    return text[:-3]  # without the empty string's '""' and the closing '}'


def render_results(results: Sequence[RuleResult]) -> str:
    """``canonical_json([r.to_record() for r in results])``, each record from its result's head."""
    parts = [b"["]  # every piece joined once: a concatenation of the whole would copy it again
    for result in results:
        head = result.head
        if head is None:
            return canonical_json([r.to_record() for r in results])
        parts += (head, _dumps(canonical_json(result.values)), b"},")
    if len(parts) == 1:
        return "[]"
    parts[-1] = b"}]"
    return b"".join(parts).decode()
