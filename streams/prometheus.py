"""Prometheus metrics of one worker, on its own registry.

Each worker (and each test) makes its own ``Metrics``: nothing is registered on prometheus_client's global
registry, so two runtimes in one process never collide and a test sees only its own counts. The runtimes call
the plain methods below; they never touch prometheus_client objects. Every name starts with ``dwf_``;
docs/operations.md lists them and helm/dana-workflows/files/ holds the dashboard and alerts built on them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# Seconds. Steps are mostly sub-millisecond rules, LLM steps take seconds: one set of buckets spans both.
STEP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
AUDIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# What a processed event became; `event_out` refuses anything else so dashboards can rely on the set.
OUTCOMES = frozenset({"emit", "route", "reject", "dlq", "review"})
# Final status of one provider call, after the single retry layer has given up or succeeded.
LLM_STATUSES = frozenset({"ok", "error", "timeout", "rate_limited", "invalid_output"})

# Levels of a drift window that count as an alert (``ok`` is not counted).
DRIFT_ALERT_LEVELS = ("warn", "alert")

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The worker's metrics. Methods are cheap and thread-safe (prometheus_client locks per child)."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        audit_buffer_max: int | None = None,
        process_metrics: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        if process_metrics:
            # process_* (cpu, rss, fds), python_info and python_gc_*: standard panels and OOM hunting.
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

        self._info = Info("dwf_build", "Version of the engine and the workflow this worker runs.", registry=r)

        wf_step = ("workflow", "step")
        self._events_in = Counter("dwf_events_in", "Envelopes a step received.", wf_step, registry=r)
        self._events_out = Counter(
            "dwf_events_out",
            "Envelopes a step finished, by outcome (emit, route, reject, dlq).",
            (*wf_step, "outcome"),
            registry=r,
        )
        self._rejections = Counter(
            "dwf_rule_rejections",
            "Rule failures that rejected an envelope.",
            ("workflow", "rule"),
            registry=r,
        )
        self._dlq = Counter("dwf_dlq", "Messages written to the dead-letter topic.", wf_step, registry=r)
        self._recovery = Counter(
            "dwf_recovery_attempts",
            "Attempts of a recovery ladder's rungs (docs/recovery.md), by error class and outcome.",
            (*wf_step, "rung", "error_class", "outcome"),
            registry=r,
        )
        self._step_seconds = Histogram(
            "dwf_step_duration_seconds",
            "Time one step spent on one envelope.",
            wf_step,
            buckets=STEP_BUCKETS,
            registry=r,
        )

        llm = ("workflow", "step", "model")
        self._llm_calls = Counter(
            "dwf_llm_calls", "Provider calls by final status.", (*llm, "status"), registry=r
        )
        self._llm_tokens = Counter(
            "dwf_llm_tokens", "Tokens billed by the provider.", (*llm, "kind"), registry=r
        )
        self._llm_cost = Counter("dwf_llm_cost_usd", "Estimated spend in US dollars.", llm, registry=r)
        self._llm_seconds = Histogram(
            "dwf_llm_request_duration_seconds",
            "Provider call latency, retries included.",
            llm,
            buckets=LLM_BUCKETS,
            registry=r,
        )
        self._llm_cache_hits = Counter(
            "dwf_llm_cache_hits", "Replies served from the LLM cache (no provider call).", llm, registry=r
        )
        self._llm_429 = Counter(
            "dwf_llm_rate_limited",
            "HTTP 429 responses received from the provider (each one, even if a retry then succeeded).",
            llm,
            registry=r,
        )

        self._audit_depth = Gauge("dwf_audit_buffer_rows", "Audit rows waiting for insert.", registry=r)
        self._audit_capacity = Gauge(
            "dwf_audit_buffer_capacity_rows", "Rows the audit buffer holds before it blocks.", registry=r
        )
        if audit_buffer_max is not None:
            self._audit_capacity.set(audit_buffer_max)
        self._audit_seconds = Histogram(
            "dwf_audit_insert_duration_seconds",
            "Time of one batched audit insert.",
            buckets=AUDIT_BUCKETS,
            registry=r,
        )
        self._audit_rows = Counter("dwf_audit_rows_inserted", "Audit rows inserted.", registry=r)

        self._drift = Gauge(
            "dwf_drift_psi",
            "Latest population stability index of a drift monitor.",
            ("workflow", "monitor"),
            registry=r,
        )
        self._drift_threshold = Gauge(
            "dwf_drift_threshold",
            "Alert threshold of a drift monitor, as declared in the spec.",
            ("workflow", "monitor"),
            registry=r,
        )
        self._drift_alerts = Counter(
            "dwf_drift_alerts",
            "Closed drift windows that warned or alerted, by monitor and level (warn, alert).",
            ("workflow", "monitor", "level"),
            registry=r,
        )
        self._drift_late = Counter(
            "dwf_drift_late_events",
            "Events that arrived after one of their drift windows closed (not counted there).",
            ("workflow",),
            registry=r,
        )
        self._lag = Gauge(
            "dwf_consumer_lag_messages",
            "Messages between the committed offset and the end of a partition.",
            ("topic", "partition"),
            registry=r,
        )

    # -- identity --------------------------------------------------------------------------------------
    def info(self, **labels: str) -> None:
        """Set dwf_build_info labels, e.g. version, workflow, workflow_version."""
        self._info.info(labels)

    # -- events ----------------------------------------------------------------------------------------
    # ``n``: a caller that tallies a batch of events (the Kafka worker) counts them in one call
    def event_in(self, workflow: str, step: str, n: int = 1) -> None:
        self._events_in.labels(workflow, step).inc(n)

    def event_out(self, workflow: str, step: str, outcome: str = "emit", n: int = 1) -> None:
        """Count one finished envelope; call once per `event_in`, so in minus out is what is in flight."""
        if outcome not in OUTCOMES:
            raise ValueError(f"event_out outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
        self._events_out.labels(workflow, step, outcome).inc(n)

    def rejected(self, workflow: str, rule: str | Iterable[str], n: int = 1) -> None:
        """Count a rejection against each failing rule (one envelope may fail several)."""
        for rule_id in [rule] if isinstance(rule, str) else rule:
            self._rejections.labels(workflow, rule_id).inc(n)

    def dlq(self, workflow: str, step: str, n: int = 1) -> None:
        """Count a dead-lettered message; `step` may be a pseudo-step such as ``deserialize``."""
        self._dlq.labels(workflow, step).inc(n)

    def recovery(self, workflow: str, step: str, rung: str, error_class: str, succeeded: bool) -> None:
        """Count one attempt of one rung; outcome is ``success`` or ``failure``."""
        outcome = "success" if succeeded else "failure"
        self._recovery.labels(workflow, step, rung, error_class, outcome).inc()

    def observe_step(self, workflow: str, step: str, seconds: float) -> None:
        self._step_seconds.labels(workflow, step).observe(seconds)

    def observe_steps(self, workflow: str, step: str, seconds: Iterable[float]) -> None:
        """Several durations of one step (a batch): the labelled child is looked up once, and the
        durations are counted per bucket (``observe_many``)."""
        observe_many(self._step_seconds.labels(workflow, step), list(seconds))

    # -- LLM -------------------------------------------------------------------------------------------
    def llm_call(
        self,
        workflow: str,
        step: str,
        model: str,
        *,
        seconds: float = 0.0,
        status: str = "ok",
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost_usd: float = 0.0,
        cached: bool = False,
    ) -> None:
        """Record one LLM request. A cache hit counts only as a hit: no call, latency, tokens or cost."""
        if cached:
            self._llm_cache_hits.labels(workflow, step, model).inc()
            return
        if status not in LLM_STATUSES:
            raise ValueError(f"llm_call status {status!r} is not one of {sorted(LLM_STATUSES)}")
        self._llm_calls.labels(workflow, step, model, status).inc()
        self._llm_seconds.labels(workflow, step, model).observe(seconds)
        if input_tokens:
            self._llm_tokens.labels(workflow, step, model, "input").inc(input_tokens)
        if output_tokens:
            self._llm_tokens.labels(workflow, step, model, "output").inc(output_tokens)
        if cost_usd:
            self._llm_cost.labels(workflow, step, model).inc(cost_usd)

    def llm_rate_limited(self, workflow: str, step: str, model: str) -> None:
        """Count one 429 from the provider, whether or not the retry that followed succeeded."""
        self._llm_429.labels(workflow, step, model).inc()

    # -- audit -----------------------------------------------------------------------------------------
    def audit_buffer(self, depth: int, capacity: int | None = None) -> None:
        self._audit_depth.set(depth)
        if capacity is not None:
            self._audit_capacity.set(capacity)

    def audit_insert(self, seconds: float, rows: int) -> None:
        self._audit_seconds.observe(seconds)
        self._audit_rows.inc(rows)

    # -- drift and lag ---------------------------------------------------------------------------------
    def drift(self, workflow: str, monitor: str, psi: float, threshold: float | None = None) -> None:
        """Publish a drift score; with the monitor's threshold the alert uses it instead of the default."""
        self._drift.labels(workflow, monitor).set(psi)
        if threshold is not None:
            self._drift_threshold.labels(workflow, monitor).set(threshold)

    def drift_monitors(self, workflow: str, monitors: Iterable[str]) -> None:
        """Expose the drift counters at 0 before anything happened, so ``increase()`` sees the first one."""
        self._drift_late.labels(workflow)
        for monitor in monitors:
            for level in DRIFT_ALERT_LEVELS:
                self._drift_alerts.labels(workflow, monitor, level)

    def drift_alert(self, workflow: str, monitor: str, level: str) -> None:
        """Count one closed window that warned or alerted."""
        if level not in DRIFT_ALERT_LEVELS:
            raise ValueError(f"drift_alert level {level!r} is not one of {sorted(DRIFT_ALERT_LEVELS)}")
        self._drift_alerts.labels(workflow, monitor, level).inc()

    def drift_late(self, workflow: str, events: int = 1) -> None:
        """Count late drift events (audited, not counted in their closed windows)."""
        self._drift_late.labels(workflow).inc(events)

    def lag(self, topic: str, partition: int, lag: int) -> None:
        self._lag.labels(topic, str(partition)).set(lag)

    # -- reading back (tests, `dana-wf` summaries) -----------------------------------------------------
    def render(self) -> bytes:
        """The exposition text /metrics serves."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """Current value of one sample (0.0 when never set), e.g. ``value("dwf_dlq_total", workflow="w")``."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


