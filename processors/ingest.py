"""Admission of raw input events: parse, type-check against the input record, open the run's chain.

Shared by the local runtime and `dana-wf produce`, so a malformed event gets the same verdict
(and the same audit rows) whichever runtime sees it. Nothing is lost: unparseable input goes to
`dlq` with the raw text, ill-typed input to `rejected` with one schema rule result per field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from dana_workflows.core.run_ids import run_id_for
from dana_workflows.processors.audit_trail import rejected, transition
from dana_workflows.processors.base import RuleResult
from dana_workflows.processors.recorded_input import received_details, recording_for
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.schemas.sha256 import sha256_hex
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow.ir import FieldIR, WorkflowIR
from dana_workflows.workflow.spec_enum import describe

INGEST = "ingest"

_PY_TYPES: dict[str, tuple[type[Any], ...]] = {
    "string": (str,),
    "long": (int,),
    "int": (int,),
    "double": (float, int),
    "float": (float, int),
    "boolean": (bool,),
}
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


@dataclass(slots=True)
class Admission:
    envelope: Envelope
    accepted: bool
    rows: list[AuditRow] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    dead: bool = False  # True: not even parseable; goes to dlq


def check_field(f: FieldIR, value: Any) -> tuple[Any, str | None]:
    """The value coerced to its Avro type, or why it cannot be."""
    if value is None:
        return (None, None) if f.optional else (None, f"'{f.name}' is required")
    types = _PY_TYPES[f.type]
    if isinstance(value, bool) and f.type != "boolean":
        return None, f"'{f.name}' must be {f.type}, got boolean"
    if not isinstance(value, types):
        reason = f"'{f.name}' must be {f.type}, got {type(value).__name__} {value!r:.40}"
        return None, reason + _a_date_for_a_number(f, value)
    if f.type in ("double", "float"):
        try:
            number = float(value)
        except OverflowError:  # an integer literal beyond any double (1 followed by 400 zeros)
            return None, f"'{f.name}' is out of range for {f.type} (an integer of {len(str(value))} digits)"
        if not math.isfinite(number):  # 1e400 parses as inf: Avro would carry it, JSON outputs cannot
            return None, f"'{f.name}' must be a finite number, got {number}"
        return in_declared_range(f, number)
    if f.type == "int" and isinstance(value, int) and not INT32[0] <= value <= INT32[1]:
        return None, f"'{f.name}' is out of range for int"
    if f.type == "long" and isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        return None, f"'{f.name}' is out of range for long"
    return in_declared_range(f, value)


_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})")


def _a_date_for_a_number(f: FieldIR, value: Any) -> str:
    """A date written as text where a whole number is declared: times are epoch seconds here (docs/spec.md),
    and an ISO date-time gets its epoch seconds, the value to send instead (UTC when it names no zone)."""
    if f.type not in ("long", "int") or not isinstance(value, str) or not _DATE_LIKE.match(value):
        return ""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return " (a time is a whole number of epoch seconds here, not a date in text)"
    seconds = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    return f" (a time is a whole number of epoch seconds here: {value.strip()} is {seconds})"


def in_declared_range(f: FieldIR, value: Any) -> tuple[Any, str | None]:
    """A number outside the field's declared min/max, or a value outside an enum's symbols, is refused like
    a wrong type (docs/spec.md)."""
    if f.symbols and value not in f.symbols:  # exact: " unemployed" with a stray space is not "unemployed"
        return None, f"'{f.name}' is {value!r:.60}, not one of its declared values ({describe(f.symbols)})"
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        span = ", ".join("" if b is None else f"{b:g}" for b in (f.minimum, f.maximum))
        return None, f"'{f.name}' is {value!r}, outside its declared range [{span}]"
    return value, None


def admit(ir: WorkflowIR, raw: str, ordinal: int, ts_us: int, epoch: int = 0) -> Admission:
    _, name, version, fields = _plan(ir)
    run_id = run_id_for(name, ordinal, raw, epoch, sha256_hex)
    payload: dict[str, Any] = {}  # filled below, in place
    env = Envelope(
        f"{run_id}/in", run_id, name, version, INGEST, payload, ts_us, 0, empty_provenance(), 0, GENESIS_HASH
    )
    # the input as received, so recorded traffic can be replayed (docs/audit.md, "Recorded input")
    details_json = received_details(raw, ordinal, *recording_for(ir), epoch=epoch)
    rows = [transition(env, "received", INGEST, ts_us, details_json=details_json)]
    # orjson for speed; the standard parser where orjson refuses, so what is valid JSON stays valid and
    # the error message is the standard one
    strict = False  # True: every field goes through check_field (the fallback parser's values may be inf)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data, why = _parse_strictly(raw)
        if why is not None:
            return _dead(env, rows, ts_us, f"line {ordinal + 1}: {why}", _printable(raw))
        strict = True
    if not isinstance(data, dict):
        return _dead(env, rows, ts_us, f"line {ordinal + 1}: an event must be a JSON object", raw)
    failed = False
    get = data.get
    for field_name, exact, f in fields:
        value = get(field_name)
        if strict or type(value) is not exact:  # else check_field would return the value as it is
            value, problem = check_field(f, value)
            if problem is not None:
                failed = True
        payload[field_name] = value
    if failed:  # only then is every field's schema check recorded (the common path stays cheap)
        results = [_schema_result(f, data.get(f.name)) for f in ir.input]
        env.payload = dict(data)
        row, reasons = rejected(env, INGEST, ts_us, results)
        rows.append(row)
        return Admission(env, False, rows, reasons)
    rows.append(transition(env, "emitted", INGEST, ts_us, decision="pass"))
    return Admission(env, True, rows, [])


# Per field type, the one Python type check_field passes through unchanged (float for double: float()
# of a float is itself). Other values, and "int" fields (range check), go through check_field.
_EXACT: dict[str, type[Any]] = {"string": str, "long": int, "double": float, "float": float, "boolean": bool}
_Plan = tuple[WorkflowIR, str, int, tuple[tuple[str, type[Any] | None, FieldIR], ...]]
_PLANS: dict[int, _Plan] = {}


def _plan(ir: WorkflowIR) -> _Plan:
    """What admit() reads of the workflow, as plain values: pydantic attribute access is slow, and
    the IR is frozen. Keyed by id, checked by identity; cleared when large (many test workflows)."""
    plan = _PLANS.get(id(ir))
    if plan is None or plan[0] is not ir:
        if len(_PLANS) >= 64:
            _PLANS.clear()
        fields = tuple((f.name, None if _ranged(f) else _EXACT.get(f.type), f) for f in ir.input)
        plan = _PLANS[id(ir)] = (ir, ir.name, ir.version, fields)
    return plan


def _ranged(f: FieldIR) -> bool:
    """A field with a declared range or enum always goes through check_field (no fast pass-through)."""
    return f.minimum is not None or f.maximum is not None or bool(f.symbols)


def _schema_result(f: FieldIR, value: Any) -> RuleResult:
    _, problem = check_field(f, value)
    return RuleResult(f"schema.{f.name}", INGEST, problem is None, "reject", problem or "", {f.name: value})


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number or null")


def _parse_strictly(raw: str) -> tuple[Any, str | None]:
    """A line orjson refused, parsed by the standard parser: the value, or why the line is no event.

    Every way that parser can fail on one line is named here, so no line stops a run: a blank line,
    bytes that are not UTF-8, broken JSON, NaN/Infinity (not JSON; the parser's extension would let a
    non-finite double through), nesting past its recursion limit, an integer literal too long to convert,
    and an escaped lone surrogate (valid JSON syntax, but not text any sink can store)."""
    if not raw.strip():
        return None, "a blank line, no event"
    if (bad := _not_utf8(raw)) is not None:
        return None, f"not valid UTF-8 ({bad})"
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return None, "not accepted: JSON nested deeper than 1024 levels"
    except ValueError as exc:  # NaN/Infinity above; an integer of more than 4300 digits
        return None, f"not valid JSON ({str(exc).split(':')[0]})"
    try:
        orjson.dumps(data)
    except TypeError as exc:  # only text, too deep nesting or >64-bit integers reach here
        if "surrogate" in str(exc):
            return None, "a string holds an escaped lone surrogate (like \\ud800), which is not text"
    return data, None


def _not_utf8(raw: str) -> str | None:
    """Why a line is not text. Input files are read with errors="surrogateescape", so a line of bytes
    that are not UTF-8 reaches admission (and the dlq) instead of failing the whole run."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(raw[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
        return f"{what} at column {exc.start + 1}"
    return None


def _printable(raw: str) -> str:
    """The line as text every sink can store: what is not text becomes a \\udcNN escape."""
    return raw.encode("utf-8", "backslashreplace").decode("utf-8")


def _dead(env: Envelope, rows: list[AuditRow], ts_us: int, reason: str, raw: str) -> Admission:
    env.provenance["error"] = reason
    env.payload = {"raw": raw}
    rows.append(transition(env, "dlq", INGEST, ts_us, decision="dlq", reason=reason))
    return Admission(env, False, rows, [reason], dead=True)


def empty_provenance() -> dict[str, Any]:
    """The provenance record of an envelope no step has touched yet."""
    return {
        "rule_results": [],
        "reasons": [],
        "route": None,
        "error": None,
        "model": None,
        "prompt_hash": None,
        "knowledge_versions": {},
    }
