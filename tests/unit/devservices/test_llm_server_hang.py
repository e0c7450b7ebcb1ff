"""The test server's ``hang`` and ``slow`` faults and a client that gives up (docs/llm.md): a held request
gets no reply at all until its client leaves, a slow one its reply after ``delay_s`` unless the client left
first. Timeout tests use them so that the client's limit fires for sure however loaded the machine is."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from dana_workflows.devservices.llm_server.script import Script
from dana_workflows.devservices.llm_server.server import ServerThread

pytestmark = pytest.mark.unit

HELD = "held"  # the model the fault applies to
FREE = "free"


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}]}


async def _log_once_the_held_one_ended(control: httpx.AsyncClient, root: str) -> list[dict[str, Any]]:
    """The request log once the held request has ended (it is logged 200 until its handler returns)."""
    while True:
        log: list[dict[str, Any]] = (await control.get(f"{root}/_log")).json()["requests"]
        if all(e["status"] != 200 for e in log if e["model"] == HELD):
            return log
        await asyncio.sleep(0.02)


async def _given_up(base_url: str, fault: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """One request the fault holds, whose client gives up after 0.2 s, and one it does not apply to."""
    root = base_url.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=10) as control:
        faults = {fault: {**settings, "always": True, "models": [HELD]}}
        await control.post(f"{root}/_control", json={"faults": faults})
        async with httpx.AsyncClient(timeout=0.2) as gives_up:
            held = asyncio.ensure_future(gives_up.post(f"{base_url}/chat/completions", json=_chat(HELD)))
            # while one request is held, another model is answered at once: the fault holds only its own
            other = await control.post(f"{base_url}/chat/completions", json=_chat(FREE))
            assert other.status_code == 200
            with pytest.raises(httpx.TimeoutException):
                await held
        # bounded far below the slow fault's delay: the held request must end when its client leaves
        return await asyncio.wait_for(_log_once_the_held_one_ended(control, root), timeout=60)


def _serve(scenario: Any, *args: Any) -> Any:
    thread = ServerThread(Script(models=[HELD, FREE])).start()
    try:
        return asyncio.run(scenario(thread.base_url, *args))
    finally:
        thread.stop()


@pytest.mark.parametrize(
    ("fault", "settings"),
    [("hang", {}), ("slow", {"delay_s": 3600.0})],  # an hour: only the client's leaving can end it
)
def test_a_held_request_ends_when_its_client_gives_up(fault: str, settings: dict[str, Any]) -> None:
    log = _serve(_given_up, fault, settings)
    by_model = {e["model"]: (e["fault"], e["status"]) for e in log}
    # 499: the client closed the request; the held one ended because its client left, never answered
    assert by_model == {HELD: (fault, 499), FREE: (None, 200)}


async def _patient(base_url: str) -> tuple[int, list[dict[str, Any]]]:
    root = base_url.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=60) as client:
        await client.post(f"{root}/_control", json={"faults": {"slow": {"always": True, "delay_s": 0.05}}})
        reply = await client.post(f"{base_url}/chat/completions", json=_chat(HELD))
        return reply.status_code, (await client.get(f"{root}/_log")).json()["requests"]


def test_a_slow_reply_comes_to_a_client_that_waits_it_out() -> None:
    status, log = _serve(_patient)
    assert status == 200
    assert [(e["fault"], e["status"]) for e in log] == [("slow", 200)]
