"""Mutation pass over session 17's lines of streams/kafka/options.py: tests for the mutants that survived.

--session-timeout and --commit-interval take a number of seconds above 0 (0 is refused: the group
coordinator's InvalidSessionTimeoutError left the worker hanging), and the session timeout is at most the
worker's broker request timeout, that value included (faust's aiokafka driver refuses only a session
timeout above it). The bound is read from the worker's own faust app, not from the options module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.streams.kafka.options import KafkaOptions
from tests.unit.drift.test_drift_alerts import SPEC, offline_kafka_runtime

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["session_timeout_s", "commit_interval_s"])
def test_zero_seconds_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="above 0"):
        KafkaOptions(bootstrap="127.0.0.1:9", **{name: 0.0})  # type: ignore[arg-type]


def test_the_session_timeout_goes_up_to_the_workers_broker_request_timeout(tmp_path: Path) -> None:
    runtime, _, _ = offline_kafka_runtime(SPEC, tmp_path)
    limit = float(runtime.app.conf.broker_request_timeout)  # faust's, which the worker leaves as it is
    assert KafkaOptions(bootstrap="127.0.0.1:9", session_timeout_s=limit).session_timeout_s == limit
    with pytest.raises(ValueError, match="--session-timeout"):
        KafkaOptions(bootstrap="127.0.0.1:9", session_timeout_s=limit + 0.5)
