"""docker-compose.yml's structure (no Docker engine here): services, pinned images, health, ports, order."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dana_workflows.cli.config import describe

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def example_workflows() -> list[Path]:
    """Every workflow spec under docs/examples/*/ (a YAML file with a top-level `workflow:`; not scripts)."""
    found = []
    for path in sorted(EXAMPLES.glob("*/*.yaml")):
        loaded = yaml.safe_load(path.read_text())
        if isinstance(loaded, dict) and "workflow" in loaded and "steps" in loaded:
            found.append(path)
    return found


def worker_name(spec: Path) -> str:
    return "worker-" + spec.stem.replace("_", "-")


def has_llm_step(node: Any) -> bool:
    if isinstance(node, dict):
        return "llm" in node or any(has_llm_step(v) for v in node.values())
    if isinstance(node, list):
        return any(has_llm_step(v) for v in node)
    return False


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "clickhouse", "llm"} <= set(services)
    assert "version" not in compose, "the top-level version key is obsolete in Compose v2"
    # a worker per example workflow, claims_llm.yaml included
    examples = example_workflows()
    assert {p.name for p in examples} >= {"claims.yaml", "claims_llm.yaml"}
    for spec in examples:
        worker = services.get(worker_name(spec))
        assert worker is not None, f"no {worker_name(spec)} service for {spec.relative_to(ROOT)}"
        assert worker["command"] == ["worker", f"/workflows/{spec.name}"]
        assert f"./docs/examples/{spec.parent.name}:/workflows:ro" in worker["volumes"]
    workers = {n for n in services if n.startswith("worker-")}
    assert workers == {worker_name(p) for p in examples}, "a worker without an example workflow"


def test_llm_workers_use_the_llm_server(compose: dict[str, Any]) -> None:
    services = compose["services"]
    llm_specs = [p for p in example_workflows() if has_llm_step(yaml.safe_load(p.read_text()))]
    assert llm_specs, "the LLM example (claims_llm.yaml) has no llm step?"
    script = next(a for a in services["llm"]["command"] if a.endswith(".yaml"))
    replies = yaml.safe_load((EXAMPLES / "claims" / Path(script).name).read_text())
    for spec in llm_specs:
        worker = services[worker_name(spec)]
        env = worker["environment"]
        assert env["DWF_LLM_DEFAULT__BASE_URL"] == "http://llm:8765/v1"
        assert env["DWF_LLM_DEFAULT__MODEL"] in replies["models"], "the test server does not serve this model"
        assert worker["depends_on"]["llm"] == {"condition": "service_healthy"}
        assert "healthcheck" in services["llm"]


