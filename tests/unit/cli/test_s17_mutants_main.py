"""Mutation pass over session 17's lines of cli/main.py: a test for the mutant that survived.

An OSError is one line when its path is one the user named (``--opt PATH`` or ``--opt=PATH``, docs/cli.md):
in ``--opt=PATH`` the path is everything after the first ``=``, so a path that holds an ``=`` itself
(``--html=runs/a=b/r.html``) is named as much as any other.
"""

from __future__ import annotations

import errno
import os
import sys

import pytest

import dana_workflows.cli.main as cli_main

pytestmark = pytest.mark.unit


def _raising(exc: OSError) -> None:
    raise exc


@pytest.mark.parametrize("path", ["/nonexistent/a=b/r.html", "/nonexistent/x=1=2.html"])
def test_a_named_path_with_an_equals_sign_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    exc = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    monkeypatch.setattr(cli_main, "app", lambda: _raising(exc))
    monkeypatch.setattr(sys, "argv", ["dana-wf", "report", f"--html={path}"])
    with pytest.raises(SystemExit) as stop:
        cli_main.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {path}: No such file or directory (fix: ")
