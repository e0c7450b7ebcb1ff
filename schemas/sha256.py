"""SHA-256 hex digests of bytes, for the audit rows' hash chain (~7 digests an event).

`sha256_hex(data)` is `hashlib.sha256(data).hexdigest()`. Where the optional C extension schemas/_sha256ni.c
(module dana_workflows.schemas._sha256ni) is built and the CPU has the x86 SHA extensions, it is the
extension's `sha256_hex`: ~0.3 us for a ~200-byte row against ~0.7-0.9 us through hashlib, most of which is
OpenSSL 3's per-call context set-up and the copy `hexdigest` makes of it, not the hashing
(docs/performance.md, "Session 12: shared processing"). Everywhere else (no extension, another CPU or
architecture, valgrind) it is hashlib's. The extension's function is checked against hashlib when this module
loads, on the lengths around the block and padding boundaries, and is not used if any differs; that refusal is
logged once as a warning, since it means a broken build.

DWF_AVRO_PURE does not turn this off: it selects the Avro codec's generated Python code (schemas/codec.py), a
codec switch, not "no C at all" (hashlib is C too); this extension is a separate module with its own check.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

HexDigest = Callable[[bytes], str]

log = logging.getLogger(__name__)
_MODULE = "dana_workflows.schemas._sha256ni"

# lengths at which the padding changes shape (55/56: one or two final blocks; 63/64/65: a block's edge)
_CHECK_LENGTHS = (0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 200, 1000)


def hashlib_hex(data: bytes) -> str:
    """The reference: hashlib's (OpenSSL's) SHA-256."""
    return hashlib.sha256(data).hexdigest()


def choose(candidate: HexDigest | None) -> HexDigest:
    """`candidate` where it gives hashlib's digest on every checked length, else hashlib's own."""
    if candidate is None:
        return hashlib_hex
    for n in _CHECK_LENGTHS:
        data = bytes((i * 131 + n) % 256 for i in range(n))
        try:
            if candidate(data) != hashlib_hex(data):
                return _refused("sha256_hex", f"a wrong digest of {n} bytes", _HEX_FALLBACK)
        except Exception as exc:  # a broken build must not stop the audit: hashlib is always right
            return _refused("sha256_hex", f"{type(exc).__name__}: {exc}", _HEX_FALLBACK)
    return candidate


_HEX_FALLBACK = "the audit rows are hashed by hashlib.sha256 instead"
_JOINED_FALLBACK = "the audit rows' joined text is written and hashed by sha256_hex instead"


def _refused(name: str, why: str, fallback: str) -> HexDigest:
    # A refusal means a broken build, not a missing one (that is silent: the extension is optional). It is
    # logged once: choose() and choose_joined() each run once, when this module loads.
    log.warning(
        "%s.%s failed its check against hashlib (%s): %s; rebuild it with pip install -e .",
        _MODULE,
        name,
        why,
        fallback,
    )
    return hashlib_hex


def _extension_function(name: str) -> Any:
    """The extension's function ``name``, or None: not built (optional = true in pyproject.toml: hashlib,
    nothing to warn about), or built without it (its functions are offered only with the SHA extensions)."""
    try:
        from dana_workflows.schemas import _sha256ni
    except ImportError:
        return None
    return getattr(_sha256ni, name, None)


def _native() -> HexDigest | None:
    found: HexDigest | None = _extension_function("sha256_hex")
    return found


sha256_hex: HexDigest = choose(_native())
# The extension's function when it is in use, else None: a hot caller can call hashlib itself on the
# fallback path, one Python frame less than through hashlib_hex.
NATIVE_HEX: HexDigest | None = None if sha256_hex is hashlib_hex else sha256_hex

JoinedHex = Callable[..., "str | None"]

# parts of every kind the extension hashes itself (str of 1-4 UTF-8 bytes a character, ints to the int64
# bounds, the empty str), long enough to cross blocks, and one it leaves to the caller (a bool)
_JOINED_CHECKS: tuple[tuple[object, ...], ...] = (
    (),
    ("",),
    ("claims", 3, "a" * 70, -(2**63), 2**63 - 1, 0, "ü€😀", "x\x00y", ""),
    tuple(range(-40, 40)),
)


def joined_reference(*parts: object) -> str:
    """The reference for joined_hex: the parts' text joined by \x1f, UTF-8, hashlib's SHA-256."""
    return hashlib_hex("\x1f".join(f"{p}" for p in parts).encode())


def choose_joined(candidate: JoinedHex | None) -> JoinedHex | None:
    """`candidate` where it gives the reference's digest on every check and None for a bool, else None."""
    if candidate is None:
        return None
    try:
        if candidate(True) is not None:
            _refused("joined_sha256_hex", "a digest for a bool", _JOINED_FALLBACK)
            return None
        for parts in _JOINED_CHECKS:
            if candidate(*parts) != joined_reference(*parts):
                _refused("joined_sha256_hex", f"a wrong digest of {len(parts)} parts", _JOINED_FALLBACK)
                return None
    except Exception as exc:  # a broken build must not stop the audit
        _refused("joined_sha256_hex", f"{type(exc).__name__}: {exc}", _JOINED_FALLBACK)
        return None
    return candidate


def _joined() -> JoinedHex | None:
    found: JoinedHex | None = _extension_function("joined_sha256_hex")
    return found


# joined_hex(*parts): the hex SHA-256 of "\x1f".join(f"{p}" for p in parts).encode(), or None for a part that
# is not an exact str or int (or not valid UTF-8); the whole function None without the extension's. It
# hashes an audit row's columns without writing their joined text (processors/audit_trail.py).
JOINED_HEX: JoinedHex | None = choose_joined(_joined())
