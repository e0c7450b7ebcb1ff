"""Hostile input at volume: generated bad and near-valid events through admission, the Avro serde and
the local runtime (and, with --broker, `dana-wf produce` on a real Kafka broker); random bytes through the
Kafka runtime's decoders. Prints how many events, how each ended, and how many crashed (an exception that
escaped, or a line without exactly one outcome). Issue 12 asks for 10,000+ generated bad events, 0 crashes.

    python bench/fuzz_hostile.py --events 10000 [--seed 1] [--broker 127.0.0.1:19092] [--atheris 20000]

The generator is seeded (a run is repeatable) and mixes: mutations of a valid claim (cut, spliced,
duplicated, characters inserted), wrong types per field, huge and non-finite numbers as JSON text,
escaped lone surrogates, bytes that are not UTF-8, deep nesting, blank and whitespace lines, and huge
fields. --atheris N also runs admission under libFuzzer (atheris) for N inputs, where atheris installs.
tests/unit/processors/test_fuzz_hostile.py runs a small count of this in CI and the hypothesis suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
GOOD = {
    "claim_id": "C1",
    "policy_id": "P1",
    "policy_limit": 1500.0,
    "amount": 120.5,
    "currency": "USD",
    "description": "hail on car roof",
    "submitted_at": 1767225629,
    "channel": "web",
}
_ODD_LITERALS = [
    "Infinity", "-Infinity", "NaN", "1e400", "-1e400", "1" + "0" * 400, "9" * 5000, str(2**63), str(-(2**64)),
    "true", "null", "[]", "{}", '"\\ud800"', '"\\udfff x"', '"\\u0000"', "0.0", "-0", "[[[[1]]]]", '"x"',
]  # fmt: skip


def bad_line(rng: random.Random) -> str:
    """One generated hostile line (valid JSON objects are part of the mix: near-valid events)."""
    kind = rng.randrange(10)
    base = json.dumps(GOOD)
    if kind == 0:  # a field's value replaced by an odd JSON literal, as written
        name = rng.choice(list(GOOD))
        return json.dumps({**GOOD, name: "@@"}).replace('"@@"', rng.choice(_ODD_LITERALS))
    if kind == 1:  # the line cut somewhere
        return base[: rng.randrange(len(base))]
    if kind == 2:  # random characters inserted, surrogates and controls included
        chars = [
            chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xD800, 0xE000), rng.randrange(0, 32)]))
        ]
        at = rng.randrange(len(base))
        return base[:at] + "".join(chars * rng.randint(1, 3)) + base[at:]
    if kind == 3:  # deep nesting, below and above the parsers' limits
        depth = rng.choice([10, 300, 1100, 5000])
        return "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    if kind == 4:  # blank and whitespace lines
        return rng.choice(["", " ", "\t", "\r", "   \t  "])
    if kind == 5:  # wrong types per field
        name = rng.choice(list(GOOD))
        return json.dumps({**GOOD, name: rng.choice([[1], {"x": 1}, True, "12", 12, None, -1.5])})
    if kind == 6:  # a huge field
        return json.dumps({**GOOD, "description": "d" * rng.choice([10_000, 300_000, 1_100_000])})
    if kind == 7:  # bytes that are not UTF-8, as a file read with surrogateescape gives them
        raw = base.encode()
        at = rng.randrange(len(raw))
        return (raw[:at] + bytes([rng.randrange(0x80, 0x100)]) + raw[at:]).decode("utf-8", "surrogateescape")
    if kind == 8:  # not an object
        return rng.choice(["1", '"x"', "[1, 2]", "null", "true", "{", "}", "{}", '{"": 1}', "{1: 2}"])
    # near-valid: a valid claim with one field removed or an extra one
    event = dict(GOOD)
    if rng.random() < 0.5:
        event.pop(rng.choice(list(GOOD)))
    else:
        event[rng.choice(["x", "amount ", "AMOUNT", "\u212a"])] = rng.random()
    return json.dumps(event)


def random_bytes(rng: random.Random) -> bytes:
    size = rng.choice([0, 1, 4, 5, 6, 20, 200])
    head = rng.choice([b"", b"\x00", b"\x00\x00\x00\x00\x01", bytes([rng.randrange(256)])])
    return head + bytes(rng.randrange(256) for _ in range(size))


@dataclass
class Figures:
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: int = 0  # an escaped exception or a line without exactly one outcome
    decoded_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def local_run(lines: list[str], out_dir: Path | None) -> tuple[Any, list[Any]]:
    """The local runtime (dana-wf run's loop) over `lines` on the claims example: its summary and rows."""
    from dana_workflows.core.clock import wall_clock_us
    from dana_workflows.processors.base import StepContext
    from dana_workflows.processors.pipeline import compile_pipeline
    from dana_workflows.schemas.registry import FileRegistry
    from dana_workflows.sinks.audit_model import AuditRow
    from dana_workflows.streams.local.outputs import OutputFiles
    from dana_workflows.streams.local.runtime import LocalRuntime, collect_rows
    from dana_workflows.streams.topology import Topology
    from dana_workflows.workflow.spec import parse_spec

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = compile_pipeline(parse_spec(CLAIMS.read_text()))
        topo = Topology(pipeline, FileRegistry(Path(tmp) / "schemas"))
        rows: list[AuditRow] = []
        out = OutputFiles(out_dir, topo) if out_dir is not None else None
        runtime = LocalRuntime(pipeline, topo, out, collect_rows(rows), StepContext(clock=wall_clock_us))
        return asyncio.run(runtime.run(lines)), rows


def one_outcome_each(lines: list[str], summary: Any, rows: list[Any]) -> int:
    """How many lines lack exactly one outcome with one received and one terminal audit row (0: all do)."""
    received = Counter(r.run_id for r in rows if r.kind == "received")
    terminal = Counter(r.run_id for r in rows if r.kind in ("dlq", "rejected", "completed"))
    missing = abs(len(lines) - sum(summary.outcomes.values()))
    return int(max(missing, len(lines) - len(received), sum((received - terminal).values())))


def run_local(lines: list[str], figures: Figures) -> None:
    try:
        summary, rows = local_run(lines, None)
    except Exception as exc:  # the whole point: count it, never hide it
        figures.crashes += 1
        figures.notes.append(f"local runtime: {type(exc).__name__}: {exc}"[:300])
        return
    figures.events += len(lines)
    figures.outcomes.update(summary.outcomes)
    if bad := one_outcome_each(lines, summary, rows):
        figures.crashes += bad
        figures.notes.append(f"local runtime: {bad} lines without exactly one outcome")


def run_decoders(rng: random.Random, count: int, figures: Figures) -> None:
    """Random bytes into the decoders a Kafka worker runs on every record: only PoisonMessageError."""
    from dana_workflows.schemas.registry import FileRegistry
    from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
    from dana_workflows.streams.kafka.wire import WireCodec

    with tempfile.TemporaryDirectory() as tmp:
        registry = FileRegistry(Path(tmp))
        serde, codec = EnvelopeSerde(registry), WireCodec(registry)
        for _ in range(count):
            data = random_bytes(rng)
            for decode in (serde.decode, codec.decode_mixed, codec.decode_rows):
                try:
                    decode(data)
                except PoisonMessageError:
                    pass
                except Exception as exc:
                    figures.crashes += 1
                    figures.notes.append(f"{decode.__qualname__}({data[:12]!r}): {type(exc).__name__}: {exc}")
            figures.decoded_bytes += 1


def run_produce(lines: list[str], broker: str, figures: Figures) -> None:
    import uuid

    from dana_workflows.schemas.registry import FileRegistry
    from dana_workflows.streams.app_builder import load_pipeline
    from dana_workflows.streams.kafka.producer import produce_lines
    from dana_workflows.streams.topology import Topology

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = load_pipeline(CLAIMS)
        topology = Topology(pipeline, FileRegistry(Path(tmp)), prefix=f"fuzz{uuid.uuid4().hex[:8]}")
        try:
            summary = asyncio.run(produce_lines(pipeline, topology, broker, lines, partitions=1))
        except Exception as exc:
            figures.crashes += 1
            figures.notes.append(f"produce: {type(exc).__name__}: {exc}"[:300])
            return
        if sum(summary.outcomes.values()) != len(lines):
            figures.crashes += 1
            figures.notes.append("produce: lines without an outcome")
        figures.notes.append(
            f"produce: {len(lines)} lines, " + ", ".join(f"{k} {v}" for k, v in summary.outcomes.items())
        )


def run_atheris(runs: int) -> str:
    """admit() under libFuzzer for `runs` inputs, in a child process (atheris.Fuzz exits when done)."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import atheris
from dana_workflows.processors import ingest
from dana_workflows.schemas import canonical
from dana_workflows.streams.app_builder import load_pipeline
# coverage feedback for the functions under test only (instrumenting every import costs a minute)
for module, names in ((ingest, ("admit", "_parse_strictly", "check_field", "_not_utf8")),
                      (canonical, ("canonical_json", "_standard"))):
    for name in names:
        setattr(module, name, atheris.instrument_func(getattr(module, name)))
canonical_json = canonical.canonical_json
ir = load_pipeline({str(CLAIMS)!r}).workflow
def one(data):
    line = data.decode("utf-8", "surrogateescape")
    adm = ingest.admit(ir, line, 0, 0)
    assert len(adm.rows) >= 2 and adm.rows[0].kind == "received"
    canonical_json(adm.envelope.payload)
atheris.Setup([sys.argv[0], "-runs={runs}", "-max_len=4096"], one)
atheris.Fuzz()
"""
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "atheris: not installed here (pip install atheris); skipped"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
    last = [line for line in proc.stderr.splitlines() if line.startswith("#") or "Done" in line]
    return f"atheris: exit {proc.returncode} ({'0 crashes' if proc.returncode == 0 else 'CRASH'}); " + (
        last[-1] if last else proc.stderr[-300:]
    )


def main(argv: list[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broker", help="also produce every line with dana-wf produce to this broker")
    parser.add_argument("--atheris", type=int, default=0, help="also run admission under atheris (N inputs)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    figures = Figures()
    started = time.perf_counter()
    lines = [bad_line(rng) for _ in range(args.events)]
    run_local(lines, figures)
    run_decoders(rng, max(100, args.events // 10), figures)
    if args.broker:
        run_produce(lines, args.broker, figures)
    if args.atheris:
        figures.notes.append(run_atheris(args.atheris))
    figures.seconds = time.perf_counter() - started
    print(f"fuzz_hostile: seed {args.seed}, {figures.events} generated events through the local runtime")
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items())))
    print(f"  random byte strings through the Kafka decoders: {figures.decoded_bytes}")
    print(f"  crashes: {figures.crashes}")
    print(f"  {figures.seconds:.1f} s ({figures.events / figures.seconds:,.0f} events/s with the decoders)")
    for note in figures.notes:
        print(f"  {note}")
    return figures


if __name__ == "__main__":
    sys.exit(1 if main().crashes else 0)
