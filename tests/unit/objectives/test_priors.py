"""Priors from a pack, folded into what the sample shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dana_workflows.objectives.domain_packs import load_pack
from dana_workflows.objectives.infer import candidates
from dana_workflows.objectives.profilers.column import Column
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()


def rules_for(name: str, type_: str, values: Sequence[Any], pack: str = "finance:lending") -> dict[str, str]:
    col = Column(FieldIR(name=name, type=type_), list(values))  # type: ignore[arg-type]
    return {c.kind: c.rule for c in candidates([col], load_pack(pack), S)}


def test_range_prior_clips_the_learned_range() -> None:
    # 200 distinct scores (349 is prime): no edge piles up, so the learned top is widened past 848
    got = rules_for("credit_score", "long", [500 + (i * 7) % 349 for i in range(200)])
    assert got["range"].endswith("credit_score <= 850")  # FICO's ceiling, not the learned one above it


def test_a_contradicted_prior_is_not_used() -> None:
    got = rules_for(
        "credit_score", "long", [100 + i % 150 for i in range(300)]
    )  # below FICO's 300: data speaks
    assert ">= 300" not in got["range"] and "<= 850" not in got["range"]  # the learned range, unclipped


def test_value_list_stands_where_no_closed_domain_is_seen() -> None:
    pack = load_pack("core")
    iso = next(p for p in pack.priors if p.spec.values == "iso3166_alpha2").values
    got = rules_for("country", "string", iso[:60])  # 60 codes seen once each: an open domain
    assert got["domain"].startswith('country in ["AD", "AE"')


def test_format_prior_replaces_a_learned_shape_and_a_lower_bound_stands_alone() -> None:
    emails = [f"user{i}@example.com" for i in range(40)]
    assert "A-Za-z0-9._%+-" in rules_for("email", "string", emails)["pattern"]
    got = rules_for("amount", "double", [1.0] * 5)  # too few values to learn a range: the prior alone
    assert got == {"min": "amount >= 0.0"}
