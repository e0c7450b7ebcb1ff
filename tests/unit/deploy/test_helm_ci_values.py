"""The chart's ci/*-values.yaml (issue 20): each lints strictly with real `helm` and renders manifests that
validate, and the `helm test` hook is a locked-down pod that asks the workers' Service for /readyz."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.test_helm_chart import CHART, HELM, KUBE_VERSIONS, by_kind, render

pytestmark = pytest.mark.unit

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def test_there_are_ci_values_files() -> None:
    assert {p.name for p in CI_VALUES} >= {
        "default-values.yaml",
        "secure-values.yaml",
        "autoscaled-values.yaml",
    }


@pytest.mark.parametrize("values_file", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_helm_lint_strict_with_the_ci_values(values_file: Path) -> None:
    assert HELM is not None
    done = subprocess.run(
        [HELM, "lint", "--strict", str(CHART), "-f", str(values_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("values_file", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_the_ci_values_render_their_intent(values_file: Path, tmp_path: Path) -> None:
    values: dict[str, Any] = yaml.safe_load(values_file.read_text()) or {}
    docs = render(values, tmp_path, KUBE_VERSIONS[-1])
    deployments = by_kind(docs, "Deployment")
    assert len(deployments) == len(values.get("workflows", [{"name": "claims-triage"}]))
    if values_file.name == "secure-values.yaml":
        env = {
            e["name"]: e
            for d in deployments
            for c in d["spec"]["template"]["spec"]["containers"]
            for e in c["env"]
        }
        assert env["DWF_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["DWF_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "dwf-kafka"
    if values_file.name == "autoscaled-values.yaml":
        assert len(by_kind(docs, "HorizontalPodAutoscaler")) == 1
        assert by_kind(docs, "ServiceMonitor") and by_kind(docs, "PrometheusRule")


def test_the_helm_test_hook_checks_readiness_through_the_service(tmp_path: Path) -> None:
    docs = render({}, tmp_path, KUBE_VERSIONS[-1])
    (pod,) = [d for d in by_kind(docs, "Pod") if d["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    (service,) = by_kind(docs, "Service")
    container = pod["spec"]["containers"][0]
    port = service["spec"]["ports"][0]["port"]
    assert f"http://{service['metadata']['name']}:{port}/readyz" in container["command"][-1]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert not [d for d in by_kind(render({"workflows": []}, tmp_path, KUBE_VERSIONS[-1]), "Pod")]
