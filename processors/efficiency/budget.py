"""Cost budgets: tokens and USD per hour for a step or a whole workflow, checked before every call.

A call is admitted only if its reservation (prompt estimate + max_tokens, priced with the endpoint's
table) still fits the last hour's spend, so the bill is bounded by the budget, never overrun and then
noticed. A refused call takes the step's declared fallback; the first refusal of each exhaustion is an
alert (a log line, a counter, an audit row). Time comes from the step context's clock (injected).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from dana_workflows.workflow.efficiency_ir import BudgetIR

log = logging.getLogger(__name__)

HOUR_US = 3_600_000_000


@dataclass(slots=True)
class _Spend:
    t_us: int
    tokens: int
    cost: float


class Reservation:
    """One admitted call; ``settle`` replaces the estimate with what the call used."""

    __slots__ = ("_entry", "_ledger")

    def __init__(self, ledger: BudgetLedger, entry: _Spend) -> None:
        self._ledger = ledger
        self._entry = entry

    def settle(self, tokens: int, cost: float) -> None:
        ledger, entry = self._ledger, self._entry
        ledger.tokens += tokens - entry.tokens
        ledger.cost += cost - entry.cost
        entry.tokens, entry.cost = tokens, cost


class BudgetLedger:
    """The last hour's spend against one budget (one per step or workflow, per worker)."""

    def __init__(self, budget: BudgetIR, name: str, window_us: int = HOUR_US) -> None:
        self.budget = budget
        self.name = name
        self.window_us = window_us
        self._spends: deque[_Spend] = deque()
        self.tokens = 0
        self.cost = 0.0
        self.exhausted = False  # in an exhaustion now (the alert fired; cleared when a call fits again)
        self.alerts = 0

    def _expire(self, now_us: int) -> None:
        horizon = now_us - self.window_us
        spends = self._spends
        while spends and spends[0].t_us <= horizon:
            old = spends.popleft()
            self.tokens -= old.tokens
            self.cost -= old.cost

    def refusal(self, now_us: int, tokens: int, cost: float) -> str | None:
        """Why a call of this size does not fit now, or None."""
        self._expire(now_us)
        b = self.budget
        if b.tokens_per_hour is not None and self.tokens + tokens > b.tokens_per_hour:
            return (
                f"budget {self.name}: {self.tokens} + {tokens} tokens would pass {b.tokens_per_hour} per hour"
            )
        if b.cost_per_hour is not None and self.cost + cost > b.cost_per_hour:
            return (
                f"budget {self.name}: ${self.cost:.6f} + ${cost:.6f} would pass ${b.cost_per_hour:g} per hour"
            )
        return None

    def admit(self, now_us: int, tokens: int, cost: float) -> Reservation | Refused:
        """A reservation, or the refusal (the first of an exhaustion is an alert)."""
        why = self.refusal(now_us, tokens, cost)
        if why is not None:
            first = not self.exhausted
            if first:
                self.exhausted = True
                self.alerts += 1
                log.warning("%s; falling back until spend leaves the hour window", why)
            return Refused(why, first)
        self.exhausted = False
        entry = _Spend(now_us, tokens, cost)
        self._spends.append(entry)
        self.tokens += tokens
        self.cost += cost
        return Reservation(self, entry)


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str
    alert: bool  # this refusal started an exhaustion: audit it as an alert
