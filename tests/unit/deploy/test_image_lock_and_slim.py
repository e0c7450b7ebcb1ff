"""The worker image (issue 20): Python dependencies in a cached layer of their own, pinned with hashes by
requirements.lock, which agrees with pyproject.toml; and a slim target without chdb, whose absence a chdb://
DSN names in one clear error."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.unit.deploy.test_dockerfile import parse

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CHDB_ONLY = ("chdb-core", "pandas", "pyarrow")  # pandas and pyarrow: required by chdb-core alone


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them (ruamel.yaml is ruamel-yaml)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    """name -> pinned version, every pin of requirements.lock carrying at least one hash."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if head:
            assert "--hash=sha256:" in block, f"{head[1]} is pinned without a hash"
            pins[_normal(head[1])] = head[2]
    return pins


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _locked()
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = _normal(req.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {req.specifier}: run `make lock`"
        )


def test_the_locked_dependencies_are_a_layer_before_the_sources() -> None:
    _, stages = parse()
    build = stages[0]
    steps = [f"{kw} {args}" for kw, args in build.instructions]
    lock_copy = next(i for i, s in enumerate(steps) if s.startswith("COPY requirements.lock"))
    lock_install = next(i for i, s in enumerate(steps) if "-r requirements.lock" in s)
    first_source = next(i for i, s in enumerate(steps) if s.startswith("COPY pyproject.toml"))
    assert lock_copy < lock_install < first_source  # editing a source leaves the dependency layer cached
    assert "--require-hashes" in steps[lock_install]
    assert re.search(r"install --no-deps \.", " ".join(steps[first_source:]))  # the project alone, after


def test_the_slim_target_drops_chdb_and_the_default_keeps_it() -> None:
    _, stages = parse()
    by_name = {s.name: s for s in stages}
    slim, default = by_name["runtime-slim"], stages[-1]
    assert default.name == "runtime"  # `docker build .` gives the full image
    (slim_venv,) = [c for c in slim.all("COPY") if c.startswith("--from=")]
    (full_venv,) = [c for c in default.all("COPY") if c.startswith("--from=")]
    assert slim_venv.startswith("--from=build-slim ") and full_venv.startswith("--from=build ")
    removed = " ".join(by_name["build-slim"].all("RUN")[-1:])
    assert all(package in removed.split() for package in CHDB_ONLY) and "uninstall" in removed
    assert slim.all("USER") == default.all("USER") and slim.all("ENTRYPOINT") == default.all("ENTRYPOINT")


def test_without_chdb_an_embedded_dsn_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dana_workflows.sinks.chdb_store import AuditStoreError
    from dana_workflows.sinks.stores import open_store

    monkeypatch.setitem(sys.modules, "chdb", None)  # as in the slim image: no chdb to import
    with pytest.raises(
        AuditStoreError, match=r"chdb \(the chdb-core package\) is not installed here.*clickhouse://"
    ):
        open_store(f"chdb://{tmp_path / 'audit'}", writer=True)
    assert not (tmp_path / "audit").exists()
