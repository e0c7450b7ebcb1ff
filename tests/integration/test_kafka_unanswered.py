"""A broker that accepts and bootstraps the client, then does not answer its requests (a broker out of heap,
or shutting down: session 10's shared broker) is reported as one that is down: one line naming the address
and the fix, exit code 1, no traceback. The broker here is a fake speaking just enough of the Kafka
protocol (aiokafka's own request/response structs): it answers ApiVersions and the first Metadata request
(the bootstrap) and never answers anything after, so aiokafka's request timeout is certain to fire."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.protocol.admin import ApiVersionResponse_v0, ApiVersionResponse_v1, ApiVersionResponse_v2
from aiokafka.protocol.metadata import MetadataResponse_v0

from dana_workflows.streams.kafka.admin import BrokerUnavailableError, ensure_topics
from tests.integration.kafka_support import CLAIMS_SPEC, worker_env

pytestmark = pytest.mark.integration

API_VERSIONS = 18
METADATA = 3


class SilentAfterBootstrap:
    """A TCP listener on 127.0.0.1 that answers ApiVersions (offering Metadata v0 only) and the first
    Metadata request (one broker: itself; no topics), then reads every request and answers none."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.metadata_answered = 0
        self.unanswered = 0
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "the fake broker did not start"

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack(">i", await reader.readexactly(4))[0]
                request = await reader.readexactly(size)
                api_key, version, correlation = struct.unpack(">hhi", request[:8])
                body = self._answer(api_key, version)
                if body is None:
                    self.unanswered += 1
                    continue
                frame = struct.pack(">i", correlation) + body
                writer.write(struct.pack(">i", len(frame)) + frame)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _answer(self, api_key: int, version: int) -> bytes | None:
        if api_key == API_VERSIONS and version <= 2:
            response = (ApiVersionResponse_v0, ApiVersionResponse_v1, ApiVersionResponse_v2)[version]
            offered = [(API_VERSIONS, 0, 2), (METADATA, 0, 0)]
            return bytes(response(0, offered).encode() if version == 0 else response(0, offered, 0).encode())
        if api_key == METADATA and self.metadata_answered == 0:
            self.metadata_answered += 1
            return bytes(MetadataResponse_v0([(0, "127.0.0.1", self.port)], []).encode())
        return None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def silent() -> Iterator[SilentAfterBootstrap]:
    broker = SilentAfterBootstrap()
    yield broker
    broker.close()


def test_ensure_topics_names_a_broker_that_stops_answering(silent: SilentAfterBootstrap) -> None:
    address = f"127.0.0.1:{silent.port}"
    with pytest.raises(BrokerUnavailableError) as info:
        asyncio.run(ensure_topics(address, ["t.in"], 1, 1, timeout_s=1.0))
    assert silent.metadata_answered == 1 and silent.unanswered >= 1  # past the bootstrap, then no answer
    message = str(info.value)
    assert f"no Kafka broker answers at {address}" in message
    assert "dana-wf kafka up" in message and "--broker host:port" in message


def test_a_worker_whose_broker_stops_answering_exits_1_with_one_line(
    silent: SilentAfterBootstrap, tmp_path: Path
) -> None:
    """The worker's first request (ensure_topics' metadata) times out after its 30 s request timeout."""
    address = f"127.0.0.1:{silent.port}"
    cmd = [sys.executable, "-m", "dana_workflows.cli", "worker", str(CLAIMS_SPEC), "--broker", address]
    done = subprocess.run(
        [*cmd, "--no-audit-sink"],
        env=worker_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert silent.metadata_answered == 1 and silent.unanswered >= 1
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "RequestTimedOutError" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: no Kafka broker answers at {address}: start the local one with `dana-wf kafka up`, "
        "or pass --broker host:port (or set DWF_KAFKA_BOOTSTRAP_SERVERS)"
    ]
