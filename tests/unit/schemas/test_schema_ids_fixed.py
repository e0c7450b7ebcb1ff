"""Schema ids as fixed numbers, not compared with the function that makes them.

An id is the first 31 bits (big-endian) of the SHA-256 of the schema's Parsing Canonical Form
(schemas/registry.py, Avro specification "Parsing Canonical Form for Schemas"). The first vector's
canonical form is written by hand from the specification's rules (full names, only name/type/fields,
in that order, no doc or default, no whitespace) and hashed with hashlib alone.

The claims example's ids are a compatibility record, taken once (commit f6d24d7): records on a topic carry
these ids, and every worker and producer computes them from the spec alone (docs/configuration.md,
schema_registry). A change to the schema derivation that moves one of them changes the bytes on the
wire for every deployment: it must be deliberate, and this list updated with the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry, schema_id
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"

SCHEMA = {
    "type": "record",
    "name": "Claim",
    "namespace": "dwf.test",
    "doc": "left out of the canonical form",
    "fields": [
        {"name": "amount", "type": "double", "default": 0.0, "doc": "so is this"},
        {"name": "currency", "type": ["null", "string"], "default": None},
    ],
}
CANONICAL = (
    '{"name":"dwf.test.Claim","type":"record","fields":'
    '[{"name":"amount","type":"double"},{"name":"currency","type":["null","string"]}]}'
)
CANONICAL_ID = 700_850_599


def test_the_id_of_a_hand_written_canonical_form() -> None:
    digest = hashlib.sha256(CANONICAL.encode()).digest()
    assert int.from_bytes(digest[:4], "big") & 0x7FFFFFFF == CANONICAL_ID  # the vector itself
    assert schema_id(SCHEMA) == CANONICAL_ID


def test_doc_default_and_field_order_of_keys_do_not_change_the_id() -> None:
    reordered = {"fields": list(SCHEMA["fields"]), "namespace": "dwf.test", "name": "Claim", "type": "record"}
    assert schema_id(reordered) == CANONICAL_ID
    renamed = {**SCHEMA, "name": "Claim2"}
    assert schema_id(renamed) != CANONICAL_ID


def test_the_claims_example_topics_keep_their_ids(tmp_path: Path) -> None:
    ir = parse_spec(CLAIMS.read_text(), str(CLAIMS), CLAIMS.parent)
    topology = Topology(compile_pipeline(ir), FileRegistry(tmp_path / "schemas"))
    assert {b: t.schema_id for b, t in topology.topics.items()} == {
        "in": 337_801_406,
        "normalize": 1_954_639_448,
        "check_claim": 995_389_753,
        "triage": 255_616_579,
        "out": 2_048_484_389,
        "rejected": None,  # mixed schemas: the envelope names its own
        "dlq": None,
        "review": None,  # a recovery ladder's review rung (docs/recovery.md): mixed too
        "drift": 1_921_336_338,
    }
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == sorted(
        f"{sid}.avsc"
        for sid in (337_801_406, 1_954_639_448, 995_389_753, 255_616_579, 2_048_484_389, 1_921_336_338)
    )
