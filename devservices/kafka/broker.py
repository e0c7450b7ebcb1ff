"""A real Apache Kafka broker on loopback, started from Maven Central jars with the machine's Java.

Why: this machine (and many laptops and CI runners) has no Docker engine, yet the Kafka runtime must be
tested against a real broker. The broker jars listed in ``pom.xml`` next to this module are resolved once
with ``mvn dependency:copy-dependencies`` into a cache (``~/.cache/dana-wf/kafka/<version>/jars``, or
``$DWF_KAFKA_HOME/jars``); after that a single KRaft node (broker and controller in one JVM) starts in a few
seconds. The broker runs detached in its own process group and is found again through the pid file in its
data dir, so ``up``, ``status`` and ``down`` may be called from different processes.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from dana_workflows.devservices.kafka.errors import HOST, INSTALL_HINT, KafkaLauncherError
from dana_workflows.devservices.kafka.sasl import (
    SASL_MECHANISMS,
    parse_sasl_users,
    sasl_properties,
    scram_fingerprint,
)
from dana_workflows.devservices.kafka.tls import ensure_tls, ssl_properties
from dana_workflows.devservices.processes import (
    alive,
    command_line,
    log_tail,
    port_answers,
    read_pid,
    start_detached,
    stop,
    stop_service,
)
from dana_workflows.devservices.processes import (
    free_port as free_port,  # re-exported: tests and benches call broker.free_port()
)

POM = Path(__file__).with_name("pom.xml")
DEFAULT_DATA_DIR = Path(".dwf/kafka")
DEFAULT_PORT = 9092
_MARKER = ".dwf-complete"
_PID_FILE = "broker.pid"
_STATE_FILE = "broker.json"
_LOG_FILE = "broker.log"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_SCRAM_FILE = "scram-users.sha256"
_TLS_DIR = "tls"


@dataclass(frozen=True)
class BrokerInfo:
    """A running broker started by this launcher (also what ``broker.json`` in the data dir holds)."""

    bootstrap: str
    port: int
    controller_port: int
    pid: int
    data_dir: str
    log_file: str
    version: str
    cluster_id: str
    started_in_s: float
    # the optional SASL_PLAINTEXT listener (``up(sasl_port=..., sasl_users=...)``); never the passwords
    sasl_bootstrap: str | None = None
    sasl_port: int | None = None
    sasl_users: tuple[str, ...] = ()
    # the optional TLS listeners (``up(ssl_port=...)``, ``up(sasl_ssl_port=..., sasl_users=...)``) and the
    # PEM file of the launcher's own CA that signed the broker's certificate (DWF_KAFKA_SSL_CAFILE)
    ssl_bootstrap: str | None = None
    ssl_port: int | None = None
    sasl_ssl_bootstrap: str | None = None
    sasl_ssl_port: int | None = None
    ssl_cafile: str | None = None


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    port: int | None
    bootstrap: str | None
    data_dir: str
    answering: bool

    def describe(self) -> str:
        if self.running:
            health = "answering" if self.answering else "NOT answering on its port"
            return f"Kafka running: pid {self.pid}, {self.bootstrap} ({health}), data dir {self.data_dir}"
        return f"Kafka not running (data dir {self.data_dir})"


# -- versions and places -------------------------------------------------------------------------------


def kafka_version() -> str:
    """The broker version, read from ``pom.xml`` so the pom stays the one place that names it."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text())
    if not match:
        raise KafkaLauncherError(f"{POM}: no <kafka.version> property; add one to the <properties> block")
    return match.group(1)


def kafka_home() -> Path:
    """Where the jars are cached: ``$DWF_KAFKA_HOME`` or ``~/.cache/dana-wf/kafka/<version>``."""
    override = os.environ.get("DWF_KAFKA_HOME")
    if override:
        return Path(override).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dana-wf" / "kafka" / kafka_version()


def jars_dir() -> Path:
    return kafka_home() / "jars"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


# -- tools ---------------------------------------------------------------------------------------------


