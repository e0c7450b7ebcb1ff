"""`dana-wf worker` and `serve()` check their audit store before they touch Kafka (newcomer4 N4-2): a DSN
that does not parse is a usage error (exit 2) and a ClickHouse server that does not answer exit 1, each one
line naming the store and the fix, as `dana-wf run` answers them; `serve()` raises the errors `run(audit=)`
raises. The broker named is a closed port and no topic is made: the audit store is refused first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.devservices.processes import free_port
from dana_workflows.sinks.chdb_store import AuditStoreError
from dana_workflows.sinks.dsn import DsnError
from dana_workflows.streams.kafka import worker as worker_module

pytestmark = pytest.mark.unit

CLAIMS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"


@pytest.fixture
def no_kafka(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Calls that reached the worker: none may, when the audit store is refused."""
    reached: list[Any] = []

    async def run_worker(*args: Any) -> int:
        reached.append(args)
        return 0

    monkeypatch.setattr(worker_module, "run_worker", run_worker)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    return reached


def _worker(*args: str) -> Any:
    broker = f"127.0.0.1:{free_port()}"
    return CliRunner().invoke(app, ["worker", str(CLAIMS), "--broker", broker, "--metrics-port", "0", *args])


def test_a_dsn_with_a_misspelt_scheme_is_a_usage_error_in_one_line(no_kafka: list[Any]) -> None:
    res = _worker("--audit", "clickhous://default@127.0.0.1:9000/dwf")
    assert res.exit_code == 2, res.output
    assert "unknown scheme 'clickhous'; use clickhouse:// or chdb://" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 3
    assert no_kafka == []


def test_a_server_that_does_not_answer_is_one_line_and_exit_1(no_kafka: list[Any]) -> None:
    dsn = f"clickhouse://default:s3cret@127.0.0.1:{free_port()}/dwf"
    res = _worker("--audit", dsn)
    assert res.exit_code == 1, res.output
    assert "cannot reach the audit store clickhouse://default:" in res.output
    assert "is its server running? (name another store with --audit or DWF_AUDIT_DSN)" in res.output
    assert "s3cret" not in res.output  # the password masked
    assert "Traceback" not in res.output
    assert no_kafka == []


def test_no_audit_opens_no_store(no_kafka: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_AUDIT_DSN", "clickhous://nowhere")  # would be refused, were it opened
    res = _worker("--no-audit")
    assert res.exit_code == 0, res.output
    assert len(no_kafka) == 1 and no_kafka[0][3] is None


def test_serve_raises_the_store_errors_run_raises_before_kafka(tmp_path: Path) -> None:
    from dana_workflows.streams.embedded import serve

    closed = f"127.0.0.1:{free_port()}"  # were Kafka tried, its error would be another one
    with pytest.raises(
        AuditStoreError, match=r"cannot reach the audit store .*\(name another store with audit=\)"
    ):
        serve(CLAIMS, broker=closed, audit=f"clickhouse://default@127.0.0.1:{free_port()}/dwf")
    with pytest.raises(DsnError, match="unknown scheme"):
        serve(CLAIMS, broker=closed, audit="clickhous://default@127.0.0.1:9000/dwf")


class RefusingStore:
    """A server store whose user may not create the table, or whose password is wrong."""

    closed = False

    def ensure_schema(self) -> None:
        raise AuditStoreError(
            "audit store S: the server refused: Wrong password for user default. (code 193)"
        )

    def close(self) -> None:
        self.closed = True


def test_a_server_that_refuses_the_writer_is_one_line_and_exit_1(
    no_kafka: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dana_workflows.sinks import stores

    store = RefusingStore()
    monkeypatch.setattr(stores, "check_server", lambda target, elsewhere: None)  # the server answers
    monkeypatch.setattr(stores, "open_store", lambda target, writer: store)
    res = _worker("--audit", "clickhouse://default:wrong@127.0.0.1:9000/dwf")
    assert res.exit_code == 1, res.output
    assert "the server refused: Wrong password for user default" in res.output
    assert "Traceback" not in res.output
    assert store.closed and no_kafka == []
