"""cli.main.main answers an OSError in one line only when its path is one the user named on the command
line (an output file, or a folder it goes in): an OSError from inside a run (a user's function module
reading a file nobody named, an engine bug) keeps its traceback, which says where it came from (REVIEW-N
on 7a69c1c)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

import dana_workflows.cli.main as cli_main

pytestmark = pytest.mark.unit

_SPEC = """\
workflow: reviewn_scoring
version: 1
input: {id: string, amount: double}
steps:
  - scorer:
      transform:
        function: reviewn_scorefn:score
        outputs: {score: double}
"""


def test_an_oserror_from_a_users_module_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    missing = tmp_path / "elsewhere" / "table.json"  # named by no argument
    (tmp_path / "reviewn_scorefn.py").write_text(
        f"TABLE = open({str(missing)!r}).read()\n\ndef score(payload):\n    return {{'score': 0.1}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "reviewn_scorefn", raising=False)
    (tmp_path / "s.yaml").write_text(_SPEC)
    (tmp_path / "ev.jsonl").write_text('{"id": "a", "amount": 1.0}\n')
    monkeypatch.setattr(sys, "argv", ["dana-wf", "run", "s.yaml", "-i", "ev.jsonl", "--out", "o"])
    with pytest.raises(FileNotFoundError) as info:  # not `error: .../table.json: ... (fix: create the folder`
        cli_main.main()
    assert info.value.filename == str(missing)


def _raising(exc: OSError) -> None:
    raise exc


@pytest.mark.parametrize(
    ("argv", "filename", "answered"),
    [
        (["report", "--html", "/nonexistent/r.html"], "/nonexistent/r.html", True),
        (["report", "--html=/nonexistent/r.html"], "/nonexistent/r.html", True),
        (["run", "s.yaml", "--out", "a-file/o"], "a-file/o/dwf.s.out.jsonl", True),  # inside a named folder
        (
            ["run", "s.yaml", "--out", "a-file/o"],
            os.path.abspath("a-file/o"),
            True,
        ),  # the same, made absolute
        (["run", "s.yaml", "--out", "o"], "/opt/table.json", False),
        (["run", "s.yaml", "--out", "o"], "ou/x", False),  # a name that only starts like an argument
        (["run", "s.yaml"], "s.yaml.lock/x", False),
    ],
)
def test_only_a_path_the_user_named_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    filename: str,
    answered: bool,
) -> None:
    exc = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), filename)
    monkeypatch.setattr(cli_main, "app", lambda: _raising(exc))
    monkeypatch.setattr(sys, "argv", ["dana-wf", *argv])
    if not answered:
        with pytest.raises(FileNotFoundError) as info:
            cli_main.main()
        assert info.value is exc
        return
    with pytest.raises(SystemExit) as stop:
        cli_main.main()
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {filename}: No such file or directory (fix: ")
