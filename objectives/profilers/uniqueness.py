"""Uniqueness: a field whose every value in the sample is distinct (an id, most likely).

A per-event rule cannot see other events, so this is an observation, not a rule: it is shown with
the proposals and recorded, and enforcing it takes state (a dedup table), which is not a CEL rule.
"""

from __future__ import annotations

from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings


def unique(col: Column, settings: InferenceSettings) -> bool:
    present = col.present
    return (
        col.field.type in ("string", "int", "long")
        and len(present) >= settings.min_values
        and len(set(present)) == len(present)
    )
