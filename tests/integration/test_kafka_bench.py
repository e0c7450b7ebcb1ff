"""A count-based check of bench/kafka_throughput.py (no figure is asserted): each measured program moves
every event it is given, on the real broker, and the raw programs send the audit bytes the worker would."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from dana_workflows.processors.ingest import admit
from dana_workflows.streams.app_builder import load_pipeline
from dana_workflows.streams.kafka.admin import ensure_topics
from dana_workflows.streams.kafka.commit import AUDIT_MESSAGE_BYTES
from tests.integration.kafka_support import CLAIMS_SPEC, claims_lines

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 60


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_throughput", ROOT / "bench" / "kafka_throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kafka_throughput"] = module
    spec.loader.exec_module(module)
    return module


def admitted(lines: list[str]) -> int:
    ir = load_pipeline(CLAIMS_SPEC).workflow
    return sum(admit(ir, line, i, 0).accepted for i, line in enumerate(lines))


def test_audit_messages_are_cut_where_the_worker_cuts_them() -> None:
    bench = load_bench()
    assert bench.audit_sizes(0) == []
    assert bench.audit_sizes(10) == [10]
    sizes = bench.audit_sizes(2 * AUDIT_MESSAGE_BYTES + 7)
    assert sizes == [AUDIT_MESSAGE_BYTES, AUDIT_MESSAGE_BYTES, 7]


def test_the_worker_and_the_raw_program_move_every_event(kafka_bootstrap: str, tmp_path: Path) -> None:
    bench = load_bench()
    lines = claims_lines(EVENTS, seed=3)
    accepted = admitted(lines)
    assert 0 < accepted < EVENTS  # the example's input has lines that produce itself rejects

    worker = bench.worker_backlog(kafka_bootstrap, lines, "at_least_once", False, True, 1, tmp_path)
    assert worker.events == accepted  # every admitted event reached one outcome, none twice

    pipeline = load_pipeline(CLAIMS_SPEC)
    topology = bench.Topology(pipeline, bench.FileRegistry(tmp_path / "schemas"), prefix="x")
    per_event = bench.audit_bytes_per_event(pipeline, topology, lines)
    assert per_event > 0
    raw = bench.raw_backlog(kafka_bootstrap, lines, "aiokafka", per_event, tmp_path)
    assert raw.events == accepted


def test_two_workers_drain_a_backlog_they_find_once_both_hold_partitions(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The 2-worker row: the backlog reaches the input topic again only once the group has formed with
    each worker holding an input partition (bench.GroupBacklog; it raises if they never do), the group
    starts past the first copy, and every admitted event reaches one outcome, none twice."""
    bench = load_bench()
    lines = claims_lines(EVENTS, seed=5)
    accepted = admitted(lines)
    worker = bench.worker_backlog(kafka_bootstrap, lines, "at_least_once", False, True, 2, tmp_path)
    assert worker.events == accepted


def test_a_program_that_exits_early_is_reported_with_its_exit_code_and_log(tmp_path: Path) -> None:
    """A measured program runs until the bench stops it: one that exits first makes the row fail with its
    exit code, its log's path and the log's last lines (the bench's temp dir is easy to lose)."""
    bench = load_bench()
    log = tmp_path / "w-0.log"
    script = "import sys; [print('line', i) for i in range(100)]; print('the cause'); sys.exit(3)"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
    proc.wait()
    with pytest.raises(bench.ProgramExited) as caught:
        bench.cpu_seconds(proc, log)
    message = str(caught.value)
    assert f"process {proc.pid} exited early with code 3" in message
    assert str(log) in message
    assert message.endswith("the cause")
    assert "line 99" in message and "line 0\n" not in message  # the end of the log, not all of it


def test_a_running_program_has_its_cpu_time(tmp_path: Path) -> None:
    bench = load_bench()
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert bench.cpu_seconds(proc, tmp_path / "none.log") >= 0.0
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(bench.ProgramExited, match="the log is empty"):
        bench.cpu_seconds(proc, tmp_path / "none.log")


def topics(broker: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    return set(AdminClient({"bootstrap.servers": broker}).list_topics(timeout=30).topics)


def test_a_row_leaves_no_topic_behind(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Each row deletes the topics it made (all named after its prefix) when it ends: rows that did not
    filled the shared broker with 10,189 topics until it ran out of heap. A worker row and a raw-client row
    (the two ways rows make topics: the worker's ensure_topics, the bench's own) leave the broker's topics
    as they found them, and they did make topics (events moved through them)."""
    bench = load_bench()
    lines = claims_lines(EVENTS, seed=8)
    before = topics(kafka_bootstrap)
    worker = bench.worker_backlog(kafka_bootstrap, lines, "at_least_once", False, True, 1, tmp_path)
    assert worker.events > 0
    raw = bench.raw_backlog(kafka_bootstrap, lines, "aiokafka", 100, tmp_path)
    assert raw.events > 0
    assert topics(kafka_bootstrap) - before == set()


def test_a_failed_row_deletes_its_topics_too(kafka_bootstrap: str) -> None:
    bench = load_bench()
    prefix = f"kbtest-failed{uuid.uuid4().hex[:6]}"  # two runs at once never delete each other's
    others = [f"{prefix}x.in", f"{prefix}x-claims-changelog"]  # another row's prefix, not this one's
    mine = [f"{prefix}.claims.in", f"{prefix}.claims.audit", f"{prefix}-claims-drift-changelog"]
    asyncio.run(ensure_topics(kafka_bootstrap, [*mine, *others], 1, 1))
    with pytest.raises(RuntimeError, match="the row failed"), bench.own_topics(kafka_bootstrap, prefix):
        raise RuntimeError("the row failed")
    left = topics(kafka_bootstrap)
    assert not left & set(mine)
    assert set(others) <= left
    assert sorted(
        asyncio.run(bench.delete_topics(kafka_bootstrap, (f"{prefix}x.", f"{prefix}x-")))
    ) == sorted(others)
    assert not topics(kafka_bootstrap) & set(others)


def test_the_temp_dir_is_removed_unless_a_row_failed(tmp_path: Path) -> None:
    bench = load_bench()
    kept, removed = tmp_path / "kept", tmp_path / "removed"
    for d in (kept, removed):
        (d / "schemas").mkdir(parents=True)
        (d / "b123456-0.log").write_text("worker log")
    assert str(kept) in bench.clean_up(kept, failed=True)
    assert (kept / "b123456-0.log").read_text() == "worker log"
    bench.clean_up(removed, failed=False)
    assert not removed.exists()
