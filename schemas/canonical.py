"""Canonical JSON: one string per value (sorted keys, no spaces), so comparisons are stable."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> str:
    return str(value)


def canonical_json(value: Any) -> str:
    return orjson.dumps(value, default=_fallback, option=_OPTIONS).decode()


def canonical_json_line(value: Any) -> bytes:
    """canonical_json as UTF-8 bytes with a newline: one JSON-lines record, with no str in between."""
    return orjson.dumps(value, default=_fallback, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
