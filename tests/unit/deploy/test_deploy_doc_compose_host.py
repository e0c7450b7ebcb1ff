"""docs/deploy.md's compose section against docker-compose.yml (newcomer4 N4-5): its table lists every
service, and its "From the host" settings name the schema registry the workers use, at its host port: a host
`dana-wf produce` without it frames records with its file registry's ids, which the workers' registry does
not know (every event poison)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _compose_section() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    return text.split("## docker-compose, on one machine", 1)[1].split("\n## ", 1)[0]


def test_the_table_lists_every_service_of_the_compose_file() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    listed = set(re.findall(r"^\| `([a-z-]+)`", _compose_section(), re.MULTILINE))
    assert set(services) - {"demo", "demo-llm"} <= listed  # the demo profile has a row of its own


def test_the_host_settings_name_the_workers_registry_at_its_host_port() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    (published,) = [p.split(":")[0] for p in services["schema-registry"]["ports"]]
    host_line = _compose_section().split("From the host", 1)[1].split("\n\n", 1)[0]
    assert f"DWF_SCHEMA_REGISTRY=http://localhost:{published}" in host_line
