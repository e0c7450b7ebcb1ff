"""`dana-wf validate`'s analysis of one workflow: type errors, then the solver's findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from dana_workflows.analysis.checks import check
from dana_workflows.analysis.findings import Finding
from dana_workflows.analysis.paths import TooManyPaths
from dana_workflows.analysis.sites import sites
from dana_workflows.analysis.spec_lines import spec_lines
from dana_workflows.analysis.typecheck import type_findings
from dana_workflows.workflow.ir import WorkflowIR


@dataclass(slots=True)
class Analysis:
    source: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def notes(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "note"]


def analyse(ir: WorkflowIR, solve: bool = True) -> Analysis:
    """Type-check every expression; unless one fails, ask the solver (solve=False: types only)."""
    lines = spec_lines(ir.source)
    found: list[Finding] = []
    for site in sites(ir):
        found.extend(type_findings(site))
    if solve and not any(f.severity == "error" for f in found):
        found.extend(_solver_findings(ir))
    located = [_at(f, lines) for f in found]
    return Analysis(ir.source, _dedupe(located))


def _solver_findings(ir: WorkflowIR) -> list[Finding]:
    try:
        checker = check(ir)
    except TooManyPaths as exc:
        return [
            Finding(
                "undecided",
                str(exc),
                "the workflow has more ways through its routes than the analysis follows (256); "
                "nothing was claimed about it",
                "split the workflow, or run `dana-wf validate --no-solver` for the type check only",
            )
        ]
    found = list(checker.findings)
    for key in checker.undecided:
        found.append(
            Finding(
                "undecided",
                key,
                "the solver could not decide this within its time limit (often non-linear arithmetic, "
                "e.g. a field times a field); nothing was claimed about it",
                "rewrite with a constant factor if you can, or rely on `dana-wf diff` for this rule",
            )
        )
    return found


def _at(f: Finding, lines: dict[str, int]) -> Finding:
    line = lines.get(f.key, 0)
    return f if line == f.line else Finding(f.code, f.key, f.message, f.fix, f.example, line)


def _dedupe(found: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in found:
        if (f.code, f.key, f.message) not in seen:
            seen.add((f.code, f.key, f.message))
            out.append(f)
    return out


def summary(analysis: Analysis) -> str:
    """One line: how many errors, warnings and notes (for the ✓/✗ line of validate)."""
    parts = [
        f"{len(group)} {name}{'s' if len(group) != 1 else ''}"
        for name, group in (
            ("error", analysis.errors),
            ("warning", analysis.warnings),
            ("note", analysis.notes),
        )
        if group
    ]
    return ", ".join(parts) if parts else "no findings"
