"""A throwaway ClickHouse server on loopback, for tests and local runs without Docker.

Uses the machine's ``clickhouse-server`` binary (Debian's package: 18.16 on bookworm) with a config the
project ships (``config.xml``/``users.xml`` next to this module), rendered into the data dir so every path
(data, tmp, logs, pid file) lives under it. The server runs as a detached background process; ``down`` finds
it again through the pid file, so ``up`` and ``down`` may be called from different processes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dana_workflows.devservices.processes import alive, command_line

DEFAULT_DATA_DIR = Path(".dwf/clickhouse")
DEFAULT_TCP_PORT = 19000
DEFAULT_HTTP_PORT = 18123
_SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")


class ClickHouseLocalError(RuntimeError):
    """The local server cannot be installed, started or stopped; the message says why and what to do."""


def find_binary() -> str | None:
    found = shutil.which("clickhouse-server")
    if found:
        return found
    for d in _SEARCH_DIRS:
        candidate = Path(d) / "clickhouse-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def ensure_installed() -> str:
    """Return the clickhouse-server binary, installing Debian's packages with apt-get when missing."""
    binary = find_binary()
    if binary:
        return binary
    if os.geteuid() != 0:
        raise ClickHouseLocalError(
            "clickhouse-server is not installed and installing it needs root: run "
            "`sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client`, "
            "or point DWF_TEST_CLICKHOUSE_DSN at an existing server"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "clickhouse-server", "clickhouse-client"],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ClickHouseLocalError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
    binary = find_binary()
    if not binary:
        raise ClickHouseLocalError(
            "apt-get installed clickhouse-server but no clickhouse-server binary is on PATH"
        )
    return binary


def _render(template: str, data_dir: Path, tcp_port: int, http_port: int) -> str:
    return (
        template.replace("@DATA_DIR@", str(data_dir))
        .replace("@TCP_PORT@", str(tcp_port))
        .replace("@HTTP_PORT@", str(http_port))
    )


def _is_our_server(pid: int, config_file: Path) -> bool:
    """Guard against a recycled pid: the process must be clickhouse-server started with our config."""
    args = command_line(pid)
    cmdline = " ".join(args or ())
    return "clickhouse" in cmdline and str(config_file) in cmdline


@dataclass
class LocalClickHouse:
    """One local server: its data dir and ports. Start with ``up()``, stop with ``down()``."""

    data_dir: Path = DEFAULT_DATA_DIR
    tcp_port: int = DEFAULT_TCP_PORT
    http_port: int = DEFAULT_HTTP_PORT
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def attach(cls, data_dir: Path) -> LocalClickHouse:
        """The server owned by data_dir, with the ports read back from its rendered config."""
        server = cls(data_dir=data_dir)
        if server.config_file.exists():
            text = server.config_file.read_text()
            tcp = re.search(r"<tcp_port>(\d+)</tcp_port>", text)
            http = re.search(r"<http_port>(\d+)</http_port>", text)
            server.tcp_port = int(tcp.group(1)) if tcp else server.tcp_port
            server.http_port = int(http.group(1)) if http else server.http_port
        return server

    @property
    def config_file(self) -> Path:
        return self.data_dir / "etc" / "config.xml"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "clickhouse-server.pid"

    @property
    def dsn(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.tcp_port}/default"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) and _is_our_server(pid, self.config_file) else None

    def _write_config(self) -> None:
        etc = self.config_file.parent
        etc.mkdir(parents=True, exist_ok=True)
        for sub in ("data", "tmp", "log", "user_files", "format_schemas"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        pkg = resources.files("dana_workflows.devservices.clickhouse")
        for name in ("config.xml", "users.xml"):
            text = pkg.joinpath(name).read_text(encoding="utf-8")
            (etc / name).write_text(
                _render(text, self.data_dir, self.tcp_port, self.http_port), encoding="utf-8"
            )

    def ping(self, timeout_s: float = 1.0) -> bool:
        """True when the server answers ``SELECT 1`` over the native protocol."""
        from clickhouse_driver import Client

        try:  # a plain connect first: the driver logs a traceback for every refused connection
            socket.create_connection(("127.0.0.1", self.tcp_port), timeout=timeout_s).close()
        except OSError:
            return False

        client = Client(
            "127.0.0.1", port=self.tcp_port, connect_timeout=timeout_s, send_receive_timeout=timeout_s
        )
        try:
            return bool(client.execute("SELECT 1") == [(1,)])
        except Exception:
            return False
        finally:
            client.disconnect()

    def up(self) -> str:
        """Start the server (idempotent) and return its DSN once it answers ``SELECT 1``."""
        if self.pid() is not None:
            if self.ping():
                return self.dsn
            self.down()  # running but not answering: a stuck or half-started server, start afresh
        binary = ensure_installed()
        self._write_config()
        log = (self.data_dir / "log" / "stdout.log").open("ab")
        try:
            self._proc = subprocess.Popen(
                [binary, f"--config-file={self.config_file}"],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the launching shell; down() stops it by pid
            )
        finally:
            log.close()
        self.pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ClickHouseLocalError(
                    f"clickhouse-server exited with code {self._proc.returncode} while starting; "
                    f"last log lines:\n{self._log_tail()}"
                )
            if self.ping(timeout_s=0.5):
                return self.dsn
            time.sleep(0.1)
        self.down()
        raise ClickHouseLocalError(
            f"clickhouse-server did not answer on 127.0.0.1:{self.tcp_port} within "
            f"{self.start_timeout_s:.0f}s (is the port taken?); last log lines:\n{self._log_tail()}"
        )

    def down(self, graceful: bool = True) -> bool:
        """Stop the server: SIGTERM lets running inserts finish (SIGKILL after the timeout);
        ``graceful=False`` kills it at once, as a crash would. Returns False when no server was running.
        """
        pid = self.pid()
        if pid is None:
            self._reap()
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM if graceful else signal.SIGKILL)
        deadline = time.monotonic() + self.stop_timeout_s
        while time.monotonic() < deadline and alive(pid):
            self._reap()
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            while alive(pid):
                self._reap()
                time.sleep(0.05)
        self._reap()
        self.pid_file.unlink(missing_ok=True)
        return True

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def status(self) -> dict[str, object]:
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "answers": pid is not None and self.ping(),
            "dsn": self.dsn,
            "data_dir": str(self.data_dir),
        }

    def _log_tail(self, lines: int = 20) -> str:
        out: list[str] = []
        for name in ("stdout.log", "server.err.log"):
            path = self.data_dir / "log" / name
            if path.exists():
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out) or "(no log output)"


def up(
    port: int = DEFAULT_TCP_PORT, http_port: int = DEFAULT_HTTP_PORT, data_dir: Path = DEFAULT_DATA_DIR
) -> str:
    return LocalClickHouse(data_dir=data_dir, tcp_port=port, http_port=http_port).up()


def down(data_dir: Path = DEFAULT_DATA_DIR) -> bool:
    return LocalClickHouse.attach(data_dir).down()


def status(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, object]:
    return LocalClickHouse.attach(data_dir).status()