def find_java() -> str:
    """The java binary ($JAVA_HOME/bin/java first), checked to be Java 17 or newer (Kafka 4 needs it)."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    candidates.append(shutil.which("java") or "")
    java = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if java is None:
        raise KafkaLauncherError(
            f"no `java` found on PATH (or in $JAVA_HOME): the local Kafka broker needs Java 17+. "
            f"Install it with `{INSTALL_HINT}`, or set KAFKA_BOOTSTRAP_SERVERS to an existing broker"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_x" style
            major = int(match.group(2))
        if major < 17:
            raise KafkaLauncherError(
                f"{java} is Java {major}; Apache Kafka {kafka_version()} needs Java 17+. "
                f"Install it with `{INSTALL_HINT}` and put it first on PATH (or set JAVA_HOME)"
            )
    return java


def _find_mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaLauncherError(
            f"the Kafka jars are not cached in {jars_dir()} and `mvn` is not on PATH to fetch them. "
            f"Install Maven with `{INSTALL_HINT}` (or copy a complete jars folder there)"
        )
    return mvn


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock, so two processes (e.g. parallel test sessions) never fetch at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def jars_ready() -> bool:
    marker = jars_dir() / _MARKER
    return marker.is_file() and marker.read_text().strip() == _pom_digest()


def ensure_jars(timeout_s: float = 900.0) -> Path:
    """Return the folder of broker jars, resolving them with Maven first if the cache is not complete.

    The download goes to a sibling temp folder that is renamed into place only once Maven succeeded, and a
    marker holding the pom's digest records completion: an interrupted fetch or an edited pom never leaves
    a half-filled cache that looks usable.
    """
    target = jars_dir()
    if jars_ready():
        return target
    home = kafka_home()
    with _locked(home / ".lock"):
        if jars_ready():  # another process finished while we waited
            return target
        mvn = _find_mvn()
        staging = Path(tempfile.mkdtemp(prefix="jars.", dir=home))
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise KafkaLauncherError(
                f"`{' '.join(cmd)}` did not finish in {timeout_s:.0f} s: is Maven Central reachable "
                f"(proxy settings go in ~/.m2/settings.xml)?"
            ) from exc
        if proc.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            tail = (proc.stdout + proc.stderr).strip()[-3000:]
            raise KafkaLauncherError(
                f"fetching the Kafka jars with `{' '.join(cmd)}` failed (exit {proc.returncode}); Maven "
                f"needs to reach Maven Central (proxy settings go in ~/.m2/settings.xml):\n{tail}"
            )
        (staging / _MARKER).write_text(_pom_digest() + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target


# -- process bookkeeping -------------------------------------------------------------------------------


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    """The pid is alive and is the broker of this data dir (guards against a reused pid)."""
    if not alive(pid):
        return False
    args = command_line(pid)
    if args is None:
        return True
    return _MAIN_CLASS in args and str(data_dir / "server.properties") in args


def _read_state(data_dir: Path) -> BrokerInfo | None:
    try:
        fields = json.loads((data_dir / _STATE_FILE).read_text())
        fields["sasl_users"] = tuple(fields.get("sasl_users") or ())
        return BrokerInfo(**fields)
    except (OSError, ValueError, TypeError):
        return None


# -- configuration -------------------------------------------------------------------------------------


def _new_cluster_id() -> str:
    """A random Kafka Uuid in its string form (url-safe base64 of 16 bytes, no padding)."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not text.startswith("-"):  # a leading dash would read as a command-line flag
            return text