def observe_many(child: Histogram, amounts: list[float]) -> None:
    """``child.observe(a)`` for each amount, counted the way prometheus_client counts it (an amount goes
    into the first bucket whose upper bound is >= it; the sum grows by the amounts) with one ``inc``
    per bucket hit and one for the sum, instead of a Python call, a lock and a scan of the bounds per
    amount: a Kafka worker observes every step of every record (~4% of its CPU one at a time,
    docs/performance.md, session 13). A NaN counts in the first bucket (observe counts it in none). Reads
    prometheus_client's Histogram internals (0.20-0.26); where they are not there, one observe each."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(child, "_sum", None)
    if bounds is None or buckets is None or total is None or len(buckets) != len(bounds):
        for amount in amounts:
            child.observe(amount)
        return
    if not amounts:
        return
    cast(Any, child)._raise_if_not_observable()  # a parent with labels refuses, as observe does
    amount_sum = sum(amounts)
    total.inc(amount_sum)
    if amount_sum != amount_sum:  # a NaN among them (or +inf and -inf): around a NaN sorted() orders nothing
        for amount in amounts:  # so one bisect each, as before session 15 (a NaN lands in the first bucket)
            buckets[bisect_left(bounds, amount)].inc(1)
        return
    # One sort, then one bisect per bound instead of one per amount (~19 ns an amount against ~64, a batch of
    # 100-500: docs/performance.md, "Session 15"): the amounts up to a bound, less those up to the bound
    # before, are that bucket's. A step's durations sit in the first bucket or two, so the loop ends there.
    ordered = sorted(amounts)
    counted, last = 0, len(ordered)
    for index, bound in enumerate(bounds):
        upto = bisect_right(ordered, bound)
        if upto > counted:
            buckets[index].inc(upto - counted)
            counted = upto
            if counted == last:
                return
