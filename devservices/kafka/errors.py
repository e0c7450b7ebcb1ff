"""What every part of the launcher shares: its error, the loopback host, how to install what it needs."""

from __future__ import annotations

from dana_workflows.devservices.processes import HOST

__all__ = ["HOST", "INSTALL_HINT", "KafkaLauncherError"]
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"


class KafkaLauncherError(RuntimeError):
    """The local broker cannot be fetched, started or stopped; the message says why and what to do."""
