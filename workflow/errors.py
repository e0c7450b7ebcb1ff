"""Spec problems that name the file, the line, the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass


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
