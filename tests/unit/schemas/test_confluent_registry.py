"""The registry mode against confluent-kafka's own in-memory registry (``mock://``) and real HTTP failures.

Wire bytes are proved against confluent-kafka's AvroSerializer/AvroDeserializer in both directions: what the
engine writes, their deserializer reads with nothing but the registry client; what their serializer writes
(under its own subject, with an evolved schema) the engine reads into the spec's reader schema.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import SecretStr

from dana_workflows.core.settings import Settings
from dana_workflows.schemas.confluent_registry import (
    ConfluentRegistry,
    IncompatibleSchemaError,
    RegistryAuthError,
    RegistryError,
    RegistryUnavailableError,
    SubjectCheck,
    client_config,
    new_client,
)
from dana_workflows.schemas.envelope import Envelope
from dana_workflows.schemas.registry import UnknownSchemaError
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.streams.app_builder import load_pipeline, registry_for
from dana_workflows.streams.kafka.wire import MIXED_ENVELOPE_SCHEMA, WireCodec
from dana_workflows.streams.topology import Topology

CLAIMS_SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"

pytestmark = pytest.mark.unit


def mock_registry(name: str) -> ConfluentRegistry:
    return ConfluentRegistry.from_settings(Settings(schema_registry=f"mock://{name}"))


def claim_envelope(**payload: Any) -> Envelope:
    body = {
        "claim_id": "C-1",
        "policy_id": "P-1",
        "policy_limit": 1000.0,
        "amount": 120.0,
        "currency": "usd",
        "description": "cracked screen",
        "submitted_at": 1_700_000_000,
        "channel": "web",
        **payload,
    }
    return Envelope("e1", "r1", "claims-triage", 3, "in", body, produced_at=1_700_000_000_000_000)


def test_typed_topics_use_topic_subjects_and_mixed_records_their_record_name(request: Any) -> None:
    registry = mock_registry(request.node.name)
    topology = Topology(load_pipeline(CLAIMS_SPEC), registry, prefix="t")
    WireCodec(registry)
    subjects = set(registry.client.get_subjects())
    assert {"t.claims-triage.in-value", "t.claims-triage.out-value"} <= subjects
    assert {"dwf.MixedEnvelope", "dwf.AuditBatch", "dwf.AuditRow"} <= subjects
    out = registry.client.get_latest_version("t.claims-triage.out-value")
    assert out.schema_id == topology.schema_id("out")  # messages are framed with the registry's id
    assert json.loads(str(out.schema.schema_str)) == topology.topics["out"].schema


def test_ids_are_cached_after_the_first_registration(request: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = mock_registry(request.node.name)
    first = registry.register(MIXED_ENVELOPE_SCHEMA)
    calls: list[str] = []
    monkeypatch.setattr(registry.client, "register_schema", lambda *a, **k: calls.append("register"))
    monkeypatch.setattr(registry.client, "get_schema", lambda *a, **k: calls.append("get"))
    assert registry.register(MIXED_ENVELOPE_SCHEMA) == first
    assert registry.lookup(first) == MIXED_ENVELOPE_SCHEMA
    assert calls == []


def test_engine_bytes_decode_with_confluents_deserializer(request: Any) -> None:
    registry = mock_registry(request.node.name)
    topology = Topology(load_pipeline(CLAIMS_SPEC), registry, prefix="t")
    data = EnvelopeSerde(registry).encode(claim_envelope(), topology.schema_id("in"))
    decoded = AvroDeserializer(registry.client)(
        data, SerializationContext("t.claims-triage.in", MessageField.VALUE)
    )
    assert decoded["event_id"] == "e1" and decoded["payload"]["amount"] == 120.0


def test_confluents_serializer_bytes_decode_into_the_spec_reader_schema(request: Any) -> None:
    """A foreign producer: its own subject, its payload has a field more and lacks the optional `channel`."""
    registry = mock_registry(request.node.name)
    topology = Topology(load_pipeline(CLAIMS_SPEC), registry, prefix="t")
    writer = json.loads(json.dumps(topology.topics["in"].schema))
    payload = writer["fields"][7]["type"]
    payload["fields"] = [f for f in payload["fields"] if f["name"] != "channel"]
    payload["fields"].append({"name": "intake_system", "type": "string"})
    serializer = AvroSerializer(
        new_client({"url": f"mock://{request.node.name}"}),
        json.dumps(writer),
        conf={"subject.name.strategy": lambda ctx, name: "intake-team-claims"},
    )
    record = claim_envelope().to_record()
    record["payload"] = {**record["payload"], "intake_system": "legacy"}
    del record["payload"]["channel"]
    data = serializer(record, SerializationContext("t.claims-triage.in", MessageField.VALUE))
    assert "intake-team-claims" in registry.client.get_subjects()
    writer_sid, env = EnvelopeSerde(registry).decode_as(data, topology.schema_id("in"))
    assert writer_sid != topology.schema_id("in")
    assert env.payload["channel"] is None  # absent in the writer: the reader's default
    assert "intake_system" not in env.payload  # unknown to the reader: dropped
    assert env.payload["amount"] == 120.0


def test_an_incompatible_schema_is_refused_naming_subject_and_field(request: Any) -> None:
    registry = mock_registry(request.node.name)
    old = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    registry.register(old, "s-value")
    new = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "long"}],
    }
    with pytest.raises(IncompatibleSchemaError) as info:
        registry.register(new, "s-value")
    assert "subject s-value" in str(info.value) and "field b: added without a default" in str(info.value)
    assert registry.client.get_versions("s-value") == [1]  # nothing registered


def test_an_unknown_id_is_unknown_schema(request: Any) -> None:
    registry = mock_registry(request.node.name)
    with pytest.raises(UnknownSchemaError, match="looking up schema id 4242"):
        registry.lookup(4242)


def test_a_registry_that_is_down_at_start_is_named_with_the_fix() -> None:
    port = _free_port()
    settings = Settings(schema_registry=f"http://127.0.0.1:{port}", schema_registry_retries=0)
    with pytest.raises(RegistryUnavailableError) as info:
        Topology(load_pipeline(CLAIMS_SPEC), registry_for(settings), prefix="t")
    message = str(info.value)
    assert f"schema registry http://127.0.0.1:{port} is unreachable" in message
    assert "DWF_SCHEMA_REGISTRY" in message


def test_a_registry_going_down_mid_stream_sends_unseen_ids_to_dlq_and_recovers(request: Any) -> None:
    """Ids seen before keep working from the cache; an unseen id becomes a dlq reason; nothing is cached,
    so the same id decodes once the registry answers again."""
    registry = mock_registry(request.node.name)
    topology = Topology(load_pipeline(CLAIMS_SPEC), registry, prefix="t")
    serde = EnvelopeSerde(registry)
    known = serde.encode(claim_envelope(), topology.schema_id("in"))
    evolved = {**(topology.topics["in"].schema or {}), "doc": "v2"}  # a second version: an id not seen yet
    foreign = AvroSerializer(registry.client, json.dumps(evolved))
    unseen = foreign(claim_envelope().to_record(), SerializationContext("x", MessageField.VALUE))
    live = registry.client
    registry.client = new_client({"url": f"http://127.0.0.1:{_free_port()}", "max.retries": 0})
    assert serde.decode_as(known, topology.schema_id("in"))[1].event_id == "e1"
    with pytest.raises(PoisonMessageError) as info:
        serde.decode_as(unseen, topology.schema_id("in"))
    assert "is unreachable while looking up schema id" in info.value.reason and info.value.raw == unseen
    registry.client = live
    assert serde.decode_as(unseen, topology.schema_id("in"))[1].event_id == "e1"


class _Recorder(BaseHTTPRequestHandler):
    """A registry endpoint that refuses every credential, and remembers the Authorization it was sent."""

    seen: list[str] = []
    status = 401
    code = 40101

    def do_GET(self) -> None:
        self._refuse()

    def do_POST(self) -> None:
        self._refuse()

    def _refuse(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"error_code": type(self).code, "message": "refused"}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_registry() -> Iterator[str]:
    _Recorder.seen, _Recorder.status, _Recorder.code = [], 401, 40101
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_wrong_basic_credentials_are_named_and_the_password_is_not_printed(refusing_registry: str) -> None:
    settings = Settings(
        schema_registry=refusing_registry,
        schema_registry_username="dwf",
        schema_registry_password=SecretStr("s3cr3t-pw"),
    )
    with pytest.raises(RegistryAuthError) as info:
        registry_for(settings).register(MIXED_ENVELOPE_SCHEMA)
    assert "refused the credentials" in str(info.value) and "DWF_SCHEMA_REGISTRY_USERNAME" in str(info.value)
    assert "s3cr3t-pw" not in str(info.value)
    assert _Recorder.seen[0] == "Basic " + base64.b64encode(b"dwf:s3cr3t-pw").decode()


def test_a_bearer_token_is_sent_as_the_authorization_header(refusing_registry: str) -> None:
    settings = Settings(schema_registry=refusing_registry, schema_registry_token=SecretStr("tok-123"))
    with pytest.raises(RegistryAuthError):
        registry_for(settings).register(MIXED_ENVELOPE_SCHEMA)
    assert _Recorder.seen[0] == "Bearer tok-123"


def test_tls_settings_reach_the_client_and_a_missing_ca_file_is_named(tmp_path: Any) -> None:
    settings = Settings(
        schema_registry="https://registry.example:8081",
        schema_registry_ssl_cafile=str(tmp_path / "missing-ca.pem"),
        schema_registry_ssl_certfile=str(tmp_path / "client.pem"),
        schema_registry_ssl_keyfile=str(tmp_path / "client.key"),
    )
    conf = client_config(settings)
    assert conf["ssl.ca.location"].endswith("missing-ca.pem")
    assert conf["ssl.certificate.location"].endswith("client.pem")
    assert conf["ssl.key.location"].endswith("client.key")
    with pytest.raises(RegistryError, match="DWF_SCHEMA_REGISTRY_SSL_"):
        registry_for(settings)


def test_other_schemes_are_refused_with_both_choices() -> None:
    with pytest.raises(ValueError, match=r"use file://<dir> .* or http\(s\)://<host>:<port>"):
        registry_for(Settings(schema_registry="ftp://registry.example"))


def test_a_protobuf_id_is_not_taken_for_avro(request: Any) -> None:
    registry = mock_registry(request.node.name)
    sid = registry.client.register_schema("p-value", Schema('syntax = "proto3"; message M {}', "PROTOBUF"))
    with pytest.raises(UnknownSchemaError, match="PROTOBUF schema, not Avro"):
        registry.lookup(sid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("status", "code", "error", "words"),
    [
        (409, 409, RegistryError, "rejected registering subject dwf.MixedEnvelope as incompatible"),
        (503, 50003, RegistryUnavailableError, "is unreachable while registering subject dwf.MixedEnvelope"),
        (422, 42201, RegistryError, "registering subject dwf.MixedEnvelope failed (HTTP 422, error 42201"),
    ],
)
def test_other_registry_answers_are_named(
    refusing_registry: str,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    code: int,
    error: type[Exception],
    words: str,
) -> None:
    """The registry's own refusals, as a Confluent registry words them (status, error code)."""
    registry = ConfluentRegistry.from_settings(
        Settings(schema_registry=refusing_registry, schema_registry_retries=0)
    )
    # past the compatibility check (its reads get the same answer): the registration's own answer
    monkeypatch.setattr(registry, "check", lambda schema, subject, level=None: SubjectCheck(subject, "B", 0))
    _Recorder.status, _Recorder.code = status, code
    with pytest.raises(error) as info:
        registry.register(MIXED_ENVELOPE_SCHEMA)
    assert words in str(info.value)


@pytest.mark.parametrize("code", [None, -1])
def test_a_web_server_that_is_no_registry_is_not_read_as_an_empty_one(
    refusing_registry: str, code: Any
) -> None:
    # a wrong port or path (the LLM server, ClickHouse's HTTP port) answers 404 with no registry error code:
    # `schemas check` said every subject was "new (not registered yet)" and passed
    _Recorder.status, _Recorder.code = 404, code
    registry = registry_for(Settings(schema_registry=refusing_registry))
    with pytest.raises(RegistryError, match="no registry error code") as info:
        registry.check(MIXED_ENVELOPE_SCHEMA, "dwf.MixedEnvelope")
    assert "is it a Confluent-compatible schema registry? Check DWF_SCHEMA_REGISTRY" in str(info.value)


def test_a_registry_404_with_its_own_code_is_a_subject_not_registered_yet(refusing_registry: str) -> None:
    _Recorder.status, _Recorder.code = 404, 40401  # Confluent's "Subject not found"
    verdict = registry_for(Settings(schema_registry=refusing_registry)).check(
        MIXED_ENVELOPE_SCHEMA, "dwf.MixedEnvelope"
    )
    assert (verdict.versions, verdict.problems) == (0, [])