def test_workers_keep_state_on_their_own_volume(compose: dict[str, Any]) -> None:
    """Read-only root: DWF_DATA_DIR (schema registry, LLM cache, faust tables) is a named volume per worker;
    one-shot jobs get a tmpfs there."""
    seen: set[str] = set()
    for name, service in compose["services"].items():
        if not service.get("command") or service["command"][0] not in ("worker", "produce"):
            continue
        env = service["environment"]
        data_dir = env["DWF_DATA_DIR"]
        assert env["DWF_LLM_CACHE_PATH"].startswith(f"{data_dir}/")
        assert env["DWF_SCHEMA_REGISTRY"] == "http://schema-registry:8081", "registry mode (docs/kafka.md)"
        assert service["read_only"] is True
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in service.get("volumes", [])}
        if name.startswith("worker-"):
            volume = mounts.get(data_dir)
            assert volume and not volume.startswith((".", "/")), f"{name}: {data_dir} is not a named volume"
            assert volume not in seen, f"{name} shares {volume} with another worker"
            seen.add(volume)
        else:
            assert data_dir in service["tmpfs"] or data_dir in mounts, f"{name}: {data_dir} is not writable"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    built_here = {s.get("image") for s in compose["services"].values() if "build" in s}
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image or "build" in service, f"{name} has neither image nor build"
        if "build" in service or image in built_here:
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: pin {image} to a version"
        assert re.fullmatch(r"\d+(\.\d+){2,3}", tag), f"{name}: {image} should name an exact version"
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")  # the official image
    assert compose["services"]["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert compose["services"]["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:")


def test_the_schema_registry_keeps_its_schemas_in_the_broker(compose: dict[str, Any]) -> None:
    registry = compose["services"]["schema-registry"]
    env = registry["environment"]
    assert env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == "PLAINTEXT://kafka:9092"
    assert env["SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR"] == 1  # one broker
    port = env["SCHEMA_REGISTRY_LISTENERS"].rsplit(":", 1)[1]
    assert f"{port}:{port}" in registry["ports"]
    assert compose["x-dwf-env"]["DWF_SCHEMA_REGISTRY"] == f"http://schema-registry:{port}"
    assert registry["depends_on"] == {"kafka": {"condition": "service_healthy"}}


def test_kafka_runs_kraft_single_node(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "zookeeper" not in str(env).lower()
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    # exactly-once on one broker needs these at 1
    for key in (
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    ):
        assert env[key] == 1
    cluster_id = env["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "CLUSTER_ID must be a base64url UUID"
    listeners = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert listeners["PLAINTEXT"] == "kafka:9092"
    host_port = listeners["HOST"].rsplit(":", 1)[1]
    assert f"{host_port}:{host_port}" in compose["services"]["kafka"]["ports"]
    assert env["KAFKA_LOG_DIRS"] in {v.split(":", 1)[1] for v in compose["services"]["kafka"]["volumes"]}


def test_healthchecks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if service.get("restart") == "no":
            continue  # one-shot jobs
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name} lacks a healthcheck"
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name} healthcheck lacks {key}"
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition == {"condition": "service_healthy"}, (
                f"{name} should wait for {dependency} to be healthy"
            )
    workers = [s for n, s in services.items() if n.startswith("worker-")]
    assert len(workers) >= 2
    for worker in workers:
        assert set(worker["depends_on"]) == {"kafka", "schema-registry", "clickhouse", "llm"}


def test_ports_are_unique_and_match_the_services(compose: dict[str, Any]) -> None:
    host_ports: list[str] = []
    for service in compose["services"].values():
        for mapping in service.get("ports", []):
            host, _, container = str(mapping).rpartition(":")
            assert host and container, mapping
            host_ports.append(host)
    assert len(host_ports) == len(set(host_ports)), f"host ports collide: {host_ports}"
    assert "8765:8765" in compose["services"]["llm"]["ports"]
    assert "--port" in compose["services"]["llm"]["command"]
    assert {"8123:8123", "9000:9000"} <= set(compose["services"]["clickhouse"]["ports"])


def test_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared, f"used {sorted(used)} vs declared {sorted(declared)}"
    assert {"kafka-data", "clickhouse-data"} <= declared


def test_workers_are_wired_to_the_other_services(compose: dict[str, Any]) -> None:
    known = {row.env for row in describe()}
    services = compose["services"]
    clickhouse_env = services["clickhouse"]["environment"]
    for name, service in services.items():
        if not name.startswith("worker-"):
            continue
        env = service["environment"]
        for key in env:
            assert key in known, f"{name}: {key} is not a setting (docs/configuration.md)"
        assert env["DWF_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["DWF_LLM_DEFAULT__BASE_URL"] == "http://llm:8765/v1"
        assert env["DWF_TOPIC_REPLICATION"] == "1"
        dsn = env["DWF_AUDIT_DSN"]
        assert dsn.startswith(f"clickhouse://{clickhouse_env['CLICKHOUSE_USER']}:")
        assert dsn.endswith(f"@clickhouse:9000/{clickhouse_env['CLICKHOUSE_DB']}")
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert "9108:9108" in service["ports"] or any(p.endswith(":9108") for p in service["ports"])
        assert env["DWF_LOG_LEVEL"].startswith("${DWF_LOG_LEVEL:-")
    (script,) = [a for a in services["llm"]["command"] if a.endswith(".yaml")]
    assert (EXAMPLES / "claims" / Path(script).name).is_file()


COMPOSE_GO = "github.com/compose-spec/compose-go/v2@v2.10.1"


def compose_schema() -> Path | None:
    """compose-spec.json from the compose-go module (`go mod download` puts it in the module cache)."""
    override = os.environ.get("DWF_COMPOSE_SCHEMA")
    if override:
        return Path(override)
    go = shutil.which("go")
    if go is None:
        return None
    cache = subprocess.run(
        [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip()
    path = Path(cache) / COMPOSE_GO / "schema" / "compose-spec.json"
    return path if path.is_file() else None


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema_path = compose_schema()
    assert schema_path is not None, (
        f"compose-spec.json not found: run `go mod download {COMPOSE_GO}` (tests/run-all.sh does) "
        "or set DWF_COMPOSE_SCHEMA"
    )
    validator = jsonschema.Draft7Validator(json.loads(schema_path.read_text()))
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, errors
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["healthchek"] = broken["services"]["kafka"].pop("healthcheck")
    assert list(validator.iter_errors(broken)), "the schema should refuse a misspelt key"
