"""schemas.sha256: the C extension's SHA-256 (schemas/_sha256ni.c, x86 SHA extensions) where it is in use,
hashlib's elsewhere.

Expected digests come from FIPS 180-2's examples and from hashlib (OpenSSL), never from the function under
test; the lengths cover every shape of the padding (one or two final blocks) and several full blocks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

import dana_workflows.schemas as package
from dana_workflows.schemas import sha256

pytestmark = pytest.mark.unit

MODULE = "dana_workflows.schemas._sha256ni"
NOT_BUILT = "the C extension schemas/_sha256ni.c is not built"


def _extension():  # type: ignore[no-untyped-def]
    # optional = true in pyproject.toml: a build without it skips the extension's own tests
    return pytest.importorskip(MODULE, reason=NOT_BUILT)


def _without_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, MODULE, None)  # import raises ImportError
    monkeypatch.delattr(package, "_sha256ni", raising=False)  # else `from ... import` finds it there


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
    try:
        from dana_workflows.schemas import _sha256ni
    except ImportError:
        built = False
    else:
        built = getattr(_sha256ni, "SHA_NI_BUILT", 0) == 1  # 0 on a build for another architecture
    has = {"sha_ni", "ssse3", "sse4_1"} <= flags and built
    assert (sha256.NATIVE_HEX is not None) == has
    assert (sha256.sha256_hex is not sha256.hashlib_hex) == has


def _extension_hex():  # type: ignore[no-untyped-def]
    found = getattr(_extension(), "sha256_hex", None)
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
    _without_the_extension(monkeypatch)
    assert sha256._native() is None
    assert sha256.choose(sha256._native()) is sha256.hashlib_hex


def _extension_joined():  # type: ignore[no-untyped-def]
    found = getattr(_extension(), "joined_sha256_hex", None)
    if found is None:
        pytest.skip("the C extension offers no joined_sha256_hex on this CPU")
    return found


def test_joined_equals_the_joined_text_hashed_by_hashlib() -> None:
    joined = _extension_joined()
    rng = random.Random(5)
    alphabet = [*range(32, 127), 0, 9, 31, 0xE9, 0x20AC, 0xFFFD, 0x1F600, 0x10FFFF]
    for _ in range(2000):
        parts: list[Any] = []
        for _ in range(rng.randint(0, 16)):
            if rng.random() < 0.5:
                parts.append("".join(chr(rng.choice(alphabet)) for _ in range(rng.randint(0, 140))))
            else:
                parts.append(
                    rng.choice([0, 1, -1, 9, 10, -10, 2**63 - 1, -(2**63), rng.randint(-(10**18), 10**18)])
                )
        # the expected text: what transition's f-string writes for str and int columns, joined by \x1f
        expected = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
        assert joined(*parts) == expected, parts


class _Text(str):
    def __format__(self, spec: str) -> str:
        return "formatted"


@pytest.mark.parametrize(
    "odd",
    [True, False, 1.5, None, 2**63, -(2**63) - 1, "\ud800", b"x", _Text("a")],
)
def test_joined_leaves_other_values_to_the_caller(odd: Any) -> None:
    # a bool's text is True, a float's its repr, a str subclass may format itself, a lone surrogate is no
    # UTF-8, an int past 64 bits is not read here: each is the f-string's to write (or refuse)
    joined = _extension_joined()
    assert joined("a", odd, 3) is None
    assert joined("a", 3) is not None


def test_choose_joined_keeps_a_candidate_only_when_it_agrees() -> None:
    def correct(*parts: Any) -> str | None:
        if any(type(p) not in (str, int) for p in parts):
            return None
        return sha256.joined_reference(*parts)

    def no_separator(*parts: Any) -> str | None:
        return (
            None
            if any(type(p) is bool for p in parts)
            else sha256.hashlib_hex("".join(map(str, parts)).encode())
        )

    def takes_bools(*parts: Any) -> str | None:
        return sha256.joined_reference(*parts)

    def raises(*parts: Any) -> str | None:
        raise TypeError("broken build")

    assert sha256.choose_joined(correct) is correct
    assert sha256.choose_joined(None) is None
    assert sha256.choose_joined(no_separator) is None
    assert sha256.choose_joined(takes_bools) is None
    assert sha256.choose_joined(raises) is None


def test_without_the_extension_there_is_no_joined_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_the_extension(monkeypatch)
    assert sha256._joined() is None


def test_the_extension_tests_skip_on_a_build_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # the extension is optional: its tests must skip, saying why, not fail with ImportError
    _without_the_extension(monkeypatch)
    for helper in (_extension_hex, _extension_joined):
        with pytest.raises(pytest.skip.Exception, match=r"schemas/_sha256ni\.c is not built"):
            helper()


def test_the_avro_codec_extension_does_no_hashing() -> None:
    # one job a module: the SHA-256 lives in _sha256ni, the codec's extension only runs plans
    avrofast = pytest.importorskip(
        "dana_workflows.schemas._avrofast", reason="the codec extension is not built"
    )
    assert not any("sha" in name.lower() for name in dir(avrofast))


def _sha_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == sha256.__name__ and r.levelno == logging.WARNING
    ]


def test_a_refused_extension_is_logged_once_naming_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    def wrong(data: bytes) -> str:
        return "0" * 64

    def raises(*parts: Any) -> str | None:
        raise TypeError("broken build")

    caplog.set_level(logging.WARNING, logger=sha256.__name__)
    assert sha256.choose(wrong) is sha256.hashlib_hex
    (message,) = _sha_warnings(caplog)
    assert "_sha256ni.sha256_hex" in message and "wrong digest of 0 bytes" in message
    assert "hashed by hashlib.sha256 instead" in message

    caplog.clear()
    assert sha256.choose_joined(raises) is None
    (message,) = _sha_warnings(caplog)
    assert "_sha256ni.joined_sha256_hex" in message and "TypeError: broken build" in message
    assert "written and hashed by sha256_hex instead" in message


def test_an_accepted_or_absent_extension_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=sha256.__name__)
    assert sha256.choose(sha256.hashlib_hex) is sha256.hashlib_hex
    assert sha256.choose(None) is sha256.hashlib_hex
    assert sha256.choose_joined(None) is None
    assert sha256.choose_joined(
        lambda *p: None if any(type(x) is bool for x in p) else sha256.joined_reference(*p)
    )
    assert _sha_warnings(caplog) == []
