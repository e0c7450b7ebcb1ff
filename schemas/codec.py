"""A compiled Avro binary codec for the envelope hot path.

fastavro walks the schema on every call (~15 µs per envelope each way); the local runtime crosses
Avro ~5 times per event, so that walk alone capped the engine near 3,000 events/s. Here a parsed
schema is compiled once into Python source specialised to it (one flat function to encode, one to
decode, nested records and arrays inlined) and exec'd; callers cache the result per schema id
(EnvelopeSerde does). bench/avro_codec.py measures it against fastavro; the two exceptions below
(validation, strict decoding) cost little because the checks sit on slow paths.

Contract, so the codec can replace fastavro's schemaless writer/reader for supported schemas:

* encode writes byte-for-byte what ``fastavro.schemaless_writer`` writes for every record that
  ``fastavro.validation.validate`` accepts; anything it rejects raises TypeError/ValueError naming the
  field ("must be double on field amount"), where fastavro's writer would sometimes coerce silently
  (``float("1.5")``, truthiness for booleans, truncating 1.5 into a long, ints past 32 bits in an int).
* missing fields take their default, or None for a nullable union; extra keys are ignored.
* decode returns what ``fastavro.schemaless_reader`` returns, except that timestamp-micros stays a
  plain int of microseconds; truncated or malformed input (bad union index, boolean byte > 1,
  over-long varint, a length past the end, invalid UTF-8, trailing bytes) raises instead of returning
  made-up data.

Schemas using anything else (enum, fixed, other logical types, recursive records, unions mixing
complex types beyond ``["null", T]``) raise UnsupportedSchemaError: use fastavro for those.

The same schema walk also yields a plan for the optional C executor (schemas/_avrofast.c, built by
``pip install -e .`` where a compiler exists): ~9x faster encoding and ~4.5x faster decoding, with the
same bytes, values and error messages, because it hands every non-builtin value to the helpers below.
compile_schema uses it when it imports and DWF_AVRO_PURE is not set; otherwise the generated code runs.
Its decode errors differ only where the generated code fails by accident of indexing: a truncated
datum is EOFError("truncated Avro data ...") and a boolean byte > 1 a ValueError, not IndexError.
"""

from __future__ import annotations

import array
import math
import os
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

__all__ = ["AvroCodec", "UnsupportedSchemaError", "compile_schema"]

_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
_SUPPORTED_LOGICAL = {"timestamp-micros"}
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_MAX_ZERO_SIZE_ITEMS = 1 << 20  # cap for blocks of items that take no bytes (null, empty records)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_D = struct.Struct("<d")
_F = struct.Struct("<f")
_P2 = struct.Struct("2B").pack
_P8 = struct.Struct("8B").pack
_UQ = struct.Struct("<Q").unpack_from


class UnsupportedSchemaError(ValueError):
    """The schema uses a construct the compiler does not handle; fall back to fastavro."""


# ---------------------------------------------------------------- runtime helpers (slow paths)
# The generated code inlines the common case (exact builtin type, one-byte varint) and calls these
# for everything else, so each helper is where the validation rules and error messages live.


def _wvar(buf: bytearray, n: int, field: str, kind: str) -> None:
    """Write an already zig-zagged value (>= 128) as a varint; n outside 64 bits means the value was.

    Two fast paths: 2 bytes (lengths, small ints) and 8 bytes (timestamps in micros), each in one
    struct call over 28-bit halves, which stay single-digit ints in CPython.
    """
    if n < 0x4000:
        buf += _P2((n & 0x7F) | 0x80, n >> 7)
        return
    if n >> 64 or n < 0:
        raise ValueError(f"value out of range for {kind} on field {field}")
    if n >> 49 and not n >> 56:
        lo = n & 0xFFFFFFF
        hi = n >> 28
        buf += _P8(
            (lo & 0x7F) | 0x80,
            (lo >> 7 & 0x7F) | 0x80,
            (lo >> 14 & 0x7F) | 0x80,
            (lo >> 21) | 0x80,
            (hi & 0x7F) | 0x80,
            (hi >> 7 & 0x7F) | 0x80,
            (hi >> 14 & 0x7F) | 0x80,
            hi >> 21,
        )
        return
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _varint(n: int) -> bytearray:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return out


def _wlen(buf: bytearray, n: int) -> None:
    buf += _varint(n << 1)


def _wvar32(buf: bytearray, n: int, field: str) -> None:
    if n >> 32 or n < 0:
        raise ValueError(f"value out of range for int on field {field}")
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _is_integral(v: object) -> bool:
    import numbers

    return isinstance(v, int | numbers.Integral) and not isinstance(v, bool)


def _need_long(v: object, field: str) -> int:
    if _is_integral(v):
        return int(v)  # type: ignore[call-overload,no-any-return]
    raise TypeError(f"must be long (got {type(v).__name__}) on field {field}")


