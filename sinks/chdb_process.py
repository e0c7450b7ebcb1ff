"""The embedded audit store behind a writer process: chdb runs its inserts outside the pipeline's process.

chdb holds the GIL while a query runs (measured here: a Python thread runs at ~0.2x its speed while
another thread inserts), so a "background" insert thread stalls the pipeline for the whole insert,
~10-13 µs of chdb work per audit row. In a child process that work runs on another core; the
pipeline pays only for rendering the batch (columns_body, ~1.5 µs per row) and a pipe write.

The child is ``python -m dana_workflows.sinks.chdb_process PATH DATABASE``;
it owns the chdb directory while it runs
(chdb serves one process per directory) and exits when its stdin closes, so it never outlives its
parent. Requests and replies are length-prefixed frames on its stdin and on a private copy of its
stdout (fd 1 itself is pointed at stderr, so nothing chdb prints can corrupt the protocol).
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import orjson

from dana_workflows.sinks.audit_model import AUDIT_TABLE, AuditRow, QueryResult, stored_hashes
from dana_workflows.sinks.chdb_store import (
    AuditStoreBusyError,
    AuditStoreError,
    ChdbAuditStore,
    columns_body,
    parse_result,
)

_FRAME = struct.Struct(">cI")  # one op/status byte, the payload length
# requests
_SCHEMA, _INSERT, _QUERY, _CLOSE = b"S", b"I", b"Q", b"C"
# replies: ok, or an error naming the exception class to raise in the parent
_OK, _ERROR, _BUSY = b"+", b"!", b"B"

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class ChdbProcessStore:
    """An AuditStore (insert, query, ensure_schema, close) whose chdb session lives in a child process.

    Calls are blocking and serialized, like ChdbAuditStore's: callers run them in a thread
    (BackgroundInserter, BatchingAuditSink), and that thread waits on a pipe with the GIL released.
    A writer that died fails the call in flight (its batch is not confirmed: the caller retries it,
    with the same dedup token) and is started again on the next call, so a worker's audit sink heals.
    """

    def __init__(self, path: str | Path = ".dwf/audit", database: str = "dwf") -> None:
        self.path = Path(path)
        self.database = database
        self.restarts = 0
        self._lock = threading.Lock()
        self._closed = False
        self._start()

    def _start(self) -> None:
        # the child imports this package from where the parent has it (an editable install, a checkout)
        paths = [_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "dana_workflows.sinks.chdb_process", str(self.path), self.database],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        # the child answers once it has opened the store: its ClickHouse version, or why it could not
        try:
            ready = self._read_reply()
        except AuditStoreError:
            self._reap()
            raise
        self.version = tuple(orjson.loads(ready))

    def ensure_schema(self) -> None:
        self._call(_SCHEMA, b"")

    def insert(self, rows: Sequence[AuditRow], dedup_token: str | None = None) -> None:
        if rows:
            token = (dedup_token or "").encode()
            self._call(_INSERT, struct.pack(">H", len(token)) + token + columns_body(rows))

    def query(self, sql: str) -> QueryResult:
        return parse_result(self._call(_QUERY, sql.encode()))

    def present(self, rows: Sequence[AuditRow]) -> set[str]:
        return stored_hashes(self.query, f"{self.database}.{AUDIT_TABLE}", rows)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._send(_CLOSE, b"")
                self._read_reply()
            except AuditStoreError:
                pass  # the child is gone already: nothing left to close
            finally:
                self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(OSError):  # a dead child leaves unflushed bytes behind
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        self._proc.wait(timeout=60)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _call(self, op: bytes, payload: bytes) -> bytes:
        with self._lock:
            if self._closed:
                raise AuditStoreError(f"the audit store at {self.path} is closed")
            if self._proc.poll() is not None:  # died after its last answer: start another one
                self._reap()
                self._start()
                self.restarts += 1
            self._send(op, payload)
            return self._read_reply()

    def _send(self, op: bytes, payload: bytes) -> None:
        pipe = self._proc.stdin
        assert pipe is not None
        try:
            pipe.write(_FRAME.pack(op, len(payload)))
            pipe.write(payload)
            pipe.flush()
        except (BrokenPipeError, ValueError):
            raise self._gone() from None

    def _read_reply(self) -> bytes:
        pipe = self._proc.stdout
        assert pipe is not None
        frame = read_frame(pipe)
        if frame is None:
            raise self._gone()
        status, payload = frame
        if status == _OK:
            return payload
        message = payload.decode(errors="replace")
        raise (AuditStoreBusyError if status == _BUSY else AuditStoreError)(message)

    def _gone(self) -> AuditStoreError:
        code = self._proc.poll()
        return AuditStoreError(
            f"the audit writer process for {self.path} exited (code {code}); its error is on stderr above. "
            "The batch in flight was not confirmed: retry it (the next call starts a new writer), re-run, "
            "or use a ClickHouse server (DWF_AUDIT_DSN=clickhouse://host:9000/dwf)"
        )


def read_frame(pipe: IO[bytes]) -> tuple[bytes, bytes] | None:
    """One frame, or None at end of stream."""
    head = pipe.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    op, size = _FRAME.unpack(head)
    payload = pipe.read(size) if size else b""
    if len(payload) < size:
        return None
    return op, payload


def _serve(path: str, database: str) -> int:
    """The child: answer requests on stdin until a close request or the end of stdin."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed from here on goes to stderr, not into the protocol
    requests = sys.stdin.buffer

    def reply(status: bytes, payload: bytes) -> None:
        replies.write(_FRAME.pack(status, len(payload)))
        replies.write(payload)
        replies.flush()

    try:
        store = ChdbAuditStore(path, database=database)
    except AuditStoreBusyError as exc:
        reply(_BUSY, str(exc).encode())
        return 1
    except Exception as exc:
        reply(_ERROR, f"cannot open the embedded audit store at {path}: {exc}".encode())
        return 1
    reply(_OK, orjson.dumps(list(store.version)))
    try:
        while (frame := read_frame(requests)) is not None:
            op, payload = frame
            try:
                if op == _INSERT:
                    (n,) = struct.unpack_from(">H", payload)
                    token = payload[2 : 2 + n].decode() or None
                    store.insert_body(payload[2 + n :], token)
                    reply(_OK, b"")
                elif op == _QUERY:
                    reply(_OK, store.query_raw(payload.decode()))
                elif op == _SCHEMA:
                    store.ensure_schema()
                    reply(_OK, b"")
                elif op == _CLOSE:
                    reply(_OK, b"")
                    break
                else:
                    reply(_ERROR, f"unknown request {op!r}".encode())
            except AuditStoreError as exc:
                reply(_ERROR, str(exc).encode())
            except Exception as exc:  # chdb's own errors: the parent raises them as AuditStoreError
                reply(_ERROR, f"{type(exc).__name__}: {exc}".encode())
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1], sys.argv[2]))
