"""What every development service shares: a detached child found again by its pid file, stopped cleanly.

The Kafka broker, the ClickHouse server and the local model server each run in their own process group, so
``up``, ``status`` and ``down`` may be called from different processes; this module is the one place that
knows how to start such a child, tell whether it still runs, and stop it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"

# The children this process started: kept so they can be reaped (no zombie, no ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie; reaps it when it is our own exited child."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): kill(0) said it exists
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def command_line(pid: int) -> list[str] | None:
    """The arguments the process was started with (None where procfs cannot tell)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")]


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def port_answers(port: int, host: str = HOST, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A port that was free on loopback a moment ago (for tests that need a service of their own)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_detached(
    cmd: Sequence[str], log_file: Path, cwd: Path, *, die_with_parent: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with stdout and stderr in ``log_file`` (the previous log kept as
    ``<name>.prev``). ``die_with_parent`` (Linux) sends it SIGTERM when the calling process dies, so a killed
    test session never leaves a service behind; the CLI leaves it off so the service outlives ``up``."""
    if log_file.exists():
        log_file.replace(log_file.with_name(log_file.name + ".prev"))
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def stop(pid: int, timeout_s: float = 30.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL to its whole process group after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # its own group: takes any helper it spawned too
        while alive(pid):
            time.sleep(0.05)
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(Exception):
            proc.wait(timeout=1)


def stop_service(
    data: Path, files: Sequence[str], is_ours: Callable[[int, Path], bool], timeout_s: float
) -> bool:
    """``down`` of a service: stop the process named by ``data/files[0]`` (its pid file) when it is still
    ours, then forget all its files. False when none was running."""
    pid = read_pid(data / files[0])
    running = pid is not None and is_ours(pid, data)
    if running and pid is not None:
        stop(pid, timeout_s)
    for name in files:
        (data / name).unlink(missing_ok=True)
    return running


def log_tail(log_file: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG
