"""The log line of a window that warned or alerted: one function, so both runtimes word it the same.

Every closed window whose level is ``warn`` or ``alert`` logs its ``DriftRecord.summary()`` once, on the
``dana_workflows.drift.alerts`` logger: WARNING for ``warn``, ERROR for ``alert`` (an alert is what an
operator is paged for; a warning is worth a look). ``ok`` windows, the reference being built and windows below
``min_count`` (never warn or alert) log nothing. The line names the workflow, the monitor and the field it
watches, the window, its event count, PSI and JS, and the bins that moved most, e.g.::

    drift alert: claims-triage/currency (currency) window 2023-11-14T22:19:00Z..2023-11-14T22:20:00Z
    n=6000 psi=0.6578 js=0.3345; moved most: GBP 9.8%->40.6%, USD 60.1%->29.2%, EUR 30.1%->30.2%
"""

from __future__ import annotations

import logging

from dana_workflows.drift.records import DriftRecord

log = logging.getLogger(__name__)

# The logging level of each level that logs; ``ok`` is absent.
LOG_LEVELS: dict[str, int] = {"warn": logging.WARNING, "alert": logging.ERROR}


def log_window(record: DriftRecord, logger: logging.Logger | None = None) -> str | None:
    """Log one line for a warn or alert window and return it; None (and nothing logged) for ``ok``."""
    level = LOG_LEVELS.get(record.level)
    if level is None:
        return None
    line = record.summary()
    (logger or log).log(level, "%s", line)
    return line