def _need_int(v: object, field: str) -> int:
    if _is_integral(v):
        return int(v)  # type: ignore[call-overload,no-any-return]
    raise TypeError(f"must be int (got {type(v).__name__}) on field {field}")


def _need_ts(v: object, field: str) -> int:
    """timestamp-micros accepts micros as int, or a datetime (naive = local time, as fastavro)."""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            delta = v - _EPOCH
            return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return int(time.mktime(v.timetuple())) * 1_000_000 + v.microsecond
    return _need_long(v, field)


def _need_double(v: object, field: str) -> float:
    import numbers

    if isinstance(v, int | float | numbers.Real) and not isinstance(v, bool):
        try:
            return float(v)
        except OverflowError:
            raise ValueError(f"value out of range for double on field {field}") from None
    raise TypeError(f"must be double (got {type(v).__name__}) on field {field}")


def _pack_float(v: object, field: str) -> bytes:
    """float32 the way a C cast does it (fastavro): overflow becomes +-inf rather than an error."""
    x = v if type(v) is float else _need_double(v, field).__float__()
    try:
        return _F.pack(x)
    except OverflowError:
        return _F.pack(math.copysign(math.inf, x))


def _need_bool(v: object, field: str) -> NoReturn:
    raise TypeError(f"must be boolean (got {type(v).__name__}) on field {field}")


def _need_bytes(v: object, field: str) -> bytes:
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    raise TypeError(f"must be bytes (got {type(v).__name__}) on field {field}")


def _need_seq(v: object, field: str) -> Sequence[Any]:
    if isinstance(v, Sequence | array.array) and not isinstance(v, str):
        return v
    raise TypeError(f"must be array (got {type(v).__name__}) on field {field}")


def _need_map(v: object, field: str) -> Mapping[Any, Any]:
    if isinstance(v, Mapping):
        return v
    raise TypeError(f"must be map (got {type(v).__name__}) on field {field}")


def _need_record(v: object, field: str) -> Mapping[str, Any]:
    if isinstance(v, Mapping):
        return v
    raise TypeError(f"must be record (got {type(v).__name__}) on field {field}")


def _str_error(v: object, field: str, exc: Exception) -> Exception:
    if isinstance(exc, UnicodeEncodeError):
        return ValueError(f"string is not valid UTF-8 ({exc.reason}) on field {field}")
    return TypeError(f"must be string (got {type(v).__name__}) on field {field}")


def _need_str(v: Any, field: str) -> bytes:
    """What the generated code does for a string (the C executor calls it for all but exact str)."""
    try:
        out: bytes = v.encode()
    except (AttributeError, UnicodeEncodeError) as exc:
        raise _str_error(v, field, exc) from None
    return out


def _no_default(field: str) -> ValueError:
    return ValueError(f"no value and no default for {field}")


def _valid_for(v: object, kind: str) -> bool:
    """fastavro.validation's rule for one primitive union branch."""
    if kind == "null":
        return v is None
    if kind == "boolean":
        return isinstance(v, bool)
    if kind == "string":
        return isinstance(v, str)
    if kind == "bytes":
        return isinstance(v, bytes | bytearray)
    if kind in ("int", "long"):
        lo, hi = (_INT_MIN, _INT_MAX) if kind == "int" else (_LONG_MIN, _LONG_MAX)
        return _is_integral(v) and lo <= v <= hi  # type: ignore[operator]
    if kind in ("float", "double"):
        import numbers

        return isinstance(v, int | float | numbers.Real) and not isinstance(v, bool)
    if kind == "timestamp-micros":
        return isinstance(v, datetime) or _valid_for(v, "long")
    return False


def _union_picker(kinds: list[str], schema: Any) -> Callable[[object, str], int]:
    """First branch whose validator accepts the value; 'double' wins over an earlier 'float'."""

    def pick(v: object, field: str) -> int:
        best = -1
        for i, kind in enumerate(kinds):
            if best >= 0:  # saw 'float': only a later 'double' can beat it
                if kind == "double":
                    return i
                continue
            if _valid_for(v, kind):
                if kind != "float":
                    return i
                best = i
        if best >= 0:
            return best
        raise ValueError(f"{v!r} (type {type(v)}) do not match {schema} on field {field}")

    return pick


