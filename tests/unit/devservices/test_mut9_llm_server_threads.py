"""How the LLM test server is run (devservices/llm_server/server.py): ``ServerThread`` on its own loop in a
daemon thread (its base URL, a port taken by another socket named as a start failure, stop), and ``serve``
for the CLI, which prints the address it listens on and serves until cancelled. Loopback sockets only.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

import pytest

from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.devservices.llm_server.server import ServerThread, serve

pytestmark = pytest.mark.unit


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback http
        return dict(json.loads(reply.read()))


def test_a_server_thread_serves_on_the_port_it_bound_and_stops() -> None:
    thread = ServerThread(Script(models=["m1"])).start()
    try:
        assert thread.port > 0
        assert thread.base_url == f"http://127.0.0.1:{thread.port}/v1"
        assert _get(thread.base_url + "/models")["data"] == [
            {"id": "m1", "object": "model", "created": 0, "owned_by": "dana-workflows"}
        ]
        assert _get(f"http://127.0.0.1:{thread.port}/_log") == {"count": 0, "requests": []}
    finally:
        thread.stop()
    assert not thread._thread.is_alive()


def test_a_port_in_use_is_a_start_failure_naming_the_cause() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        thread = ServerThread(Script(), port=port)
        with pytest.raises(RuntimeError, match=r"^LLM test server did not start: ") as err:
            thread.start()
        assert isinstance(err.value.__cause__, OSError)
    thread.stop()  # nothing running: a no-op


def test_serve_prints_its_address_and_serves_until_cancelled(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> dict[str, object]:
        task = asyncio.create_task(serve(Script(models=["cli"]), "127.0.0.1", port))
        for _ in range(500):  # bounded wait for the listening line
            if "listening" in capsys.readouterr().out or task.done():
                break
            await asyncio.sleep(0.01)
        models = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/v1/models")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return models

    capsys.readouterr()
    models = asyncio.run(main())
    assert models["object"] == "list"
    with socket.socket() as again:  # cleaned up: nothing listens there any more
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection may be in TIME_WAIT
        again.bind(("127.0.0.1", port))


def test_serve_announces_the_address(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> str:
        task = asyncio.create_task(serve(Script(), "127.0.0.1", port))
        out = ""
        for _ in range(500):
            out += capsys.readouterr().out
            if out:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return out

    assert asyncio.run(main()) == f"LLM test server listening on http://127.0.0.1:{port}/v1\n"
