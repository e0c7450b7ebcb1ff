"""Ctrl-C while `dana-wf` is still importing its subcommands (~4 s on a loaded machine; newcomer4 N4-12):
one line and exit 130, as after the imports, not a 22-line KeyboardInterrupt traceback. No clock: the child
announces that it is inside the imports (a finder holding one late sub-app's import) before the SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# The console script's own lines, behind a finder that stops at a sub-app cli/main.py mounts late.
CHILD = """
import sys, time

class Hold:
    def find_spec(self, name, path=None, target=None):
        if name == "dana_workflows.cli.recovery":
            print("loading", flush=True)
            while True:
                time.sleep(0.05)  # the SIGINT arrives here, inside cli/main.py's import
        return None

sys.meta_path.insert(0, Hold())
sys.argv[0] = "dana-wf"
from dana_workflows.cli.main import main
sys.exit(main())
"""


def test_ctrl_c_during_the_imports_is_one_line_and_exit_130() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "loading\n"
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["error: interrupted while dana-wf was starting; nothing was done"]


def test_after_the_imports_ctrl_c_is_python_s_again() -> None:
    """Importing the CLI (tests, the Python API next to it) leaves SIGINT's handler as it found it."""
    before = signal.getsignal(signal.SIGINT)
    import dana_workflows.cli.main  # noqa: F401

    assert signal.getsignal(signal.SIGINT) is before


def test_the_loading_handler_says_one_line_and_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    from dana_workflows.cli import main as cli_main

    with pytest.raises(SystemExit) as stopped:
        cli_main._interrupted_while_loading(signal.SIGINT, None)
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "error: interrupted while dana-wf was starting; nothing was done\n"
