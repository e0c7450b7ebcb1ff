"""The hot paths of transition() and admit() against their plain definitions.

transition() hashes the values at hand (audit_model.content_text) and fills the row's slots
without AuditRow.__init__; admit() passes values check_field would return unchanged without calling
it. Here both must agree with the slow, obvious versions.
"""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.processors import audit_trail
from dana_workflows.processors.audit_trail import transition
from dana_workflows.processors.base import RuleResult
from dana_workflows.processors.ingest import admit, check_field
from dana_workflows.schemas import sha256
from dana_workflows.schemas.canonical import canonical_json
from dana_workflows.schemas.envelope import GENESIS_HASH, Envelope
from dana_workflows.sinks.audit_model import COLUMNS, AuditRow, row_digest
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.workflow.ir import FieldIR, WorkflowIR

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs/examples/claims/claims.yaml"


def test_row_fields_are_the_columns() -> None:
    # transition() stores every field by name; a new AuditRow field must be a new column too
    assert tuple(f.name for f in dataclasses.fields(AuditRow)) == COLUMNS


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"decision": "pass"},
        {"decision": "reject", "reason": "r1: no; r2: ü\x00", "attempt": 2, "duration_us": 1234},
        {"rule_results_json": '[{"a":1}]', "details": {"b": [1, 2.5, None], "a": "x"}},
        {"rule_results": [RuleResult("r", "s", False, "reject", "m", {"v": 1})]},
        {"details_json": '{"ordinal":7}'},
        {"details": {}},
        {"attempt": True, "duration_us": 3.5},  # not ints: still str() of each
    ],
)
@pytest.mark.parametrize("digest", ["as loaded", "joined", "f-string", "hashlib"])
def test_transition_matches_the_plain_row(
    kwargs: dict[str, Any], digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if digest != "as loaded":  # the slots stored by transition itself (as without the extension)
        monkeypatch.setattr(audit_trail, "SEALED_ROW", None)
    if digest in (
        "f-string",
        "hashlib",
    ):  # the text written and hashed, by the extension's SHA-256 or hashlib
        monkeypatch.setattr(audit_trail, "JOINED_HEX", None)
    if digest == "hashlib":  # the path of a CPU without the SHA extensions (or no C extension)
        monkeypatch.setattr(audit_trail, "NATIVE_HEX", None)
    env = Envelope("run/in", "run", "wf", 3, "in", {}, chain_seq=5, chain_hash="ab" * 32)
    row = transition(env, "emitted", "step", 1764062000000000, **kwargs)
    rule_results = kwargs.get("rule_results")
    details = kwargs.get("details")
    expected = AuditRow(
        "wf",
        3,
        "run",
        5,
        "run/in",
        "step",
        "emitted",
        kwargs.get("decision", ""),
        kwargs.get("reason", ""),
        kwargs.get("rule_results_json")
        or (canonical_json([r.to_record() for r in rule_results]) if rule_results else "[]"),
        kwargs.get("attempt", 0),
        kwargs.get("duration_us", 0),
        kwargs.get("details_json") or (canonical_json(details) if details else "{}"),
        1764062000000000,
        "ab" * 32,
    )
    expected.hash = row_digest(expected)
    assert row.as_tuple() == expected.as_tuple()
    assert (env.chain_seq, env.chain_hash) == (6, row.hash)


def _ir(*fields: FieldIR) -> WorkflowIR:
    ir = load_pipeline(CLAIMS).workflow
    return ir.model_copy(update={"input": fields}) if fields else ir


@pytest.mark.parametrize("ordinal", [0, 41, 2**63 - 1, 2**63, 2**64 - 1])
def test_received_row_details_are_canonical_json(ordinal: int) -> None:
    adm = admit(_ir(), '{"claim_id": "c"}', ordinal, 5)
    # the input as received, for replay (docs/audit.md, "Recorded input")
    assert adm.rows[0].details == canonical_json({"input": '{"claim_id": "c"}', "ordinal": ordinal})
    assert adm.rows[0].hash == row_digest(adm.rows[0])
    assert adm.rows[0].prev_hash == GENESIS_HASH


FIELDS = (
    FieldIR(name="s", type="string"),
    FieldIR(name="l", type="long"),
    FieldIR(name="i", type="int"),
    FieldIR(name="d", type="double"),
    FieldIR(name="f", type="float", optional=True),
    FieldIR(name="b", type="boolean", optional=True),
)


@pytest.mark.parametrize(
    "event",
    [
        {"s": "x", "l": 1, "i": 2, "d": 1.5, "f": 2.5, "b": True},
        {"s": "x", "l": 1, "i": 2, "d": 3, "f": None},  # int for double: coerced to float
        {"s": "x", "l": True, "i": 2**31, "d": "1.5", "b": 1},  # each one wrong
        {"s": 1, "l": 1.0, "i": -(2**31), "d": False},
        {"s": None, "l": 1e3, "i": 2.0, "d": 1e308, "f": "x", "b": False},
        {},
    ],
)
def test_admit_checks_each_field_as_check_field(event: dict[str, Any]) -> None:
    import json

    adm = admit(_ir(*FIELDS), json.dumps(event), 3, 7)
    checked = {f.name: check_field(f, event.get(f.name)) for f in FIELDS}
    problems = [p for _, p in checked.values() if p is not None]
    assert adm.accepted == (not problems)
    if problems:
        assert adm.envelope.payload == event
        assert [r.split(": ", 1)[1] for r in adm.reasons] == problems
    else:
        payload = {name: value for name, (value, _) in checked.items()}
        assert adm.envelope.payload == payload
        assert [type(v) for v in adm.envelope.payload.values()] == [type(v) for v in payload.values()]
    assert all(row.hash == row_digest(row) for row in adm.rows)


def test_each_workflow_gets_its_own_field_plan() -> None:
    a = _ir(FieldIR(name="x", type="string"))
    b = _ir(FieldIR(name="x", type="long"))
    assert admit(a, '{"x": "1"}', 0, 0).accepted
    assert not admit(b, '{"x": "1"}', 0, 0).accepted
    assert admit(a, '{"x": "1"}', 0, 0).accepted


@pytest.mark.parametrize("digest", ["as loaded", "hashlib"])
@pytest.mark.parametrize("field", ["reason", "decision"])
def test_a_lone_surrogate_fails_the_row_on_every_path(
    field: str, digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not text any sink can store: the row is refused as str.encode refuses it, and the chain stays put
    if digest == "hashlib":
        monkeypatch.setattr(audit_trail, "SEALED_ROW", None)
        monkeypatch.setattr(audit_trail, "JOINED_HEX", None)
        monkeypatch.setattr(audit_trail, "NATIVE_HEX", None)
    env = Envelope("run/in", "run", "wf", 3, "in", {}, chain_seq=5, chain_hash="ab" * 32)
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        transition(env, "emitted", "step", 1, **{field: "bad \ud800 text"})
    assert (env.chain_seq, env.chain_hash) == (5, "ab" * 32)


# -- the row sealed in one C call (schemas/_sha256ni.c sealed_row, chosen by audit_trail.choose_sealed) -----

sealed_built = pytest.mark.skipif(
    audit_trail.SEALED_ROW is None, reason="no _sha256ni.sealed_row here (no build, or no SHA extensions)"
)

# the rows the import-time check builds, and a row of empty columns and a negative time
ODD_ROWS = [*audit_trail._SEAL_CHECKS, ("", 0, "", 1, "", "", "", "", "", "", 0, 0, "", -1, "")]


def _expected(parts: tuple[Any, ...]) -> AuditRow:
    row = AuditRow(*parts)
    row.hash = row_digest(row)
    return row


@sealed_built
@pytest.mark.parametrize("parts", ODD_ROWS)
def test_sealed_row_is_the_plain_row(parts: tuple[Any, ...]) -> None:
    sealed = audit_trail.SEALED_ROW
    assert sealed is not None
    row = sealed(*parts)
    assert type(row) is AuditRow
    assert row.as_tuple() == _expected(parts).as_tuple()
    assert all(getattr(row, c) is p for c, p in zip(COLUMNS, parts, strict=False))  # the objects given
    assert gc.is_tracked(row)  # a container like any AuditRow: the collector sees its references


@sealed_built
@pytest.mark.parametrize(
    "odd",
    [True, 2.5, 2**63, "bad \ud800 text", type("S", (str,), {})("sub")],
    ids=["bool", "float", "int over int64", "lone surrogate", "str subclass"],
)
def test_sealed_row_leaves_other_values_to_the_python_path(odd: Any) -> None:
    # None: transition then writes the text with its own conversions (or raises its error)
    sealed = audit_trail.SEALED_ROW
    assert sealed is not None
    assert sealed(*ODD_ROWS[0][:8], odd, *ODD_ROWS[0][9:]) is None


@sealed_built
def test_sealed_row_refuses_other_lengths_and_a_call_before_bind_row() -> None:
    # it reads parts[0..14] and the bound class's offsets: a shorter call would read past its arguments
    sealed = audit_trail.SEALED_ROW
    assert sealed is not None
    for parts in (ODD_ROWS[0][:-1], (*ODD_ROWS[0], "")):
        with pytest.raises(TypeError, match="takes the 15 hashed columns"):
            sealed(*parts)
    with pytest.raises(TypeError, match="no keyword arguments"):
        sealed(*ODD_ROWS[0][:-1], prev_hash="")
    # a fresh process: the module imported, nothing bound yet (this one bound AuditRow at import)
    unbound = (
        "from dana_workflows.schemas import _sha256ni\n"
        "try:\n    _sha256ni.sealed_row(*[''] * 15)\nexcept TypeError as e:\n    print(e)"
    )
    done = subprocess.run([sys.executable, "-c", unbound], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "sealed_row takes the 15 hashed columns, after bind_row"


@sealed_built
def test_transition_uses_the_sealed_row(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    sealed = audit_trail.SEALED_ROW
    assert sealed is not None

    def counted(*parts: Any) -> AuditRow | None:
        calls.append(len(parts))
        return sealed(*parts)

    monkeypatch.setattr(audit_trail, "SEALED_ROW", counted)
    env = Envelope("run/in", "run", "wf", 3, "in", {}, chain_seq=5, chain_hash="ab" * 32)
    row = transition(env, "emitted", "step", 1, decision="pass")
    assert calls == [15]
    assert row.as_tuple() == _expected(("wf", 3, "run", 5, "run/in", "step", "emitted", "pass", "", "[]",
                                        0, 0, "{}", 1, "ab" * 32)).as_tuple()  # fmt: skip
    assert (env.chain_seq, env.chain_hash) == (6, row.hash)


@sealed_built
def test_bind_row_refuses_a_class_without_the_column_slots() -> None:
    from dana_workflows.schemas import _sha256ni

    @dataclasses.dataclass  # no slots: its columns are no member descriptors
    class Loose:
        workflow: str = ""

    try:
        with pytest.raises(ValueError, match="column 0"):
            _sha256ni.bind_row(Loose, COLUMNS)
        for names in (COLUMNS[:-1], (*COLUMNS, "workflow")):
            with pytest.raises(ValueError, match="16 column names"):
                _sha256ni.bind_row(AuditRow, names)
    finally:
        _sha256ni.bind_row(AuditRow, COLUMNS)


@sealed_built
def test_bind_row_refuses_a_slot_that_is_not_the_class_own_once() -> None:
    # sealed_row stores at the offsets bind_row read: a slot of a bigger class, set on a small one as an
    # attribute, lies past the small row's end (the store overwrote the heap); a name given twice would
    # put two references in one slot and release one
    from dana_workflows.schemas import _sha256ni

    class Big:
        __slots__ = tuple(f"s{i}" for i in range(40))

    class Small:
        __slots__ = ()

    for i, column in enumerate(COLUMNS):
        setattr(Small, column, Big.__dict__[f"s{i + 20}"])
    # another class's slots inside this one's size: the last lies where this class keeps __weakref__
    names = (*COLUMNS[:-1], "zz")

    class Donor:
        __slots__ = (*names[:-1], "zy", "zz")

    class Host:
        __slots__ = (*(f"h{i}" for i in range(16)), "__weakref__")

    for name in names:
        setattr(Host, name, Donor.__dict__[name])
    assert Host.__weakrefoffset__ == 144 == Host.__basicsize__ - 8  # zz's offset in Donor as well
    try:
        with pytest.raises(ValueError, match="column 0 is not a slot of its own"):
            _sha256ni.bind_row(Small, COLUMNS)
        with pytest.raises(ValueError, match="column 0 is not a slot of its own"):
            _sha256ni.bind_row(Host, names)
        with pytest.raises(ValueError, match="column 1 is not a slot of its own"):
            _sha256ni.bind_row(AuditRow, ("workflow",) * 16)
    finally:
        _sha256ni.bind_row(AuditRow, COLUMNS)


@sealed_built
def test_sealed_row_holds_each_column_once_while_the_row_lives() -> None:
    sealed = audit_trail.SEALED_ROW
    assert sealed is not None
    parts = tuple(f"column {i}: ü" if isinstance(p, str) else p + 10**12 for i, p in enumerate(ODD_ROWS[0]))
    before = [sys.getrefcount(p) for p in parts]
    rows: list[Any] = [sealed(*parts) for _ in range(1000)]
    held = [sys.getrefcount(p) for p in parts]
    assert [h - b for h, b in zip(held, before, strict=True)] == [1000] * 15
    assert all(sys.getrefcount(row.hash) == 2 for row in rows)  # the row's and getrefcount's argument
    del rows
    assert [sys.getrefcount(p) for p in parts] == before


@sealed_built
def test_a_bind_during_the_row_allocation_does_not_misplace_its_columns() -> None:
    # CPython 3.11 collects inside the allocation: a collection's callback (or a finalizer, or another
    # thread it lets in) that binds another class must not leave a row filled at that class's offsets.
    # Slots lie in the order of their sorted names: "aaa" first moves every other column by one slot.
    from dana_workflows.schemas import _sha256ni

    other_columns = ("aaa", *COLUMNS[1:])
    Other = dataclasses.make_dataclass("Other", other_columns, slots=True)
    binds = [(Other, other_columns), (AuditRow, COLUMNS)]

    def rebind(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            binds.reverse()
            _sha256ni.bind_row(*binds[0])

    sealed = audit_trail.SEALED_ROW
    assert sealed is not None
    parts, thresholds = ODD_ROWS[1], gc.get_threshold()
    gc.callbacks.append(rebind)
    gc.set_threshold(1)
    try:
        rows = [sealed(*parts) for _ in range(200)]
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(rebind)
        _sha256ni.bind_row(AuditRow, COLUMNS)
    assert {type(row) for row in rows} == {AuditRow, Other}  # the binding changed under the calls
    digest = _expected(parts).hash
    for row in rows:
        names = COLUMNS if type(row) is AuditRow else other_columns
        assert [getattr(row, c) for c in names] == [*parts, digest]


def test_a_built_sealed_row_is_taken() -> None:
    # choose_sealed refuses a sealed_row that fails its check with only a warning, and the tests above then
    # skip: where the extension offers it (and the checked joined digest), it must have been taken
    sha256ni = pytest.importorskip("dana_workflows.schemas._sha256ni")
    offered = sha256.JOINED_HEX is not None and hasattr(sha256ni, "sealed_row")
    assert (audit_trail.SEALED_ROW is not None) == offered


class _Module:
    """A stand-in for the extension module, offering what a test gives it."""

    def __init__(self, **functions: Any) -> None:
        self.__dict__.update(functions)


def test_choose_sealed_takes_a_function_that_makes_the_plain_rows() -> None:
    bound: list[tuple[Any, ...]] = []

    def sealed(*parts: Any) -> AuditRow | None:
        if any(type(p) is bool for p in parts):
            return None
        return _expected(parts)

    module = _Module(bind_row=lambda cls, cols: bound.append((cls, cols)), sealed_row=sealed)
    assert audit_trail.choose_sealed(module) is sealed
    assert bound == [(AuditRow, COLUMNS)]


@pytest.mark.parametrize(
    "why",
    ["wrong hash", "wrong class", "a row for a bool", "bind raises", "not offered"],
)
def test_choose_sealed_refuses_a_function_that_differs(why: str, caplog: pytest.LogCaptureFixture) -> None:
    def sealed(*parts: Any) -> Any:
        if why == "a row for a bool":
            return _expected(tuple(0 if type(p) is bool else p for p in parts))
        if any(type(p) is bool for p in parts):
            return None
        row = _expected(parts)
        if why == "wrong hash":
            row.hash = "0" * 64
        if why == "wrong class":  # the same values in another class (a bind to the wrong type)
            return _Module(**row.as_dict())
        return row

    def bind(cls: type, cols: tuple[str, ...]) -> None:
        if why == "bind raises":
            raise ValueError("no slots")

    module = _Module(bind_row=bind) if why == "not offered" else _Module(bind_row=bind, sealed_row=sealed)
    chosen = audit_trail.choose_sealed(module)
    assert chosen is None
    assert ("failed its check" in caplog.text) == (why != "not offered")


def test_no_sealed_row_without_the_checked_joined_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_trail, "JOINED_HEX", None)
    assert audit_trail._sealed() is None
