"""What every part of the launcher shares: its error, the loopback host, how to install what it needs."""

from __future__ import annotations

HOST = "127.0.0.1"
INSTALL_HINT = "apt-get install openjdk-17-jre-headless maven"


class KafkaLauncherError(RuntimeError):
    """The local broker cannot be fetched, started or stopped; the message says why and what to do."""
