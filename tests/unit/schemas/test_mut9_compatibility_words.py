"""Schema compatibility (schemas/compatibility.py): the Avro specification's promotions, every one and only
those (https://avro.apache.org/docs/1.11.1/specification/#schema-resolution: int is promotable to long,
float or double; long to float or double; float to double; string to bytes; bytes to string), and the
exact words of each kind of problem in both directions, with the path of the field that breaks.
"""

from __future__ import annotations

from typing import Any

import pytest

from dana_workflows.schemas.compatibility import compatibility_problems, read_mismatches

pytestmark = pytest.mark.unit

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
SPEC_PROMOTIONS = {
    ("int", "long"),
    ("int", "float"),
    ("int", "double"),
    ("long", "float"),
    ("long", "double"),
    ("float", "double"),
    ("string", "bytes"),
    ("bytes", "string"),
}


def _rec(ftype: Any, name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": [{"name": "f", "type": ftype}]}


@pytest.mark.parametrize("writer", PRIMITIVES)
@pytest.mark.parametrize("reader", PRIMITIVES)
def test_primitives_read_each_other_exactly_as_the_spec_promotes(writer: str, reader: str) -> None:
    readable = writer == reader or (writer, reader) in SPEC_PROMOTIONS
    assert (read_mismatches(_rec(reader), _rec(writer)) == []) is readable


def test_the_words_of_a_type_change_in_both_directions() -> None:
    old, new = _rec("string"), _rec("int")
    assert compatibility_problems(new, [old], "FULL") == [
        "field f: type changed (string read as int), so records written with version 1 cannot be read",
        "field f: type changed (int read as string), so readers on version 1 cannot read the new records",
    ]


def test_a_top_level_change_is_named_as_such() -> None:
    assert compatibility_problems("int", ["string"], "BACKWARD") == [
        "field (top level): type changed (string read as int)"
        ", so records written with version 1 cannot be read"
    ]


def test_fixed_sizes_and_enum_symbols() -> None:
    fixed4 = _rec({"type": "fixed", "name": "F", "size": 4})
    fixed8 = _rec({"type": "fixed", "name": "F", "size": 8})
    assert compatibility_problems(fixed8, [fixed4], "BACKWARD") == [
        "field f: fixed size changed (4 -> 8), so records written with version 1 cannot be read"
    ]
    ab = _rec({"type": "enum", "name": "E", "symbols": ["A", "B"]})
    abc = _rec({"type": "enum", "name": "E", "symbols": ["A", "B", "C"]})
    assert compatibility_problems(abc, [ab], "FORWARD") == [
        "field f: enum symbol(s) C unknown to the reader, which has no default symbol, "
        "so readers on version 1 cannot read the new records"
    ]
    with_default = _rec({"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "A"})
    assert read_mismatches(with_default, abc) == []


def test_removed_field_words_and_container_paths() -> None:
    old = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}],
    }
    new = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    assert compatibility_problems(new, [old], "FORWARD") == [
        "field b: removed, but has no default in version 1, so its readers break"
    ]
    arrays = compatibility_problems(
        _rec({"type": "array", "items": "int"}), [_rec({"type": "array", "items": "string"})], "BACKWARD"
    )
    assert arrays == [
        "field f[]: type changed (string read as int), so records written with version 1 cannot be read"
    ]
    maps = compatibility_problems(
        _rec({"type": "map", "values": "int"}), [_rec({"type": "map", "values": "string"})], "BACKWARD"
    )
    assert maps == [
        "field f{}: type changed (string read as int), so records written with version 1 cannot be read"
    ]


def test_containers_and_unions_are_described_by_their_shape() -> None:
    problems = compatibility_problems(
        _rec({"type": "map", "values": "int"}), [_rec({"type": "array", "items": "int"})], "BACKWARD"
    )
    assert problems == [
        "field f: type changed (array<int> read as map<int>)"
        ", so records written with version 1 cannot be read"
    ]
    inner = {"type": "record", "name": "In", "fields": []}
    union = compatibility_problems(_rec("string"), [_rec(["null", inner])], "BACKWARD")
    assert union == [
        "field f: type changed (null read as string), so records written with version 1 cannot be read",
        "field f: type changed (record In read as string), so records written with version 1 cannot be read",
    ]
    into_union = compatibility_problems(_rec(["null", "int"]), [_rec("string")], "BACKWARD")
    assert into_union == [
        "field f: type changed (string read as union[null,int])"
        ", so records written with version 1 cannot be read"
    ]


def test_a_renamed_record_is_readable_through_an_alias_only() -> None:
    old = _rec({"type": "record", "name": "Old", "fields": []})
    renamed = _rec({"type": "record", "name": "New", "fields": []})
    aliased = _rec({"type": "record", "name": "New", "aliases": ["ns.Old"], "fields": []})
    assert compatibility_problems(renamed, [old], "BACKWARD") == [
        "field f: type changed (record Old read as record New)"
        ", so records written with version 1 cannot be read"
    ]
    assert compatibility_problems(aliased, [old], "BACKWARD") == []


def test_no_registered_version_or_level_none_is_never_a_problem() -> None:
    assert compatibility_problems(_rec("int"), [], "FULL_TRANSITIVE") == []
    assert compatibility_problems(_rec("int"), [_rec("string")], "none") == []
    assert compatibility_problems(_rec("int"), [_rec("string")], "backward") != []  # levels in any case
