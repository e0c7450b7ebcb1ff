"""Two workers on one machine (newcomer4 N4-9): `serve()` takes the metrics port `dana-wf worker` takes, and a
port already taken names the option that gives another, 0 included."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.streams.health import MetricsServer
from dana_workflows.streams.kafka import worker as worker_module
from dana_workflows.streams.prometheus import Metrics

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


def test_serve_passes_its_metrics_port_to_the_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dana_workflows.streams.embedded import serve

    seen: list[Any] = []

    async def run_worker(pipeline: Any, topology: Any, options: Any, store: Any) -> int:
        seen.append(options.metrics_port)
        return 0

    monkeypatch.setattr(worker_module, "run_worker", run_worker)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path))
    assert serve(CLAIMS, broker="127.0.0.1:1", audit="", metrics_port=0) == 0
    assert serve(CLAIMS, broker="127.0.0.1:1", audit="", metrics_port=29611) == 0
    assert seen == [0, 29611]


def test_a_taken_port_names_the_option_and_zero() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            OSError, match=r"--metrics-port \(DWF_METRICS_PORT, serve\(metrics_port=\); 0 picks one\)"
        ):
            MetricsServer(Metrics(process_metrics=False), host="127.0.0.1", port=port).start()
