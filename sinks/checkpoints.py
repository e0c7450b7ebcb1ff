"""Signed audit checkpoints: what a hash chain alone cannot show (a deleted row, a cut tail) made visible.

A hash chain links each row to the one before it in its run, so an altered row breaks it; but deleting the
last rows of a run, or a whole run, leaves a shorter chain that still verifies. A checkpoint closes that gap:
at a moment ``as_of`` it commits to every row of a workflow stored up to then, as an RFC 6962 Merkle
tree (sinks/merkle.py) over leaves ``run_id \\x1f seq \\x1f hash`` in (ts_us, run_id, seq) order, signed
with Ed25519 and exported to write-once storage (sinks/checkpoint_storage.py). Each checkpoint carries the
leaves added since the one before, so the sequence of exports holds every leaf ever committed, and each
tree is a prefix of the
next (the RFC's consistency property, checked by recomputing the earlier root from the later leaves).

``verify`` then proves the store is an append-only extension of every exported checkpoint and names each
committed row that is missing (deleted, or a cut tail when it was the end of its run), altered (another hash,
or content that no longer hashes to its hash),
or a row that appeared later with a time a checkpoint had already closed (backdated).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dana_workflows.sinks.audit_model import AUDIT_TABLE, AuditStore, sql_string
from dana_workflows.sinks.checkpoint_storage import CheckpointStorage
from dana_workflows.sinks.merkle import tree_hash
from dana_workflows.sinks.sql_verify import canonical_content_sql

FORMAT = "dwf-checkpoint/1"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be made, stored or read; the message says why and what to do."""


@dataclass(frozen=True)
class Leaf:
    run_id: str
    seq: int
    hash: str
    ts_us: int

    def data(self) -> bytes:
        return f"{self.run_id}\x1f{self.seq}\x1f{self.hash}".encode()


@dataclass(frozen=True)
class Checkpoint:
    workflow: str
    index: int  # 0, 1, 2, ... per workflow
    as_of_us: int  # every row with ts_us <= as_of_us is committed
    tree_size: int
    root: str  # hex MTH of all leaves up to this checkpoint
    previous_root: str  # "" for the first
    leaves: tuple[Leaf, ...]  # the leaves added since the previous checkpoint
    key_id: str  # sha256 of the raw public key, first 16 hex digits
    signature: str = ""  # hex Ed25519 signature of signed_bytes()
    format: str = FORMAT

    def signed_bytes(self) -> bytes:
        body = asdict(self)
        body.pop("signature")
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, name: str) -> Checkpoint:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise ValueError(f"format {body.get('format')!r}, expected {FORMAT}")
            body["leaves"] = tuple(Leaf(**leaf) for leaf in body["leaves"])
            return cls(**body)
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{name} is not a checkpoint ({exc})") from None


@dataclass(frozen=True)
class Finding:
    # bad_signature, broken_sequence, inconsistent_root, deleted, tail_cut, run_deleted, altered, backdated
    kind: str
    workflow: str
    message: str
    checkpoint: int | None = None
    run_id: str | None = None
    seq: int | None = None


