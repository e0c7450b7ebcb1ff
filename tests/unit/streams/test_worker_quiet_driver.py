"""A worker whose audit server goes down logs the batching sink's retry line, not clickhouse-driver's
"Failed to connect" warning with its traceback at every attempt (newcomer4 N4-7: 9 tracebacks in 20 s)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dana_workflows.streams.kafka.worker import quiet_logs

pytestmark = pytest.mark.unit

DRIVER = "clickhouse_driver.connection"


@pytest.fixture
def levels() -> Iterator[None]:
    names = ["faust", "mode", "aiokafka", "kafka", "faust.transport.consumer", DRIVER]
    before = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("levels")
@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING])
def test_the_drivers_connect_warning_is_held_back(level: int) -> None:
    quiet_logs(level)
    driver = logging.getLogger(DRIVER)
    assert not driver.isEnabledFor(logging.WARNING)
    assert driver.isEnabledFor(logging.ERROR)
