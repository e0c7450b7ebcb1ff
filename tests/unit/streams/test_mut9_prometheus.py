"""The worker's metrics as docs/operations.md lists them: every `dwf_*` metric `Metrics` owns is exposed with
the documented name, type and labels, on the worker's own registry, with histogram buckets that span what the
module says they span (sub-millisecond rules up to minute-long LLM calls)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from dana_workflows.streams.prometheus import Metrics

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"

# registered by processors/efficiency/monitor.py on the same endpoint, not by `Metrics`
NOT_OURS = {
    "dwf_llm_phase_calls_total",
    "dwf_llm_calls_avoided_total",
    "dwf_llm_bypass_decisions_total",
    "dwf_llm_budget_alerts_total",
}

ROW = re.compile(r"^\| `(dwf_[a-z_]+)` \| (counter|gauge|histogram|info) \|([a-z_, ]*)\|")


def documented() -> dict[str, tuple[str, frozenset[str]]]:
    """name as exposed -> (type, labels), from the tables of docs/operations.md."""
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m and m.group(1) not in NOT_OURS:
            labels = frozenset(x.strip() for x in m.group(3).split(",") if x.strip())
            rows[m.group(1)] = (m.group(2), labels)
    return rows


def exercised() -> Metrics:
    """A Metrics on which every method was called once, so every labelled family has a sample."""
    m = Metrics(process_metrics=False, audit_buffer_max=10)
    m.info(version="1.0", workflow="claims", workflow_version="3")
    m.event_in("claims", "check")
    m.event_out("claims", "check", "emit")
    m.rejected("claims", "positive_amount")
    m.dlq("claims", "deserialize")
    m.recovery("claims", "check", "retry", "TimeoutError", succeeded=True)
    m.observe_step("claims", "check", 0.002)
    m.llm_call("claims", "summarize", "gpt-x", seconds=1.0, input_tokens=3, output_tokens=2, cost_usd=0.5)
    m.llm_call("claims", "summarize", "gpt-x", cached=True)
    m.llm_rate_limited("claims", "summarize", "gpt-x")
    m.audit_buffer(4)
    m.audit_insert(0.01, 4)
    m.drift("claims", "amount", 0.3, threshold=0.25)
    m.drift_alert("claims", "amount", "warn")
    m.drift_late("claims")
    m.lag("dwf.claims.in", 0, 7)
    return m


def exposed(m: Metrics) -> dict[str, tuple[str, frozenset[str]]]:
    """name as documented -> (type, labels) of the families the worker's registry collects."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for family in m.registry.collect():
        labels: set[str] = set()
        for sample in family.samples:
            labels |= set(sample.labels) - {"le"}
        name = {"counter": family.name + "_total", "info": family.name + "_info"}.get(
            family.type, family.name
        )
        found[name] = (family.type, frozenset(labels))
    return found


def test_every_documented_metric_is_exposed_with_its_type_and_labels() -> None:
    docs = documented()
    assert len(docs) == 22  # the tables' 26 rows, less the four the efficiency monitor registers
    assert exposed(exercised()) == docs


def test_names_and_labels_reach_the_samples_the_docs_query() -> None:
    m = exercised()
    llm = {"workflow": "claims", "step": "summarize", "model": "gpt-x"}
    assert m.value("dwf_llm_tokens_total", **llm, kind="input") == 3
    assert m.value("dwf_llm_tokens_total", **llm, kind="output") == 2
    assert m.value("dwf_llm_cost_usd_total", **llm) == 0.5
    assert m.value("dwf_llm_cache_hits_total", **llm) == 1
    assert m.value("dwf_llm_rate_limited_total", **llm) == 1
    assert m.value("dwf_llm_calls_total", **llm, status="ok") == 1
    assert m.value("dwf_drift_threshold", workflow="claims", monitor="amount") == 0.25
    assert m.value("dwf_drift_psi", workflow="claims", monitor="amount") == 0.3
    assert m.value("dwf_consumer_lag_messages", topic="dwf.claims.in", partition="0") == 7
    assert m.value("dwf_audit_rows_inserted_total") == 4
    assert m.value("dwf_audit_buffer_rows") == 4
    assert (
        m.value(
            "dwf_recovery_attempts_total",
            workflow="claims",
            step="check",
            rung="retry",
            error_class="TimeoutError",
            outcome="success",
        )
        == 1
    )
    assert m.value("dwf_build_info", version="1.0", workflow="claims", workflow_version="3") == 1


def test_capacity_is_audit_buffer_max_from_the_start() -> None:
    """`dwf_audit_buffer_capacity_rows` is `audit_buffer_max` (docs/configuration.md) before any insert."""
    capacity = "dwf_audit_buffer_capacity_rows"
    assert Metrics(process_metrics=False, audit_buffer_max=1000).value(capacity) == 1000
    assert Metrics(process_metrics=False).value(capacity) == 0


