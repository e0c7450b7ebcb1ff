"""Fuzzing (issue 12): generated garbage and near-valid events through admission, the Avro serde, the
Kafka runtime's decoders and the local runtime. No exception escapes, and every input has exactly one
outcome with its audit rows. Bounded for CI (a fixed number of examples, no deadline); the long run by
hand is bench/fuzz_hostile.py (figures in docs/performance.md), whose small count-based check is here too.
The produce path on a real broker: tests/integration/test_produce_hostile.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dana_workflows.processors.ingest import admit
from dana_workflows.processors.pipeline import ENTRY
from dana_workflows.schemas.canonical import canonical_json, canonical_json_line
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.schemas.serde import EnvelopeSerde, PoisonMessageError
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.wire import WireCodec
from dana_workflows.streams.topology import Topology

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
sys.path.insert(0, str(ROOT / "bench"))
from fuzz_hostile import GOOD, local_run, main, one_outcome_each  # noqa: E402

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENCODE_ERRORS = (TypeError, ValueError, KeyError)  # what the boundary policy sends to dlq

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c, max_size=3)
)
# near-valid events: the claim's fields, each kept or replaced by any JSON value, plus extra keys
near_valid = st.fixed_dictionaries({k: st.one_of(st.just(v), json_values) for k, v in GOOD.items()}).map(
    json.dumps
)
# odd literals written into the JSON text, where json.dumps would never put them
odd_text = st.sampled_from(list(GOOD)).flatmap(
    lambda name: st.sampled_from(["Infinity", "NaN", "1e999", "1" + "0" * 400, '"\\ud800"', "[" * 1200]).map(
        lambda lit: json.dumps({**GOOD, name: "@@"}).replace('"@@"', lit)
    )
)
garbage = st.text(alphabet=st.characters(codec=None), max_size=300)  # surrogates and controls included
lines = st.one_of(near_valid, odd_text, garbage, st.just(""), st.text(alphabet=" \t\r", max_size=5))


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pipeline = load_pipeline(CLAIMS)
    topology = Topology(pipeline, FileRegistry(tmp_path_factory.mktemp("schemas")))
    return pipeline, topology, EnvelopeSerde(topology.registry), WireCodec(topology.registry)


@FUZZ
@given(line=lines)
def test_admission_and_the_entry_boundary_give_every_line_one_verdict(claims, line: str) -> None:  # type: ignore[no-untyped-def]
    pipeline, topology, serde, codec = claims
    adm = admit(pipeline.workflow, line, 7, 1)
    kinds = [r.kind for r in adm.rows]
    assert kinds[0] == "received" and len(kinds) == 2
    assert kinds[1] == ("emitted" if adm.accepted else "dlq" if adm.dead else "rejected")
    assert adm.accepted == (not adm.reasons)
    canonical_json(adm.envelope.payload)
    canonical_json_line(adm.envelope.provenance)
    if adm.accepted:  # the entry topic's encoding: the record, or a reason for the dlq
        try:
            back = serde.roundtrip(adm.envelope, topology.schema_id(ENTRY))
            assert back.run_id == adm.envelope.run_id
        except ENCODE_ERRORS:
            pass
    else:  # a rejected/dlq record always encodes, and reads back as it was sent
        assert codec.decode_mixed(codec.encode_mixed(adm.envelope)).run_id == adm.envelope.run_id


@FUZZ
@given(data=st.binary(max_size=300), header=st.sampled_from([b"", b"\x00", b"\x00\x00\x00\x00\x01", b"\xff"]))
def test_the_kafka_decoders_refuse_garbage_only_as_poison(claims, data: bytes, header: bytes) -> None:  # type: ignore[no-untyped-def]
    _, _, serde, codec = claims
    for decode in (serde.decode, codec.decode_mixed, codec.decode_rows):
        try:
            decode(header + data)
        except PoisonMessageError as exc:
            assert exc.reason and "\n" not in exc.reason


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(lines, min_size=1, max_size=20))
def test_the_local_runtime_gives_every_line_one_outcome(batch: list[str]) -> None:
    summary, rows = local_run(batch, None)
    assert sum(summary.outcomes.values()) == len(batch)
    assert one_outcome_each(batch, summary, rows) == 0
    assert sum(1 for r in rows if r.kind == "received") == len(batch)


def test_the_fuzz_bench_counts_add_up_with_no_crash(capsys: pytest.CaptureFixture[str]) -> None:
    figures = main(["--events", "300", "--seed", "7"])
    assert figures.crashes == 0, figures.notes
    assert figures.events == 300 and sum(figures.outcomes.values()) == 300
    assert figures.outcomes["dlq"] > 0 and figures.outcomes["rejected"] > 0  # the mix reaches both
    assert "crashes: 0" in capsys.readouterr().out


def test_atheris_finds_no_crash_in_admission_where_it_installs() -> None:
    pytest.importorskip("atheris")
    from fuzz_hostile import run_atheris

    report = run_atheris(500)
    assert report.startswith("atheris: exit 0 (0 crashes)"), report
