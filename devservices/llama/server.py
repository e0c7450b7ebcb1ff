"""``llama-server`` on loopback, started detached and found again by its pid file (like the Kafka broker).

It serves the OpenAI chat-completions API at ``http://127.0.0.1:<port>/v1`` with native ``json_schema``
response formats (grammar-constrained JSON), real token usage and a queue: ``parallel`` slots, each with
``ctx_size / parallel`` tokens of context; requests beyond the slots wait. Point a workflow at it with
``DWF_LLM_DEFAULT__BASE_URL`` (docs/llm.md).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from dana_workflows.devservices.llama.build import ensure_server_binary
from dana_workflows.devservices.llama.errors import LocalModelError
from dana_workflows.devservices.llama.model import MODEL_ID, ensure_model
from dana_workflows.devservices.processes import (
    HOST,
    alive,
    command_line,
    log_tail,
    port_answers,
    read_pid,
    start_detached,
    stop,
    stop_service,
)

DEFAULT_DATA_DIR = Path(".dwf/llm")
DEFAULT_PORT = 8080
_PID_FILE = "llama-server.pid"
_STATE_FILE = "llama-server.json"
_LOG_FILE = "llama-server.log"


@dataclass(frozen=True)
class ModelServerInfo:
    base_url: str  # what DWF_LLM_DEFAULT__BASE_URL takes
    port: int
    pid: int
    model: str  # the name the server answers to (``model`` in requests and replies)
    model_path: str
    binary: str
    data_dir: str
    log_file: str
    ctx_size: int
    parallel: int
    started_in_s: float


@dataclass(frozen=True)
class ModelServerStatus:
    running: bool
    healthy: bool
    info: ModelServerInfo | None


def up(
    port: int = DEFAULT_PORT,
    data_dir: Path | str = DEFAULT_DATA_DIR,
    *,
    ctx_size: int = 4096,
    parallel: int = 2,
    threads: int | None = None,
    wait_s: float = 120.0,
    die_with_parent: bool = False,
    log: Callable[[str], None] = print,
) -> ModelServerInfo:
    """Build the server if needed, install the model if needed, start it and wait until it is healthy.

    Idempotent: a server already running from this data dir on the same port is returned as it is.
    """
    data = Path(data_dir).expanduser().resolve()
    if parallel < 1 or ctx_size < 256 * parallel:
        raise LocalModelError(
            f"--ctx-size {ctx_size} with --parallel {parallel}: each slot needs at least 256 tokens"
        )
    running = status(data)
    if running.running and running.info is not None:
        if running.info.port == port:
            return running.info
        raise LocalModelError(
            f"a model server from {data} already runs on port {running.info.port} (pid {running.info.pid}); "
            f"stop it with `dana-wf llm down --data-dir {data}` or use that port"
        )
    if port_answers(port):
        raise LocalModelError(f"port {port} on {HOST} is already in use; choose a free one with --port")
    binary = ensure_server_binary(log)
    model = ensure_model(log)
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(binary),
        "--model", str(model),
        "--alias", MODEL_ID,
        "--host", HOST,
        "--port", str(port),
        "--ctx-size", str(ctx_size),
        "--parallel", str(parallel),
        "--no-webui",
        "--metrics",  # /metrics (Prometheus): tokens and requests as the server counts them
    ]  # fmt: skip
    if threads:
        cmd += ["--threads", str(threads)]
    started = time.monotonic()
    log_file = data / _LOG_FILE
    proc = start_detached(cmd, log_file, data, die_with_parent=die_with_parent)
    (data / _PID_FILE).write_text(f"{proc.pid}\n")
    base = f"http://{HOST}:{port}"
    while not _healthy(base):
        if proc.poll() is not None:
            _forget(data)
            raise LocalModelError(
                f"llama-server exited with code {proc.returncode} during start-up; its log is {log_file}:\n"
                f"{log_tail(log_file)}"
            )
        if time.monotonic() - started > wait_s:
            stop(proc.pid)
            _forget(data)
            raise LocalModelError(
                f"llama-server did not become healthy on {base} within {wait_s:.0f} s (stopped it); "
                f"its log is {log_file}:\n{log_tail(log_file)}"
            )
        time.sleep(0.2)
    info = ModelServerInfo(
        base_url=f"{base}/v1",
        port=port,
        pid=proc.pid,
        model=MODEL_ID,
        model_path=str(model),
        binary=str(binary),
        data_dir=str(data),
        log_file=str(log_file),
        ctx_size=ctx_size,
        parallel=parallel,
        started_in_s=round(time.monotonic() - started, 2),
    )
    (data / _STATE_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
    return info


def status(data_dir: Path | str = DEFAULT_DATA_DIR) -> ModelServerStatus:
    """Whether this data dir's server runs (by its pid file) and answers /health."""
    data = Path(data_dir).expanduser().resolve()
    pid = read_pid(data / _PID_FILE)
    if pid is None or not _is_our_server(pid, data):
        return ModelServerStatus(False, False, None)
    info = _read_state(data)
    healthy = info is not None and _healthy(f"http://{HOST}:{info.port}")
    return ModelServerStatus(True, healthy, info)


def down(data_dir: Path | str = DEFAULT_DATA_DIR, timeout_s: float = 15.0) -> bool:
    """Stop this data dir's server (SIGTERM, then SIGKILL); False when none was running."""
    data = Path(data_dir).expanduser().resolve()
    return stop_service(data, (_PID_FILE, _STATE_FILE), _is_our_server, timeout_s)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False  # refused while starting, 503 while the model loads


def _is_our_server(pid: int, data: Path) -> bool:
    """The pid is alive and is a llama-server (guards against a reused pid)."""
    if not alive(pid):
        return False
    args = command_line(pid)
    return args is None or any(a.endswith("llama-server") for a in args[:1])


def _read_state(data: Path) -> ModelServerInfo | None:
    try:
        return ModelServerInfo(**json.loads((data / _STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _forget(data: Path) -> None:
    for name in (_PID_FILE, _STATE_FILE):
        (data / name).unlink(missing_ok=True)
