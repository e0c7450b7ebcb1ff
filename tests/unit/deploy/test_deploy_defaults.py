"""Defaults that matter in a container: the schema registry lives under DWF_DATA_DIR (the working directory
may be read-only, as in the Helm chart), only file:// registries are accepted, and DWF_LOG_LEVEL reaches the
worker (its --log-level flag overrides it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dana_workflows.core.settings import Settings, load_settings
from dana_workflows.schemas.registry import RegistryNotWritableError
from dana_workflows.streams.app_builder import load_pipeline, registry_for, topology_for

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"


def _writable(directory: Path) -> bool:
    probe = directory / f".dwf-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return True


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot write to (a chmod 555 one; as root, which ignores modes, sysfs)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for candidate in (ro, Path("/sys"), Path("/proc")):
            if candidate.is_dir() and not _writable(candidate):
                yield candidate
                return
        pytest.skip("no read-only directory available to this user")
    finally:
        ro.chmod(0o755)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("DWF_"):
            monkeypatch.delenv(key)
    return monkeypatch


def test_the_default_registry_is_under_the_data_dir(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().schema_registry is None
    assert Settings().schema_registry_url() == "file://.dwf/schemas"
    clean_env.setenv("DWF_DATA_DIR", str(tmp_path / "state"))
    settings = load_settings()
    assert settings.schema_registry_url() == f"file://{tmp_path / 'state' / 'schemas'}"
    clean_env.setenv("DWF_SCHEMA_REGISTRY", "")  # the Helm chart's empty value: the same default
    assert load_settings().schema_registry_url() == f"file://{tmp_path / 'state' / 'schemas'}"
    clean_env.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'elsewhere'}")
    assert load_settings().schema_registry_url() == f"file://{tmp_path / 'elsewhere'}"


def test_read_only_working_directory_builds_the_topology(
    clean_env: pytest.MonkeyPatch, read_only_dir: Path, tmp_path: Path
) -> None:
    """The Helm chart's pod: WORKDIR read-only, DWF_DATA_DIR an emptyDir."""
    data = tmp_path / "data"
    clean_env.setenv("DWF_DATA_DIR", str(data))
    clean_env.chdir(read_only_dir)
    pipeline = load_pipeline(CLAIMS)
    topology = topology_for(pipeline, load_settings())
    written = sorted(p.name for p in (data / "schemas").glob("*.avsc"))
    assert written, "the schemas were not registered under DWF_DATA_DIR"
    assert f"{topology.schema_id('in')}.avsc" in written
    assert not (read_only_dir / ".dwf").exists()


def test_a_read_only_data_dir_fails_naming_the_settings(
    clean_env: pytest.MonkeyPatch, read_only_dir: Path
) -> None:
    clean_env.setenv("DWF_DATA_DIR", str(read_only_dir / "dwf"))
    with pytest.raises(RegistryNotWritableError) as info:
        registry_for(load_settings())
    message = str(info.value)
    assert f"schema registry directory {read_only_dir / 'dwf' / 'schemas'} is not writable" in message
    assert "DWF_SCHEMA_REGISTRY" in message and "DWF_DATA_DIR" in message


def test_only_file_and_registry_server_urls_are_accepted(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DWF_SCHEMA_REGISTRY", "ftp://user:reg-Pa55word@registry.example:8081")
    with pytest.raises(ValueError, match=r"use file://<dir> .* or http\(s\)://<host>:<port>") as info:
        registry_for(load_settings())
    assert "reg-Pa55word" not in str(info.value)


def test_worker_fails_cleanly_on_an_unwritable_data_dir(
    clean_env: pytest.MonkeyPatch, read_only_dir: Path
) -> None:
    """Before any Kafka connection: exit 1 with the reason, no traceback."""
    from dana_workflows.cli.worker import app

    clean_env.setenv("DWF_DATA_DIR", str(read_only_dir / "dwf"))
    clean_env.setenv("DWF_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["worker", str(CLAIMS), "--no-audit-sink"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "is not writable" in output and "DWF_DATA_DIR" in output
    assert "Traceback" not in output


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    names = ("aiokafka", "faust", "mode", "kafka", "faust.transport.consumer")
    saved = {n: logging.getLogger(n).level for n in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _worker_log_levels(args: list[str]) -> tuple[int, str]:
    """Run `worker` on a missing spec: it sets up logging, then stops (exit 2) before anything else."""
    from dana_workflows.cli.worker import app

    result = CliRunner().invoke(app, ["worker", "/nonexistent/spec.yaml", *args])
    return logging.getLogger("aiokafka").level, " ".join(result.output.split())


@pytest.mark.usefixtures("restore_loggers")
def test_worker_log_level_comes_from_dwf_log_level(clean_env: pytest.MonkeyPatch) -> None:
    # the library loggers follow the level, never below WARNING (streams/kafka/worker.py quiet_logs)
    clean_env.setenv("DWF_LOG_LEVEL", "error")
    level, output = _worker_log_levels([])
    assert level == logging.ERROR, "DWF_LOG_LEVEL was ignored"
    assert "/nonexistent/spec.yaml" in output and "cannot read" in output
    clean_env.setenv("DWF_LOG_LEVEL", "CRITICAL")
    assert _worker_log_levels([])[0] == logging.CRITICAL
    # the flag wins over the env
    assert _worker_log_levels(["--log-level", "WARNING"])[0] == logging.WARNING
    clean_env.delenv("DWF_LOG_LEVEL")
    assert _worker_log_levels(["--log-level", "error"])[0] == logging.ERROR
    assert _worker_log_levels([])[0] == logging.WARNING  # default INFO: libraries stay at WARNING


@pytest.mark.usefixtures("restore_loggers")
def test_bad_log_levels_are_refused(clean_env: pytest.MonkeyPatch) -> None:
    _, output = _worker_log_levels(["--log-level", "LOUD"])
    assert "Invalid value for '--log-level'" in output and "'LOUD' is not one of 'debug'" in output
    clean_env.setenv("DWF_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="DWF_LOG_LEVEL"):
        Settings()
    _, output = _worker_log_levels([])
    assert "invalid settings: DWF_LOG_LEVEL" in output
    assert Settings(log_level="warn").log_level == "WARNING"
