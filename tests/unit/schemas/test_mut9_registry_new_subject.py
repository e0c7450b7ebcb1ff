"""A subject a Confluent registry has never seen: the registry answers 404 (error 40401 "Subject not found")
to its versions and 404 (40408) to its compatibility config, and the check must read that as "no versions,
the default level BACKWARD" rather than as a failure (schemas/confluent_registry.py: ``compatibility``
falls back to the registries' default; missing subjects are not errors). A stand-in HTTP registry answers
every request with 404, as a real one does for a fresh subject on a registry without a global config.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dana_workflows.core.settings import Settings
from dana_workflows.schemas.confluent_registry import ConfluentRegistry, SubjectCheck

pytestmark = pytest.mark.unit


class _NotFound(BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        code = 40408 if "/config" in self.path else 40401
        body = json.dumps({"error_code": code, "message": "Subject not found."}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def empty_registry() -> Iterator[str]:
    _NotFound.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_new_subject_has_no_versions_and_the_default_level(empty_registry: str) -> None:
    registry = ConfluentRegistry.from_settings(
        Settings(schema_registry=empty_registry, schema_registry_retries=0)
    )
    schema = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}
    assert registry.check(schema, "fresh-value") == SubjectCheck("fresh-value", "BACKWARD", 0, [], False)
    assert any("/subjects/fresh-value/versions" in p for p in _NotFound.paths)
    assert registry.compatibility("fresh-value") == "BACKWARD"
