"""Domain pack loading errors and inheritance (objectives/domain_packs.py), and how a model's reply
becomes candidates (objectives/llm_proposals.py).

Packs: ``a:b`` extends ``a``, every pack extends ``core``, an explicit parent wins; a circle, a missing
parent, a list name no list has, a prior saying not exactly one of range/values/format and an unknown
directory are each named; a name matches case-insensitively by glob and only for the listed types.
Replies: one rule per line as ``id | CEL | reason``; a line without a valid id or rule is skipped;
without a reason the message names the rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.domain_packs import FieldPrior, PackError, available, load_pack
from dana_workflows.objectives.llm_proposals import parse_reply

pytestmark = pytest.mark.unit


def _pack(d: Path, file: str, text: str) -> None:
    (d / file).write_text(text, encoding="utf-8")


def test_a_child_pack_lists_its_chain_and_its_priors_first(tmp_path: Path) -> None:
    _pack(tmp_path, "a.yaml", "name: acme\nfields:\n  - names: [score]\n    range: [0, 10]\n")
    _pack(tmp_path, "b.yaml", "name: acme:retail\nfields:\n  - names: [Score]\n    range: [0, 5]\n")
    pack = load_pack("acme:retail", (tmp_path,))
    assert pack.chain == ["acme:retail", "acme", "core"]
    priors = pack.priors_for("SCORE", "double")
    assert [p.pack for p in priors][:2] == ["acme:retail", "acme"]
    assert priors[0].spec.range == (0, 5)


def test_an_explicit_parent_wins_over_the_name(tmp_path: Path) -> None:
    _pack(tmp_path, "p.yaml", "name: base_x\n")
    _pack(tmp_path, "c.yaml", "name: other:child\nparent: base_x\n")
    assert load_pack("other:child", (tmp_path,)).chain == ["other:child", "base_x", "core"]


def test_a_circle_and_a_missing_parent_are_named(tmp_path: Path) -> None:
    _pack(tmp_path, "x.yaml", "name: xx\nparent: yy\n")
    _pack(tmp_path, "y.yaml", "name: yy\nparent: xx\n")
    with pytest.raises(PackError) as e:
        load_pack("xx", (tmp_path,))
    assert str(e.value) == "domain packs inherit in a circle: xx -> yy -> xx"
    _pack(tmp_path, "z.yaml", "name: zz\nparent: nowhere\n")
    with pytest.raises(PackError) as e:
        load_pack("zz", (tmp_path,))
    assert str(e.value) == "domain pack 'zz' names a parent 'nowhere' that does not exist"


def test_an_unknown_pack_lists_the_known_ones_when_nothing_is_close(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"^unknown domain 'qqqqqqqq': known packs: core, "):
        load_pack("qqqqqqqq")


def test_named_lists_resolve_and_an_unknown_list_is_named(tmp_path: Path) -> None:
    _pack(
        tmp_path,
        "l.yaml",
        "name: lists\nlists:\n  tiers: [a, b]\nfields:\n  - names: [tier]\n    values: tiers\n",
    )
    prior = load_pack("lists", (tmp_path,)).priors_for("tier", "string")[0]
    assert prior.values == ["a", "b"]
    _pack(tmp_path, "m.yaml", "name: broken\nfields:\n  - names: [tier]\n    values: nolist\n")
    with pytest.raises(PackError, match=r"m\.yaml: values 'nolist' names no list of this pack$"):
        load_pack("broken", (tmp_path,))


def test_a_broken_pack_file_is_named_with_the_field(tmp_path: Path) -> None:
    _pack(tmp_path, "bad.yaml", "name: bad\nfields:\n  - names: [a]\n    range: [0, 1]\n    format: x\n")
    with pytest.raises(PackError) as e:
        available((tmp_path,))
    assert str(e.value).startswith(f"{tmp_path / 'bad.yaml'}: fields.0: ")
    assert "exactly one of range, values, format" in str(e.value)
    assert str(e.value).endswith("(see objectives/domains/core.yaml)")
    _pack(tmp_path, "bad.yaml", "name: [unclosed\n")
    with pytest.raises(PackError, match=r"bad\.yaml:[0-9]+: not valid YAML \(.*\); fix the YAML$"):
        available((tmp_path,))
    with pytest.raises(PackError, match="no such directory of domain packs"):
        available((tmp_path / "none",))


def test_a_prior_matches_by_glob_and_type() -> None:
    p = FieldPrior(names=["*_amount", "total"], types=["double"], range=(0, None))
    assert p.matches("Claim_AMOUNT", "double") and p.matches("total", "double")
    assert not p.matches("claim_amount", "long") and not p.matches("amount", "double")
    with pytest.raises(ValueError, match=r"exactly one of range, values, format \(found none\)"):
        FieldPrior(names=["a"])


def test_a_reply_gives_one_candidate_per_well_formed_line() -> None:
    text = "\n".join(
        [
            "pos | amount > 0.0 | amounts are positive",
            "no_reason | amount < 1e6",
            "empty_reason | amount < 2e6 |",
            "1bad | amount > 0.0 | id starts with a digit",
            "no_rule |  | nothing",
            "just text",
            "",
        ]
    )
    cands = parse_reply(text)
    assert [(c.id, c.rule, c.message) for c in cands] == [
        ("pos", "amount > 0.0", "amounts are positive"),
        ("no_reason", "amount < 1e6", "rule no_reason"),
        ("empty_reason", "amount < 2e6", "rule empty_reason"),
    ]
    assert all(c.profile == "llm" and c.strength == 0.7 and c.fields == () for c in cands)
