"""A worker that cannot start, or cannot stay in its group, ends: the error found, and the line saying it.

aiokafka hands a fatal group error (the broker refusing the join: a session timeout outside its bounds, a
group the ACLs deny, ...) to its user at the next fetch (``GroupCoordinator._push_error_to_user``: kept
pending, raised by ``getmany``) and waits for that fetch. faust fetches only once partitions are assigned,
which a refused join never does: the error sat in the consumer, ``app.start()`` never returned and the
worker lived on, deaf to SIGTERM (NEWCOMER2 W3, docs/kafka-runtime.md "When a worker cannot start"). So
the worker looks for the pending error itself (``fatal_error``), while it starts and while it runs.
"""

from __future__ import annotations

from typing import Any

from dana_workflows.streams.kafka.options import REQUEST_TIMEOUT_S

# what to change, per error class aiokafka or faust raises; {session} and {group} from the worker's options
FIXES = {
    "InvalidSessionTimeoutError": (
        "--session-timeout {session:g} s is outside the broker's group.min.session.timeout.ms .. "
        "group.max.session.timeout.ms (Kafka's defaults: 6 s .. 30 min)"
    ),
    "GroupAuthorizationFailedError": "the broker's ACLs refuse group {group}: grant READ on it, or --group",
    "InvalidGroupIdError": "group id {group!r} is not valid: --group",
    "InconsistentGroupProtocolError": (
        "another member of group {group} uses another partition assignor: give this worker its own --group"
    ),
    "ImproperlyConfigured": (
        "--session-timeout {session:g} s must be at most the request timeout (" + f"{REQUEST_TIMEOUT_S:g} s)"
    ),
}


def pending_group_error(app: Any) -> BaseException | None:
    """The fatal error aiokafka's group coordinator holds for the next fetch, if any. Read from the loop's
    thread while the consumer's thread may set it: one attribute read (atomic), no call into aiokafka."""
    thread = getattr(getattr(app, "consumer", None), "_thread", None)
    consumer = getattr(thread, "_consumer", None)
    pending = getattr(getattr(consumer, "_coordinator", None), "_pending_exception", None)
    return pending if isinstance(pending, BaseException) else None


def fatal_error(runtime: Any) -> BaseException | None:
    """Why the worker must end now, or None: an agent's crash, a group error nobody fetched, faust's crash."""
    app = runtime.app
    if runtime.crashed is not None:
        return runtime.crashed  # type: ignore[no-any-return]
    pending = pending_group_error(app)
    if pending is not None:
        return pending
    if app.should_stop:  # faust crashed (a stop we asked for is seen before this is asked)
        reason = app.crash_reason
        return reason if isinstance(reason, BaseException) else RuntimeError("the faust app stopped")
    return None


def failure_line(exc: BaseException, runtime: Any, starting: bool) -> str:
    """One line: what failed, the error, and the setting to change where it is known."""
    what = "worker cannot start" if starting else "worker stopped on an error"
    name = type(exc).__name__
    fix = FIXES.get(name)
    if fix is None:
        return f"{what}: {exc!r}"
    said = str(exc) or name
    text = said if name in said else f"{name}: {said}"
    setting = fix.format(session=runtime.options.session_timeout_s, group=runtime.app.conf.id)
    return f"{what}: {text} (fix: {setting})"
