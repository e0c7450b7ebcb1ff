"""README's first screen (issue 20): the version, the two commands and where a run's report is, within the
first 30 lines a new user sees."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIRST_SCREEN = 30


def test_the_first_screen_has_version_commands_and_report() -> None:
    screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:FIRST_SCREEN])
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"Version {version}" in screen and "dana-wf --version" in screen
    assert "make run" in screen and "make test" in screen
    assert "dana-wf audit report <run_id>" in screen and "--html" in screen


def test_the_license_is_the_one_declared() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert declared == "Apache-2.0"
    assert (
        "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    )
