"""Avro compatibility as registries judge it (Avro's resolution rules), with the breaking field named.

Expected verdicts come from the Avro specification's schema resolution section and the Confluent levels:
BACKWARD = the new schema reads old records, FORWARD = old readers read new records, FULL = both.
"""

from __future__ import annotations

from typing import Any

import fastavro
import pytest

from dana_workflows.schemas.compatibility import compatibility_problems, read_mismatches

pytestmark = pytest.mark.unit


def record(*fields: dict[str, Any], name: str = "Claim") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "team", "fields": list(fields)}


ID = {"name": "claim_id", "type": "string"}
AMOUNT = {"name": "amount", "type": "double"}
CHANNEL = {"name": "channel", "type": ["null", "string"], "default": None}


def test_an_unchanged_schema_breaks_nothing_at_any_level() -> None:
    s = record(ID, AMOUNT)
    for level in ("BACKWARD", "FORWARD", "FULL", "FULL_TRANSITIVE", "NONE"):
        assert compatibility_problems(s, [s], level) == []


def test_a_removed_field_without_default_breaks_forward_and_full_not_backward() -> None:
    old, new = record(ID, AMOUNT), record(ID)
    assert compatibility_problems(new, [old], "BACKWARD") == []  # the new reader ignores `amount`
    forward = compatibility_problems(new, [old], "FORWARD")
    assert forward == ["field amount: removed, but has no default in version 1, so its readers break"]
    assert compatibility_problems(new, [old], "FULL") == forward


def test_an_added_field_without_default_breaks_backward() -> None:
    old, new = record(ID), record(ID, AMOUNT)
    assert compatibility_problems(new, [old], "BACKWARD") == [
        "field amount: added without a default, so records written with version 1 cannot be read"
    ]
    assert compatibility_problems(new, [old], "FORWARD") == []


def test_optional_fields_with_defaults_may_come_and_go_under_full() -> None:
    assert compatibility_problems(record(ID, CHANNEL), [record(ID)], "FULL") == []
    assert compatibility_problems(record(ID), [record(ID, CHANNEL)], "FULL") == []


def test_a_changed_type_is_named_with_both_types() -> None:
    old = record(ID, {"name": "amount", "type": "string"})
    problems = compatibility_problems(record(ID, AMOUNT), [old], "BACKWARD")
    assert problems == [
        "field amount: type changed (string read as double), so records written with version 1 cannot be read"
    ]


def test_promotions_read_one_way_only() -> None:
    int_amount = record(ID, {"name": "amount", "type": "int"})
    long_amount = record(ID, {"name": "amount", "type": "long"})
    assert compatibility_problems(long_amount, [int_amount], "BACKWARD") == []  # int data read as long
    assert len(compatibility_problems(long_amount, [int_amount], "FORWARD")) == 1  # long data read as int


def test_nested_records_unions_arrays_and_enums_name_the_path() -> None:
    def nested(inner_type: Any, tags: Any, kind: Any) -> dict[str, Any]:
        inner = record({"name": "value", "type": inner_type}, name="Inner")
        return record(
            {"name": "inner", "type": inner},
            {"name": "tags", "type": {"type": "array", "items": tags}},
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": kind}},
        )

    old = nested("string", "string", ["A", "B"])
    new = nested("long", "int", ["A"])
    found = {(m.path, m.kind) for m in read_mismatches(new, old)}
    assert found == {("inner.value", "type"), ("tags[]", "type"), ("kind", "symbol")}


def test_a_union_writer_needs_every_branch_readable() -> None:
    maybe_string = record(ID, {"name": "note", "type": ["null", "string"], "default": None})
    plain_string = record(ID, {"name": "note", "type": "string", "default": ""})
    assert [m.path for m in read_mismatches(plain_string, maybe_string)] == ["note"]  # null has no home
    assert read_mismatches(maybe_string, plain_string) == []  # string finds its branch


def test_named_references_and_aliases_resolve() -> None:
    money = {"type": "fixed", "name": "Money", "size": 8}
    writer = record({"name": "a", "type": money}, {"name": "b", "type": "team.Money"})
    reader = record({"name": "a", "type": dict(money)}, {"name": "b", "type": "Money"})
    assert read_mismatches(reader, writer) == []
    bigger = record({"name": "a", "type": {**money, "size": 16}}, {"name": "b", "type": "Money"})
    assert [(m.path, m.kind) for m in read_mismatches(bigger, writer)] == [("a", "size"), ("b", "size")]
    renamed = record(ID, name="Claim2")
    assert [m.kind for m in read_mismatches(renamed, record(ID))] == ["type"]
    renamed["aliases"] = ["Claim"]
    assert read_mismatches(renamed, record(ID)) == []


def test_transitive_levels_check_every_version_others_only_the_latest() -> None:
    v1 = record(ID, AMOUNT)
    v2 = record(ID, AMOUNT, CHANNEL)
    new = record(ID, CHANNEL)  # drops amount, which v1 and v2 both need
    assert len(compatibility_problems(new, [v1, v2], "FORWARD")) == 1
    assert len(compatibility_problems(new, [v1, v2], "FORWARD_TRANSITIVE")) == 2


def test_an_unknown_level_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown compatibility level 'SIDEWAYS'"):
        compatibility_problems(record(ID), [record(ID)], "sideways")


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        (record(ID, AMOUNT), record(ID)),
        (record(ID), record(ID, CHANNEL)),
        (record(ID, {"name": "n", "type": "int"}), record(ID, {"name": "n", "type": "double"})),
    ],
)
def test_what_the_checker_accepts_fastavro_really_reads(
    writer: dict[str, Any], reader: dict[str, Any]
) -> None:
    """The checker agrees with an Avro implementation: data written with `writer` decodes with `reader`."""
    import io

    assert read_mismatches(reader, writer) == []
    value = {"claim_id": "c1", "amount": 2.5, "n": 3}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(writer), value)
    buf.seek(0)
    got = fastavro.schemaless_reader(buf, fastavro.parse_schema(writer), fastavro.parse_schema(reader))
    assert isinstance(got, dict) and got["claim_id"] == "c1"
