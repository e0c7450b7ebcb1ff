"""A finding of the spec analysis: what, where (site key and line), why it matters, an example event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "note"]

# What each code means; docs/changes.md lists them with examples.
CODES: dict[str, Severity] = {
    "type-error": "error",  # refused: fails on every event that reaches it
    "never-taken": "warning",  # a route branch no event can take (shadowed, or its condition never holds)
    "overlap": "warning",  # two branches both hold for some events and neither contains the other
    "never-fails": "warning",  # a rule that no event reaching it can fail
    "never-passes": "warning",  # a rule (or constraint) that no event reaching it can pass
    "contradicts-branch": "warning",  # an objective constraint every event of a branch violates
    "out-of-range": "warning",  # a transform whose result can leave its field's declared range
    "not-analysed": "note",  # an expression outside the analysed subset: nothing is claimed about it
    "undecided": "note",  # the solver gave up within its time limit
}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    key: str  # site key, e.g. steps[2].triage.route.review
    message: str
    fix: str = ""
    example: dict[str, Any] | None = None  # an input event showing it (checked with the CEL library)
    line: int = 0

    @property
    def severity(self) -> Severity:
        return CODES[self.code]

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        text = f"{where}: {self.key}: {self.code}: {self.message}"
        if self.fix:
            text += f" (fix: {self.fix})"
        if self.example is not None:
            text += f"\n      example event: {json.dumps(self.example, sort_keys=True)}"
        return text

    def as_record(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "key": self.key,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "example": self.example,
        }
