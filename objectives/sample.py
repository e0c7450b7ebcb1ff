"""Sample files: JSON lines of known-good events, checked against the fields they should carry.

A line is an input event, or an output record of an earlier run (`dwf.<wf>.out.jsonl`), whose payload
carries the steps' outputs too (an llm step's answers): that is how step outputs get a sample.

Inference only believes events that fit the declared types; the rest are counted and named, never
silently used. A file that cannot give enough good events raises SampleError with one clear message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dana_workflows.workflow.ir import FieldIR

Event = dict[str, Any]


class SampleError(ValueError):
    """A sample that cannot be used: the message names the file, what is wrong and the fix."""


@dataclass(slots=True)
class Sample:
    """The good events of one file, and why the others were set aside."""

    path: str
    events: list[Event]
    skipped: list[str] = field(default_factory=list)  # "line 7: not JSON", ...
    lines: list[int] = field(default_factory=list)  # the file line of each event, to name it
    # events of the file read from output records of an earlier run: their payload holds the values as the
    # steps left them, so a field a step rewrites is not the input's any more (objectives/boundaries.py)
    outputs: int = 0

    def where(self, index: int) -> str:
        return (
            f"{self.path} line {self.lines[index]}"
            if index < len(self.lines)
            else f"{self.path} #{index + 1}"
        )

    def __len__(self) -> int:
        return len(self.events)


def fits(value: Any, f: FieldIR) -> bool:
    """Whether one value fits a declared field type (bool is not a number here, as in Avro)."""
    if value is None:
        return f.optional
    if f.type == "string":
        return isinstance(value, str)
    if f.type == "boolean":
        return isinstance(value, bool)
    if f.type in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_declared(value: Any, f: FieldIR) -> Any:
    """Whole numbers in a double field become floats, as the Avro decoder hands them to rules."""
    if f.type in ("double", "float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def load_sample(path: str | Path, fields: Sequence[FieldIR], min_events: int = 0) -> Sample:
    """Read a JSONL sample; keep the events whose declared fields are present and well typed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SampleError(f"{p}: cannot read the sample ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise SampleError(f"{p}: not UTF-8 text; a sample is JSON lines, one event per line") from None
    return parse_sample(text.splitlines(), fields, str(p), min_events)


def parse_sample(lines: Sequence[str], fields: Sequence[FieldIR], name: str, min_events: int = 0) -> Sample:
    sample = Sample(name, [])
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            sample.skipped.append(f"line {n}: not JSON")
            continue
        if not isinstance(raw, dict):
            sample.skipped.append(f"line {n}: not a JSON object")
            continue
        if isinstance(raw.get("payload"), dict) and "event_id" in raw:
            raw = raw["payload"]  # an output record of an earlier run (.out.jsonl): its payload
            sample.outputs += 1
        problem = _misfit(raw, fields)
        if problem:
            sample.skipped.append(f"line {n}: {problem}")
            continue
        sample.events.append({**raw, **{f.name: _as_declared(raw.get(f.name), f) for f in fields}})
        sample.lines.append(n)
    if not sample.events:
        why = f" (first problem: {sample.skipped[0]})" if sample.skipped else ""
        raise SampleError(f"{name}: no usable events{why}; a sample is JSON lines, one input event per line")
    if len(sample.events) < min_events:
        raise SampleError(
            f"{name}: {len(sample.events)} usable events, too few to infer from; give at least "
            f"{min_events} known-good events (a few hundred give tighter rules)"
        )
    return sample


def _misfit(raw: Mapping[str, Any], fields: Sequence[FieldIR]) -> str:
    for f in fields:
        if f.name not in raw:
            if f.optional:
                continue
            return f"missing field '{f.name}'"
        if not fits(raw[f.name], f):
            return f"field '{f.name}' is {type(raw[f.name]).__name__}, declared {f.type}"
    return ""


def split(whole: Sample, holdout_share: float = 0.3) -> tuple[Sample, Sample]:
    """Every k-th event to the held-out part: deterministic, and spread over the whole file."""
    k = max(2, round(1 / holdout_share))
    parts = (Sample(whole.path, [], outputs=whole.outputs), Sample(whole.path, [], outputs=whole.outputs))
    for i, event in enumerate(whole.events):
        part = parts[1] if i % k == k - 1 else parts[0]
        part.events.append(event)
        part.lines.append(whole.lines[i])
    return parts
