"""Skips are explicit: a skip that is not on the allow-list below fails the run under ``--strict-skips``.

A skipped test proves nothing, and a skip that hides a missing tool or a broken import looks green. So
tests/run-all.sh (CI) runs with ``-rs --strict-skips``: pytest prints every skip with its reason, and at
the end of the session any skip not allowed here turns the exit status into a failure that names it.
Without the option (a developer's targeted run) the same list is printed as a warning only.

Each entry says why the test cannot run on this project's machines (docs/testing.md, "Skips").
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class AllowedSkip:
    nodeid: str  # fnmatch pattern of the test's node id
    reason: str  # a piece of the skip reason that must appear in it
    why: str  # why it cannot run here


ALLOWED: tuple[AllowedSkip, ...] = (
    AllowedSkip(
        "tests/integration/test_clickhouse_server_store.py::test_replayed_batch_with_same_token_adds_no_rows*",
        "has no insert_deduplication_token",
        "the server here is Debian's clickhouse-server 18.16, which predates insert_deduplication_token "
        "(22.2); the 18.16 path (a retry deduplicated by block hash) runs instead, in the test beside it",
    ),
)


def allowed(nodeid: str, reason: str) -> AllowedSkip | None:
    for entry in ALLOWED:
        if fnmatch.fnmatch(nodeid, entry.nodeid) and entry.reason in reason:
            return entry
    return None


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


class SkipPolicy:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.unexpected: list[tuple[str, str]] = []

    def _seen(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = _reason(report)
            if allowed(report.nodeid, reason) is None:
                self.unexpected.append((report.nodeid, reason))

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._seen(report)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._seen(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.strict and self.unexpected and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unexpected:
            return
        verdict = "FAILED: skips not on the allow-list" if self.strict else "skips not on the allow-list"
        terminalreporter.section(verdict, sep="=", red=self.strict, yellow=not self.strict)
        for nodeid, reason in self.unexpected:
            terminalreporter.line(f"{nodeid}: {reason}")
        terminalreporter.line(
            "Install what the test needs (tests/run-all.sh does), or make it fail; a skip that cannot be "
            "avoided on this project's machines goes on the allow-list in tests/skip_policy.py with why."
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--strict-skips",
        action="store_true",
        default=False,
        help="fail the run on a skip not allowed in tests/skip_policy.py (CI)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipPolicy(bool(config.getoption("--strict-skips"))), "dwf-skip-policy")
