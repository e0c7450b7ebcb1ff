"""A lock file that is not UTF-8 is one LockError naming the file and the fix, not a traceback (found by the
review of session 19: `load_spec` of a spec beside a Latin-1 lock raised UnicodeDecodeError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.workflow.objectives_lock import LockError, read_lock

pytestmark = pytest.mark.unit


def test_a_latin1_lock_is_a_lock_error_naming_the_file_the_byte_and_the_fix(tmp_path: Path) -> None:
    lock = tmp_path / "claims.objectives.lock.yaml"
    lock.write_bytes("version: 1\nrules: []\n# r\xe9vis\xe9\n".encode("latin-1"))
    with pytest.raises(LockError) as raised:
        read_lock(lock)
    message = str(raised.value)
    # "version: 1\n" (11 bytes) + "rules: []\n" (10) + "# r" (3): the é is byte 24
    assert message.startswith(f"{lock}: byte 24 is not UTF-8")
    assert "save the file as UTF-8" in message
