"""`dana-wf status` (docs/kafka-runtime.md, "Status") at its seam: the broker read (read_status)
is replaced by a stand-in that records what it was asked and returns a known status, so the command's own
job is what is tested: the group, broker and topic prefix it asks about, the tables and the one-line verdict,
and a one-line error with the hint when the broker is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.streams import status as status_module
from dana_workflows.streams.kafka import resume_topics
from dana_workflows.streams.kafka.resume_topics import PoisonRecord
from dana_workflows.streams.status import PartitionLag, WorkflowStatus

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = str(ROOT / "docs" / "examples" / "claims" / "claims.yaml")


class Broker:
    """Stands in for the broker read: records the call, returns `status` or raises `error`."""

    def __init__(
        self, status: WorkflowStatus | None = None, error: Exception | None = None, poison: int = 0
    ) -> None:
        self.status, self.error, self.poison = status, error, poison
        self.poison_reads: list[str] = []  # the topics whose poison records were read
        self.calls: list[dict[str, Any]] = []
        self.kwargs: dict[str, Any] | None = None

    def __call__(
        self, topology: Any, bootstrap: str, group: str, kwargs: dict[str, Any] | None = None
    ) -> Any:
        self.calls.append({"entry": topology.topic("in"), "bootstrap": bootstrap, "group": group})
        self.kwargs = kwargs
        if self.error is not None:
            raise self.error
        return self.status


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_KAFKA_BOOTSTRAP_SERVERS", "envhost:1")
    monkeypatch.setenv("DWF_TOPIC_PREFIX", "pp")
    monkeypatch.delenv("DWF_KAFKA_SECURITY_PROTOCOL", raising=False)


def run(monkeypatch: pytest.MonkeyPatch, broker: Broker, *args: str) -> tuple[int, str]:
    code, raw = run_raw(monkeypatch, broker, *args)
    return code, " ".join(raw.split())


def run_raw(monkeypatch: pytest.MonkeyPatch, broker: Broker, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(status_module, "read_status", broker)

    async def read_poison(bootstrap: str, topic: str, security: Any) -> list[PoisonRecord]:
        broker.poison_reads.append(topic)
        return [PoisonRecord(0, offset, "not valid Avro") for offset in range(broker.poison)]

    monkeypatch.setattr(resume_topics, "read_poison", read_poison)
    result = CliRunner().invoke(app, ["status", CLAIMS, *args])
    return result.exit_code, result.output


def test_defaults_come_from_the_settings_and_a_backlog_is_counted(
    monkeypatch: pytest.MonkeyPatch, env: None
) -> None:
    entry = "pp.claims-triage.in"
    broker = Broker(
        WorkflowStatus(
            group="pp-claims-triage",
            entry_topic=entry,
            lags=[PartitionLag(entry, 0, None, 5, 5), PartitionLag(entry, 1, 3, 3, 0)],
            outcomes={"out": 2, "rejected": 1},
            received=8,
        )
    )
    code, out = run(monkeypatch, broker)
    assert code == 0
    # the group is <prefix>-<workflow>, the broker and prefix those of the settings
    assert broker.calls == [{"entry": entry, "bootstrap": "envhost:1", "group": "pp-claims-triage"}]
    assert "lag of group pp-claims-triage" in out
    assert f"{entry} │ 0 │ - │ 5 │ 5" in out  # no commit yet: shown as -
    assert f"{entry} │ 1 │ 3 │ 3 │ 0" in out
    assert "out │ pp.claims-triage.out │ 2" in out and "rejected │ pp.claims-triage.rejected │ 1" in out
    assert out.endswith(f"8 events on {entry}, 3 outcomes; 5 records still to handle")


def test_options_override_the_broker_prefix_and_group(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    entry = "qq.claims-triage.in"
    broker = Broker(WorkflowStatus("g1", entry, [PartitionLag(entry, 0, 4, 4, 0)], {"out": 4}, received=4))
    code, out = run(monkeypatch, broker, "--broker", "b:2", "--prefix", "qq", "--group", "g1")
    assert code == 0
    assert broker.calls == [{"entry": entry, "bootstrap": "b:2", "group": "g1"}]
    assert out.endswith(f"4 events on {entry}, 4 outcomes; every event received has an outcome")


def test_more_outcomes_than_events_says_produce_decided_the_rest(
    monkeypatch: pytest.MonkeyPatch, env: None
) -> None:
    """Lines `produce` cannot admit go to rejected or dlq from the producer: 209 outcomes for 200 events is
    not a double handling, and the summary says so (newcomer review F23)."""
    entry = "pp.claims-triage.in"
    decided = {"out": 190, "rejected": 13, "dlq": 6}
    broker = Broker(WorkflowStatus("g", entry, [PartitionLag(entry, 0, 200, 200, 0)], decided, received=200))
    code, out = run(monkeypatch, broker)
    assert code == 0
    assert out.endswith(
        f"200 events on {entry}, 209 outcomes (9 more outcomes than events: lines `produce` could not admit "
        f"are decided there and never reach {entry}); every event received has an outcome"
    )


def test_the_default_group_follows_a_prefix_given_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, env: None
) -> None:
    broker = Broker(WorkflowStatus("x", "rr.claims-triage.in"))
    code, _ = run(monkeypatch, broker, "-b", "b:3", "--prefix", "rr")
    assert code == 0
    assert broker.calls == [{"entry": "rr.claims-triage.in", "bootstrap": "b:3", "group": "rr-claims-triage"}]


def test_no_broker_is_one_line_with_the_hint_and_exit_1(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    code, out = run(monkeypatch, Broker(error=OSError("connection refused")), "--broker", "b:9")
    assert code == 1
    assert out == (
        "error: no Kafka broker answers at b:9: start the local one with `dana-wf kafka up`, "
        "or pass --broker host:port (or set DWF_KAFKA_BOOTSTRAP_SERVERS) (connection refused)"
    )


def test_a_bad_spec_is_refused_before_the_broker_is_asked(
    monkeypatch: pytest.MonkeyPatch, env: None, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflow: w\ninput: {amount: double}\nsteps: []\n")
    broker = Broker(WorkflowStatus("g", "e"))
    monkeypatch.setattr(status_module, "read_status", broker)

    async def read_poison(bootstrap: str, topic: str, security: Any) -> list[PoisonRecord]:
        broker.poison_reads.append(topic)
        return [PoisonRecord(0, offset, "not valid Avro") for offset in range(broker.poison)]

    monkeypatch.setattr(resume_topics, "read_poison", read_poison)
    result = CliRunner().invoke(app, ["status", str(bad)])
    assert result.exit_code == 2  # the user's file to fix, as for worker and produce (docs/cli.md)
    assert (
        f"error: 1 problem in workflow spec: - {bad}:3: steps: a workflow needs a list of steps"
        in " ".join(result.output.split())
    )
    assert broker.calls == []


def test_the_lag_table_has_its_columns_and_numbers_to_the_right(
    monkeypatch: pytest.MonkeyPatch, env: None
) -> None:
    entry = "pp.claims-triage.in"
    broker = Broker(WorkflowStatus("g", entry, [PartitionLag(entry, 0, 7, 12, 5)], {"out": 7}, received=12))
    code, raw = run_raw(monkeypatch, broker)
    assert code == 0
    header = next(line for line in raw.splitlines() if "partition" in line)
    assert [cell.strip() for cell in header.strip("┃ ").split("┃")] == [
        "topic",
        "partition",
        "committed",
        "end",
        "lag",
    ]
    row = next(line for line in raw.splitlines() if line.startswith("│ " + entry))
    cells = row.strip("│").split("│")
    assert cells[0] == f" {entry} "  # the topic to the left
    assert (
        cells[1] == " " * 9 + "0 " and cells[2] == " " * 9 + "7 "
    )  # numbers to the right (width of the header)
    assert "outcomes so far" in raw


def test_the_clusters_security_settings_reach_the_broker_read_and_the_hint(
    monkeypatch: pytest.MonkeyPatch, env: None
) -> None:
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SSL")
    ok = Broker(WorkflowStatus("g", "pp.claims-triage.in"))
    assert run(monkeypatch, ok)[0] == 0
    assert ok.kwargs is not None and ok.kwargs.get("security_protocol") == "SSL"
    code, out = run(monkeypatch, Broker(error=OSError("refused")), "--broker", "b:9")
    assert code == 1
    assert out.startswith("error: cannot connect to Kafka at b:9 with ") and out.endswith(
        "are right (refused)"
    )


def test_poison_on_the_dlq_is_not_called_an_outcome(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    """newcomer4 N4-1: 1,981 events went to the dlq as poison (no audit outcome, not replayable) and status
    ended `every event received has an outcome`; it now counts them apart, from the dlq's headers."""
    entry = "pp.claims-triage.in"
    decided = {"out": 5, "rejected": 0, "dlq": 3}
    broker = Broker(
        WorkflowStatus("g", entry, [PartitionLag(entry, 0, 8, 8, 0)], decided, received=8), poison=2
    )
    code, out = run(monkeypatch, broker)
    assert code == 0
    assert broker.poison_reads == ["pp.claims-triage.dlq"]
    assert "every event received has an outcome" not in out
    assert out.endswith(
        f"8 events on {entry}, 8 outcomes; no record waits, but 2 record(s) on pp.claims-triage.dlq are "
        "poison: bytes no worker could read, with no audit outcome and not replayable; "
        "`dana-wf dlq list --broker` lists them with why (docs/kafka-runtime.md, Poison records)"
    )
    backlog = WorkflowStatus("g", entry, [PartitionLag(entry, 0, 6, 8, 2)], decided, received=8)
    _, out = run(monkeypatch, Broker(backlog, poison=1))
    assert "8 outcomes; 2 records still to handle, but 1 record(s) on pp.claims-triage.dlq are poison" in out


def test_a_dlq_of_decisions_only_still_has_every_outcome(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    entry = "pp.claims-triage.in"
    with_dlq = Broker(
        WorkflowStatus("g", entry, [PartitionLag(entry, 0, 4, 4, 0)], {"out": 3, "dlq": 1}, received=4)
    )
    _, out = run(monkeypatch, with_dlq)
    assert with_dlq.poison_reads == ["pp.claims-triage.dlq"]
    assert out.endswith("4 outcomes; every event received has an outcome")
    without = Broker(
        WorkflowStatus("g", entry, [PartitionLag(entry, 0, 4, 4, 0)], {"out": 4, "dlq": 0}, received=4)
    )
    _, out = run(monkeypatch, without)
    assert without.poison_reads == []  # an empty dlq is not read
    assert out.endswith("4 outcomes; every event received has an outcome")
