"""Canonical JSON: one string per value (sorted keys, no spaces), so comparisons are stable."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> str:
    return str(value)


def canonical_json(value: Any) -> str:
    return orjson.dumps(value, default=_fallback, option=_OPTIONS).decode()
