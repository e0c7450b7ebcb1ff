"""The local ClickHouse launcher without a ClickHouse binary: ``up`` (what it starts, how it waits, when it
gives up), ``down`` (SIGTERM, SIGKILL after the timeout, or SIGKILL at once), ``ping``, ``status``, the pid
guard and ``ensure_installed`` / ``find_binary``.

The outside calls are replaced at their seams in devservices/clickhouse/server.py (subprocess, os.kill,
alive, command_line, the monotonic clock and sleep, the socket connect and the driver's Client); expected
values come from the module's docstrings.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.devservices.clickhouse import server as clickhouse
from dana_workflows.devservices.clickhouse.server import ClickHouseLocalError, LocalClickHouse
from tests.unit.devservices.launcher_fakes import FakeClock, FakeProc

pytestmark = pytest.mark.unit


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(1000.0))
    popen: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)
    proc: FakeProc = field(default_factory=lambda: FakeProc(pid=777))
    kills: list[tuple[int, int]] = field(default_factory=list)
    alive_answers: list[bool] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    ping_answers: list[bool] = field(default_factory=list)
    downs: int = 0


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World()

    def popen(cmd: list[str], **kwargs: Any) -> FakeProc:
        w.popen.append((cmd, kwargs))
        return w.proc

    def kill(pid: int, sig: int) -> None:
        w.kills.append((pid, sig))

    def alive(pid: int) -> bool:
        return w.alive_answers.pop(0) if w.alive_answers else False

    monkeypatch.setattr(clickhouse, "time", SimpleNamespace(monotonic=w.clock.monotonic, sleep=w.clock.sleep))
    monkeypatch.setattr(
        clickhouse,
        "subprocess",
        SimpleNamespace(
            Popen=popen, DEVNULL=subprocess.DEVNULL, STDOUT=subprocess.STDOUT, run=subprocess.run
        ),
    )
    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(clickhouse, "alive", alive)
    monkeypatch.setattr(clickhouse, "ensure_installed", lambda: "/usr/bin/clickhouse-server")
    return w


def _server(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> LocalClickHouse:
    def ping(self: LocalClickHouse, timeout_s: float = 1.0) -> bool:
        world.pings.append(timeout_s)
        return world.ping_answers.pop(0) if world.ping_answers else False

    monkeypatch.setattr(LocalClickHouse, "ping", ping)
    return LocalClickHouse(data_dir=tmp_path, tcp_port=29000, http_port=28123, **kw)


def _recording_down(downs: list[bool]) -> Any:
    def down(self: LocalClickHouse, graceful: bool = True) -> bool:
        downs.append(graceful)
        return True

    return down


# -- up ------------------------------------------------------------------------------------------------


def test_up_starts_the_binary_with_the_rendered_config_and_waits_until_it_answers(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ping_answers = [False, False, True]
    ch = _server(tmp_path, world, monkeypatch)
    assert ch.up() == "clickhouse://default@127.0.0.1:29000/default"
    [(cmd, kwargs)] = world.popen
    config = tmp_path.resolve() / "etc" / "config.xml"
    assert cmd == ["/usr/bin/clickhouse-server", f"--config-file={config}"]
    assert kwargs["cwd"] == tmp_path.resolve()
    assert kwargs["stdin"] == subprocess.DEVNULL
    assert kwargs["stderr"] == subprocess.STDOUT
    assert kwargs["start_new_session"] is True
    assert kwargs["stdout"].name == str(tmp_path.resolve() / "log" / "stdout.log")
    assert kwargs["stdout"].closed  # the launcher's copy of the log handle is not kept open
    assert "<tcp_port>29000</tcp_port>" in config.read_text()
    assert ch.pid_file.read_text() == "777\n"
    assert world.pings == [0.5, 0.5, 0.5]  # short pings while starting
    assert world.clock.sleeps == [0.1, 0.1]


def test_up_reports_a_server_that_exits_while_starting_with_its_log(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.proc.exit_code = 70
    ch = _server(tmp_path, world, monkeypatch)
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "server.err.log").write_text("Address already in use\n")
    with pytest.raises(ClickHouseLocalError) as err:
        ch.up()
    assert str(err.value) == (
        "clickhouse-server exited with code 70 while starting; last log lines:\nAddress already in use"
    )
    assert world.pings == []


def test_up_stops_a_server_that_never_answers_after_the_start_timeout(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = _server(tmp_path, world, monkeypatch, start_timeout_s=2.0)
    downs: list[bool] = []
    monkeypatch.setattr(LocalClickHouse, "down", _recording_down(downs))
    with pytest.raises(ClickHouseLocalError) as err:
        ch.up()
    assert str(err.value) == (
        "clickhouse-server did not answer on 127.0.0.1:29000 within 2s (is the port taken?); "
        "last log lines:\n(no log output)"
    )
    assert downs == [True]
    assert world.clock.now >= 1002.0  # it waited the whole start timeout, on the injected clock
    assert len(world.pings) == len(world.clock.sleeps) >= 19


def test_up_is_idempotent_for_an_answering_server(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ping_answers = [True]
    ch = _server(tmp_path, world, monkeypatch)
    monkeypatch.setattr(LocalClickHouse, "pid", lambda self: 55)
    assert ch.up() == ch.dsn
    assert world.popen == []
    assert world.pings == [1.0]


def test_up_restarts_a_server_that_runs_but_does_not_answer(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ping_answers = [False, True]
    ch = _server(tmp_path, world, monkeypatch)
    monkeypatch.setattr(LocalClickHouse, "pid", lambda self: 55)
    downs: list[bool] = []
    monkeypatch.setattr(LocalClickHouse, "down", _recording_down(downs))
    assert ch.up() == ch.dsn
    assert downs == [True]
    assert len(world.popen) == 1


# -- down ----------------------------------------------------------------------------------------------


def _running(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> LocalClickHouse:
    ch = _server(tmp_path, world, monkeypatch, **kw)
    monkeypatch.setattr(LocalClickHouse, "pid", lambda self: 4321)
    ch.pid_file.write_text("4321\n")
    return ch


def test_down_sends_sigterm_and_waits_for_the_process_to_go(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = _running(tmp_path, world, monkeypatch)
    world.alive_answers = [True, True, False, False]
    assert ch.down() is True
    assert world.kills == [(4321, signal.SIGTERM)]
    assert world.clock.sleeps == [0.05, 0.05]
    assert not ch.pid_file.exists()


def test_down_not_graceful_kills_at_once(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = _running(tmp_path, world, monkeypatch)
    assert ch.down(graceful=False) is True
    assert world.kills == [(4321, signal.SIGKILL)]


def test_down_kills_after_the_stop_timeout(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = _running(tmp_path, world, monkeypatch, stop_timeout_s=0.2)
    # alive through the whole timeout (4 polls of 0.05 s on the injected clock, then the check after it),
    # then alive once more after SIGKILL before it is gone
    world.alive_answers = [True] * 5 + [True, True, False]
    assert ch.down() is True
    assert world.kills == [(4321, signal.SIGTERM), (4321, signal.SIGKILL)]
    assert not ch.pid_file.exists()


def test_down_without_a_server_forgets_a_stale_pid_file(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = _server(tmp_path, world, monkeypatch)
    ch.pid_file.write_text("99999999\n")
    assert ch.down() is False
    assert not ch.pid_file.exists()
    assert world.kills == []


# -- pid, status, ping ---------------------------------------------------------------------------------


def test_pid_is_given_only_for_a_live_clickhouse_with_this_config(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = LocalClickHouse(data_dir=tmp_path)
    ch.pid_file.write_text("321\n")
    lines = {"cmd": ["/usr/bin/clickhouse-server", f"--config-file={ch.config_file}"]}
    monkeypatch.setattr(clickhouse, "command_line", lambda pid: lines["cmd"])
    world.alive_answers = [True]
    assert ch.pid() == 321
    world.alive_answers = [False]
    assert ch.pid() is None  # gone
    world.alive_answers = [True]
    lines["cmd"] = ["/usr/bin/clickhouse-server", "--config-file=/elsewhere/config.xml"]
    assert ch.pid() is None  # another server's pid
    world.alive_answers = [True]
    lines["cmd"] = ["python", str(ch.config_file)]
    assert ch.pid() is None  # not clickhouse
    ch.pid_file.write_text("not a pid\n")
    assert ch.pid() is None


def test_status_of_a_running_server(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.ping_answers = [True]
    ch = _server(tmp_path, world, monkeypatch)
    monkeypatch.setattr(LocalClickHouse, "pid", lambda self: 9)
    assert ch.status() == {
        "running": True,
        "pid": 9,
        "answers": True,
        "dsn": "clickhouse://default@127.0.0.1:29000/default",
        "data_dir": str(tmp_path.resolve()),
    }
    assert ch.status()["answers"] is False  # the next ping fails


class FakeClient:
    made: list[FakeClient] = []
    answer: Any = [(1,)]

    def __init__(self, host: str, **kwargs: Any) -> None:
        self.args = (host, kwargs)
        self.disconnected = False
        FakeClient.made.append(self)

    def execute(self, sql: str) -> Any:
        assert sql == "SELECT 1"
        if isinstance(FakeClient.answer, Exception):
            raise FakeClient.answer
        return FakeClient.answer

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.mark.parametrize(
    ("answer", "ok"), [([(1,)], True), ([(2,)], False), ([], False), (RuntimeError("Code: 210"), False)]
)
def test_ping_is_select_1_over_the_native_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: Any, ok: bool
) -> None:
    import clickhouse_driver

    connects: list[tuple[tuple[str, int], float]] = []

    class Conn:
        def close(self) -> None:
            pass

    def create_connection(address: tuple[str, int], timeout: float) -> Conn:
        connects.append((address, timeout))
        return Conn()

    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(clickhouse_driver, "Client", FakeClient)
    monkeypatch.setattr(FakeClient, "made", [])
    monkeypatch.setattr(FakeClient, "answer", answer)
    ch = LocalClickHouse(data_dir=tmp_path, tcp_port=29000)
    assert ch.ping(timeout_s=0.75) is ok
    assert connects == [(("127.0.0.1", 29000), 0.75)]
    [client] = FakeClient.made
    assert client.args == (
        "127.0.0.1",
        {"port": 29000, "connect_timeout": 0.75, "send_receive_timeout": 0.75},
    )
    assert client.disconnected


def test_ping_of_a_closed_port_never_opens_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickhouse_driver

    def refuse(address: tuple[str, int], timeout: float) -> None:
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(clickhouse_driver, "Client", FakeClient)
    monkeypatch.setattr(FakeClient, "made", [])
    assert LocalClickHouse(data_dir=tmp_path).ping() is False
    assert FakeClient.made == []


# -- installation --------------------------------------------------------------------------------------


def test_find_binary_prefers_path_then_searches_the_usual_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/on/path/clickhouse-server")
    assert clickhouse.find_binary() == "/on/path/clickhouse-server"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (first, second, third):
        d.mkdir()
    (first / "clickhouse-server").write_text("not executable")
    (second / "clickhouse-server").write_text("#!/bin/sh\n")
    (second / "clickhouse-server").chmod(0o755)
    (third / "clickhouse-server").mkdir()  # a folder is not the binary
    monkeypatch.setattr(clickhouse, "_SEARCH_DIRS", (str(first), str(third), str(second)))
    assert clickhouse.find_binary() == str(second / "clickhouse-server")
    monkeypatch.setattr(clickhouse, "_SEARCH_DIRS", (str(first), str(third)))
    assert clickhouse.find_binary() is None


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"found": [None, "/usr/bin/clickhouse-server"], "runs": [], "codes": [0, 0]}

    def find_binary() -> str | None:
        return state["found"].pop(0) if state["found"] else None

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        state["runs"].append((cmd, kwargs["env"].get("DEBIAN_FRONTEND")))
        return subprocess.CompletedProcess(cmd, state["codes"].pop(0), "", "E: Unable to locate package")

    monkeypatch.setattr(clickhouse, "find_binary", find_binary)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return state


def test_ensure_installed_returns_a_binary_already_there(install: dict[str, Any]) -> None:
    install["found"] = ["/opt/ch/clickhouse-server"]
    assert clickhouse.ensure_installed() == "/opt/ch/clickhouse-server"
    assert install["runs"] == []


def test_ensure_installed_as_root_runs_apt_get_noninteractively(install: dict[str, Any]) -> None:
    assert clickhouse.ensure_installed() == "/usr/bin/clickhouse-server"
    assert install["runs"] == [
        (["apt-get", "update", "-q"], "noninteractive"),
        (["apt-get", "install", "-y", "-q", "clickhouse-server", "clickhouse-client"], "noninteractive"),
    ]


def test_a_failed_apt_get_names_the_command_and_its_error(install: dict[str, Any]) -> None:
    install["codes"] = [0, 100]
    with pytest.raises(ClickHouseLocalError) as err:
        clickhouse.ensure_installed()
    assert str(err.value) == (
        "`apt-get install -y -q clickhouse-server clickhouse-client` failed (exit 100): "
        "E: Unable to locate package"
    )


def test_an_install_that_leaves_no_binary_says_so(install: dict[str, Any]) -> None:
    install["found"] = [None, None]
    with pytest.raises(ClickHouseLocalError, match="apt-get installed clickhouse-server but no"):
        clickhouse.ensure_installed()


def test_installing_needs_root(install: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ClickHouseLocalError) as err:
        clickhouse.ensure_installed()
    assert str(err.value).startswith("clickhouse-server is not installed and installing it needs root: run ")
    assert "DWF_TEST_CLICKHOUSE_DSN" in str(err.value)
    assert install["runs"] == []


# -- the module-level verbs ----------------------------------------------------------------------------


def test_attach_reads_each_port_it_finds(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.xml").write_text("<x><http_port>28000</http_port></x>")
    attached = LocalClickHouse.attach(tmp_path)
    assert (attached.tcp_port, attached.http_port) == (19000, 28000)
    (etc / "config.xml").write_text("<x><tcp_port>29001</tcp_port></x>")
    attached = LocalClickHouse.attach(tmp_path)
    assert (attached.tcp_port, attached.http_port) == (29001, 18123)


def test_module_up_uses_the_ports_and_data_dir_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Path, int, int]] = []

    def up(self: LocalClickHouse) -> str:
        seen.append((self.data_dir, self.tcp_port, self.http_port))
        return self.dsn

    monkeypatch.setattr(LocalClickHouse, "up", up)
    assert clickhouse.up(29005, 28005, tmp_path) == "clickhouse://default@127.0.0.1:29005/default"
    assert seen == [(tmp_path.resolve(), 29005, 28005)]
