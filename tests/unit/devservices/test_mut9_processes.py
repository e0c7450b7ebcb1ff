"""What every development service shares (devservices/processes.py), with real child processes: a detached
start (own session, output in the log file, the previous log kept as ``.prev``, Linux's parent-death signal
only when asked), ``alive`` telling a zombie from a running process, and ``stop`` escalating to SIGKILL.

Linux facts used: prctl(PR_GET_PDEATHSIG = 2) reads the parent-death signal a process was given (0 when none);
field 3 of /proc/<pid>/stat is the state, ``Z`` for a zombie.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.devservices import processes

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs and prctl are Linux's"),
]

_REPORT = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL('libc.so.6')\n"
    "sig = ctypes.c_int(-1)\n"
    "libc.prctl(2, ctypes.byref(sig))\n"  # PR_GET_PDEATHSIG
    "print(f'pdeathsig={sig.value} sid_is_pid={os.getsid(0) == os.getpid()}')\n"
)


def _wait_for(predicate: object, what: str, bound_s: float = 20.0) -> None:
    deadline = time.monotonic() + bound_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _finish(proc: subprocess.Popen[bytes]) -> None:
    proc.wait(timeout=20)
    processes._CHILDREN.pop(proc.pid, None)


@pytest.mark.parametrize(("die_with_parent", "signal_number"), [(True, signal.SIGTERM), (False, 0)])
def test_start_detached_runs_in_its_own_session_and_logs_to_the_file(
    tmp_path: Path, die_with_parent: bool, signal_number: int
) -> None:
    log = tmp_path / "svc.log"
    log.write_text("the previous run\n")
    proc = processes.start_detached(
        [sys.executable, "-c", _REPORT], log, tmp_path, die_with_parent=die_with_parent
    )
    assert processes._CHILDREN[proc.pid] is proc  # kept for reaping
    _finish(proc)
    assert proc.returncode == 0
    assert log.read_text() == f"pdeathsig={int(signal_number)} sid_is_pid=True\n"
    assert (tmp_path / "svc.log.prev").read_text() == "the previous run\n"


def test_start_detached_runs_in_the_given_folder_with_stderr_in_the_log(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    log = tmp_path / "svc.log"
    code = "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr, flush=True)"
    proc = processes.start_detached([sys.executable, "-c", code], log, tmp_path / "work")
    _finish(proc)
    assert log.read_text().split() == [str(tmp_path / "work"), "oops"]
    assert not (tmp_path / "svc.log.prev").exists()  # no earlier log to keep


@pytest.fixture
def parent_of_a_zombie() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A child that starts a grandchild which exits and is never reaped: a zombie that is not ours."""
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen(['true'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    zombie = int(parent.stdout.readline())
    yield parent, zombie
    parent.kill()
    parent.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "gone"


def test_a_zombie_is_not_alive_but_its_running_parent_is(
    parent_of_a_zombie: tuple[subprocess.Popen[str], int],
) -> None:
    parent, zombie = parent_of_a_zombie
    _wait_for(lambda: _state(zombie) == "Z", "the grandchild to become a zombie")
    assert processes.alive(zombie) is False
    assert processes.alive(parent.pid) is True
    assert processes.alive(os.getpid()) is True


def test_our_own_exited_child_is_reaped_and_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    _wait_for(lambda: _state(child.pid) in ("Z", "gone"), "the child to exit")
    assert processes.alive(child.pid) is False
    assert _state(child.pid) == "gone"  # reaped by alive()
    child.returncode = 0  # already reaped: keep Popen from waiting on it


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "stubborn.log"
    proc = processes.start_detached([sys.executable, "-c", code], log, tmp_path)
    _wait_for(lambda: log.read_text() == "ready\n", "the child to ignore SIGTERM")
    processes.stop(proc.pid, timeout_s=0.3)
    assert proc.pid not in processes._CHILDREN
    assert _state(proc.pid) == "gone"  # it ignored SIGTERM: only the SIGKILL after the timeout ends it
    assert processes.alive(proc.pid) is False


def test_stop_of_a_process_that_honours_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "polite.log"
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    print('SIGTERM', flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = processes.start_detached([sys.executable, "-c", code], log, tmp_path)
    _wait_for(lambda: log.read_text() == "ready\n", "the child to start")
    processes.stop(proc.pid, timeout_s=20)
    assert log.read_text() == "ready\nSIGTERM\n"  # a clean shutdown first
    assert _state(proc.pid) == "gone"
    assert proc.pid not in processes._CHILDREN
