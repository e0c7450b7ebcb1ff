"""Fixtures shared by the CLI tests."""

from tests.unit.cli.scoring_run import scoring

__all__ = ["scoring"]