def server_properties(
    port: int,
    controller_port: int,
    log_dir: Path,
    sasl_port: int | None = None,
    sasl_users: Mapping[str, str] | None = None,
    ssl_port: int | None = None,
    sasl_ssl_port: int | None = None,
    keystore: Path | None = None,
    keystore_password: str | None = None,
) -> str:
    """One combined broker+controller KRaft node on loopback, sized for tests on a 2-core machine.

    With ``sasl_port`` a second client listener, SASL_PLAINTEXT on that port, takes PLAIN, SCRAM-SHA-256
    and SCRAM-SHA-512 logins of ``sasl_users``; the PLAINTEXT listener (also the inter-broker one) stays.
    ``ssl_port`` adds an SSL (TLS) listener and ``sasl_ssl_port`` a SASL_SSL one (the same logins over TLS),
    both serving the certificate in ``keystore`` (PKCS12, ``keystore_password``).
    """
    extra = [
        (name, p)
        for name, p in (("SASL_PLAINTEXT", sasl_port), ("SSL", ssl_port), ("SASL_SSL", sasl_ssl_port))
        if p is not None
    ]
    listeners = f"PLAINTEXT://{HOST}:{port}"
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    for name, p in extra:
        listeners += f",{name}://{HOST}:{p}"
        protocols += f",{name}:{name}"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"{listeners},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(log_dir),
        # a single node: every internal topic must live with one replica
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
        "num.partitions": "1",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        # tests want consumer groups to form at once
        "group.initial.rebalance.delay.ms": "0",
        # small segments and short retention: test data is throwaway
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.retention.hours": "24",
        "log.retention.check.interval.ms": "60000",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        # 2 cores: fewer threads than the defaults
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "background.threads": "4",
    }
    sasl_listeners = [name for name, _ in extra if name.startswith("SASL_")]
    if sasl_listeners:
        props.update(sasl_properties(sasl_listeners, sasl_users or {}))
    if ssl_port is not None or sasl_ssl_port is not None:
        if keystore is None or keystore_password is None:
            raise KafkaLauncherError("a TLS listener needs the broker's keystore and its password")
        props.update(ssl_properties(keystore, keystore_password))
    return "".join(f"{k}={v}\n" for k, v in props.items())


LOG4J2_PROPERTIES = """\
# Everything to stdout, which the launcher sends to broker.log in the data dir.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = WARN
logger.state_change.name = state.change.logger
logger.state_change.level = WARN
"""


def _java_cmd(java: str, jars: Path, data_dir: Path, main: str, *args: str) -> list[str]:
    heap = os.environ.get("DWF_KAFKA_HEAP", "512m")
    extra = os.environ.get("DWF_KAFKA_JAVA_OPTS", "").split()
    return [
        java,
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={data_dir}",
        *extra,
        "-cp",
        f"{jars}/*",
        main,
        *args,
    ]


def _format_storage(
    java: str, jars: Path, data_dir: Path, log_dir: Path, scram_users: Mapping[str, str] | None = None
) -> str:
    """Format the KRaft log dir once, with a random cluster id; a formatted dir keeps its id.

    ``scram_users`` get SCRAM-SHA-256 and SCRAM-SHA-512 credentials in the initial metadata (KRaft takes
    SCRAM users only this way before a broker runs). A formatted dir keeps the users it was formatted with,
    so asking for other SCRAM users on it is refused rather than silently ignored.
    """
    meta = log_dir / "meta.properties"
    fingerprint_file = data_dir / _SCRAM_FILE
    if meta.is_file():
        if scram_users:
            try:
                formatted_with = fingerprint_file.read_text().strip()
            except OSError:
                formatted_with = ""
            if formatted_with != scram_fingerprint(scram_users):
                raise KafkaLauncherError(
                    f"the storage in {log_dir} was formatted with other SASL users (or none): SCRAM users "
                    f"are written only when the storage is formatted. Remove {data_dir} and retry, or give "
                    "the same --sasl-users as the first start"
                )
        match = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.MULTILINE)
        return match.group(1) if match else ""
    cluster_id = _new_cluster_id()
    config = str(data_dir / "server.properties")
    scram_args: list[str] = []
    for name, password in (scram_users or {}).items():
        for mechanism in SASL_MECHANISMS[1:]:
            scram_args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
    cmd = _java_cmd(
        java, jars, data_dir, _STORAGE_TOOL, "format", "-t", cluster_id, "-c", config, *scram_args
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-3000:]
        for password in (scram_users or {}).values():
            tail = tail.replace(password, "***")
        raise KafkaLauncherError(
            f"formatting the Kafka storage in {log_dir} failed (exit {proc.returncode}); if the folder holds "
            f"data from another broker, remove {data_dir} and retry:\n{tail}"
        )
    if scram_users:
        fingerprint_file.touch(mode=0o600)
        fingerprint_file.write_text(scram_fingerprint(scram_users) + "\n")
    return cluster_id


# -- readiness -----------------------------------------------------------------------------------------


