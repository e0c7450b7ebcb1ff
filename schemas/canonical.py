"""Canonical JSON: one string per value (sorted keys, no spaces), so comparisons are stable.

orjson renders almost everything. What it refuses (a lone surrogate in a string, an integer beyond 64
bits, nesting past 254 levels) can still reach a sink from hostile input (a dlq line, a rejected payload);
those values are rendered by the standard encoder instead, ASCII-escaped (a lone surrogate becomes the
JSON escape ``\\ud800``, valid JSON and valid UTF-8), so writing an outcome never fails.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> str:
    return str(value)


def canonical_json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_fallback, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _standard(value)


def canonical_json_line(value: Any) -> bytes:
    """canonical_json as UTF-8 bytes with a newline: one JSON-lines record, with no str in between."""
    try:
        return orjson.dumps(value, default=_fallback, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return _standard(value).encode() + b"\n"


def _standard(value: Any) -> str:
    """What orjson refused, rendered by the standard encoder (ASCII, sorted keys, no spaces)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_fallback)
    except (TypeError, ValueError, RecursionError):  # mixed key types, or deeper than Python recurses
        try:
            text = repr(value)[:10_000]
        except (ValueError, RecursionError):
            text = f"a {type(value).__name__} too deep to print"
        return json.dumps({"unrenderable": text})
