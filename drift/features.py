"""Turn one observed value into the bin keys it counts in: categories, numeric bins, hashed text tokens.

Keys are strings so window counts stay plain JSON (a faust table's changelog round-trips them unchanged).
Special keys, never produced by a real bin: ``<null>`` (value missing), ``<invalid>`` (not a number, NaN),
``<empty>`` (text without tokens), ``<other>`` (categories past the per-window cap).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from itertools import pairwise
from math import isfinite
from typing import Any

NULL_KEY = "<null>"
INVALID_KEY = "<invalid>"
EMPTY_KEY = "<empty>"
OTHER_KEY = "<other>"
SPECIAL_KEYS = frozenset({NULL_KEY, INVALID_KEY, EMPTY_KEY, OTHER_KEY})

MAX_CATEGORY_CHARS = 200  # a category longer than this is truncated: state stays bounded
DEFAULT_QUANTILE_BINS = 10


# -- categorical ---------------------------------------------------------------------------------------


def category_key(value: Any) -> str:
    if type(value) is str and len(value) <= MAX_CATEGORY_CHARS:  # the common case: the value itself
        return value
    if value is None:
        return NULL_KEY
    if isinstance(value, bool):  # before str(): True -> "true", as JSON and Avro spell it
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_CATEGORY_CHARS]


# -- numeric -------------------------------------------------------------------------------------------


def as_number(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past a float's range
        return None
    return x if math.isfinite(x) else None


def check_edges(edges: Iterable[float], where: str) -> tuple[float, ...]:
    """Bin edges as given in a spec or a baseline: finite and strictly increasing."""
    out = tuple(float(e) for e in edges)
    if not all(math.isfinite(e) for e in out):
        raise ValueError(f"{where}: bin edges must be finite numbers, got {list(out)}")
    if any(b <= a for a, b in pairwise(out)):
        raise ValueError(f"{where}: bin edges must be strictly increasing, got {list(out)}; sort them")
    return out


def bin_key(value: Any, edges: tuple[float, ...]) -> str:
    """Right-closed bins: key ``i`` holds ``edges[i-1] < x <= edges[i]`` (0 and len(edges) are open-ended)."""
    if value is None:
        return NULL_KEY
    x = as_number(value)
    if x is None:
        return INVALID_KEY
    return str(bisect_left(edges, x))


def bin_keyer(edges: tuple[float, ...]) -> Callable[[Any], str]:
    """``bin_key`` over fixed edges, with a fast path for finite floats and the key strings made once."""
    names = tuple(str(i) for i in range(len(edges) + 1))

    def key(value: Any) -> str:
        if type(value) is float and isfinite(value):
            return names[bisect_left(edges, value)]
        return bin_key(value, edges)

    return key


def _fmt(x: float) -> str:
    return format(x, ".6g")


def bin_label(key: str, edges: tuple[float, ...]) -> str:
    """A human name for a numeric bin key: ``(12.5, 40]``."""
    if key in SPECIAL_KEYS:
        return key
    i = int(key)
    lo = "-inf" if i == 0 else _fmt(edges[i - 1])
    hi = "inf)" if i == len(edges) else _fmt(edges[i]) + "]"
    return f"({lo}, {hi}"


class LogSketch:
    """Log-spaced fine buckets that hold a numeric reference until its quantile edges are known.

    Bucket ``p<i>`` holds ``gamma**(i-1) < x <= gamma**i``, ``n<j>`` holds ``-gamma**(j+1) < x <= -gamma**j``,
    ``z`` holds ``|x| <= tiny``. Edges are always chosen among bucket upper bounds, so folding sketch
    counts into the final bins is exact: a whole bucket lies in one bin. State stays bounded: with the
    default 2% resolution four decades of values take ~470 buckets.
    """

    def __init__(self, gamma: float = 1.02, tiny: float = 1e-9) -> None:
        if gamma <= 1.0:
            raise ValueError("LogSketch gamma must be > 1")
        self.gamma = gamma
        self.tiny = tiny
        self._log_gamma = math.log(gamma)

    def key(self, value: Any) -> str:
        if value is None:
            return NULL_KEY
        x = as_number(value)
        if x is None:
            return INVALID_KEY
        if x > self.tiny:
            return f"p{math.ceil(math.log(x) / self._log_gamma)}"
        if x < -self.tiny:
            return f"n{math.floor(math.log(-x) / self._log_gamma)}"
        return "z"

    def upper(self, key: str) -> float:
        if key == "z":
            return self.tiny
        i = int(key[1:])
        return self.gamma**i if key[0] == "p" else -(self.gamma**i)

    def quantile_edges(self, counts: Mapping[str, int], n_bins: int) -> tuple[float, ...]:
        """Edges at the 1/n .. (n-1)/n quantiles of the sketched values (fewer when values repeat)."""
        numeric = sorted(((self.upper(k), c) for k, c in counts.items() if k not in SPECIAL_KEYS))
        total = sum(c for _, c in numeric)
        if total == 0 or n_bins < 2:
            return ()
        edges: list[float] = []
        cum = 0
        q = 1
        for upper, c in numeric[:-1]:  # the last bucket's bound would leave an empty top bin
            cum += c
            while q < n_bins and cum * n_bins >= q * total:
                if not edges or upper > edges[-1]:
                    edges.append(upper)
                q += 1
        return tuple(edges)

    def fold(self, counts: Mapping[str, int], edges: tuple[float, ...]) -> dict[str, int]:
        """Sketch counts -> final bin counts (special keys pass through)."""
        out: dict[str, int] = {}
        for k, c in counts.items():
            key = k if k in SPECIAL_KEYS else str(bisect_left(edges, self.upper(k)))
            out[key] = out.get(key, 0) + c
        return out


# -- text ----------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w\w+")


def token_bucket(token: str, buckets: int) -> int:
    """A stable bucket for a token: blake2b, not hash(), which is salted per process."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