def test_process_and_python_metrics_are_served_unless_turned_off() -> None:
    """/metrics serves every dwf_* metric "plus process_* and python_*" (docs/operations.md)."""

    def prefixes(m: Metrics) -> set[str]:
        return {f.name.split("_")[0] for f in text_string_to_metric_families(m.render().decode())}

    assert {"process", "python", "dwf"} <= prefixes(Metrics())
    assert prefixes(Metrics(process_metrics=False)) == {"dwf"}


def test_nothing_lands_on_the_global_registry() -> None:
    """Each worker has its own registry: two in one process never collide, the global one stays untouched."""
    before = {f.name for f in REGISTRY.collect()}
    a, b = Metrics(), Metrics()
    a.event_in("w", "s")
    assert not any(f.name.startswith("dwf_") for f in REGISTRY.collect())
    assert {f.name for f in REGISTRY.collect()} == before
    assert b.value("dwf_events_in_total", workflow="w", step="s") == 0
    given = CollectorRegistry()
    c = Metrics(registry=given, process_metrics=False)
    c.event_in("w", "s")
    assert given.get_sample_value("dwf_events_in_total", {"workflow": "w", "step": "s"}) == 1


def bucket(m: Metrics, name: str, le: str, **labels: str) -> float:
    found = m.registry.get_sample_value(f"{name}_bucket", {**labels, "le": le})
    assert found is not None, f"{name} has no bucket le={le}"
    return found


def test_step_buckets_resolve_sub_millisecond_rules_and_half_minute_steps() -> None:
    m = Metrics(process_metrics=False)
    m.observe_step("w", "rule", 0.0003)  # a sub-millisecond rule
    m.observe_step("w", "rule", 20.0)  # a slow LLM step
    assert bucket(m, "dwf_step_duration_seconds", "0.0005", workflow="w", step="rule") == 1
    assert bucket(m, "dwf_step_duration_seconds", "10.0", workflow="w", step="rule") == 1
    assert bucket(m, "dwf_step_duration_seconds", "30.0", workflow="w", step="rule") == 2


def test_llm_buckets_reach_two_minutes() -> None:
    m = Metrics(process_metrics=False)
    m.llm_call("w", "s", "m", seconds=90.0)
    assert bucket(m, "dwf_llm_request_duration_seconds", "60.0", workflow="w", step="s", model="m") == 0
    assert bucket(m, "dwf_llm_request_duration_seconds", "120.0", workflow="w", step="s", model="m") == 1


def test_audit_buckets_resolve_a_millisecond_insert() -> None:
    m = Metrics(process_metrics=False)
    m.audit_insert(0.0008, 1)
    assert bucket(m, "dwf_audit_insert_duration_seconds", "0.001") == 1
    assert m.registry.get_sample_value("dwf_audit_insert_duration_seconds_count") == 1


def test_drift_counters_of_declared_monitors_are_exposed_at_zero_before_anything_happened() -> None:
    """docs/operations.md: both drift counters "start at 0 for every declared monitor"."""
    m = Metrics(process_metrics=False)
    m.drift_monitors("claims", ["amount", "country"])
    for monitor in ("amount", "country"):
        for level in ("warn", "alert"):
            labels = {"workflow": "claims", "monitor": monitor, "level": level}
            assert m.registry.get_sample_value("dwf_drift_alerts_total", labels) == 0, labels
    assert (
        m.registry.get_sample_value(
            "dwf_drift_alerts_total", {"workflow": "claims", "monitor": "amount", "level": "ok"}
        )
        is None
    )
    assert m.registry.get_sample_value("dwf_drift_late_events_total", {"workflow": "claims"}) == 0


def test_drift_alerts_count_warn_and_alert_only_and_late_events_by_number() -> None:
    m = Metrics(process_metrics=False)
    m.drift_alert("claims", "amount", "alert")
    m.drift_alert("claims", "amount", "alert")
    m.drift_alert("claims", "amount", "warn")
    with pytest.raises(ValueError, match="'ok'"):
        m.drift_alert("claims", "amount", "ok")
    m.drift_late("claims")
    m.drift_late("claims", events=4)
    assert m.value("dwf_drift_alerts_total", workflow="claims", monitor="amount", level="alert") == 2
    assert m.value("dwf_drift_alerts_total", workflow="claims", monitor="amount", level="warn") == 1
    assert m.value("dwf_drift_late_events_total", workflow="claims") == 5


def test_recovery_attempts_count_success_and_failure_apart() -> None:
    """docs/recovery.md: dwf_recovery_attempts_total{workflow, step, rung, error_class, outcome}."""
    m = Metrics(process_metrics=False)
    m.recovery("claims", "check", "retry", "TimeoutError", succeeded=False)
    m.recovery("claims", "check", "retry", "TimeoutError", succeeded=False)
    m.recovery("claims", "check", "fallback", "TimeoutError", succeeded=True)
    attempt = {"workflow": "claims", "step": "check", "error_class": "TimeoutError"}
    assert m.value("dwf_recovery_attempts_total", **attempt, rung="retry", outcome="failure") == 2
    assert m.value("dwf_recovery_attempts_total", **attempt, rung="retry", outcome="success") == 0
    assert m.value("dwf_recovery_attempts_total", **attempt, rung="fallback", outcome="success") == 1
