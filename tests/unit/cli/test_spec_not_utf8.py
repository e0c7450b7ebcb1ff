"""A spec saved in Latin-1 or a Windows code page (an accented name in a rule) is one problem naming the file,
the line and the fix, in every command that takes a spec: not a UnicodeDecodeError traceback (session 18
newcomer, N11). validate reports it as a spec problem (exit 1), the others as a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.cli.conventions import EXIT_USAGE
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import load_spec
from tests.unit.cli.test_spec_exit_codes import COMMANDS, _dana_wf, here

pytestmark = pytest.mark.unit
__all__ = ["here"]  # the fixture, used by name

LATIN1 = """\
workflow: wf
input: {name: string}
steps:
  - c:
      validate:
        - {id: a, rule: "name != 'é'"}
"""


@pytest.fixture
def latin(here: Path) -> Path:
    (here / "latin.yaml").write_bytes(LATIN1.encode("latin-1"))
    return here / "latin.yaml"


def test_load_spec_names_the_line_and_the_fix(latin: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(latin)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (6, "<file>")
    assert problem.message == "not UTF-8 text: byte 0xe9 cannot be read"
    assert problem.fix == "save the file as UTF-8"


def test_validate_says_so_in_one_line(
    latin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _dana_wf(monkeypatch, capsys, ["validate", "latin.yaml"])
    assert code == 1
    assert "latin.yaml:6: <file>: not UTF-8 text" in out + err and "Traceback" not in out + err


@pytest.mark.parametrize(("command", "args"), COMMANDS)
def test_every_command_answers_one_line(
    latin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str, args: str
) -> None:
    code, out, err = _dana_wf(monkeypatch, capsys, [command, *args.format(spec="latin.yaml").split()])
    assert code == EXIT_USAGE, err
    assert err.startswith("error: ") and "latin.yaml:6: <file>: not UTF-8 text" in err
    assert "Traceback" not in out + err
