"""Merkle tree hashes as RFC 6962 (Certificate Transparency) defines them, over a list of leaves.

MTH({}) = SHA-256(""); MTH({d0}) = SHA-256(0x00 || d0);
MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of two smaller than n. The
0x00 / 0x01 prefixes keep a leaf from passing for an inner
node. Written here (about 30 lines) rather than taken from a library: none of the kept ones offers RFC 6962's
exact split, and the audit's checkpoints must be recomputable from the RFC alone (docs/audit.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaves (their data, not yet hashed)."""
    return _subtree([leaf_hash(d) for d in leaves])


def _subtree(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_subtree(hashes[:k]), _subtree(hashes[k:]))
