"""Loading a workflow spec and its events file for a command: one place for the message and exit code of a
spec that is missing, wrong or cannot be compiled, or an input that is not there (exit 2, cli/conventions.py:
the user's file to fix)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dana_workflows.cli.conventions import EXIT_USAGE, fail
from dana_workflows.processors.pipeline import Pipeline

if TYPE_CHECKING:
    from dana_workflows.workflow.errors import SpecError
    from dana_workflows.workflow.ir import WorkflowIR

EVENT_SUFFIXES = (".jsonl", ".ndjson")  # what a file of events is called (a .json file may be a spec)


def pipeline_or_exit(spec: Path) -> Pipeline:
    """The compiled workflow of `spec`, or a typer.Exit(2) after one line that names the problems."""
    from dana_workflows.streams.app_builder import load_pipeline
    from dana_workflows.workflow.errors import SpecError

    try:  # a missing file too: the spec reader names it and says what to check
        return load_pipeline(spec)
    except SpecError as exc:
        raise _unusable(spec, exc) from None


def spec_or_exit(spec: Path) -> WorkflowIR:
    """The checked spec of `spec` (not compiled: for a command that reads only its declarations, such as
    its knowledge sources or llm steps), or a typer.Exit(2) after one line that names the problems."""
    from dana_workflows.workflow.errors import SpecError
    from dana_workflows.workflow.spec import load_spec

    try:
        return load_spec(spec)
    except SpecError as exc:
        raise _unusable(spec, exc) from None


def _unusable(spec: Path, exc: SpecError) -> typer.Exit:
    swapped = spec.suffix.lower() in EVENT_SUFFIXES  # `run events.jsonl -i spec.yaml`: YAML errors alone
    hint = f"\n  ({spec} looks like events: the spec is the workflow's YAML, events go in --input)"
    return fail(str(exc) + (hint if swapped else ""), EXIT_USAGE)


def input_file_or_exit(path: Path) -> Path:
    """`path` when it can be read as a file of events, else a typer.Exit(2) after one line naming it.

    Only a directory is refused besides a missing path: a named pipe (`-i /dev/stdin`) is a file of events
    too. The message names no generator: the input belongs to the user's workflow, not the claims example."""
    if not path.exists():
        raise fail(f"input file {path} does not exist", EXIT_USAGE)
    if path.is_dir():
        raise fail(f"input {path} is a directory; name a file of events, one JSON object a line", EXIT_USAGE)
    return path
