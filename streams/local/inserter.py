"""Audit batches of `dana-wf run` inserted on one background thread, in order, retried until stored."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from dana_workflows.sinks.audit_model import AuditRow, AuditStore
from dana_workflows.sinks.batching import backoff_s, rows_token

log = logging.getLogger(__name__)


class BackgroundInserter:
    """Inserts audit batches on one background thread, in order, so the run does not wait on the store.

    The thread waits on a socket (clickhouse-driver) or a pipe (the embedded store's writer process,
    dana_workflows.sinks.chdb_process) with the GIL released, so the insert overlaps the pipeline. At most
    `max_in_flight` batches wait: a slow store slows the run down (backpressure) instead of growing
    memory. A failed insert is retried with exponential backoff and jitter until it is stored (a
    server that is down for a while costs time, not rows), under a token that makes a retried batch
    whose first attempt did reach the store add nothing; `close(give_up_after_s)` bounds the wait.
    """

    def __init__(
        self,
        store: AuditStore,
        max_in_flight: int = 2,
        *,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.store = store
        self.max_in_flight = max_in_flight
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.failed_attempts = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dwf-audit")
        self._in_flight: deque[Future[None]] = deque()
        self._stop = threading.Event()

    def submit(self, rows: Sequence[AuditRow]) -> None:
        while len(self._in_flight) >= self.max_in_flight:
            self._in_flight.popleft().result()  # re-raises a given-up insert here, in the run
        self._in_flight.append(self._pool.submit(self._insert_until_stored, list(rows)))

    def _insert_until_stored(self, rows: list[AuditRow]) -> None:
        token = rows_token(rows)
        attempt = 0
        while True:
            attempt += 1
            try:
                self.store.insert(rows, token)
                return
            except Exception as exc:
                self.failed_attempts += 1
                if self._stop.is_set():
                    raise
                delay = backoff_s(attempt, self.backoff_initial_s, self.backoff_max_s)
                log.warning(
                    "audit insert of %d rows into %r failed (attempt %d), retrying in %.1fs: %s",
                    len(rows),
                    self.store,
                    attempt,
                    delay,
                    f"{type(exc).__name__}: {exc}"[:300],
                )
                if self._stop.wait(delay):
                    raise

    def close(self, give_up_after_s: float | None = None) -> None:
        """Wait until every batch is stored; after `give_up_after_s` stop retrying and raise the error."""
        deadline = None if give_up_after_s is None else time.monotonic() + give_up_after_s
        try:
            while self._in_flight:
                head = self._in_flight[0]
                stopping = deadline is None or self._stop.is_set()
                left = None if deadline is None or stopping else max(0.0, deadline - time.monotonic())
                try:
                    head.result(timeout=left)
                except TimeoutError:
                    self._stop.set()  # the retry loop raises its last error into `head`
                    continue
                self._in_flight.popleft()
        finally:
            self._stop.set()
            self._pool.shutdown(wait=True)
