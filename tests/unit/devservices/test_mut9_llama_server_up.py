"""The local model server's start path (devservices/llama/server.py ``up``) without building or loading a
model: the binary, the model, the detached start, /health and the clock are replaced at their seams, so the
command line, the files left in the data dir, the wait for health and both start failures can be stated
from ``up``'s docstring and the llama-server options it documents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.devservices.llama import server
from dana_workflows.devservices.llama.errors import LocalModelError
from dana_workflows.devservices.llama.model import MODEL_ID
from tests.unit.devservices.launcher_fakes import FakeProc

pytestmark = pytest.mark.unit


@dataclass
class Seams:
    proc: FakeProc = field(default_factory=lambda: FakeProc(pid=5151))
    started: list[tuple[list[str], Path, Path, bool]] = field(default_factory=list)
    health: list[bool] = field(default_factory=lambda: [False, False, True])
    probed: list[str] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    now: float = 50.0
    sleeps: list[float] = field(default_factory=list)


@pytest.fixture
def seams(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Seams:
    s = Seams()

    def start_detached(
        cmd: Sequence[str], log_file: Path, cwd: Path, *, die_with_parent: bool = False
    ) -> FakeProc:
        s.started.append((list(cmd), log_file, cwd, die_with_parent))
        log_file.write_text("loading model\nerror: out of memory\n")
        return s.proc

    def healthy(base: str) -> bool:
        s.probed.append(base)
        return s.health.pop(0) if s.health else False

    def sleep(dt: float) -> None:
        s.sleeps.append(dt)
        s.now += dt

    monkeypatch.setattr(server, "ensure_server_binary", lambda log: tmp_path / "bin" / "llama-server")
    monkeypatch.setattr(server, "ensure_model", lambda log: tmp_path / "models" / "m.gguf")
    monkeypatch.setattr(server, "start_detached", start_detached)
    monkeypatch.setattr(server, "port_answers", lambda port: False)
    monkeypatch.setattr(server, "_healthy", healthy)
    monkeypatch.setattr(server, "stop", lambda pid: s.stopped.append(pid))
    monkeypatch.setattr(server, "time", SimpleNamespace(monotonic=lambda: s.now, sleep=sleep))
    return s


def test_up_starts_llama_server_with_its_options_and_waits_for_health(tmp_path: Path, seams: Seams) -> None:
    data = tmp_path / "llm"
    info = server.up(
        18181, data, ctx_size=2048, parallel=4, threads=3, die_with_parent=True, log=lambda _: None
    )
    data = data.resolve()
    [(cmd, log_file, cwd, die_with_parent)] = seams.started
    assert cmd == [
        str(tmp_path / "bin" / "llama-server"),
        "--model", str(tmp_path / "models" / "m.gguf"),
        "--alias", MODEL_ID,
        "--host", "127.0.0.1",
        "--port", "18181",
        "--ctx-size", "2048",
        "--parallel", "4",
        "--no-webui",
        "--metrics",
        "--threads", "3",
    ]  # fmt: skip
    assert (log_file, cwd, die_with_parent) == (data / "llama-server.log", data, True)
    assert seams.probed == ["http://127.0.0.1:18181"] * 3
    assert seams.sleeps == [0.2, 0.2]
    assert info == server.ModelServerInfo(
        base_url="http://127.0.0.1:18181/v1",
        port=18181,
        pid=5151,
        model=MODEL_ID,
        model_path=str(tmp_path / "models" / "m.gguf"),
        binary=str(tmp_path / "bin" / "llama-server"),
        data_dir=str(data),
        log_file=str(data / "llama-server.log"),
        ctx_size=2048,
        parallel=4,
        started_in_s=0.4,
    )
    assert (data / "llama-server.pid").read_text() == "5151\n"
    assert json.loads((data / "llama-server.json").read_text()) == asdict(info)


def test_without_threads_the_option_is_left_to_the_server(tmp_path: Path, seams: Seams) -> None:
    server.up(18181, tmp_path, log=lambda _: None)
    cmd = seams.started[0][0]
    assert "--threads" not in cmd
    assert cmd[cmd.index("--ctx-size") + 1] == "4096" and cmd[cmd.index("--parallel") + 1] == "2"
    assert seams.started[0][3] is False


def test_a_server_that_exits_while_starting_is_reported_and_forgotten(tmp_path: Path, seams: Seams) -> None:
    seams.proc.exit_code = 1
    seams.health = []
    with pytest.raises(LocalModelError) as err:
        server.up(18181, tmp_path, log=lambda _: None)
    log_file = tmp_path.resolve() / "llama-server.log"
    assert str(err.value) == (
        f"llama-server exited with code 1 during start-up; its log is {log_file}:\n"
        "loading model\nerror: out of memory"
    )
    assert not (tmp_path / "llama-server.pid").exists()
    assert not (tmp_path / "llama-server.json").exists()


def test_a_server_never_healthy_is_stopped_after_wait_s(tmp_path: Path, seams: Seams) -> None:
    seams.health = []
    with pytest.raises(LocalModelError) as err:
        server.up(18181, tmp_path, wait_s=1.1, log=lambda _: None)
    assert str(err.value).startswith(
        "llama-server did not become healthy on http://127.0.0.1:18181 within 1 s (stopped it); its log is "
    )
    assert seams.stopped == [5151]
    assert seams.sleeps == [0.2] * 6  # 50.0 .. 51.2: the check after the 6th sleep is past 1.1 s
    assert not (tmp_path / "llama-server.pid").exists()


@pytest.mark.parametrize(("ctx_size", "parallel"), [(511, 2), (1023, 4), (100, 0)])
def test_each_slot_needs_256_tokens(tmp_path: Path, seams: Seams, ctx_size: int, parallel: int) -> None:
    with pytest.raises(LocalModelError) as err:
        server.up(18181, tmp_path, ctx_size=ctx_size, parallel=parallel, log=lambda _: None)
    assert str(err.value) == (
        f"--ctx-size {ctx_size} with --parallel {parallel}: each slot needs at least 256 tokens"
    )
    assert seams.started == []


def test_the_smallest_context_per_slot_is_taken(tmp_path: Path, seams: Seams) -> None:
    info = server.up(18181, tmp_path, ctx_size=1024, parallel=4, log=lambda _: None)
    assert (info.ctx_size, info.parallel) == (1024, 4)


def test_a_port_in_use_is_refused(tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "port_answers", lambda port: port == 18181)
    with pytest.raises(LocalModelError) as err:
        server.up(18181, tmp_path, log=lambda _: None)
    assert str(err.value) == "port 18181 on 127.0.0.1 is already in use; choose a free one with --port"


def _state(data: Path, port: int) -> Any:
    return server.ModelServerInfo(
        f"http://127.0.0.1:{port}/v1", port, 77, "m", "m.gguf", "llama-server", str(data), "l", 4096, 2, 1.0
    )


def test_a_running_server_is_returned_or_refused_by_its_port(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _state(tmp_path.resolve(), 18181)
    monkeypatch.setattr(server, "status", lambda data: server.ModelServerStatus(True, True, info))
    assert server.up(18181, tmp_path, log=lambda _: None) == info
    with pytest.raises(LocalModelError) as err:
        server.up(18182, tmp_path, log=lambda _: None)
    assert str(err.value) == (
        f"a model server from {tmp_path.resolve()} already runs on port 18181 (pid 77); "
        f"stop it with `dana-wf llm down --data-dir {tmp_path.resolve()}` or use that port"
    )
    assert seams.started == []


def test_only_a_llama_server_process_counts_as_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "alive", lambda pid: True)
    monkeypatch.setattr(server, "command_line", lambda pid: ["/opt/bin/llama-server", "--port", "1"])
    assert server._is_our_server(1, tmp_path) is True
    monkeypatch.setattr(server, "command_line", lambda pid: ["python", "llama-server"])
    assert server._is_our_server(1, tmp_path) is False
    monkeypatch.setattr(server, "command_line", lambda pid: None)  # no procfs: trust the pid file
    assert server._is_our_server(1, tmp_path) is True
    monkeypatch.setattr(server, "alive", lambda pid: False)
    assert server._is_our_server(1, tmp_path) is False
