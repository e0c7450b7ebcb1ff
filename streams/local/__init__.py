"""The in-process runtime: the same processors, in order, for a file of events, with no servers."""

from dana_workflows.streams.local.runtime import LocalRuntime, RunSummary

__all__ = ["LocalRuntime", "RunSummary"]
