"""`dana-wf schemas check|register` and the worker's start against a registry (confluent-kafka's ``mock://``)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.cli.schemas import Level, planned_subjects
from dana_workflows.schemas.compatibility import LEVELS
from dana_workflows.schemas.confluent_registry import new_client

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS_SPEC = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
OUT = "t.claims-triage.out-value"


@pytest.fixture
def registry_url(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("DWF_"):
            monkeypatch.delenv(key)
    url = f"mock://{request.node.name}"
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", url)
    monkeypatch.setenv("DWF_TOPIC_PREFIX", "t")
    return url


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, [*args])


def out_schema() -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(planned_subjects(CLAIMS_SPEC, "t")[OUT]))
    return copied


def with_payload(schema: dict[str, Any], change: Any) -> dict[str, Any]:
    payload = next(f for f in schema["fields"] if f["name"] == "payload")["type"]
    payload["fields"] = change(payload["fields"])
    return schema


def test_the_cli_levels_are_the_checkers_levels() -> None:
    assert tuple(level.value for level in Level) == LEVELS


def test_check_lists_new_subjects_then_register_then_check_again(registry_url: str) -> None:
    first = invoke("schemas", "check", str(CLAIMS_SPEC))
    assert first.exit_code == 0, first.output
    assert f"new   {OUT} (not registered yet)" in first.output
    assert "new   dwf.MixedEnvelope" in first.output
    registered = invoke("schemas", "register", str(CLAIMS_SPEC))
    assert registered.exit_code == 0, registered.output
    client = new_client({"url": registry_url})
    sid = client.get_latest_version(OUT).schema_id
    assert f"registered {OUT}: id {sid}" in registered.output
    again = invoke("schemas", "check", str(CLAIMS_SPEC))
    assert again.exit_code == 0 and f"ok    {OUT} (unchanged, BACKWARD, 1 version(s))" in again.output


def test_check_catches_a_removed_field_without_default(registry_url: str) -> None:
    """The registered `out` had `adjuster` (required); the spec no longer writes it: readers of `out` on the
    registered schema break. FORWARD/FULL judge that; BACKWARD (new reads old) does not."""
    old = with_payload(out_schema(), lambda fields: [*fields, {"name": "adjuster", "type": "string"}])
    from confluent_kafka.schema_registry import Schema

    new_client({"url": registry_url}).register_schema(OUT, Schema(json.dumps(old), "AVRO"))
    full = invoke("schemas", "check", str(CLAIMS_SPEC), "--level", "FULL")
    assert full.exit_code == 1, full.output
    assert f"BREAK {OUT} (FULL, 1 registered version(s))" in full.output
    assert (
        "field payload.adjuster: removed, but has no default in version 1, so its readers break"
        in full.output
    )
    assert "would break: nothing registered" in full.output
    backward = invoke("schemas", "check", str(CLAIMS_SPEC))
    assert backward.exit_code == 0 and f"ok    {OUT} (compatible, BACKWARD" in backward.output


def test_register_refuses_an_added_field_without_default_and_registers_nothing(registry_url: str) -> None:
    """Under BACKWARD (the default) the registered `out` lacked `route`: old records cannot be read."""
    old = with_payload(out_schema(), lambda fields: [f for f in fields if f["name"] != "route"])
    from confluent_kafka.schema_registry import Schema

    client = new_client({"url": registry_url})
    client.register_schema(OUT, Schema(json.dumps(old), "AVRO"))
    result = invoke("schemas", "register", str(CLAIMS_SPEC))
    assert result.exit_code == 1, result.output
    assert "field payload.route: added without a default" in result.output
    assert client.get_versions(OUT) == [1]
    assert "t.claims-triage.in-value" not in client.get_subjects()  # all or nothing


def test_a_worker_refuses_to_start_naming_subject_and_field(registry_url: str) -> None:
    old = with_payload(out_schema(), lambda fields: [f for f in fields if f["name"] != "route"])
    from confluent_kafka.schema_registry import Schema

    new_client({"url": registry_url}).register_schema(OUT, Schema(json.dumps(old), "AVRO"))
    result = invoke("worker", str(CLAIMS_SPEC), "--broker", "127.0.0.1:1", "--prefix", "t")
    assert result.exit_code == 1
    assert f"schema for subject {OUT} is not BACKWARD compatible" in result.output
    assert "field payload.route: added without a default" in result.output
    assert "Traceback" not in result.output


def test_the_file_registry_has_nothing_to_check(registry_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DWF_SCHEMA_REGISTRY")
    result = invoke("schemas", "check", str(CLAIMS_SPEC))
    assert result.exit_code == 2 and "set DWF_SCHEMA_REGISTRY=http(s)://" in result.output


def test_a_registry_that_is_down_exits_2_with_the_reason(
    registry_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY_RETRIES", "0")
    for command in ("check", "register"):
        result = invoke("schemas", command, str(CLAIMS_SPEC))
        assert result.exit_code == 2, result.output
        assert f"schema registry http://127.0.0.1:{port} is unreachable" in result.output
