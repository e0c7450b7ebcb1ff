"""Stand-ins for the launchers' seams, shared by their unit tests: a clock whose sleep advances it (nothing
waits, waits are bounded by the launcher's own deadline) and a started process that can be told to exit."""

from __future__ import annotations

from dataclasses import dataclass


class FakeClock:
    """monotonic() and sleep() for a launcher's ``time``: sleeping advances the clock, nothing waits."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, dt: float) -> None:
        self.sleeps.append(dt)
        self.now += dt


@dataclass
class FakeProc:
    """A started process as Popen gives it: running until ``exit_code`` is set, then exited with it."""

    pid: int = 4242
    exit_code: int | None = None
    returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self.exit_code
        return self.exit_code
