"""The worker's HTTP side door: /metrics, /healthz (liveness) and /readyz (readiness).

It runs in its own thread with the stdlib server, not on the worker's event loop: a worker whose loop is
stuck must still answer, so that /healthz can say *why* it is unhealthy instead of timing out. Liveness
asks a watchdog callable (the Kafka runtime's stall detector) and fails when it names a stall; readiness is
a flag the runtime raises once its consumers are assigned and lowers while it shuts down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dana_workflows.streams.prometheus import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

# Returns None while all is well, or a short reason ("consumer dwf.claims.in stalled 95s") when it is not.
Watchdog = Callable[[], str | None]


class Health:
    """Liveness and readiness of one worker; thread-safe."""

    def __init__(self, watchdog: Watchdog | None = None) -> None:
        self._ready = threading.Event()
        self._watchdog = watchdog

    def set_ready(self, ready: bool = True) -> None:
        if ready:
            self._ready.set()
        else:
            self._ready.clear()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def set_watchdog(self, watchdog: Watchdog | None) -> None:
        self._watchdog = watchdog

    def liveness(self) -> str | None:
        """None when alive, else why not. A watchdog that raises counts as unhealthy: it cannot vouch."""
        if self._watchdog is None:
            return None
        try:
            return self._watchdog()
        except Exception as exc:
            return f"watchdog failed: {type(exc).__name__}: {exc}"


class MetricsServer:
    """Serves one worker's metrics and health; ``port=0`` picks a free port (tests)."""

    def __init__(
        self, metrics: Metrics, health: Health | None = None, host: str = "0.0.0.0", port: int = 9108
    ):
        self.metrics = metrics
        self.health = health if health is not None else Health()
        self._host = host
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("MetricsServer is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> MetricsServer:
        if self._server is not None:
            return self
        try:
            server = ThreadingHTTPServer((self._host, self._requested_port), _handler_for(self))
        except OSError as exc:
            raise OSError(
                f"cannot serve metrics on {self._host}:{self._requested_port}: {exc.strerror}; "
                "give the worker a free port with --metrics-port "
                "(DWF_METRICS_PORT, serve(metrics_port=); 0 picks one)"
            ) from exc
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dwf-metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics and health on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, server.metrics.render(), CONTENT_TYPE)
            elif path in ("/healthz", "/livez"):
                reason = server.health.liveness()
                if reason is None:
                    self._reply(200, b"ok\n")
                else:
                    self._reply(503, f"unhealthy: {reason}\n".encode())
            elif path == "/readyz":
                if server.health.ready:
                    self._reply(200, b"ready\n")
                else:
                    self._reply(503, b"not ready\n")
            else:
                self._reply(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Probes hit these endpoints every few seconds: keep them out of the worker's log.
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
