"""faust's warning that a kept transaction is begun already is dropped; its other warnings are not."""

from __future__ import annotations

import logging

import pytest

from dana_workflows.streams.kafka.commit import FAUST_PRODUCER_LOG, AlreadyBegunFilter, quiet_already_begun

pytestmark = pytest.mark.unit

BEGUN = (
    "Exception in begin_transaction for transaction app-claims-0-0 exception Invalid state transition "
    "TransactionState.IN_TRANSACTION -> TransactionState.IN_TRANSACTION"
)
FENCED_ELSEWHERE = (
    "Exception in begin_transaction for transaction app-claims-0-0 exception Invalid state transition "
    "TransactionState.FATAL_ERROR -> TransactionState.IN_TRANSACTION"
)


def warn(logger: logging.Logger, message: str) -> None:
    logger.warning("%s", message)


def test_only_the_already_begun_warning_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(FAUST_PRODUCER_LOG)
    quiet_already_begun()
    quiet_already_begun()  # a second committer in the process adds no second filter
    assert sum(isinstance(f, AlreadyBegunFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=FAUST_PRODUCER_LOG):
        warn(logger, BEGUN)
        warn(logger, FENCED_ELSEWHERE)
        warn(logger, "Producer stopped: IN_TRANSACTION -> TransactionState.IN_TRANSACTION")
    assert [r.getMessage() for r in caplog.records] == [
        FENCED_ELSEWHERE,
        "Producer stopped: IN_TRANSACTION -> TransactionState.IN_TRANSACTION",
    ]
