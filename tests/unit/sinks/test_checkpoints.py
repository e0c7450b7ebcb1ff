"""Audit checkpoints: RFC 6962 tree hashes from the RFC's definition, signed checkpoints in a write-once
directory, and verification that names what a hash chain alone cannot see (a deleted row, a cut tail) as well
as altered and backdated rows and forged, reordered or re-signed checkpoints.

A tampered log is made as a second store holding the rows as an attacker would have left them (the audit
stores offer no delete or update, by design)."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from dana_workflows.core.settings import Settings
from dana_workflows.schemas.envelope import GENESIS_HASH
from dana_workflows.sinks import checkpoints
from dana_workflows.sinks.audit_model import AuditRow, seal
from dana_workflows.sinks.chdb_store import ChdbAuditStore
from dana_workflows.sinks.checkpoint_keys import (
    CheckpointKeyError,
    key_to_verify,
    signing_key,
    verifying_key,
    write_new_key,
)
from dana_workflows.sinks.checkpoint_storage import LocalDirectory, StorageError, open_storage
from dana_workflows.sinks.merkle import tree_hash

pytestmark = pytest.mark.unit

WF = "claims"
Exported = tuple[LocalDirectory, list[AuditRow]]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_tree_hashes_follow_rfc_6962() -> None:
    a, b, c = b"a", b"b", b"c"
    la, lb, lc = sha(b"\x00a"), sha(b"\x00b"), sha(b"\x00c")
    assert tree_hash([]) == sha(b"")
    assert tree_hash([a]) == la
    assert tree_hash([a, b]) == sha(b"\x01" + la + lb)
    # three leaves: the left subtree holds the largest power of two below 3, i.e. two
    assert tree_hash([a, b, c]) == sha(b"\x01" + sha(b"\x01" + la + lb) + lc)
    five = [bytes([i]) for i in range(5)]
    leaf = [sha(b"\x00" + d) for d in five]
    left = sha(b"\x01" + sha(b"\x01" + leaf[0] + leaf[1]) + sha(b"\x01" + leaf[2] + leaf[3]))
    assert tree_hash(five) == sha(b"\x01" + left + leaf[4])


def rows(runs: dict[str, int], start_us: int = 1_000) -> list[AuditRow]:
    """Runs of `n` rows each, each run a sealed hash chain; run i's rows are stamped after run i-1's."""
    out: list[AuditRow] = []
    ts = start_us
    for run, n in runs.items():
        prev = GENESIS_HASH
        for seq in range(n):
            ts += 10
            row = seal(AuditRow(WF, 1, run, seq, f"e-{run}", "step", "emitted", ts_us=ts), prev)
            out.append(row)
            prev = row.hash
    return out


def store_with(path: Path, content: Sequence[AuditRow]) -> ChdbAuditStore:
    store = ChdbAuditStore(path)
    store.ensure_schema()
    store.insert(list(content))
    return store


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def exported(tmp_path: Path, key: Ed25519PrivateKey) -> Exported:
    """Two checkpoints of a log: the first covers runs a and b, the second adds run c."""
    first, second = rows({"a": 4, "b": 3}), rows({"c": 3}, start_us=5_000)
    store = store_with(tmp_path / "audit", [*first, *second])
    storage = LocalDirectory(tmp_path / "checkpoints")
    try:
        checkpoints.create(store, storage, key, WF, as_of_us=first[-1].ts_us)
        checkpoints.create(store, storage, key, WF, as_of_us=second[-1].ts_us)
    finally:
        store.close()
    return storage, [*first, *second]


def verify(
    tmp_path: Path, storage: LocalDirectory, key: Ed25519PrivateKey, content: Sequence[AuditRow]
) -> checkpoints.VerifyResult:
    store = store_with(tmp_path / f"now-{len(list(tmp_path.iterdir()))}", content)
    try:
        return checkpoints.verify(store, storage, key.public_key())
    finally:
        store.close()


def kinds(result: checkpoints.VerifyResult) -> list[tuple[str, str | None, int | None, int | None]]:
    return [(f.kind, f.run_id, f.seq, f.checkpoint) for f in result.findings]


def test_an_untouched_log_extends_every_checkpoint(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported
    result = verify(tmp_path, storage, key, content)
    assert result.ok and result.checkpoints == 2 and result.rows_committed == len(content)
    first, second = checkpoints.load_checkpoints(storage, WF)
    assert (first.tree_size, second.tree_size) == (7, 10)
    assert second.previous_root == first.root
    # consistency: the first tree is the prefix of the second's leaves
    leaves = [leaf.data() for cp in (first, second) for leaf in cp.leaves]
    assert tree_hash(leaves[:7]).hex() == first.root and tree_hash(leaves).hex() == second.root
    for name in storage.names(""):  # written once, left read-only
        assert stat.S_IMODE((storage.root / name).stat().st_mode) == 0o444


def test_a_deleted_row_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    storage, content = exported
    tampered = [r for r in content if (r.run_id, r.seq) != ("a", 1)]
    assert kinds(verify(tmp_path, storage, key, tampered)) == [("deleted", "a", 1, 0)]


def test_a_cut_tail_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    # the last two rows of run b gone: its hash chain still verifies, the checkpoint does not
    storage, content = exported
    tampered = [r for r in content if not (r.run_id == "b" and r.seq >= 1)]
    assert kinds(verify(tmp_path, storage, key, tampered)) == [
        ("tail_cut", "b", 1, 0),
        ("tail_cut", "b", 2, 0),
    ]


def test_a_whole_run_deleted_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    storage, content = exported
    tampered = [r for r in content if r.run_id != "c"]
    # one finding for the run, not one cut tail per row
    assert [k[:3] for k in kinds(verify(tmp_path, storage, key, tampered))] == [("run_deleted", "c", 0)]


def test_an_altered_row_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    storage, content = exported
    original = next(r for r in content if (r.run_id, r.seq) == ("c", 0))
    tampered = [replace(r, hash="forged") if r is original else r for r in content]
    result = verify(tmp_path, storage, key, tampered)
    assert kinds(result) == [("altered", "c", 0, 1)]
    assert f"hash forged now, {original.hash} then" in result.findings[0].message


def test_a_row_edited_in_place_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    """Content changed, the hash column left alone (an UPDATE of one column): the leaf still matches, so
    only the content's own hash shows it."""
    storage, content = exported
    tampered = [replace(r, reason="rewritten") if (r.run_id, r.seq) == ("a", 2) else r for r in content]
    result = verify(tmp_path, storage, key, tampered)
    assert kinds(result) == [("altered", "a", 2, 0)]
    assert "no longer matches its hash" in result.findings[0].message


