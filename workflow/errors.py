"""Spec problems that name the file, the line, the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SpecProblem:
    file: str
    line: int  # 1-based; 0 when unknown
    field: str  # dotted path, e.g. steps[1].check_claim.validate[0].rule
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class SpecError(ValueError):
    """Every problem found in a spec, reported at once."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        n = len(problems)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''} in workflow spec:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


class ProblemCollector(Protocol):
    """What the parser's helper modules need of spec_support.Collector. A protocol here, so a helper that
    spec_support imports (spec_fields, spec_enum) never imports spec_support back (no import circle)."""

    def add(self, node: Any, key: Any, path: str, message: str, fix: str = "") -> None: ...

    def unknown_keys(self, node: Any, allowed: tuple[str, ...], prefix: str) -> bool: ...
