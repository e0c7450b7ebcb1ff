"""A broker down under a running worker: aiokafka's retry lines, thousands in 40 s (newcomer4 N4-11), come
through once a kind per window, the next one saying how many were held back; the worker's own lines and
other kinds are never held back."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from dana_workflows.streams.kafka.log_repeats import RepeatFilter
from dana_workflows.streams.kafka.worker import quiet_logs

pytestmark = pytest.mark.unit


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_one_line_a_kind_a_window_then_the_count_held_back() -> None:
    now = [100.0]
    f = RepeatFilter(window_s=10.0, clock=lambda: now[0])
    unable = "Unable connect to %r: %s"
    assert f.filter(_record("aiokafka", unable, "127.0.0.1:29692", "refused"))
    for _ in range(500):
        assert not f.filter(_record("aiokafka", unable, "127.0.0.1:29692", "refused"))
    # another kind, and the worker's own lines, pass meanwhile
    assert f.filter(_record("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", 1, "x"))
    assert f.filter(_record("dana_workflows.streams.kafka.worker", unable, "a", "b"))
    assert f.filter(_record("dana_workflows.streams.kafka.worker", unable, "a", "b"))
    now[0] = 109.9
    assert not f.filter(_record("aiokafka", unable, "127.0.0.1:29692", "refused"))
    now[0] = 110.0
    again = _record("aiokafka", unable, "127.0.0.1:29692", "refused")
    assert f.filter(again)
    assert again.getMessage() == (
        "Unable connect to '127.0.0.1:29692': refused (501 more like it held back in the last 10 s)"
    )
    now[0] = 121.0
    plain = _record("aiokafka", unable, "127.0.0.1:29692", "refused")
    assert f.filter(plain) and plain.getMessage() == "Unable connect to '127.0.0.1:29692': refused"


@pytest.fixture
def bare_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()  # basicConfig configures a root logger without handlers only
    yield root
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.handlers.extend(handlers)
    for handler in root.handlers:  # pytest's capture handlers live on: take the filter off them
        for f in [f for f in handler.filters if isinstance(f, RepeatFilter)]:
            handler.removeFilter(f)
    root.setLevel(level)
    for name in (
        "faust",
        "mode",
        "aiokafka",
        "kafka",
        "faust.transport.consumer",
        "clickhouse_driver.connection",
    ):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_the_worker_logs_through_the_filter_once(bare_root: logging.Logger) -> None:
    quiet_logs(logging.INFO)
    quiet_logs(logging.INFO)  # called again: still one filter a handler
    assert bare_root.handlers  # basicConfig's (and pytest's own capture handlers)
    for handler in bare_root.handlers:
        assert [type(f) for f in handler.filters].count(RepeatFilter) == 1


def test_two_handlers_each_show_the_line_once_with_the_count_once() -> None:
    """A worker whose root logger has two handlers (a console and a file, or faust's and pytest's) gets a
    filter on each: a line let through carries its count once, on both, and the second handler's filter
    does not take the first one's note for a new kind."""
    now = [0.0]
    first, second = RepeatFilter(clock=lambda: now[0]), RepeatFilter(clock=lambda: now[0])
    unable = "Unable connect to %r: %s"
    shown: list[tuple[str, str]] = []
    for t in range(0, 100):  # a 100 s outage, a retry a second
        now[0] = float(t)
        record = _record("aiokafka", unable, "b:1", "refused")
        for name, f in (("console", first), ("file", second)):
            if f.filter(record):
                shown.append((name, record.getMessage()))
    console = [m for n, m in shown if n == "console"]
    assert console == [m for n, m in shown if n == "file"]  # both handlers show the same lines
    assert len(console) == 10  # one a 10 s window
    assert all(m.count("held back") <= 1 for m in console)


def test_kinds_seen_once_are_not_kept_for_ever() -> None:
    """A long-running worker: a message whose text varies (a preformatted line) is a new kind each time;
    the filter keeps only the kinds of the current window, not every one since the start."""
    now = [0.0]
    f = RepeatFilter(window_s=10.0, clock=lambda: now[0])
    for i in range(20_000):
        now[0] = i * 0.01  # 100 new kinds a second for 200 s
        assert f.filter(_record("aiokafka", f"Failed fetch messages at offset {i}"))  # a new kind: shown
    assert f.kinds_held() <= 2 * 1_000 + 1  # the last window's kinds (and a margin), not 20,000
