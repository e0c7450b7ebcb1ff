"""Dana Workflows: a neurosymbolic workflow engine that runs as an event-driven streaming pipeline.

The repository keeps one folder per room (core/, schemas/, workflow/, sinks/, processors/, drift/,
streams/, devservices/, cli/); each is mapped into this namespace by a relative symlink, so every
tool (mypy, pytest, coverage, setuptools) sees one ordinary package. See docs/architecture.md.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dana-workflows")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
