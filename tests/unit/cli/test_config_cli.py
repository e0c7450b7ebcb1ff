"""`dana-wf config show` never prints a secret, in any format, from any source; docs list every setting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.config import app, describe
from dana_workflows.core.masking import MASK, mask_text
from dana_workflows.core.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]

SECRETS = {
    "DWF_KAFKA_SASL_PASSWORD": "sasl-Pa55word-1",
    "DWF_LLM_DEFAULT__API_KEY": "sk-live-default-0123456789",
    "DWF_AUDIT_DSN": "clickhouse://auditor:dsn-Pa55word-2@ch.internal:9000/audit?secure=1&password=qp-secret-3",
    "DWF_LLM_ENDPOINTS": json.dumps(
        {"big": {"base_url": "https://llm.example/v1", "api_key": "sk-live-big-456", "model": "big-1"}}
    ),
    "DWF_SCHEMA_REGISTRY": "https://registry-user:reg-Pa55word-4@registry.example:8081",
}
SECRET_VALUES = [
    "sasl-Pa55word-1",
    "sk-live-default-0123456789",
    "dsn-Pa55word-2",
    "qp-secret-3",
    "sk-live-big-456",
    "reg-Pa55word-4",
]


def clear_dwf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DWF_"):
            monkeypatch.delenv(name)


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_dwf_env(monkeypatch)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def squeeze(text: str) -> str:
    """Output without whitespace or table borders, so a secret folded across lines would still be found."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│┃")


@pytest.mark.parametrize("fmt", ["yaml", "json", "table"])
def test_show_masks_every_secret(secret_env: None, fmt: str) -> None:
    result = CliRunner().invoke(app, ["show", "--format", fmt])
    assert result.exit_code == 0, result.output
    flat = squeeze(result.output)
    for secret in SECRET_VALUES:
        assert secret not in flat, f"{secret!r} leaked in {fmt} output"
    # what is not secret is still shown, so the output is useful
    assert "auditor" in flat and "ch.internal:9000/audit" in flat and "registry.example:8081" in flat
    assert "llm.example" in flat and "big-1" in flat
    assert flat.count(MASK) >= len(SECRET_VALUES)


def test_secrets_from_a_config_file_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_dwf_env(monkeypatch)
    config = tmp_path / "dwf.yaml"
    config.write_text(
        "kafka_sasl_password: file-sasl-secret\n"
        "audit_dsn: clickhouse://u:file-dsn-secret@h/db\n"
        "llm_default: {api_key: file-key-secret, model: m-file}\n"
        "topic_partitions: 12\n"
    )
    result = CliRunner().invoke(app, ["show", "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["topic_partitions"] == 12
    assert shown["llm_default"]["model"] == "m-file"
    assert shown["kafka_sasl_password"] == MASK
    assert shown["llm_default"]["api_key"] == MASK
    assert shown["audit_dsn"] == f"clickhouse://u:{MASK}@h/db"
    for secret in ("file-sasl-secret", "file-dsn-secret", "file-key-secret"):
        assert secret not in result.output


def test_invalid_setting_is_named_without_echoing_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_dwf_env(monkeypatch)
    monkeypatch.setenv("DWF_TOPIC_PARTITIONS", "four-s3cret-ish")
    result = CliRunner().invoke(app, ["show"])
    assert result.exit_code == 2
    assert "DWF_TOPIC_PARTITIONS" in result.output  # the variable to fix, named as the user set it
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("clickhouse://u:pw@h/db", f"clickhouse://u:{MASK}@h/db"),
        ("clickhouse://u:p%40ss@h:9000/db?secure=1", f"clickhouse://u:{MASK}@h:9000/db?secure=1"),
        ("clickhouse://h/db?user=u&password=pw", f"clickhouse://h/db?user=u&password={MASK}"),
        ("clickhouse://u@h/db", "clickhouse://u@h/db"),
        ("chdb://.dwf/audit", "chdb://.dwf/audit"),
        ("broker-1:9092,broker-2:9092", "broker-1:9092,broker-2:9092"),
    ],
)
def test_mask_text(raw: str, expected: str) -> None:
    assert mask_text(raw) == expected


def test_describe_covers_every_setting_with_its_env_var() -> None:
    rows = {row.name: row for row in describe()}
    for name in Settings.model_fields:
        assert name in rows or any(key.startswith(f"{name}.") for key in rows), name
    assert rows["llm_default.api_key"].env == "DWF_LLM_DEFAULT__API_KEY"
    assert rows["llm_default.api_key"].secret
    assert rows["metrics_port"].default == "9108"


def test_docs_configuration_lists_every_setting() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [row.env for row in describe() if f"`{row.env}`" not in doc]
    assert not missing, (
        f"docs/configuration.md lacks {missing}; regenerate with `dana-wf config describe --markdown`"
    )
