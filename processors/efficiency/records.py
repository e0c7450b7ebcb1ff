"""Calibration records from the audit: every first answer a verification judged, plus human feedback.

An llm step's transition row carries its efficiency summary (``dwf.eff``): the tier, the model's
confidence and, when a verification ran (always in naive mode), whether the first answer was right.
A ``feedback`` row (``dana-wf feedback``) judges an event's answer by a person; it labels events that
were bypassed (no verification) and overrides a verification's verdict (a person outranks a model). An
``override`` row (``dana-wf review decide``) judges the same way: the answer was right when the reviewer
kept every field of it, wrong when the decision changed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dana_workflows.processors.efficiency.calibration import Record
from dana_workflows.processors.efficiency.monitor import SUMMARY_KEY
from dana_workflows.sinks.audit_model import OVERRIDE_KIND

FEEDBACK_KIND = "feedback"


def _details(raw: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
    return raw


def records_from_rows(rows: Iterable[tuple[str, str, str | Mapping[str, Any]]]) -> list[Record]:
    """Rows as (run_id, kind, details): the judged first answers of every llm step, feedback applied."""
    answers: dict[tuple[str, str], tuple[str, float, bool | None]] = {}
    feedback: dict[tuple[str, str], bool] = {}
    for run_id, kind, raw in rows:
        details = _details(raw)
        if kind == FEEDBACK_KIND:
            if isinstance(details.get("correct"), bool):
                feedback[(str(details.get("run_id", run_id)), str(details.get("step", "")))] = details[
                    "correct"
                ]
            continue
        if kind == OVERRIDE_KIND:  # the answer was right exactly when the reviewer changed none of it
            before, after = details.get("before"), details.get("after")
            if isinstance(before, Mapping) and isinstance(after, Mapping):
                feedback[(run_id, str(details.get("step", "")))] = dict(before) == dict(after)
            continue
        summary = details.get(SUMMARY_KEY)
        if not isinstance(summary, Mapping):
            continue
        risk = summary.get("risk")
        confidence = summary.get("confidence")
        if not isinstance(risk, Mapping) or not isinstance(confidence, int | float):
            continue
        correct = summary.get("first_correct")
        answers[(run_id, str(summary.get("step", "")))] = (
            str(risk.get("tier")),
            float(confidence),
            correct if isinstance(correct, bool) else None,
        )
    out: list[Record] = []
    for (run_id, step), (tier, confidence, correct) in answers.items():
        judged = feedback.get((run_id, step), correct)
        if judged is not None:
            out.append(Record(step, tier, confidence, judged))
    return out
