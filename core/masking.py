"""Secrets never printed: masking of settings values, DSNs and URLs, one rule for every command.

Operators paste the output of `dana-wf config show` and of error messages into tickets, so it must be safe
by construction: SecretStr values, passwords in DSN/URL userinfo (``clickhouse://user:pw@host/db``),
``password=``/``token=`` query parameters, and any field whose name says it holds a secret are replaced.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "**********"

_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s]*:)(?P<pw>[^@\s]+)(?P<at>@)")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|secret|token|api_key|apikey|access_key|sasl_password)=)(?P<pw>[^&;#\s]*)",
    re.IGNORECASE,
)
# Field names that hold a secret even when typed as plain str (e.g. in a user's llm_endpoints entry).
_SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|secret|token|api_key|apikey|credentials?|private_key)$", re.IGNORECASE
)


def mask_text(text: str) -> str:
    """Mask passwords inside URLs and DSNs; other text is returned unchanged."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{MASK}" if m["pw"] else m[0], text)


def masked(value: Any, name: str = "") -> Any:
    """A printable copy of a settings value with every secret masked (recurses into models, dicts, lists)."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return {k: masked(getattr(value, k), k) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(v, name) for v in value]
    if isinstance(value, str):
        if value and _SECRET_NAME.search(name):
            return MASK
        return mask_text(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
