"""Shared fixtures. Server fixtures (Kafka, ClickHouse, the LLM test server) live in tests/fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "docs" / "examples" / "claims"

pytest_plugins = [
    "tests.skip_policy",  # --strict-skips: a skip not on its allow-list fails the run (CI)
    *(
        name
        for name in (
            "tests.fixtures.kafka",
            "tests.fixtures.clickhouse",
            "tests.fixtures.llm_server",
            "tests.fixtures.local_model",
        )
        if importlib.util.find_spec(name) is not None
    ),
]


@pytest.fixture(scope="session")
def claims_spec() -> Path:
    return CLAIMS / "claims.yaml"


@pytest.fixture(scope="session")
def claims_events() -> Path:
    return CLAIMS / "events.jsonl"


@pytest.fixture
def registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    from dana_workflows.schemas.registry import FileRegistry

    return FileRegistry(tmp_path / "schemas")
