"""The local model server found again by its pid file, without llama.cpp: a stand-in process whose program
is named ``llama-server`` (a link to this Python serving a folder over HTTP, where a file named ``health``
answers /health with 200) plays the server. `status` reads its state and asks /health, `up` on the same
port returns it as it is and refuses another port, `down` stops it and forgets its files; a port in use is
refused before anything is built."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.devservices.llama import server
from dana_workflows.devservices.llama.errors import LocalModelError
from dana_workflows.devservices.processes import free_port, port_answers

pytestmark = pytest.mark.unit


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    www = tmp_path / "www"
    www.mkdir()
    (www / "health").write_text("ok")
    program = tmp_path / "bin" / "llama-server"
    program.parent.mkdir()
    program.symlink_to(sys.executable)
    port = free_port()
    proc = subprocess.Popen(
        [str(program), "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(www)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):  # a bound on the poll: the stand-in listens
        if port_answers(port):
            break
        time.sleep(0.05)
    yield proc, port, www
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _state(data: Path, pid: int, port: int) -> None:
    data.mkdir(parents=True, exist_ok=True)
    info = server.ModelServerInfo(
        base_url=f"http://127.0.0.1:{port}/v1",
        port=port,
        pid=pid,
        model="smollm2",
        model_path="/m.gguf",
        binary="/b/llama-server",
        data_dir=str(data),
        log_file=str(data / "llama-server.log"),
        ctx_size=4096,
        parallel=2,
        started_in_s=1.0,
    )
    (data / "llama-server.json").write_text(json.dumps(server.asdict(info)))
    (data / "llama-server.pid").write_text(f"{pid}\n")


def test_a_running_server_is_found_returned_by_up_and_stopped_by_down(
    tmp_path: Path, stand_in: tuple[subprocess.Popen[bytes], int, Path]
) -> None:
    proc, port, _ = stand_in
    data = tmp_path / "llm"
    _state(data, proc.pid, port)
    st = server.status(data)
    assert (st.running, st.healthy) == (True, True)
    assert st.info is not None and (st.info.pid, st.info.port) == (proc.pid, port)
    again = server.up(port, data, log=lambda _: None)
    assert again == st.info
    with pytest.raises(LocalModelError, match=rf"already runs on port {port} \(pid {proc.pid}\)"):
        server.up(port + 1, data, log=lambda _: None)
    assert server.down(data, timeout_s=10) is True
    assert proc.wait(10) is not None
    assert not (data / "llama-server.pid").exists() and not (data / "llama-server.json").exists()
    assert server.status(data).running is False


def test_a_server_whose_health_is_not_200_is_running_but_not_healthy(
    tmp_path: Path, stand_in: tuple[subprocess.Popen[bytes], int, Path]
) -> None:
    proc, port, www = stand_in
    (www / "health").unlink()  # 404: as a server still loading its model answers 503
    data = tmp_path / "llm"
    _state(data, proc.pid, port)
    st = server.status(data)
    assert (st.running, st.healthy) == (True, False)


def test_a_running_server_without_its_state_file_is_not_healthy(
    tmp_path: Path, stand_in: tuple[subprocess.Popen[bytes], int, Path]
) -> None:
    proc, port, _ = stand_in
    data = tmp_path / "llm"
    _state(data, proc.pid, port)
    (data / "llama-server.json").write_text("{not json")
    st = server.status(data)
    assert (st.running, st.healthy, st.info) == (True, False, None)


def test_a_pid_that_is_not_a_llama_server_is_not_ours(tmp_path: Path) -> None:
    data = tmp_path / "llm"
    _state(data, os.getpid(), free_port())  # alive, but this test process
    assert server.status(data).running is False
    assert server.down(data) is False
    assert not (data / "llama-server.pid").exists()  # forgotten all the same


def test_a_port_in_use_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = int(sock.getsockname()[1])
        with pytest.raises(LocalModelError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.up(port, tmp_path / "llm", log=lambda _: None)
    assert not (tmp_path / "llm").exists()
