"""The local runtime's side of resuming events (processors/resume.py): in this process, on a run's output
directory, with the run's audit chains continued.

Order of effects, so that a crash leaves no second outcome: every audit row of the resumed events (the
``override``/``replayed`` row first, then the rest of each journey) is stored in one insert; only then
are the outcomes appended to the output files. A crash before the insert changed nothing (the command
can be run again); a crash after it leaves the audit, which is the record, complete, and at worst an
outcome line missing from a file (docs/review.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dana_workflows.processors.base import StepContext
from dana_workflows.processors.pipeline import Pipeline
from dana_workflows.processors.resume import ResumePoint, resumed_at
from dana_workflows.schemas.canonical import canonical_json_line
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.streams.local.outputs import OutputFiles, decision_record
from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
from dana_workflows.streams.topology import Topology


@dataclass(frozen=True, slots=True)
class ResumeItem:
    """One event to resume: its envelope (at its chain's tail, past ``first_row``), the row that says
    why it moves again, and where it goes on."""

    envelope: Envelope
    first_row: AuditRow
    point: ResumePoint


class HeldOutputs(OutputFiles):
    """Output lines held back until the audit rows are stored, then appended to the run's files."""

    def __init__(self, directory: Path, topology: Topology) -> None:
        super().__init__(directory, topology, "jsonl", append=True)
        self.held: list[tuple[str, str, bytes]] = []  # boundary, run id, the line

    def write(self, boundary: str, env: Envelope) -> None:
        self.held.append((boundary, env.run_id, canonical_json_line(decision_record(env))))

    def release(self) -> None:
        for boundary, _, line in self.held:
            self._jsonl(boundary).write(line)
        self.held = []
        self.close()

    def outcomes(self) -> dict[str, str]:
        """Run id -> the boundary it ended on (out, a terminal branch, rejected, dlq, review)."""
        return {run_id: boundary for boundary, run_id, _ in self.held}


@dataclass(slots=True)
class LocalResume:
    """The rows to store and the outputs to release, of a batch of resumed events."""

    rows: list[AuditRow]
    outputs: HeldOutputs


async def resume_locally(
    pipeline: Pipeline, topology: Topology, out_dir: Path, items: Sequence[ResumeItem], ctx: StepContext
) -> LocalResume:
    """Run each item from its resume point through the shared executor (nothing is stored yet)."""
    rows: list[AuditRow] = []
    outputs = HeldOutputs(out_dir, topology)
    runtime = LocalRuntime(pipeline, topology, outputs, collect_rows(rows), ctx)
    for item in items:
        rows.append(item.first_row)
        await runtime.resume(resumed_at(item.envelope, item.point), item.point.boundary)
        runtime.flush()
    return LocalResume(rows, outputs)