@dataclass
class VerifyResult:
    checkpoints: int = 0
    rows_committed: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def read_leaves(
    store: AuditStore, workflow: str, after_us: int | None, up_to_us: int, database: str = "dwf"
) -> list[Leaf]:
    """The workflow's rows with after_us < ts_us <= up_to_us, in the checkpoints' leaf order."""
    where = [f"workflow = {sql_string(workflow)}", f"ts_us <= {int(up_to_us)}"]
    if after_us is not None:
        where.append(f"ts_us > {int(after_us)}")
    sql = (
        f"SELECT run_id, seq, hash, ts_us FROM {database}.{AUDIT_TABLE} WHERE {' AND '.join(where)} "
        "ORDER BY ts_us, run_id, seq"
    )
    return [Leaf(str(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in store.query(sql).rows]


def edited_rows(
    store: AuditStore, workflow: str, up_to_us: int, database: str = "dwf"
) -> set[tuple[str, int]]:
    """(run_id, seq) of the workflow's rows up to up_to_us whose content no longer hashes to the hash they
    carry: edited in place, the hash column left as it was (the leaf alone would not show it)."""
    sql = (
        f"SELECT run_id, seq FROM {database}.{AUDIT_TABLE} WHERE workflow = {sql_string(workflow)} "
        f"AND ts_us <= {int(up_to_us)} AND lower(hex(SHA256({canonical_content_sql()}))) != hash"
    )
    return {(str(r[0]), int(r[1])) for r in store.query(sql).rows}


def workflows_in(store: AuditStore, database: str = "dwf") -> list[str]:
    rows = store.query(f"SELECT DISTINCT workflow FROM {database}.{AUDIT_TABLE} ORDER BY workflow").rows
    return [str(r[0]) for r in rows]


def load_checkpoints(storage: CheckpointStorage, workflow: str) -> list[Checkpoint]:
    names = sorted(n for n in storage.names(f"{workflow}/") if n.endswith(".json"))
    return [Checkpoint.from_json(storage.get(n), n) for n in names]


def create(
    store: AuditStore,
    storage: CheckpointStorage,
    key: Ed25519PrivateKey,
    workflow: str,
    as_of_us: int,
    database: str = "dwf",
) -> Checkpoint:
    """Commit the workflow's rows up to as_of_us on top of its last exported checkpoint, sign, export."""
    previous = load_checkpoints(storage, workflow)
    public = key.public_key()
    _check_sequence(previous, public, workflow, raise_on=True)
    last = previous[-1] if previous else None
    if last is not None and as_of_us <= last.as_of_us:
        raise CheckpointError(
            f"{workflow}: checkpoint {last.index} already covers up to {last.as_of_us} us; "
            "a new one must be later"
        )
    committed = [leaf for cp in previous for leaf in cp.leaves]
    new = read_leaves(store, workflow, last.as_of_us if last else None, as_of_us, database)
    unsigned = Checkpoint(
        workflow=workflow,
        index=len(previous),
        as_of_us=as_of_us,
        tree_size=len(committed) + len(new),
        root=tree_hash([leaf.data() for leaf in [*committed, *new]]).hex(),
        previous_root=last.root if last else "",
        leaves=tuple(new),
        key_id=key_id(public),
    )
    signed = Checkpoint(**{**asdict(unsigned), "leaves": unsigned.leaves,
                           "signature": key.sign(unsigned.signed_bytes()).hex()})  # fmt: skip
    storage.put(f"{workflow}/{signed.index:08d}.json", signed.to_json())
    return signed


def verify(
    store: AuditStore,
    storage: CheckpointStorage,
    public: Ed25519PublicKey,
    workflows: Sequence[str] | None = None,
    database: str = "dwf",
) -> VerifyResult:
    """Check every exported checkpoint's signature and sequence, then the store against them."""
    result = VerifyResult()
    for workflow in workflows if workflows is not None else _exported_workflows(storage):
        checkpoints = load_checkpoints(storage, workflow)
        if not checkpoints:
            continue
        result.checkpoints += len(checkpoints)
        sequence_findings = _check_sequence(checkpoints, public, workflow, raise_on=False)
        result.findings.extend(sequence_findings)
        if sequence_findings:
            continue  # leaves from a forged or broken sequence prove nothing about the store
        committed = [(cp.index, leaf) for cp in checkpoints for leaf in cp.leaves]
        result.rows_committed += len(committed)
        stored = read_leaves(store, workflow, None, checkpoints[-1].as_of_us, database)
        edited = edited_rows(store, workflow, checkpoints[-1].as_of_us, database)
        result.findings.extend(_compare(workflow, committed, stored, checkpoints, edited))
    return result


def _exported_workflows(storage: CheckpointStorage) -> list[str]:
    return sorted({name.split("/", 1)[0] for name in storage.names("") if "/" in name})


def _check_sequence(
    checkpoints: Sequence[Checkpoint], public: Ed25519PublicKey, workflow: str, *, raise_on: bool
) -> list[Finding]:
    findings: list[Finding] = []
    leaves: list[bytes] = []
    previous_root = ""
    for i, cp in enumerate(checkpoints):
        problem = None
        try:
            public.verify(bytes.fromhex(cp.signature), cp.signed_bytes())
        except (InvalidSignature, ValueError):
            why = f"signature does not verify with key {key_id(public)} (signed by key {cp.key_id})"
            problem = Finding("bad_signature", workflow, f"checkpoint {cp.index}: {why}", cp.index)
        if problem is None and (
            cp.index != i or cp.previous_root != previous_root or cp.workflow != workflow
        ):
            problem = Finding(
                "broken_sequence",
                workflow,
                f"checkpoint {cp.index}: not the successor of checkpoint {i - 1}",
                cp.index,
            )
        leaves.extend(leaf.data() for leaf in cp.leaves)
        if problem is None and (len(leaves) != cp.tree_size or tree_hash(leaves).hex() != cp.root):
            problem = Finding(
                "inconsistent_root", workflow,
                f"checkpoint {cp.index}: its root is not the tree of the leaves exported so far", cp.index,
            )  # fmt: skip
        if problem is not None:
            if raise_on:
                raise CheckpointError(
                    f"{workflow}: {problem.message}; the exported checkpoints are not trustworthy"
                )
            findings.append(problem)
        previous_root = cp.root
    return findings


def _compare(
    workflow: str,
    committed: Sequence[tuple[int, Leaf]],
    stored: Sequence[Leaf],
    checkpoints: Sequence[Checkpoint],
    edited: set[tuple[str, int]],  # rows whose content no longer matches their hash (edited_rows)
) -> list[Finding]:
    now = {(leaf.run_id, leaf.seq): leaf for leaf in stored}
    known = {(leaf.run_id, leaf.seq) for _, leaf in committed}
    last_seq: dict[str, int] = {}
    for leaf in stored:
        last_seq[leaf.run_id] = max(last_seq.get(leaf.run_id, -1), leaf.seq)
    findings: list[Finding] = []
    gone: dict[str, list[tuple[int, Leaf]]] = {}  # runs with none of their rows left: one finding each
    for index, leaf in committed:
        if leaf.run_id not in last_seq:
            gone.setdefault(leaf.run_id, []).append((index, leaf))
    for run_id, lost in gone.items():
        first = min(index for index, _ in lost)
        what = f"run {run_id}: all {len(lost)} of its committed rows are gone (from checkpoint {first} on)"
        findings.append(Finding("run_deleted", workflow, what, first, run_id, 0))
    for index, leaf in committed:
        if leaf.run_id in gone:
            continue
        got = now.get((leaf.run_id, leaf.seq))
        where = f"run {leaf.run_id} seq {leaf.seq} (committed by checkpoint {index})"
        if got is None:
            cut = leaf.seq > last_seq.get(leaf.run_id, -1)
            kind = "tail_cut" if cut else "deleted"
            what = "the end of its run is gone (a cut tail)" if cut else "deleted"
            findings.append(Finding(kind, workflow, f"{where}: {what}", index, leaf.run_id, leaf.seq))
        elif got.hash != leaf.hash:
            what = f"{where}: hash {got.hash} now, {leaf.hash} then"
            findings.append(Finding("altered", workflow, what, index, leaf.run_id, leaf.seq))
        elif (leaf.run_id, leaf.seq) in edited:
            what = f"{where}: its content was edited and no longer matches its hash"
            findings.append(Finding("altered", workflow, what, index, leaf.run_id, leaf.seq))
    for leaf in stored:
        if (leaf.run_id, leaf.seq) not in known:
            closed = next(cp.index for cp in checkpoints if leaf.ts_us <= cp.as_of_us)
            what = (
                f"run {leaf.run_id} seq {leaf.seq}: stored after checkpoint {closed} "
                f"with a time it had closed ({leaf.ts_us} us)"
            )
            findings.append(Finding("backdated", workflow, what, closed, leaf.run_id, leaf.seq))
    return findings


def describe(checkpoint: Checkpoint) -> dict[str, Any]:
    """What the CLI prints of a checkpoint (not its leaves)."""
    return {
        "workflow": checkpoint.workflow,
        "index": checkpoint.index,
        "as_of_us": checkpoint.as_of_us,
        "tree_size": checkpoint.tree_size,
        "new_rows": len(checkpoint.leaves),
        "root": checkpoint.root,
        "key_id": checkpoint.key_id,
    }
