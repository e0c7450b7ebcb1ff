"""The knowledge store's default DSN has one home, the settings' `knowledge_dsn` default (core/settings.py,
docs/configuration.md): the store opens it when given none, and a malformed knowledge DSN's error gives it
as the embedded example (its own directory, not the audit's: chdb serves one directory per process)."""

from __future__ import annotations

import pytest

from dana_workflows.core.settings import Settings
from dana_workflows.knowledge import backend, store
from dana_workflows.knowledge.errors import KnowledgeError

pytestmark = pytest.mark.unit

SETTINGS_DEFAULT = Settings.model_fields["knowledge_dsn"].default


def test_the_store_and_its_errors_use_the_settings_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SETTINGS_DEFAULT == "chdb://.dwf/knowledge"  # docs/configuration.md, docs/context.md
    opened: list[str] = []

    class Backend:
        database = "dwf"

    def open_backend(dsn: str) -> Backend:
        opened.append(dsn)
        return Backend()

    monkeypatch.setattr(store, "open_backend", open_backend)
    store.KnowledgeStore.open()
    assert opened == [SETTINGS_DEFAULT]
    with pytest.raises(KnowledgeError) as info:
        backend.open_backend("postgres://x")
    assert str(info.value).endswith(f"or {SETTINGS_DEFAULT})")


def test_a_changed_default_moves_everywhere() -> None:
    # one home: the store's default and the error's example are that value, not copies of the text
    assert store.DEFAULT_DSN is SETTINGS_DEFAULT
    assert backend.DEFAULT_DSN is SETTINGS_DEFAULT
