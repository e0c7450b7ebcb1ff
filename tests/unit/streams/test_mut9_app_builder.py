"""streams/app_builder.py: what stops a compile is a SpecError naming the file like any spec mistake; the
schema registry follows DWF_SCHEMA_REGISTRY (file:// by default, a clear line for anything else); the audit
store opens the DSN given, as a writer only when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dana_workflows.core.settings import Settings
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.sinks import stores
from dana_workflows.streams.app_builder import load_pipeline, open_audit_store, registry_for
from dana_workflows.workflow.errors import SpecError

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"

UNIMPORTABLE = """\
workflow: bad-fn
version: 1
input:
  amount: double
steps:
  - enrich:
      transform:
        function: "no_such_module_dwf_test:enrich"
        outputs:
          score: double
"""


def test_a_transform_function_that_cannot_be_imported_is_a_spec_error_naming_the_file(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(UNIMPORTABLE, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_pipeline(spec)
    (problem,) = info.value.problems
    assert problem.file == str(spec)
    assert problem.field == "steps"
    assert "step 'enrich'" in problem.message
    assert "no_such_module_dwf_test:enrich" in problem.message
    assert info.value.__cause__ is None  # one error, not a chained traceback


def test_a_valid_spec_compiles_to_its_steps() -> None:
    pipeline = load_pipeline(str(CLAIMS))
    assert pipeline.workflow.name == "claims-triage"


def test_the_default_registry_is_a_file_registry_under_the_data_dir(tmp_path: Path) -> None:
    registry = registry_for(Settings(data_dir=tmp_path, schema_registry=None))  # not from the environment
    assert isinstance(registry, FileRegistry)
    assert (tmp_path / "schemas").is_dir()


@pytest.mark.parametrize("url", ["ftp://registry:8081", "registry:8081"])
def test_an_unknown_registry_scheme_is_one_line_naming_the_setting(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError) as info:
        # Settings refuses such a URL itself (core/settings.py); the guard here is for settings built without
        # validation (model_copy), which the CLI does for --prefix and --data-dir
        registry_for(Settings(data_dir=tmp_path).model_copy(update={"schema_registry": url}))
    message = str(info.value)
    assert message.startswith(f"DWF_SCHEMA_REGISTRY={url}: use file://<dir>")
    assert "http(s)://<host>:<port>" in message
    assert "\n" not in message


def test_a_registry_url_with_a_password_is_masked_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        registry_for(
            Settings(data_dir=tmp_path).model_copy(
                update={"schema_registry": "ftp://user:s3cret-pw@registry:8081"}
            )
        )
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("writer", [True, False])
def test_the_audit_store_opens_the_dsn_as_a_writer_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, writer: bool
) -> None:
    opened: list[tuple[str, bool]] = []
    store = object()

    def open_store(dsn: str, *, writer: bool = False) -> Any:
        opened.append((dsn, writer))
        return store

    monkeypatch.setattr(stores, "open_store", open_store)
    assert open_audit_store("chdb:///tmp/x", writer=writer) is store
    assert opened == [("chdb:///tmp/x", writer)]
    opened.clear()
    open_audit_store("chdb:///tmp/y")
    assert opened == [("chdb:///tmp/y", False)]


def test_settings_refuse_an_unknown_registry_scheme_without_repeating_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"use file://<dir> .* or http\(s\)://<host>:<port>") as info:
        Settings(data_dir=tmp_path, schema_registry="ftp://user:s3cret-pw@registry:8081")
    assert "s3cret-pw" not in str(info.value)
