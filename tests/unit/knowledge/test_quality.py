"""Quality: trust x freshness x completeness x uniqueness, and the reasons a source is flagged."""

from __future__ import annotations

import pytest

from dana_workflows.knowledge.chunks import make_chunk
from dana_workflows.knowledge.quality import DUPLICATE_FACTOR, freshness, score_sources
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit

DAY = 86_400_000_000
NOW = 1000 * DAY


def _src(**kw: object) -> KnowledgeSourceIR:
    return KnowledgeSourceIR.model_validate({"id": "s", "path": "x", **kw})


def test_a_clean_source_scores_its_trust() -> None:
    chunks = [make_chunk(f"s:{i}", "s", f"text {i}", {"policy_id": i}) for i in range(3)]
    q = score_sources({"s": _src(trust=0.9, shape=["policy_id"])}, {"s": chunks}, NOW)["s"]
    assert q.score == pytest.approx(0.9) and not q.low and q.reasons == ()


def test_each_factor_lowers_the_score_with_its_reason() -> None:
    chunks = [
        make_chunk("s:a", "s", "title\nsame text", {"policy_id": 1}, updated_us=NOW - 10 * DAY),
        make_chunk(
            "s:b", "s", "other title\nSame   text", {"policy_id": 2}, updated_us=NOW - 10 * DAY
        ),  # duplicate
        make_chunk("s:c", "s", "title\nold", {}, updated_us=NOW - 400 * DAY),  # stale and incomplete
    ]
    q = score_sources({"s": _src(trust=0.8, shape=["policy_id"], max_age_days=100)}, {"s": chunks}, NOW)["s"]
    per = q.chunks
    assert per["s:a"].score == pytest.approx(0.8)
    assert per["s:b"].uniqueness == DUPLICATE_FACTOR and per["s:b"].score == pytest.approx(0.4)
    assert per["s:c"].freshness == pytest.approx(100 / 400) and per["s:c"].missing == ("policy_id",)
    assert per["s:c"].score == pytest.approx(0.0)
    assert q.low
    assert "1 of 3 chunks older than max_age_days (100.0)" in q.reasons
    assert "1 of 3 chunks miss shape fields (policy_id)" in q.reasons
    assert "1 of 3 chunks duplicate other chunks" in q.reasons


def test_declared_low_trust_is_a_reason() -> None:
    q = score_sources({"s": _src(trust=0.3)}, {"s": [make_chunk("s:a", "s", "x", {})]}, NOW)["s"]
    assert q.low and q.reasons == ("declared trust 0.3",)


def test_freshness_unknown_or_undeclared_is_fresh() -> None:
    assert freshness(0, 10, NOW) == 1.0
    assert freshness(NOW - 500 * DAY, None, NOW) == 1.0
    assert freshness(NOW - 5 * DAY, 10, NOW) == 1.0