class HashedTokens:
    """Text as the set of hashed-token buckets it touches (each bucket counted once per event).

    Counting presence rather than occurrences keeps one long text from outweighing many short ones.
    Tokens: lowercase runs of two or more word characters. Two bounded caches only memoise pure
    functions: token -> key, and whole short texts -> keys (texts repeat: form fields, templated
    descriptions), which skips the regex, the set and the sort on a hit: on the claims example a text
    monitor's per-event count falls from ~26k to ~8k instructions; a miss costs a hash and an insert.
    """

    __slots__ = ("_cache", "_texts", "buckets")
    CACHE_MAX = 1 << 16
    TEXTS_MAX = 1 << 12
    TEXT_CHARS = 256  # longer texts are not memoised: the cache stays ~1 MB at most

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self._cache: dict[str, str] = {}
        self._texts: dict[str, tuple[str, ...]] = {}

    def keys(self, value: Any) -> tuple[str, ...]:
        memo = type(value) is str
        if memo:
            hit = self._texts.get(value)
            if hit is not None:
                return hit
        elif value is None:
            return (NULL_KEY,)
        text = value if isinstance(value, str) else str(value)
        cache = self._cache
        found: set[str] = set()
        for token in _TOKEN.findall(text.lower()):
            key = cache.get(token)
            if key is None:
                if len(cache) >= self.CACHE_MAX:
                    cache.clear()
                key = cache[token] = str(token_bucket(token, self.buckets))
            found.add(key)
        out = tuple(sorted(found)) if found else (EMPTY_KEY,)
        if memo and len(text) <= self.TEXT_CHARS:
            if len(self._texts) >= self.TEXTS_MAX:
                self._texts.clear()
            self._texts[text] = out
        return out


def carried_value(value: Any, feature: str, buckets: int) -> Any:
    """What an event must carry of a monitored value for the monitor to count it exactly as the value
    itself: never more than a few KiB, so a Kafka header carrying it cannot copy a huge payload field
    (a 600,000-character description). Categories keep the characters they are keyed by; a long text
    becomes one short representative token per hashed bucket it touches (same keys, same counts)."""
    if type(value) is not str or len(value) <= HashedTokens.TEXT_CHARS:
        return value
    if feature == "text":
        reps = _representatives(buckets)
        found = {token_bucket(t, buckets) for t in set(_TOKEN.findall(value.lower()))}
        return " ".join(reps[b] for b in sorted(found))
    return value[: MAX_CATEGORY_CHARS + 1] if feature == "categorical" else value


_REPRESENTATIVES: dict[int, list[str]] = {}


def _representatives(buckets: int) -> list[str]:
    """Per bucket, a short lowercase token that hashes into it (found once per bucket count)."""
    if buckets not in _REPRESENTATIVES:
        reps: dict[int, str] = {}
        letters = "abcdefghijklmnopqrstuvwxyz"
        for size in range(2, 6):
            for combo in itertools.product(letters, repeat=size):
                token = "".join(combo)
                reps.setdefault(token_bucket(token, buckets), token)
                if len(reps) == buckets:
                    break
            if len(reps) == buckets:
                break
        _REPRESENTATIVES[buckets] = [reps[b] for b in range(buckets)]
    return _REPRESENTATIVES[buckets]


def bucket_label(key: str) -> str:
    return key if key in SPECIAL_KEYS else f"bucket {key}"