def _metadata_ok(bootstrap: str, timeout_s: float) -> bool:
    """One real metadata round trip (aiokafka admin describe_cluster) lists this broker."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(admin.start(), timeout_s)
            cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
            return bool(cluster.get("brokers")) and cluster.get("controller_id") is not None
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    # Its own thread and loop, so up() also works when called from inside a running event loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe()).result()


# -- the three verbs -----------------------------------------------------------------------------------


def up(
    port: int = DEFAULT_PORT,
    controller_port: int | None = None,
    data_dir: Path | str = DEFAULT_DATA_DIR,
    wait_s: float = 60.0,
    die_with_parent: bool = False,
    sasl_port: int | None = None,
    sasl_users: str | Mapping[str, str] | None = None,
    ssl_port: int | None = None,
    sasl_ssl_port: int | None = None,
) -> BrokerInfo:
    """Start the broker (fetching the jars first if needed) and return once it answers metadata requests.

    ``controller_port`` defaults to ``port + 1`` (9093 beside 9092). Idempotent: a broker already running
    from this data dir on the same port is returned as is.
    ``die_with_parent`` (Linux) makes the JVM receive SIGTERM when the calling process dies, so a killed
    test session never leaves a broker behind; the CLI leaves it off so the broker outlives ``up``.
    ``sasl_port`` with ``sasl_users`` (``"alice:pw,bob:pw2"`` or a dict) adds a SASL_PLAINTEXT listener that
    takes PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 logins of those users, beside the PLAINTEXT one.
    ``ssl_port`` adds an SSL (TLS) listener and ``sasl_ssl_port`` (with ``sasl_users``) a SASL_SSL one; their
    certificate is signed by a CA made on the first such start (``ensure_tls``, in ``<data dir>/tls``) whose
    PEM file is ``BrokerInfo.ssl_cafile``.
    """
    data = Path(data_dir).expanduser().resolve()
    if controller_port is None:
        controller_port = port + 1
    if sasl_users is None and sasl_ssl_port is not None:
        raise KafkaLauncherError(
            "a SASL_SSL listener needs both --sasl-ssl-port and --sasl-users "
            "(user:password[,user2:password2])"
        )
    if (sasl_port is None and sasl_ssl_port is None) != (sasl_users is None):
        raise KafkaLauncherError(
            "a SASL listener needs both --sasl-port and --sasl-users (user:password[,user2:password2])"
        )
    users = parse_sasl_users(sasl_users)
    # the optional listeners: BrokerInfo field, CLI option, name in messages -> the port asked for
    extra = {
        ("sasl_port", "--sasl-port", "SASL port"): sasl_port,
        ("ssl_port", "--ssl-port", "SSL port"): ssl_port,
        ("sasl_ssl_port", "--sasl-ssl-port", "SASL_SSL port"): sasl_ssl_port,
    }
    running = status(data)
    if running.running:
        state = _read_state(data)
        if (
            state is not None
            and state.port == port
            and all(getattr(state, field) == p for (field, _, _), p in extra.items())
        ):
            return state
        others = [
            f"{label} {getattr(state, field)}" for field, _, label in extra if state and getattr(state, field)
        ]
        raise KafkaLauncherError(
            f"a broker from {data} is already running on port {running.port}"
            f"{' (' + ', '.join(others) + ')' if others else ''} "
            f"(pid {running.pid}); stop it with `dana-wf kafka down --data-dir {data}` or use that port"
        )
    wanted = [(port, "--port"), (controller_port, "--controller-port")]
    wanted += [(p, option) for (_, option, _), p in extra.items() if p is not None]
    for p, what in wanted:
        if port_answers(p):
            raise KafkaLauncherError(
                f"port {p} on {HOST} is already in use (another Kafka? see `dana-wf kafka status`); "
                f"choose a free one with {what}"
            )
    if port == controller_port:
        raise KafkaLauncherError(f"port and controller port are both {port}: give them different values")
    for i, (p, what) in enumerate(wanted[2:], start=2):
        clash = [other for q, other in wanted[:i] if q == p]
        if clash:
            raise KafkaLauncherError(
                f"{what} {p} is also the {' and the '.join(clash)} port: give each listener its own port"
            )

    java = find_java()
    jars = ensure_jars()
    started = time.monotonic()
    log_dir = data / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    config = data / "server.properties"
    config.touch(mode=0o600)  # it may hold SASL passwords and the keystore's password
    config.chmod(0o600)
    tls = ensure_tls(data / _TLS_DIR, java) if ssl_port is not None or sasl_ssl_port is not None else None
    config.write_text(
        server_properties(
            port,
            controller_port,
            log_dir,
            sasl_port,
            users,
            ssl_port,
            sasl_ssl_port,
            tls.keystore if tls else None,
            tls.password if tls else None,
        )
    )
    (data / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
    cluster_id = _format_storage(java, jars, data, log_dir, users)

    log_file = data / _LOG_FILE
    cmd = _java_cmd(java, jars, data, _MAIN_CLASS, str(data / "server.properties"))
    proc = start_detached(cmd, log_file, data, die_with_parent=die_with_parent)
    (data / _PID_FILE).write_text(f"{proc.pid}\n")

    bootstrap = f"{HOST}:{port}"
    deadline = started + wait_s
    while True:
        if proc.poll() is not None:
            _cleanup_files(data)
            raise KafkaLauncherError(
                f"the Kafka broker exited with code {proc.returncode} during start-up; "
                f"its log is {log_file}:\n{log_tail(log_file)}"
            )
        if (
            port_answers(port)
            and all(port_answers(p) for p, _ in wanted[2:])
            and _metadata_ok(bootstrap, timeout_s=5.0)
        ):
            break
        if time.monotonic() > deadline:
            stop(proc.pid)
            _cleanup_files(data)
            raise KafkaLauncherError(
                f"the Kafka broker did not answer on {bootstrap} within {wait_s:.0f} s (stopped it); "
                f"its log is {log_file}:\n{log_tail(log_file)}"
            )
        time.sleep(0.2)

    info = BrokerInfo(
        bootstrap=bootstrap,
        port=port,
        controller_port=controller_port,
        pid=proc.pid,
        data_dir=str(data),
        log_file=str(log_file),
        version=kafka_version(),
        cluster_id=cluster_id,
        started_in_s=round(time.monotonic() - started, 2),
        sasl_bootstrap=f"{HOST}:{sasl_port}" if sasl_port is not None else None,
        sasl_port=sasl_port,
        sasl_users=tuple(users),
        ssl_bootstrap=f"{HOST}:{ssl_port}" if ssl_port is not None else None,
        ssl_port=ssl_port,
        sasl_ssl_bootstrap=f"{HOST}:{sasl_ssl_port}" if sasl_ssl_port is not None else None,
        sasl_ssl_port=sasl_ssl_port,
        ssl_cafile=str(tls.cafile) if tls else None,
    )
    (data / _STATE_FILE).write_text(json.dumps(asdict(info), indent=2) + "\n")
    return info


def status(data_dir: Path | str = DEFAULT_DATA_DIR) -> BrokerStatus:
    """Whether the broker of this data dir runs (by its pid file), and whether its port answers."""
    data = Path(data_dir).expanduser().resolve()
    pid = read_pid(data / _PID_FILE)
    if pid is None or not _is_our_broker(pid, data):
        return BrokerStatus(False, None, None, None, str(data), False)
    state = _read_state(data)
    port = state.port if state else None
    return BrokerStatus(
        running=True,
        pid=pid,
        port=port,
        bootstrap=state.bootstrap if state else None,
        data_dir=str(data),
        answering=port is not None and port_answers(port),
    )


def down(data_dir: Path | str = DEFAULT_DATA_DIR, timeout_s: float = 30.0) -> bool:
    """Stop the broker of this data dir: SIGTERM (a clean shutdown), then SIGKILL after ``timeout_s``.

    Returns False when no broker was running. The data stays; remove the data dir to start afresh.
    """
    data = Path(data_dir).expanduser().resolve()
    return stop_service(data, (_PID_FILE, _STATE_FILE), _is_our_broker, timeout_s)


def _cleanup_files(data: Path) -> None:
    for name in (_PID_FILE, _STATE_FILE):
        with contextlib.suppress(FileNotFoundError):
            (data / name).unlink()