def test_a_backdated_row_is_named(tmp_path: Path, key: Ed25519PrivateKey, exported: Exported) -> None:
    storage, content = exported
    late = AuditRow(WF, 1, "z", 0, "e-z", "step", "emitted", hash="h-z-0", ts_us=content[0].ts_us + 1)
    assert kinds(verify(tmp_path, storage, key, [*content, late])) == [("backdated", "z", 0, 0)]


def test_rows_after_the_last_checkpoint_are_not_judged(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported
    newer = AuditRow(WF, 1, "d", 0, "e-d", "step", "emitted", hash="h-d-0", ts_us=content[-1].ts_us + 100)
    assert verify(tmp_path, storage, key, [*content, newer]).ok


def _rewrite(
    storage: LocalDirectory, target: Path, change: Callable[[str, dict[str, Any]], dict[str, Any] | None]
) -> LocalDirectory:
    """A copy of the exports with one checkpoint's JSON changed by `change(name, body)`."""
    copy = LocalDirectory(target)
    for name in storage.names(""):
        body = json.loads(storage.get(name))
        body = change(name, body)
        if body is not None:
            copy.put(name, json.dumps(body).encode())
    return copy


def test_a_forged_checkpoint_fails_its_signature(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported

    def drop_a_leaf(name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name.endswith("00000000.json"):
            body["leaves"] = body["leaves"][:-1]  # hide run b's last row from the commitment
        return body

    forged = _rewrite(storage, tmp_path / "forged", drop_a_leaf)
    result = verify(tmp_path, forged, key, content)
    # the forged one fails its signature, and the next one's root no longer covers the leaves exported
    assert [(f.kind, f.checkpoint) for f in result.findings] == [
        ("bad_signature", 0),
        ("inconsistent_root", 1),
    ]
    assert result.rows_committed == 0  # nothing of a forged sequence is trusted


def test_checkpoints_signed_by_another_key_fail(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported
    assert {f.kind for f in verify(tmp_path, storage, Ed25519PrivateKey.generate(), content).findings} == {
        "bad_signature"
    }


def test_a_removed_checkpoint_breaks_the_sequence(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported
    gap = _rewrite(
        storage, tmp_path / "gap", lambda name, body: None if name.endswith("00000000.json") else body
    )
    assert [f.kind for f in verify(tmp_path, gap, key, content).findings] == ["broken_sequence"]


def test_a_new_checkpoint_must_be_later_and_builds_on_a_trusted_sequence(
    tmp_path: Path, key: Ed25519PrivateKey, exported: Exported
) -> None:
    storage, content = exported
    store = store_with(tmp_path / "again", content)
    try:
        with pytest.raises(checkpoints.CheckpointError, match="a new one must be later"):
            checkpoints.create(store, storage, key, WF, as_of_us=content[-1].ts_us)
        with pytest.raises(checkpoints.CheckpointError, match="not trustworthy"):
            checkpoints.create(
                store, storage, Ed25519PrivateKey.generate(), WF, as_of_us=content[-1].ts_us + 1
            )
    finally:
        store.close()
    assert len(storage.names("")) == 2  # nothing was written


def test_the_directory_never_replaces_a_checkpoint(tmp_path: Path) -> None:
    storage = LocalDirectory(tmp_path)
    storage.put("wf/00000000.json", b"{}")
    with pytest.raises(StorageError, match="written once"):
        storage.put("wf/00000000.json", b"{ }")
    assert storage.get("wf/00000000.json") == b"{}"
    with pytest.raises(StorageError, match="leaves"):
        storage.put("../outside.json", b"{}")


def test_storage_targets_are_parsed(tmp_path: Path) -> None:
    assert isinstance(open_storage(str(tmp_path)), LocalDirectory)
    assert isinstance(open_storage(tmp_path.as_uri()), LocalDirectory)
    with pytest.raises(StorageError, match="name a bucket"):
        open_storage("s3:///prefix")
    with pytest.raises(StorageError, match="directory or to s3://"):
        open_storage("ftp://host/x")


def test_keys_come_from_settings_or_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointKeyError, match="no signing key: set DWF_AUDIT_SIGNING_KEY_FILE"):
        signing_key(Settings(_env_file=None))  # type: ignore[call-arg]
    private = tmp_path / "key.pem"
    public = write_new_key(private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(CheckpointKeyError, match="never overwritten"):
        write_new_key(private)
    loaded = signing_key(Settings(audit_signing_key_file=private))
    from_pem = Settings(audit_signing_key=SecretStr(private.read_text()))
    assert checkpoints.key_id(signing_key(from_pem).public_key()) == checkpoints.key_id(loaded.public_key())
    assert checkpoints.key_id(verifying_key(public)) == checkpoints.key_id(loaded.public_key())
    raw = tmp_path / "raw.pub"
    raw.write_text(checkpoints.public_key_text(loaded.public_key()))
    assert checkpoints.key_id(verifying_key(raw)) == checkpoints.key_id(loaded.public_key())
    # verifying: the auditors' public key file first, else the signing key's public half; with neither,
    # the message asks for the public key (a new key from keygen could not verify old checkpoints)
    with pytest.raises(CheckpointKeyError, match="give --public-key FILE") as refused:
        key_to_verify(None, Settings(_env_file=None))  # type: ignore[call-arg]
    assert "keygen" not in str(refused.value)
    no_settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert checkpoints.key_id(key_to_verify(public, no_settings)) == checkpoints.key_id(loaded.public_key())
    from_settings = key_to_verify(None, Settings(audit_signing_key_file=private))
    assert checkpoints.key_id(from_settings) == checkpoints.key_id(loaded.public_key())
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(CheckpointKeyError, match="not an unencrypted PEM private key"):
        signing_key(Settings(audit_signing_key_file=bad))
    with pytest.raises(CheckpointKeyError, match="not an Ed25519 public key"):
        verifying_key(bad)