def _rraw(d: bytes, p: int, b: int) -> tuple[int, int]:
    """Rest of a multi-byte varint whose first byte b was read (p is past it): (raw value, pos)."""
    n = b & 0x7F
    shift = 7
    while True:
        b = d[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError(f"varint longer than 10 bytes at offset {p}")
    if n >> 64:
        raise ValueError(f"varint out of 64-bit range at offset {p}")
    return n, p


def _rvar_at(d: bytes, p: int) -> tuple[int, int]:
    """A long at p that did not fit the one-byte fast path; (value, end).

    8-byte varints (timestamps in micros) are unpacked in one struct call and compacted from
    two 32-bit halves, instead of a Python loop per byte.
    """
    b = d[p]
    if b < 0x80:
        return (b >> 1) ^ -(b & 1), p + 1
    try:
        w = _UQ(d, p)[0]
    except struct.error:
        w = 0
    if w & 0x8080808080808080 == 0x0080808080808080:
        lo = w & 0xFFFFFFFF
        hi = w >> 32
        n = ((lo & 0x7F) | (lo >> 1 & 0x3F80) | (lo >> 2 & 0x1FC000) | (lo >> 3 & 0xFE00000)) | (
            (hi & 0x7F) | (hi >> 1 & 0x3F80) | (hi >> 2 & 0x1FC000) | (hi >> 3 & 0xFE00000)
        ) << 28
        return (n >> 1) ^ -(n & 1), p + 8
    n, p = _rraw(d, p + 1, b)
    return (n >> 1) ^ -(n & 1), p


def _rvar32_at(d: bytes, p: int) -> tuple[int, int]:
    v, p = _rvar_at(d, p)
    if not _INT_MIN <= v <= _INT_MAX:
        raise ValueError(f"int out of 32-bit range at offset {p}")
    return v, p


def _rspan(d: bytes, p: int) -> tuple[int, int]:
    """(start, end) of a string/bytes at p whose length is multi-byte or negative."""
    n, p = _rvar_at(d, p)
    if n < 0:
        raise ValueError(f"negative length {n} at offset {p}")
    if p + n > len(d):
        raise _past_end(n, p, len(d))
    return p, p + n


def _rstr_at(d: bytes, p: int) -> tuple[str, int]:
    b = d[p]
    if b & 0x80 and not b & 1:  # a 2-byte length (64..8191 bytes): the common slow case
        c = d[p + 1]
        if c < 0x80:
            end = p + 2 + ((b & 0x7F | c << 7) >> 1)
            if end > len(d):
                raise _past_end(end - p - 2, p + 2, len(d))
            return d[p + 2 : end].decode(), end
    start, end = _rspan(d, p)
    return d[start:end].decode(), end


def _rbytes_at(d: bytes, p: int) -> tuple[bytes, int]:
    start, end = _rspan(d, p)
    return d[start:end], end


def _rneg(d: bytes, p: int, n: int) -> tuple[int, int]:
    """A negative block count is followed by the block's byte size, which we skip."""
    size, p = _rvar_at(d, p)
    if size < 0 or p + size > len(d):
        raise ValueError(f"bad block size {size} at offset {p}")
    return -n, p


def _past_end(n: int, p: int, size: int) -> EOFError:
    return EOFError(f"length {n} at offset {p} runs past the end ({size} bytes)")


def _bad_index(i: int, p: int, n: int) -> ValueError:
    return ValueError(f"union index {i} at offset {p} is not in 0..{n - 1}")


def _bad_count(n: int, p: int) -> ValueError:
    return ValueError(f"block count {n} at offset {p} is larger than the bytes left")


_RUNTIME: dict[str, Any] = {
    name: obj
    for name, obj in globals().items()
    if name.startswith(("_w", "_need", "_pack", "_bad", "_no_", "_r", "_past", "_str_error"))
}
# _SL: first byte of a string length -> length + 1 (the bytes the string spans past its start) when
# the length fits one byte; otherwise a large negative number, which sends the code to _rstr_at.
_SL = tuple((b >> 1) + 1 if not b & 0x81 else -(1 << 62) for b in range(256))
# _ZZ: a one-byte varint -> its zig-zag value; None sends the code to _rvar_at.
_ZZ = tuple((b >> 1) ^ -(b & 1) if b < 0x80 else None for b in range(256))
# _LP: string length -> its varint prefix, for lengths up to 4095 (longer ones: IndexError -> _wlen).
_LP = tuple(bytes(_varint(n << 1)) for n in range(4096))
_RUNTIME.update(
    _BOOL=(False, True), _SL=_SL, _ZZ=_ZZ, _LP=_LP, _pd=_D.pack, _ud=_D.unpack_from, _uf=_F.unpack_from
)


# ---------------------------------------------------------------- schema walking


class _Names:
    """Named types seen so far (full name -> schema), with Avro's namespace rules."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    @staticmethod
    def fullname(schema: dict[str, Any], ns: str) -> tuple[str, str]:
        name = str(schema["name"])
        if "." in name:
            return name, name.rsplit(".", 1)[0]
        own = schema.get("namespace", ns) or ""
        return (f"{own}.{name}" if own else name), own

    def resolve(self, ref: str, ns: str) -> dict[str, Any]:
        for candidate in ((f"{ns}.{ref}" if ns and "." not in ref else ref), ref):
            if candidate in self.types:
                return self.types[candidate]
        raise UnsupportedSchemaError(f"unknown type name {ref!r}")


def _kind(schema: Any, names: _Names, ns: str) -> tuple[str, Any, str]:
    """(kind, resolved schema, namespace) where kind is a primitive, 'timestamp-micros' or complex."""
    if isinstance(schema, list):
        return "union", schema, ns
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return schema, schema, ns
        resolved = names.resolve(schema, ns)
        return "ref", resolved, ns
    if not isinstance(schema, dict):
        raise UnsupportedSchemaError(f"not an Avro schema: {schema!r}")
    t = schema.get("type")
    logical = schema.get("logicalType")
    if logical is not None:
        if logical in _SUPPORTED_LOGICAL and t == "long":
            return logical, schema, ns
        if logical not in _SUPPORTED_LOGICAL:
            raise UnsupportedSchemaError(f"logicalType {logical!r} is not compiled")
    if isinstance(t, list | dict):
        return _kind(t, names, ns)
    if t in _PRIMITIVES:
        return t, schema, ns
    if t in ("record", "error", "array", "map"):
        return ("record" if t == "error" else t), schema, ns
    if isinstance(t, str) and t not in ("enum", "fixed"):
        return "ref", names.resolve(t, ns), ns
    raise UnsupportedSchemaError(f"type {t!r} is not compiled")


_SCALAR_KINDS = {"null", "boolean", "int", "long", "float", "double", "bytes", "string", "timestamp-micros"}


class _Source:
    """Indented lines plus the constants the generated code refers to by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self._n = 0

    def var(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def const(self, value: Any, prefix: str = "_c") -> str:
        name = self.var(prefix)
        self.consts[name] = value
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


class _Compiler:
    def __init__(self) -> None:
        self.names = _Names()
        self.enc = _Source()
        self.dec = _Source()
        self._open: set[str] = set()  # records being compiled: a reference back means recursion
        self.pos: tuple[str, int] = ("p", 0)

    # ---------- encode: code writing the value in local `x` into `buf` (append bound to `ap`)

    def _enc_varint(self, i: int, n: str, field: str, kind: str) -> None:
        """Write the zig-zagged non-negative value in variable n."""
        e = self.enc
        e.add(i, f"if {n} < 128: ap({n})")
        if kind == "int":
            e.add(i, f"else: _wvar32(buf, {n}, {field!r})")
        else:
            e.add(i, f"else: _wvar(buf, {n}, {field!r}, {kind!r})")

    def _enc_prefixed(self, i: int, s: str) -> None:
        """Length prefix from the _LP table (zero-cost try: the except only runs for long values)."""
        e = self.enc
        e.add(i, f"try: buf += _LP[len({s})]")
        e.add(i, f"except IndexError: _wlen(buf, len({s}))")
        e.add(i, f"buf += {s}")

    def _enc_string(self, i: int, fetch: str, field: str, missing: str | None) -> None:
        """A string from the expression fetch; missing: the raise for a KeyError (required field)."""
        e = self.enc
        b = e.var("s")
        f = repr(field)
        # No type check on the fast path: only str has an .encode() giving bytes here; anything
        # else fails with AttributeError, turned into the field-naming TypeError.
        e.add(i, f"try: {b} = {fetch}.encode()")
        if missing:
            e.add(i, f"except KeyError: {missing}")
        e.add(i, "except (AttributeError, UnicodeEncodeError) as exc:")
        e.add(i + 1, f"raise _str_error({fetch}, {f}, exc) from None")
        self._enc_prefixed(i, b)

    def encode(self, schema: Any, x: str, i: int, field: str, ns: str) -> None:
        e = self.enc
        kind, s, ns = _kind(schema, self.names, ns)
        f = repr(field)
        if kind == "null":
            e.add(i, f"if {x} is not None: raise TypeError('must be null on field ' + {f})")
        elif kind == "boolean":
            e.add(i, f"if {x} is True: ap(1)")
            e.add(i, f"elif {x} is False: ap(0)")
            e.add(i, f"else: _need_bool({x}, {f})")
        elif kind in ("int", "long", "timestamp-micros"):
            need = {"int": "_need_int", "long": "_need_long", "timestamp-micros": "_need_ts"}[kind]
            e.add(i, f"if type({x}) is not int: {x} = {need}({x}, {f})")
            n = e.var("z")
            e.add(i, f"{n} = ({x} << 1) ^ ({x} >> 63)")
            self._enc_varint(i, n, field, "int" if kind == "int" else "long")
        elif kind == "double":
            e.add(i, f"if type({x}) is not float: {x} = _need_double({x}, {f})")
            e.add(i, f"buf += _pd({x})")
        elif kind == "float":
            e.add(i, f"buf += _pack_float({x}, {f})")
        elif kind == "string":
            self._enc_string(i, x, field, None)
        elif kind == "bytes":
            e.add(i, f"if type({x}) is not bytes: {x} = _need_bytes({x}, {f})")
            self._enc_prefixed(i, x)
        elif kind in ("array", "map"):
            need = "_need_seq" if kind == "array" else "_need_map"
            e.add(i, f"if type({x}) is not {'list' if kind == 'array' else 'dict'}: {x} = {need}({x}, {f})")
            n = e.var("n")
            e.add(i, f"{n} = len({x})")
            e.add(i, f"if {n}:")
            e.add(i + 1, f"if {n} < 64: ap({n} << 1)")
            e.add(i + 1, f"else: _wlen(buf, {n})")
            it = e.var("x")
            if kind == "array":
                e.add(i + 1, f"for {it} in {x}:")
                self.encode(s["items"], it, i + 2, field, ns)
            else:
                k = e.var("k")
                e.add(i + 1, f"for {k}, {it} in {x}.items():")
                self._enc_string(i + 2, k, field, None)
                self.encode(s["values"], it, i + 2, field, ns)
            e.add(i, "ap(0)")
        elif kind in ("record", "ref"):
            self._enc_record(s, x, i, field, ns)
        elif kind == "union":
            self._enc_union(s, x, i, field, ns)
        else:  # pragma: no cover - _kind only returns the kinds above
            raise UnsupportedSchemaError(f"kind {kind!r}")

    def _enc_record(self, schema: dict[str, Any], x: str, i: int, field: str, ns: str) -> None:
        e = self.enc
        full, ns = self._enter(schema, ns)
        if field:  # the top-level record is checked by the function prologue
            e.add(i, f"if type({x}) is not dict: {x} = _need_record({x}, {field!r})")
        for fd in schema["fields"]:
            name = fd["name"]
            ftype = fd["type"]
            missing = f"raise _no_default({name!r}) from None"
            if "default" not in fd and not (isinstance(ftype, list) and "null" in ftype):
                if _kind(ftype, self.names, ns)[0] == "string":
                    self._enc_string(i, f"{x}[{name!r}]", name, missing)
                    continue
                y = e.var("x")
                e.add(i, f"try: {y} = {x}[{name!r}]")
                e.add(i, f"except KeyError: {missing}")
            else:
                y = e.var("x")
                default = e.const(fd["default"], "_dflt") if "default" in fd else "None"
                e.add(i, f"{y} = {x}.get({name!r}, {default})")
            self.encode(ftype, y, i, name, ns)
        self._open.discard(full)

    def _enc_union(self, branches: list[Any], x: str, i: int, field: str, ns: str) -> None:
        e = self.enc
        kinds = [_kind(b, self.names, ns)[0] for b in branches]
        if len(kinds) != len(set(kinds)) and any(k not in ("record", "ref") for k in kinds):
            raise UnsupportedSchemaError(f"union {branches!r} repeats a type")
        if len(branches) == 2 and "null" in kinds:
            null = kinds.index("null")
            other = 1 - null
            e.add(i, f"if {x} is None: ap({null << 1})")
            e.add(i, "else:")
            e.add(i + 1, f"ap({other << 1})")
            self.encode(branches[other], x, i + 1, field, ns)
            return
        if not all(k in _SCALAR_KINDS for k in kinds):
            raise UnsupportedSchemaError(f"union {branches!r} mixes complex types")
        pick = e.const(_union_picker(kinds, branches), "_pick")
        idx = e.var("u")
        e.add(i, f"{idx} = {pick}({x}, {field!r})")
        e.add(i, f"ap({idx} << 1)")
        first = True
        for j, b in enumerate(branches):
            if kinds[j] == "null":
                continue
            e.add(i, f"{'if' if first else 'elif'} {idx} == {j}:")
            first = False
            self.encode(b, x, i + 1, field, ns)

    def _enter(self, schema: dict[str, Any], ns: str) -> tuple[str, str]:
        full, own = _Names.fullname(schema, ns)
        if full in self._open:
            raise UnsupportedSchemaError(f"recursive record {full!r} is not compiled")
        self._open.add(full)
        self.names.types.setdefault(full, schema)
        return full, own

    # ---------- decode: code reading from `d` into local `x`. The read position is kept symbolic
    # as (variable, constant offset) so fixed-size values (doubles, booleans) cost no position
    # update; it is written back to `p` only where control flow joins (loops, union branches).

    def _at(self, extra: int = 0) -> str:
        var, off = self.pos
        off += extra
        return f"{var} + {off}" if off else var

    def _materialize(self, i: int) -> str:
        var, off = self.pos
        if off:
            self.dec.add(i, f"p = {var} + {off}")
            self.pos = ("p", 0)
        return self.pos[0]

    def _sync(self, i: int) -> None:
        """Bring the position back into `p` (before a join point)."""
        var, off = self.pos
        if (var, off) != ("p", 0):
            self.dec.add(i, f"p = {self._at()}")
            self.pos = ("p", 0)

    def _dec_varint(self, i: int, x: str, kind: str) -> None:
        d = self.dec
        at = self._at()
        slow = "_rvar32_at" if kind == "int" else "_rvar_at"
        d.add(i, f"{x} = _ZZ[d[{at}]]")
        d.add(i, f"if {x} is None: {x}, p = {slow}(d, {at})")
        d.add(i, f"else: p = {self._at(1)}")
        self.pos = ("p", 0)

    def decode(self, schema: Any, x: str, i: int, ns: str) -> None:
        d = self.dec
        kind, s, ns = _kind(schema, self.names, ns)
        if kind == "null":
            d.add(i, f"{x} = None")
        elif kind == "boolean":
            d.add(i, f"{x} = _BOOL[d[{self._at()}]]")
            self.pos = (self.pos[0], self.pos[1] + 1)
        elif kind in ("int", "long", "timestamp-micros"):
            self._dec_varint(i, x, kind)
        elif kind in ("double", "float"):
            d.add(i, f"{x} = {'_ud' if kind == 'double' else '_uf'}(d, {self._at()})[0]")
            self.pos = (self.pos[0], self.pos[1] + (8 if kind == "double" else 4))
        elif kind in ("string", "bytes"):
            # No bounds check on the fast path: a length past the end leaves the position past L,
            # which the next read or AvroCodec.decode's final position check turns into an error.
            p = self._materialize(i)
            e = d.var("e")
            d.add(i, f"{e} = {p} + _SL[d[{p}]]")
            d.add(i, f"if {e} > {p}: {x} = d[{p} + 1:{e}]{'.decode()' if kind == 'string' else ''}")
            d.add(i, f"else: {x}, {e} = {'_rstr_at' if kind == 'string' else '_rbytes_at'}(d, {p})")
            self.pos = (e, 0)
        elif kind in ("array", "map"):
            n, it = d.var("n"), d.var("x")
            value_schema = s["items"] if kind == "array" else s["values"]
            min_size = self._min_size(value_schema, ns) + (1 if kind == "map" else 0)
            d.add(i, f"{x} = []" if kind == "array" else f"{x} = {{}}")
            self._sync(i)
            d.add(i, "while True:")
            self._dec_varint(i + 1, n, "long")
            d.add(i + 1, f"if {n} < 0: {n}, p = _rneg(d, p, {n})")
            limit = f"(L - p) // {min_size}" if min_size else str(_MAX_ZERO_SIZE_ITEMS)
            d.add(i + 1, f"if {n} > {limit}: raise _bad_count({n}, p)")
            d.add(i + 1, f"if not {n}: break")
            d.add(i + 1, f"for _ in range({n}):")
            if kind == "array":
                self.decode(value_schema, it, i + 2, ns)
                d.add(i + 2, f"{x}.append({it})")
            else:
                k = d.var("k")
                self.decode("string", k, i + 2, ns)
                self.decode(value_schema, it, i + 2, ns)
                d.add(i + 2, f"{x}[{k}] = {it}")
            self._sync(i + 2)
        elif kind in ("record", "ref"):
            full, own = self._enter(s, ns)
            parts = []
            for fd in s["fields"]:
                y = d.var("x")
                self.decode(fd["type"], y, i, own)
                parts.append(f"{fd['name']!r}: {y}")
            d.add(i, f"{x} = {{{', '.join(parts)}}}")
            self._open.discard(full)
        elif kind == "union":
            self._dec_union(s, x, i, ns)
        else:  # pragma: no cover
            raise UnsupportedSchemaError(f"kind {kind!r}")

    def _dec_union(self, branches: list[Any], x: str, i: int, ns: str) -> None:
        """Branch on the raw (still zig-zagged) index: branch j is 2*j; negatives are odd."""
        d = self.dec
        u = d.var("u")
        d.add(i, f"{u} = d[{self._at()}]")
        d.add(i, f"if {u} > 127: {u}, p = _rraw(d, {self._at(1)}, {u})")
        d.add(i, f"else: p = {self._at(1)}")
        for j, b in enumerate(branches):
            self.pos = ("p", 0)
            d.add(i, f"{'if' if j == 0 else 'elif'} {u} == {2 * j}:")
            self.decode(b, x, i + 1, ns)
            self._sync(i + 1)
        d.add(i, f"else: raise _bad_index({u} >> 1 if not {u} & 1 else -({u} + 1 >> 1), p, {len(branches)})")
        self.pos = ("p", 0)

    def _min_size(self, schema: Any, ns: str) -> int:
        """Fewest bytes one value can take: bounds block counts read from untrusted input."""
        kind, s, ns = _kind(schema, self.names, ns)
        if kind == "null":
            return 0
        if kind == "double":
            return 8
        if kind == "float":
            return 4
        if kind in ("record", "ref"):
            full, own = _Names.fullname(s, ns)
            if full in self._open:
                return 0
            return sum(self._min_size(fd["type"], own) for fd in s["fields"])
        return 1  # varints, lengths, union indexes, block terminators


# ---------------------------------------------------------------- the optional C executor
# schemas/_avrofast.c runs a plan: the schema flattened into nested tuples of opcodes (the layout is
# described at the top of that file). It handles the exact builtin types itself and calls the helpers
# below for everything else, so the validation rules and error messages stay the ones above.

_OPCODES: tuple[str, ...] = ("null", "boolean", "int", "long", "timestamp-micros", "float", "double")
_OPCODES += ("bytes", "string", "array", "map", "record", "nullable", "union")  # as the enum in _avrofast.c
_OPS = {k: i for i, k in enumerate(_OPCODES)}
_HELPERS = (
    _need_int,
    _need_long,
    _need_ts,
    _need_double,
    _need_bool,
    _need_bytes,
    _need_str,
    _need_seq,
    _need_map,
    _need_record,
)
PURE_ENV = "DWF_AVRO_PURE"
_PLAN_VERSION = 1  # PLAN_VERSION in _avrofast.c: bump both when the plan layout changes


def _load_accelerator() -> tuple[Any, str | None]:
    """(module, None) when the C extension imports, else (None, why): the pure codec is the fallback."""
    try:
        from dana_workflows.schemas import _avrofast
    except ImportError as exc:
        return None, str(exc)
    if getattr(_avrofast, "PLAN_VERSION", None) != _PLAN_VERSION:
        return None, f"stale build of {_avrofast.__file__} (plan version): rebuild with pip install -e ."
    return _avrofast, None


_FAST, ACCELERATOR_ERROR = _load_accelerator()
ACCELERATOR_BUILT = _FAST is not None


def accelerator_function(name: str) -> Callable[..., Any] | None:
    """A module-level function of the C extension (``murmur2``: streams/kafka/partitioner.py), or None
    where the extension is not built or is an older build without it (then the caller's Python one runs)."""
    return None if _FAST is None else getattr(_FAST, name, None)


def accelerated_by_default() -> bool:
    """True when compile_schema uses the C executor: it is built and DWF_AVRO_PURE does not forbid it."""
    return ACCELERATOR_BUILT and os.environ.get(PURE_ENV, "") in ("", "0")


class _Planner(_Compiler):
    """Builds the C executor's plan with the same schema walk (and refusals) as the code generator."""

    def plan(self, schema: Any, ns: str) -> tuple[Any, ...]:
        kind, s, ns = _kind(schema, self.names, ns)
        if kind in _SCALAR_KINDS:
            return (_OPS[kind],)
        if kind == "array":
            return (_OPS["array"], self.plan(s["items"], ns), self._min_size(s["items"], ns))
        if kind == "map":
            return (_OPS["map"], self.plan(s["values"], ns), self._min_size(s["values"], ns) + 1)
        if kind in ("record", "ref"):
            full, own = self._enter(s, ns)
            fields = []
            for fd in s["fields"]:
                ftype = fd["type"]
                required = "default" not in fd and not (isinstance(ftype, list) and "null" in ftype)
                fields.append((str(fd["name"]), self.plan(ftype, own), required, fd.get("default")))
            self._open.discard(full)
            return (_OPS["record"], tuple(fields))
        if kind == "union":
            kinds = [_kind(b, self.names, ns)[0] for b in s]
            if len(s) == 2 and "null" in kinds:
                null = kinds.index("null")
                return (_OPS["nullable"], null, self.plan(s[1 - null], ns))
            branches = tuple(self.plan(b, ns) for b in s)
            return (_OPS["union"], branches, _union_picker(kinds, s))
        raise UnsupportedSchemaError(f"kind {kind!r}")  # pragma: no cover - _kind returns the kinds above


@dataclass(frozen=True, slots=True)
class AvroCodec:
    """Encoder and decoder compiled for one schema; ``source`` is the generated code, for debugging.

    ``plan`` is the C executor's compiled plan when the accelerator runs this codec, else None and the
    generated Python code (``write``/``_read``) does the work.
    """

    schema: Any
    write: Callable[[bytearray, Mapping[str, Any]], None]
    _read: Callable[[bytes, int], tuple[Any, int]]
    source: str
    plan: Any = None

    @property
    def implementation(self) -> str:
        return "python" if self.plan is None else "c"

    def encode(self, record: Mapping[str, Any], prefix: bytes = b"") -> bytes:
        """prefix + the record's Avro binary body (EnvelopeSerde passes its wire-format header)."""
        if self.plan is not None:
            out: bytes = self.plan.encode(record, prefix)
            return out
        buf = bytearray(prefix)
        self.write(buf, record)
        return bytes(buf)

    def decode(self, data: bytes | bytearray | memoryview, offset: int = 0) -> Any:
        """Decode one datum that must fill data[offset:] exactly."""
        raw = data if type(data) is bytes else bytes(data)
        if self.plan is not None:
            return self.plan.decode_all(raw, offset)
        try:
            value, end = self._read(raw, offset)
        except struct.error as exc:
            raise EOFError(f"truncated Avro data: {exc}") from None
        if end != len(raw):
            raise ValueError(f"{len(raw) - end} trailing bytes after the Avro datum")
        return value

    @property
    def encoder(self) -> Callable[[Mapping[str, Any], bytes], bytes]:
        """encode(record, prefix) as the cheapest callable: the C plan's own method when accelerated."""
        return self.encode if self.plan is None else self.plan.encode

    @property
    def decoder(self) -> Callable[[bytes, int], Any]:
        """decode(data, offset) for bytes, as the cheapest callable (the C plan's decode_all)."""
        return self.decode if self.plan is None else self.plan.decode_all

    @property
    def copier(self) -> Callable[[Mapping[str, Any], int], Any] | None:
        """copy(record, limit): what decode(encode(record)) returns, built without the bytes, or None when
        the C executor cannot show it is (then encode and decode); None where the accelerator does not
        run (or is an older build without it). See "canonical copy" in schemas/_avrofast.c."""
        return None if self.plan is None else getattr(self.plan, "copy", None)

    @property
    def attribute_copier(self) -> Callable[[Any, Any, int], bool | None] | None:
        """copy_into(source, target, limit): copier's rule with a record's fields read from source's
        attributes and set on target's (True), or None when not shown and target is untouched."""
        return None if self.plan is None else getattr(self.plan, "copy_into", None)

    @property
    def attribute_encoder(self) -> Callable[[Sequence[Any]], list[bytes]] | None:
        """encode_attrs(objects): ``[encode({f: getattr(o, f) for f in the record's fields}) for o in
        objects]``, the same bytes and errors without the dicts (a record schema only); None where the
        accelerator does not run this codec (or is an older build without it): build the dicts then."""
        return None if self.plan is None else getattr(self.plan, "encode_attrs", None)


def compile_schema(schema: Any, *, accelerate: bool | None = None) -> AvroCodec:
    """Compile a schema (JSON dict, fastavro-parsed or not) into an AvroCodec.

    accelerate: None runs the C executor when it is built and DWF_AVRO_PURE is unset (or "0"); True
    requires it (RuntimeError when it is not built); False keeps the generated Python code.
    Raises UnsupportedSchemaError for schemas outside the compiled subset (see the module doc).
    """
    if isinstance(schema, dict) and "__named_schemas" in schema:
        schema = {k: v for k, v in schema.items() if not k.startswith("__")}
    if accelerate is None:
        accelerate = accelerated_by_default()
    elif accelerate and _FAST is None:
        raise RuntimeError(f"the Avro C accelerator is not built ({ACCELERATOR_ERROR}): pip install -e .")
    c = _Compiler()
    try:
        c.encode(schema, "r", 1, "", "")
        c._open.clear()
        c.names.types.clear()
        c.decode(schema, "r", 1, "")
    except (KeyError, TypeError) as exc:
        raise UnsupportedSchemaError(f"malformed schema: {type(exc).__name__}: {exc}") from None
    plan = None
    if accelerate:
        try:
            plan = _FAST.Plan(_Planner().plan(schema, ""), _HELPERS)
        except ValueError:  # nested deeper than the executor allows: the generated code runs it
            plan = None
    top_kind = _kind(schema, _Names(), "")[0] if not isinstance(schema, str) else schema
    enc_lines = ["def _write(buf, r):", "    ap = buf.append"]
    if top_kind == "record":
        enc_lines.append("    if type(r) is not dict: r = _need_record(r, '<top level>')")
    source = "\n".join(
        [
            *enc_lines,
            *c.enc.lines,
            "",
            "def _read(d, p):",
            "    L = len(d)",
            *c.dec.lines,
            f"    return r, {c._at()}",
            "",
        ]
    )
    namespace: dict[str, Any] = dict(_RUNTIME)
    namespace.update(c.enc.consts)
    namespace.update(c.dec.consts)
    exec(compile(source, "<avro codec>", "exec"), namespace)
    return AvroCodec(
        schema=schema, write=namespace["_write"], _read=namespace["_read"], source=source, plan=plan
    )
