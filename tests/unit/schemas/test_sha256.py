"""schemas.sha256: the C extension's SHA-256 (x86 SHA extensions) where it is in use, hashlib's elsewhere.

Expected digests come from FIPS 180-2's examples and from hashlib (OpenSSL), never from the function under
test; the lengths cover every shape of the padding (one or two final blocks) and several full blocks.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from dana_workflows.schemas import sha256
from dana_workflows.schemas.codec import ACCELERATOR_BUILT

pytestmark = pytest.mark.unit

# FIPS 180-2, appendix B: "abc", the 448-bit message, and the empty message
KNOWN = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]


@pytest.mark.parametrize(("data", "expected"), KNOWN)
def test_known_answers(data: bytes, expected: str) -> None:
    assert sha256.sha256_hex(data) == expected
    assert sha256.hashlib_hex(data) == expected


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_the_extension_is_used_exactly_where_the_cpu_has_the_sha_extensions() -> None:
    flags = _cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    if ACCELERATOR_BUILT:
        from dana_workflows.schemas import _avrofast

        if not hasattr(_avrofast, "SHA_NI_BUILT"):
            pytest.skip(f"{_avrofast.__file__} predates sha256_hex: rebuild it (pip install -e .)")
    has = {"sha_ni", "ssse3", "sse4_1"} <= flags and ACCELERATOR_BUILT
    assert (sha256.NATIVE_HEX is not None) == has
    assert (sha256.sha256_hex is not sha256.hashlib_hex) == has


def _extension_hex():  # type: ignore[no-untyped-def]
    from dana_workflows.schemas import _avrofast

    found = getattr(_avrofast, "sha256_hex", None)
    if found is None:
        pytest.skip("the C extension offers no sha256_hex on this CPU")
    return found


def test_extension_equals_hashlib_at_every_length_around_the_blocks() -> None:
    native = _extension_hex()
    rng = random.Random(12)
    lengths = [*range(0, 300), 447, 448, 449, 511, 512, 513, 4096, 65_537]
    for n in lengths:
        for _ in range(3):
            data = rng.randbytes(n)
            assert native(data) == hashlib.sha256(data).hexdigest(), n
    data = os.urandom(100_000)
    assert native(data) == hashlib.sha256(data).hexdigest()


def test_extension_takes_exact_bytes_only() -> None:
    native = _extension_hex()
    for wrong in ("abc", bytearray(b"abc"), memoryview(b"abc"), None):
        with pytest.raises(TypeError, match="sha256_hex takes bytes"):
            native(wrong)

    class Sub(bytes):
        pass

    with pytest.raises(TypeError, match="sha256_hex takes bytes"):
        native(Sub(b"abc"))


def test_choose_keeps_a_candidate_only_when_it_agrees_with_hashlib() -> None:
    def correct(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def wrong_from_56(data: bytes) -> str:  # right on short inputs only: a padding bug
        return correct(data) if len(data) < 56 else "0" * 64

    def wrong_at_64(data: bytes) -> str:  # right everywhere but on a whole block
        return "0" * 64 if len(data) == 64 else correct(data)

    def raises(data: bytes) -> str:
        raise TypeError("broken build")

    assert sha256.choose(correct) is correct
    assert sha256.choose(None) is sha256.hashlib_hex
    assert sha256.choose(wrong_from_56) is sha256.hashlib_hex
    assert sha256.choose(wrong_at_64) is sha256.hashlib_hex
    assert sha256.choose(raises) is sha256.hashlib_hex


def test_without_the_extension_hashlib_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import dana_workflows.schemas as package

    monkeypatch.setitem(sys.modules, "dana_workflows.schemas._avrofast", None)  # import raises ImportError
    monkeypatch.delattr(package, "_avrofast", raising=False)  # else `from ... import` finds it there
    assert sha256._native() is None
    assert sha256.choose(sha256._native()) is sha256.hashlib_hex
