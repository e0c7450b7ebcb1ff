"""The input event as received, kept in the audit's `received` row so recorded traffic can be replayed.

`details` of the `received` row (docs/audit.md, "Recorded input"):
- no sensitive field in the spec: {"input": "<the line as received>", "ordinal": n}
- sensitive fields (`{type: string, sensitive: true}`): {"input_fields": {...}, "ordinal": n}, the parsed
  event with each sensitive value replaced by {"$encrypted": "<Fernet token>"} when DWF_AUDIT_INPUT_KEY
  holds a key, else by {"$withheld": "no DWF_AUDIT_INPUT_KEY"}: never stored in clear. A line that is
  not a JSON object cannot be split into fields, so it is withheld whole ({"input_withheld": why}).
A line that is not valid UTF-8 is kept with its bytes escaped ({"input": ..., "input_escaped": true}).

`restore` turns the recorded form back into a line, and says which fields it could not restore
(withheld, or encrypted under a key it does not have).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.record_size import bounded_payload
from dana_workflows.workflow.ir import WorkflowIR

ENCRYPTED, WITHHELD = "$encrypted", "$withheld"
NO_KEY = "no DWF_AUDIT_INPUT_KEY"
# longer lines are recorded as size, sha256 and first 4 KiB: replaying them needs the input file
RECORDED_INPUT_MAX_CHARS = 262_144


class InputKeyError(ValueError):
    """DWF_AUDIT_INPUT_KEY is set but is not a Fernet key."""


def sealer(key: str | None) -> Fernet | None:
    """The cipher for sensitive fields, or None (they are withheld)."""
    if not key:
        return None
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise InputKeyError(
            "DWF_AUDIT_INPUT_KEY is not a Fernet key (32 url-safe base64-encoded bytes); make one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def sensitive_fields(ir: WorkflowIR) -> frozenset[str]:
    return frozenset(f.name for f in ir.input if f.sensitive)


def received_details(
    raw: str, ordinal: int, sensitive: frozenset[str], cipher: Fernet | None, *, epoch: int = 0
) -> str:
    """The `received` row's details (canonical JSON); `epoch` only when not 0 (streams/local/reruns.py),
    so a store's first run records exactly what it always did."""
    details = _received(raw, ordinal, sensitive, cipher)
    if epoch:
        details["epoch"] = epoch
    return canonical_json(details)


def _received(raw: str, ordinal: int, sensitive: frozenset[str], cipher: Fernet | None) -> dict[str, Any]:
    if len(raw) > RECORDED_INPUT_MAX_CHARS:  # an audit row must fit a Kafka message (schemas/record_size.py)
        return {"input_bounded": bounded_payload(raw), "ordinal": ordinal}
    if not sensitive:
        try:
            raw.encode("utf-8")  # canonical_json would render a lone surrogate as an escape: ask first
            return {"input": raw, "ordinal": ordinal}
        except UnicodeEncodeError:  # not valid UTF-8 (read with surrogateescape): keep the bytes, escaped
            escaped = raw.encode("utf-8", "backslashreplace").decode("utf-8")
            return {"input": escaped, "input_escaped": True, "ordinal": ordinal}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return {"input_withheld": "not a JSON object; may hold sensitive fields", "ordinal": ordinal}
    fields = {name: (_sealed(value, cipher) if name in sensitive else value) for name, value in data.items()}
    return {"input_fields": fields, "ordinal": ordinal}


def _sealed(value: Any, cipher: Fernet | None) -> dict[str, str]:
    if cipher is None:
        return {WITHHELD: NO_KEY}
    return {ENCRYPTED: cipher.encrypt(orjson.dumps(value)).decode()}


@dataclass(slots=True)
class Restored:
    line: str | None  # None: the event cannot be replayed as it was
    unrestored: list[str] = field(default_factory=list)  # fields (or "<line>") that could not be restored
    why: str = ""


def restore(details: dict[str, Any], cipher: Fernet | None) -> Restored:
    """The input line from a `received` row's details."""
    if "input" in details:
        if details.get("input_escaped"):
            return Restored(None, ["<line>"], "the line was not valid UTF-8")
        return Restored(str(details["input"]))
    if "input_withheld" in details:
        return Restored(None, ["<line>"], str(details["input_withheld"]))
    if "input_bounded" in details:
        return Restored(None, ["<line>"], f"over {RECORDED_INPUT_MAX_CHARS:,} characters: kept bounded")
    if "input_fields" not in details:
        return Restored(None, ["<line>"], "recorded before input recording existed")
    event: dict[str, Any] = {}
    missing: list[str] = []
    reasons: set[str] = set()
    for name, value in details["input_fields"].items():
        if isinstance(value, dict) and ENCRYPTED in value:
            if cipher is None:
                missing.append(name)
                reasons.add("encrypted, and DWF_AUDIT_INPUT_KEY is not set here")
                continue
            try:
                event[name] = json.loads(cipher.decrypt(value[ENCRYPTED].encode()))
            except InvalidToken:
                missing.append(name)
                reasons.add("encrypted under another key")
        elif isinstance(value, dict) and WITHHELD in value:
            missing.append(name)
            reasons.add("withheld when recorded (no key then)")
        else:
            event[name] = value
    if missing:
        return Restored(None, missing, "; ".join(sorted(reasons)))
    return Restored(json.dumps(event, ensure_ascii=False))


_RECORDING: dict[int, tuple[WorkflowIR, frozenset[str], Fernet | None]] = {}


def recording_for(ir: WorkflowIR) -> tuple[frozenset[str], Fernet | None]:
    """The spec's sensitive fields and the cipher for them, resolved once per workflow. The key is read
    from the settings only for a spec that declares sensitive fields."""
    cached = _RECORDING.get(id(ir))
    if cached is None or cached[0] is not ir:
        if len(_RECORDING) >= 64:
            _RECORDING.clear()
        sensitive = sensitive_fields(ir)
        cipher = None
        if sensitive:
            from dana_workflows.core.settings import load_settings

            key = load_settings().audit_input_key
            cipher = sealer(key.get_secret_value() if key is not None else None)
        cached = _RECORDING[id(ir)] = (ir, sensitive, cipher)
    return cached[1], cached[2]
