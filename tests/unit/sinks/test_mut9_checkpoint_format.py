"""Audit checkpoints' formats (sinks/checkpoints.py) with known answers: the key id and text of RFC 8032's
first Ed25519 test key, a leaf's bytes, the signed bytes (canonical JSON without the signature), the file
form and its refusals, what the CLI prints, and the SQL that reads the leaves (ts window, leaf order).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dana_workflows.sinks.audit_model import AUDIT_TABLE, QueryResult
from dana_workflows.sinks.checkpoints import (
    Checkpoint,
    CheckpointError,
    Leaf,
    describe,
    key_id,
    public_key_text,
    read_leaves,
)

pytestmark = pytest.mark.unit

# RFC 8032 section 7.1, TEST 1
SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_the_key_id_and_text_of_a_known_key() -> None:
    public = Ed25519PrivateKey.from_private_bytes(SECRET).public_key()
    assert key_id(public) == hashlib.sha256(PUBLIC).hexdigest()[:16]
    assert (
        public_key_text(public)
        == base64.b64encode(PUBLIC).decode()
        == "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )


def _cp(**changes: Any) -> Checkpoint:
    fields: dict[str, Any] = {
        "workflow": "claims",
        "index": 1,
        "as_of_us": 20,
        "tree_size": 3,
        "root": "ab",
        "previous_root": "cd",
        "leaves": (Leaf("r", 2, "h2", 15),),
        "key_id": "k",
        "signature": "ff",
    }
    return Checkpoint(**{**fields, **changes})


def test_a_leaf_is_run_seq_and_hash_joined_by_the_unit_separator() -> None:
    assert Leaf("run-1", 7, "beef", 99).data() == b"run-1\x1f7\x1fbeef"


def test_signed_bytes_are_compact_sorted_json_without_the_signature() -> None:
    assert _cp().signed_bytes() == (
        b'{"as_of_us":20,"format":"dwf-checkpoint/1","index":1,"key_id":"k",'
        b'"leaves":[{"hash":"h2","run_id":"r","seq":2,"ts_us":15}],"previous_root":"cd","root":"ab",'
        b'"tree_size":3,"workflow":"claims"}'
    )


def test_the_file_form_reads_back_and_refuses_other_files() -> None:
    cp = _cp()
    assert json.loads(cp.to_json())["signature"] == "ff"
    assert Checkpoint.from_json(cp.to_json(), "claims/00000001.json") == cp
    other = json.dumps({**json.loads(cp.to_json()), "format": "dwf-checkpoint/0"}).encode()
    with pytest.raises(CheckpointError) as err:
        Checkpoint.from_json(other, "claims/x.json")
    assert (
        str(err.value)
        == "claims/x.json is not a checkpoint (format 'dwf-checkpoint/0', expected dwf-checkpoint/1)"
    )
    with pytest.raises(CheckpointError, match=r"^claims/y.json is not a checkpoint \("):
        Checkpoint.from_json(b"not json", "claims/y.json")
    missing = json.loads(cp.to_json())
    del missing["root"]
    with pytest.raises(CheckpointError, match=r"^claims/z.json is not a checkpoint \("):
        Checkpoint.from_json(json.dumps(missing).encode(), "claims/z.json")


def test_what_the_cli_prints_of_a_checkpoint() -> None:
    assert describe(_cp(leaves=(Leaf("r", 0, "a", 1), Leaf("r", 1, "b", 2)))) == {
        "workflow": "claims",
        "index": 1,
        "as_of_us": 20,
        "tree_size": 3,
        "new_rows": 2,
        "root": "ab",
        "key_id": "k",
    }


class Store:
    def __init__(self) -> None:
        self.sql: list[str] = []

    def query(self, sql: str) -> QueryResult:
        self.sql.append(sql)
        return QueryResult(columns=["run_id", "seq", "hash", "ts_us"], rows=[("r", "3", "h", "17")])


def test_leaves_are_read_in_ts_run_seq_order_within_the_window() -> None:
    store = Store()
    assert read_leaves(store, "cl'aims", 10, 20, "audit") == [Leaf("r", 3, "h", 17)]  # type: ignore[arg-type]
    assert store.sql[0] == (
        f"SELECT run_id, seq, hash, ts_us FROM audit.{AUDIT_TABLE} "
        "WHERE workflow = 'cl\\'aims' AND ts_us <= 20 AND ts_us > 10 ORDER BY ts_us, run_id, seq"
    )
    read_leaves(store, "w", None, 5)  # type: ignore[arg-type]
    assert store.sql[1] == (
        f"SELECT run_id, seq, hash, ts_us FROM dwf.{AUDIT_TABLE} WHERE workflow = 'w' AND ts_us <= 5 "
        "ORDER BY ts_us, run_id, seq"
    )
