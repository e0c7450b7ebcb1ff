"""Alert rules and the Grafana dashboard: valid PromQL, real metric names, alerts that fire when they should.

promtool (Debian's `prometheus` package) checks the rules and runs files/prometheus-rules.test.yaml; the
dashboard's queries are checked by promtool too, wrapped as recording rules. Without promtool those checks
fail naming the package (tests/run-all.sh installs it); they never skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from dana_workflows.streams.prometheus import Metrics

pytestmark = pytest.mark.unit

FILES = Path(__file__).resolve().parents[3] / "helm" / "dana-workflows" / "files"
RULES = FILES / "prometheus-rules.yaml"
RULE_TESTS = FILES / "prometheus-rules.test.yaml"
DASHBOARD = FILES / "grafana-dashboard.json"
PROMTOOL = shutil.which("promtool")

METRIC = re.compile(r"\b(dwf_[a-z0-9_]+|process_[a-z0-9_]+)\b")


def exposed_names() -> set[str]:
    """Every sample name a worker's registry can expose (counters as _total, histograms as _bucket...)."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


def rules() -> list[dict[str, Any]]:
    data = YAML(typ="safe").load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_the_required_alerts_exist() -> None:
    alerts = {rule["alert"]: rule for rule in rules()}
    # dlq rate, consumer lag, LLM error rate, drift, audit buffer near full
    for name in (
        "DwfDeadLetterRateHigh",
        "DwfConsumerLagHigh",
        "DwfLLMErrorRateHigh",
        "DwfDriftDetected",
        "DwfAuditBufferNearFull",
    ):
        assert name in alerts
    for rule in alerts.values():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_referenced_is_exposed_by_a_worker(source: str) -> None:
    exprs = [rule["expr"] for rule in rules()] if source == "rules" else dashboard_exprs()
    exposed = exposed_names()
    unknown = sorted({name for expr in exprs for name in METRIC.findall(expr)} - exposed)
    assert not unknown, f"{source} refer to metrics no worker exposes: {unknown}"


def test_dashboard_shape() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "dana-workflows"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace", "workflow"}
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in (
        "events in",
        "rejections",
        "dead-lettered",
        "latency",
        "llm",
        "tokens",
        "spend",
        "cache",
        "429",
        "audit buffer",
        "drift",
        "consumer lag",
    ):
        assert topic in titles, topic


def promtool(*args: str, cwd: Path = FILES) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "promtool not installed: apt-get install --no-install-recommends prometheus"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_rule_unit_tests() -> None:
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Grafana variables replaced by what Grafana would send, each query becomes a recording rule to check."""
    substitutions = {"$__rate_interval": "5m", "$namespace": ".*", "$workflow": ".*"}
    records = []
    for i, expr in enumerate(dashboard_exprs()):
        for var, value in substitutions.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"unhandled Grafana variable in {expr}"
        records.append({"record": f"dwf:dashboard_query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": records}]}))
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
