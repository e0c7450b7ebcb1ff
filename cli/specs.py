"""Loading a workflow spec for a command: one place for the message and exit code of a spec that is missing,
wrong or cannot be compiled (exit 2, cli/conventions.py: the user's file to fix)."""

from __future__ import annotations

from pathlib import Path

from dana_workflows.cli.conventions import EXIT_USAGE, fail
from dana_workflows.processors.pipeline import Pipeline


def pipeline_or_exit(spec: Path) -> Pipeline:
    """The compiled workflow of `spec`, or a typer.Exit(2) after one line that names the problems."""
    from dana_workflows.streams.app_builder import load_pipeline
    from dana_workflows.workflow.errors import SpecError

    try:  # a missing file too: the spec reader names it and says what to check
        return load_pipeline(spec)
    except SpecError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
