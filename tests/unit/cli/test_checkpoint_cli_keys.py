"""`dana-wf audit checkpoint create | verify` without a key (issue 18, Done when: a missing signing key is one
clear message and nothing changed): exit 2, the message says what to set or pass, nothing is exported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.checkpoint import app
from dana_workflows.cli.conventions import EXIT_USAGE

pytestmark = pytest.mark.unit


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DWF_ setting from the environment or a .env file: in particular no signing key."""
    for name in list(os.environ):
        if name.startswith("DWF_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "checkpoints"
    target.mkdir()
    return target


def test_create_without_a_signing_key_exports_nothing(no_key: Path) -> None:
    result = CliRunner().invoke(app, ["create", "--to", str(no_key), "--audit", "chdb://never-opened"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "no signing key: set DWF_AUDIT_SIGNING_KEY_FILE" in result.output
    assert "Traceback" not in result.output
    assert list(no_key.iterdir()) == []  # nothing exported
    assert not Path("never-opened").exists()  # the store was not even opened


def test_verify_without_a_key_asks_for_the_public_key(no_key: Path) -> None:
    result = CliRunner().invoke(app, ["verify", "--from", str(no_key), "--audit", "chdb://never-opened"])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "give --public-key FILE" in result.output
    assert "keygen" not in result.output  # a new key could not verify checkpoints signed by the old one
    assert not Path("never-opened").exists()
