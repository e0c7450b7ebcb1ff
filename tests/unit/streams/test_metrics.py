"""The worker's /metrics, /healthz and /readyz, scraped over real HTTP on an ephemeral port."""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from dana_workflows.streams.health import Health, MetricsServer
from dana_workflows.streams.prometheus import STEP_BUCKETS, Metrics, observe_many

pytestmark = pytest.mark.unit

Served = tuple[Metrics, Health, MetricsServer]


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, keyed by (name, labels)."""
    response = httpx.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


@pytest.fixture
def served() -> Iterator[Served]:
    metrics = Metrics(audit_buffer_max=1000)
    health = Health()
    server = MetricsServer(metrics, health, host="127.0.0.1", port=0).start()
    try:
        yield metrics, health, server
    finally:
        server.stop()


def test_counts_scraped_match_what_was_recorded(served: Served) -> None:
    metrics, _, server = served
    for _ in range(5):
        metrics.event_in("claims", "check_claim")
    for _ in range(3):
        metrics.event_out("claims", "check_claim", "emit")
    metrics.event_out("claims", "check_claim", "reject")
    metrics.event_out("claims", "check_claim", "dlq")
    metrics.rejected("claims", ["positive_amount", "known_currency"])
    metrics.rejected("claims", "positive_amount")
    metrics.dlq("claims", "check_claim")
    metrics.observe_step("claims", "check_claim", 0.002)
    metrics.observe_step("claims", "check_claim", 0.2)

    s = scrape(server.url)
    assert s[key("dwf_events_in_total", workflow="claims", step="check_claim")] == 5
    assert s[key("dwf_events_out_total", workflow="claims", step="check_claim", outcome="emit")] == 3
    assert s[key("dwf_events_out_total", workflow="claims", step="check_claim", outcome="reject")] == 1
    assert s[key("dwf_rule_rejections_total", workflow="claims", rule="positive_amount")] == 2
    assert s[key("dwf_rule_rejections_total", workflow="claims", rule="known_currency")] == 1
    assert s[key("dwf_dlq_total", workflow="claims", step="check_claim")] == 1
    assert s[key("dwf_step_duration_seconds_count", workflow="claims", step="check_claim")] == 2
    assert s[key("dwf_step_duration_seconds_bucket", workflow="claims", step="check_claim", le="0.0025")] == 1
    total = s[key("dwf_step_duration_seconds_sum", workflow="claims", step="check_claim")]
    assert total == pytest.approx(0.202)


def test_llm_audit_drift_and_lag(served: Served) -> None:
    metrics, _, server = served
    llm = {"workflow": "claims", "step": "summarize", "model": "gpt-x"}
    metrics.llm_call(*llm.values(), seconds=1.5, input_tokens=100, output_tokens=20, cost_usd=0.0125)
    metrics.llm_call(*llm.values(), seconds=30.0, status="timeout")
    metrics.llm_call(*llm.values(), cached=True)
    metrics.llm_rate_limited(*llm.values())
    metrics.audit_buffer(750)
    metrics.audit_insert(0.04, rows=5000)
    metrics.audit_insert(0.06, rows=1200)
    metrics.drift("claims", "amount", 0.31, threshold=0.2)
    metrics.lag("dwf.claims.in", 3, 42)

    s = scrape(server.url)
    assert s[key("dwf_llm_calls_total", **llm, status="ok")] == 1
    assert s[key("dwf_llm_calls_total", **llm, status="timeout")] == 1
    assert s[key("dwf_llm_tokens_total", **llm, kind="input")] == 100
    assert s[key("dwf_llm_tokens_total", **llm, kind="output")] == 20
    assert s[key("dwf_llm_cost_usd_total", **llm)] == pytest.approx(0.0125)
    assert s[key("dwf_llm_request_duration_seconds_count", **llm)] == 2  # the cache hit is not a call
    assert s[key("dwf_llm_cache_hits_total", **llm)] == 1
    assert s[key("dwf_llm_rate_limited_total", **llm)] == 1
    assert s[key("dwf_audit_buffer_rows")] == 750
    assert s[key("dwf_audit_buffer_capacity_rows")] == 1000
    assert s[key("dwf_audit_rows_inserted_total")] == 6200
    assert s[key("dwf_audit_insert_duration_seconds_count")] == 2
    assert s[key("dwf_drift_psi", workflow="claims", monitor="amount")] == pytest.approx(0.31)
    assert s[key("dwf_drift_threshold", workflow="claims", monitor="amount")] == pytest.approx(0.2)
    assert s[key("dwf_consumer_lag_messages", topic="dwf.claims.in", partition="3")] == 42


def test_each_worker_has_its_own_registry() -> None:
    a, b = Metrics(process_metrics=False), Metrics(process_metrics=False)
    a.event_in("w", "s")
    assert a.value("dwf_events_in_total", workflow="w", step="s") == 1
    assert b.value("dwf_events_in_total", workflow="w", step="s") == 0


def test_unknown_outcome_and_status_are_refused() -> None:
    metrics = Metrics(process_metrics=False)
    with pytest.raises(ValueError, match="outcome 'emitted'"):
        metrics.event_out("w", "s", "emitted")
    with pytest.raises(ValueError, match="status '429'"):
        metrics.llm_call("w", "s", "m", status="429")


def test_readiness_follows_the_flag(served: Served) -> None:
    _, health, server = served
    assert httpx.get(f"{server.url}/readyz").status_code == 503
    health.set_ready()
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    health.set_ready(False)
    assert httpx.get(f"{server.url}/readyz").status_code == 503


def test_liveness_flips_when_the_watchdog_reports_a_stall(served: Served) -> None:
    _, health, server = served
    stall: list[str] = []
    health.set_watchdog(lambda: stall[0] if stall else None)
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    stall.append("consumer dwf.claims.in made no progress for 95s")
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert "dwf.claims.in" in response.text


def test_a_failing_watchdog_is_unhealthy(served: Served) -> None:
    _, health, server = served

    def broken() -> str | None:
        raise RuntimeError("no consumer")

    health.set_watchdog(broken)
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 503
    assert "no consumer" in response.text


def test_unknown_path_is_404_and_busy_port_is_explained(served: Served) -> None:
    metrics, _, server = served
    assert httpx.get(f"{server.url}/nope").status_code == 404
    with pytest.raises(OSError, match="DWF_METRICS_PORT"):
        MetricsServer(metrics, host="127.0.0.1", port=server.port).start()


def test_a_batch_counted_at_once_scrapes_as_its_events_one_by_one() -> None:
    """The Kafka worker tallies a batch and counts it in one call per label set (``n``, observe_steps):
    the scrape must equal counting each event of the batch on its own."""
    one, batched = Metrics(), Metrics()
    durations = [0.001, 0.003, 0.2]
    for seconds in durations:
        one.event_in("claims", "triage")
        one.observe_step("claims", "triage", seconds)
        one.event_out("claims", "triage", "dlq")
        one.dlq("claims", "triage")
        one.rejected("claims", ["positive_amount"])
    batched.event_in("claims", "triage", len(durations))
    batched.observe_steps("claims", "triage", durations)
    batched.event_out("claims", "triage", "dlq", len(durations))
    batched.dlq("claims", "triage", len(durations))
    batched.rejected("claims", ["positive_amount"], len(durations))
    names = [
        ("dwf_events_in_total", {"workflow": "claims", "step": "triage"}),
        ("dwf_events_out_total", {"workflow": "claims", "step": "triage", "outcome": "dlq"}),
        ("dwf_dlq_total", {"workflow": "claims", "step": "triage"}),
        ("dwf_rule_rejections_total", {"workflow": "claims", "rule": "positive_amount"}),
        ("dwf_step_duration_seconds_count", {"workflow": "claims", "step": "triage"}),
        ("dwf_step_duration_seconds_bucket", {"workflow": "claims", "step": "triage", "le": "0.0025"}),
    ]
    for name, labels in names:
        assert batched.value(name, **labels) == one.value(name, **labels) > 0, name
    total = batched.value("dwf_step_duration_seconds_sum", workflow="claims", step="triage")
    assert total == pytest.approx(sum(durations))


def histogram_samples(registry: Any) -> dict[tuple[str, str], float]:
    """A histogram's samples by (name, le), its _created left out (a clock reading)."""
    return {
        (s.name, s.labels.get("le", "")): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_observe_many_counts_each_amount_into_the_bucket_observe_would() -> None:
    """``observe_many`` against prometheus_client's own ``observe`` of each amount, one at a time:
    amounts on a bucket's bound (le is inclusive), between bounds, below the first, past the last,
    zero and negative; and nothing observed is nothing counted."""
    amounts = [*STEP_BUCKETS, *(b * 0.999 for b in STEP_BUCKETS), *(b * 1.001 for b in STEP_BUCKETS)]
    amounts += [0.0, -0.5, 1e-9, 1e6, 0.003, 0.003]
    one, many = CollectorRegistry(), CollectorRegistry()
    one_h = Histogram("h", "d", ["step"], buckets=STEP_BUCKETS, registry=one).labels("s")
    many_h = Histogram("h", "d", ["step"], buckets=STEP_BUCKETS, registry=many).labels("s")
    for amount in amounts:
        one_h.observe(amount)
    observe_many(many_h, amounts)
    observe_many(many_h, [])
    expected = histogram_samples(one)
    got = histogram_samples(many)
    assert got.pop(("h_sum", "")) == pytest.approx(expected.pop(("h_sum", "")))
    assert got == expected
    assert expected[("h_bucket", "0.0005")] == 5  # 0.0005 itself (le is inclusive), just below, 0, -0.5, 1e-9


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(
        st.lists(
            st.one_of(
                st.sampled_from([*STEP_BUCKETS, 0.0, -1.0]),  # on a bound: le is inclusive
                st.floats(min_value=-1.0, max_value=100.0, allow_nan=False),
                st.floats(min_value=0.0, max_value=0.002),  # where a step's durations sit
            ),
            max_size=40,
        ),
        max_size=4,
    )
)
def test_observe_many_in_any_order_counts_as_observe(batches: list[list[float]]) -> None:
    # amounts in any order, ties, several batches into one histogram: each bucket's count as one observe
    # an amount gives (the counts are integers: exact; the sum is a float sum, to rounding)
    one, many = CollectorRegistry(), CollectorRegistry()
    one_h = Histogram("h", "d", ["step"], buckets=STEP_BUCKETS, registry=one).labels("s")
    many_h = Histogram("h", "d", ["step"], buckets=STEP_BUCKETS, registry=many).labels("s")
    for batch in batches:
        for amount in batch:
            one_h.observe(amount)
        observe_many(many_h, batch)
    expected, got = histogram_samples(one), histogram_samples(many)
    assert got.pop(("h_sum", "")) == pytest.approx(expected.pop(("h_sum", "")), abs=1e-9)
    assert got == expected


