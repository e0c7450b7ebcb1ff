"""Completeness: an optional field the sample always fills, and strings it never leaves empty."""

from __future__ import annotations

from dana_workflows.objectives.profilers.column import Column, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    out: list[Candidate] = []
    n = len(col.values)
    present = col.present
    if col.field.optional and not col.has_nulls and n >= settings.min_values:
        out.append(
            Candidate(
                id=f"{col.name}_present",
                rule=f"{col.name} != null",
                profile="completeness",
                fields=(col.name,),
                message=f"{col.name} is required",
                basis=f"set in all {n} sample events though declared optional",
                strength=1.0,
                support=n,
                kind="present",
            )
        )
    if col.field.type == "string" and len(present) >= settings.min_values and all(present):
        body = f"size({col.name}) > 0"
        # guarded like a value rule (column.guarded): an optional field may be absent, not empty
        rule = f"{col.name} == null || {body}" if col.has_nulls or col.field.optional else body
        out.append(
            Candidate(
                id=f"{col.name}_nonempty",
                rule=rule,
                profile="completeness",
                fields=(col.name,),
                message=f"{col.name} must not be empty",
                basis=f"never empty in {len(present)} values",
                strength=support_factor(len(present)),
                support=len(present),
                kind="nonempty",
            )
        )
    return out
