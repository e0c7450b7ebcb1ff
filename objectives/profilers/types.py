"""Types beneath the declared ones: string fields that only ever hold numbers (a type in disguise).

Such a field gets a number rule instead of a learned shape: `^[0-9]{3}$` learned from 300 values
would refuse the 1000th customer, while "a decimal number" is what the values are.
"""

from __future__ import annotations

import re

from dana_workflows.objectives.profilers.column import Column, guarded, literal, support_factor
from dana_workflows.objectives.proposal import Candidate
from dana_workflows.objectives.settings import InferenceSettings

INTEGER_TEXT = "^-?[0-9]+$"
DECIMAL_TEXT = "^-?[0-9]+([.][0-9]+)?$"


def profile(col: Column, settings: InferenceSettings) -> list[Candidate]:
    present = col.present
    if col.field.type != "string" or len(present) < settings.min_values:
        return []
    if all(re.fullmatch(INTEGER_TEXT, v) for v in present):
        regex, what = INTEGER_TEXT, "whole number"
    elif all(re.fullmatch(DECIMAL_TEXT, v) for v in present):
        regex, what = DECIMAL_TEXT, "decimal number"
    else:
        return []
    if len(set(present)) <= settings.max_categories and len(present) / len(set(present)) >= 4:
        return []  # a small set of codes that look like numbers: the domain profiler speaks for it
    return [
        Candidate(
            id=f"{col.name}_number_text",
            rule=guarded(col, f"{col.name}.matches({literal(regex, 'string')})"),
            profile="types",
            fields=(col.name,),
            message=f"{col.name} holds {what}s as text",
            basis=f"all {len(present)} values are {what}s written as text",
            strength=support_factor(len(present)),
            support=len(present),
            kind="pattern",
        )
    ]