def test_observe_many_with_a_nan_counts_the_other_amounts_as_observe() -> None:
    # sorted() leaves a list with a NaN out of order (56437b0 then counted 7.0 and 50.0 in the first
    # bucket); the other amounts land as observe puts them, the NaN in the first bucket as before session 15
    # (bisect_left of a NaN is 0; observe puts it in none), the sum NaN as observe's
    amounts = [0.0003, math.nan, 7.0, 0.003, math.nan, 50.0, 0.0004]
    one = Histogram("h", "d", buckets=STEP_BUCKETS, registry=CollectorRegistry())
    many = Histogram("h", "d", buckets=STEP_BUCKETS, registry=CollectorRegistry())
    for amount in amounts:
        one.observe(amount)
    observe_many(many, amounts)
    expected = [b.get() for b in cast(Any, one)._buckets]
    expected[0] += 2
    assert [b.get() for b in cast(Any, many)._buckets] == expected
    assert math.isnan(cast(Any, many)._sum.get())


def test_observe_many_falls_back_to_observe_where_the_internals_differ() -> None:
    seen: list[float] = []
    stand_in: Any = SimpleNamespace(observe=seen.append)  # no _upper_bounds/_buckets/_sum
    observe_many(stand_in, [0.1, 0.2])
    assert seen == [0.1, 0.2]
