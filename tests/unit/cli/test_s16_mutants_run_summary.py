"""The run summary's session-16 lines (cli/run.print_summary): an input without lines says so, and the
`audit sql` hint prints as it must be pasted (mutation pass, session 17).

A store's path may hold square brackets (a folder `runs[b]`): rich would read `[b]` as markup and drop
it, and the pasted command would name another store."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from dana_workflows.cli.run import print_summary
from dana_workflows.streams.local.runtime import RunSummary
from tests.unit.cli.test_mut9_run_summary import PIPELINE, printed, summary

pytestmark = pytest.mark.unit

BRACKETED = "chdb:///tmp/runs[b]/audit"


def test_an_input_without_lines_says_nothing_was_run() -> None:
    empty = printed(RunSummary(events=0, seconds=0.01, audit_rows=0))
    assert "the input has no lines: nothing was run" in empty
    for events in (1, 10):  # an input of one line or more was run
        assert "the input has no lines: nothing was run" not in printed(summary(events=events))


def _lines(dsn: str, default_dsn: str | None) -> list[str]:
    buf = io.StringIO()
    console = Console(file=buf, width=300, color_system=None, highlight=False)
    s: Any = summary()
    print_summary(console, PIPELINE, s, None, dsn, True, default_dsn)
    return buf.getvalue().splitlines()


def test_the_hint_names_a_bracketed_store_as_it_is() -> None:
    hint = [line for line in _lines(BRACKETED, "chdb://.dwf/audit") if "try: " in line]
    query = 'dana-wf audit sql "SELECT kind, count() FROM dwf.events GROUP BY kind"'
    assert hint == [f"  try: {query} --audit '{BRACKETED}'"]


def test_the_audit_line_names_a_bracketed_store_as_it_is() -> None:
    assert f"audit: 7 rows -> {BRACKETED}; hash chains verified" in _lines(BRACKETED, None)
