"""Run ids: one input event's journey, derived from the input so the same line opens the same run.

`run_id_for` is sha256(workflow \\x00 position \\x00 line), 24 hex characters: the same line at the same
position of one workflow always opens the same run, in any runtime and any fresh audit store. A second run
of that input into a store that holds it already (streams/local/reruns.py) is epoch N > 0 and gets
`<that id>-N`, so its rows never claim the first run's chain positions, while `input_id` still names the
input: the knowledge layer replays the context an input was first answered with (docs/context.md) for every
run of it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

EPOCH_MARK = "-"
_RERUN = re.compile(r"([0-9a-f]{24})-[1-9][0-9]*")  # what run_id_for makes for an epoch > 0


def _hashlib_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_id_for(
    workflow: str, ordinal: int, raw: str, epoch: int = 0, sha256_hex: Callable[[bytes], str] = _hashlib_hex
) -> str:
    """sha256_hex: the SHA-256 hex digest to use (hashlib's by default); admission passes schemas.sha256's,
    the C extension's where the CPU has the SHA extensions (~0.3 against ~0.8 us for a claims line), which
    schemas/sha256.py holds to hashlib's digest. `core` sits below `schemas`, so it is handed in."""
    # surrogatepass: a line that is not valid text still gets an id; valid text, same bytes
    key = f"{workflow}\x00{ordinal}\x00{raw}".encode("utf-8", "surrogatepass")
    base = sha256_hex(key)[:24]
    return f"{base}{EPOCH_MARK}{epoch}" if epoch else base


def input_id(run_id: str) -> str:
    """The input a run id was derived from: the id without its epoch. Any other id (an epoch-0 run, a drift
    chain `<workflow>.drift`, an id a test or a caller chose) is its own input."""
    rerun = _RERUN.fullmatch(run_id)
    return rerun.group(1) if rerun else run_id
