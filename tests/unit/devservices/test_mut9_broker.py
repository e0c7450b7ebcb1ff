"""The Kafka launcher's start path without Java, Maven or a socket: ``up`` (what it writes, what it starts,
how it waits and gives up), ``ensure_jars`` (the Maven fetch into a staging folder renamed into place with a
completion marker) and ``_metadata_ok`` (one admin round trip that must list a broker and a controller).

Every outside call is replaced at its seam in broker.py (find_java, ensure_jars, start_detached,
port_answers, _metadata_ok, subprocess.run, shutil.which, the monotonic clock and sleep), so these tests
state the module's documented behaviour (docstrings of broker.py) with expected values written out here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.devservices.kafka import broker
from dana_workflows.devservices.kafka.errors import KafkaLauncherError
from tests.unit.devservices.launcher_fakes import FakeClock, FakeProc

pytestmark = pytest.mark.unit


@dataclass
class Seams:
    """What up() called, and the answers its probes get."""

    proc: FakeProc = field(default_factory=FakeProc)
    started: list[tuple[list[str], Path, Path, bool]] = field(default_factory=list)
    formatted: list[tuple[Any, ...]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    metadata_answers: list[bool] = field(default_factory=lambda: [False, True])
    silent_ports: set[int] = field(default_factory=set)  # ports that never answer, even once started
    clock: FakeClock = field(default_factory=FakeClock)
    log_text: str = "line one\nline two\n"


@pytest.fixture
def seams(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Seams:
    s = Seams()
    jars = tmp_path / "jars"

    def start_detached(
        cmd: Sequence[str], log_file: Path, cwd: Path, *, die_with_parent: bool = False
    ) -> FakeProc:
        s.started.append((list(cmd), log_file, cwd, die_with_parent))
        log_file.write_text(s.log_text)
        return s.proc

    def port_answers(port: int) -> bool:
        # nothing listens before the broker was started; afterwards its ports answer
        return bool(s.started) and port not in s.silent_ports

    def metadata_ok(bootstrap: str, timeout_s: float) -> bool:
        s.metadata.append(bootstrap)
        return s.metadata_answers.pop(0) if s.metadata_answers else True

    def format_storage(*args: Any) -> str:
        s.formatted.append(args)
        return "CLUSTER-ID"

    monkeypatch.setattr(broker, "find_java", lambda: "/jdk/bin/java")
    monkeypatch.setattr(broker, "ensure_jars", lambda: jars)
    monkeypatch.setattr(broker, "_format_storage", format_storage)
    monkeypatch.setattr(broker, "start_detached", start_detached)
    monkeypatch.setattr(broker, "port_answers", port_answers)
    monkeypatch.setattr(broker, "_metadata_ok", metadata_ok)
    monkeypatch.setattr(broker, "stop", lambda pid: s.stopped.append(pid))
    monkeypatch.setattr(broker, "time", SimpleNamespace(monotonic=s.clock.monotonic, sleep=s.clock.sleep))
    monkeypatch.delenv("DWF_KAFKA_HEAP", raising=False)
    monkeypatch.delenv("DWF_KAFKA_JAVA_OPTS", raising=False)
    return s


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


# -- up: the happy path --------------------------------------------------------------------------------


def test_up_writes_config_starts_the_jvm_waits_for_metadata_and_records_the_broker(
    tmp_path: Path, seams: Seams
) -> None:
    data = tmp_path / "data"
    info = broker.up(port=7000, data_dir=data, die_with_parent=True)
    data = data.resolve()

    # the returned info: controller port defaults to port + 1; the launcher's own version and cluster id
    assert info.bootstrap == "127.0.0.1:7000"
    assert (info.port, info.controller_port, info.pid) == (7000, 7001, 4242)
    assert info.data_dir == str(data)
    assert info.log_file == str(data / "broker.log")
    assert info.cluster_id == "CLUSTER-ID"
    assert info.version == broker.kafka_version()
    # one failed metadata probe, one sleep of 0.2 s on the injected clock, then ready
    assert seams.metadata == ["127.0.0.1:7000", "127.0.0.1:7000"]
    assert seams.clock.sleeps == [0.2]
    assert info.started_in_s == 0.2
    # no optional listener: all their fields stay empty
    assert (info.sasl_bootstrap, info.sasl_port, info.sasl_users) == (None, None, ())
    assert (info.ssl_bootstrap, info.ssl_port, info.sasl_ssl_bootstrap, info.sasl_ssl_port) == (None,) * 4
    assert info.ssl_cafile is None

    # the files up() leaves in the data dir: config (owner-only), logging config, pid file, state file
    config = data / "server.properties"
    props = _props(config.read_text())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:7000,CONTROLLER://127.0.0.1:7001"
    assert props["log.dirs"] == str(data / "logs")
    assert (data / "logs").is_dir()
    assert config.stat().st_mode & 0o777 == 0o600
    assert (data / "log4j2.properties").read_text() == broker.LOG4J2_PROPERTIES
    assert (data / "broker.pid").read_text() == "4242\n"
    state = json.loads((data / "broker.json").read_text())
    assert state["bootstrap"] == "127.0.0.1:7000"
    assert state["pid"] == 4242
    assert state["cluster_id"] == "CLUSTER-ID"
    assert broker._read_state(data) == info

    # storage formatted with the java and jars found, for this data dir's logs, no SCRAM users
    assert seams.formatted == [("/jdk/bin/java", tmp_path / "jars", data, data / "logs", {})]
    # the JVM: kafka.Kafka on this data dir's config, its output in broker.log, run from the data dir
    [(cmd, log_file, cwd, die_with_parent)] = seams.started
    assert cmd[0] == "/jdk/bin/java"
    assert cmd[-2:] == ["kafka.Kafka", str(config)]
    assert cmd[cmd.index("-cp") + 1] == f"{tmp_path / 'jars'}/*"
    assert (log_file, cwd, die_with_parent) == (data / "broker.log", data, True)


def test_up_with_sasl_and_tls_listeners_waits_for_every_port_and_reports_them(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_calls: list[tuple[Path, str]] = []
    keystore = tmp_path / "broker.p12"

    def ensure_tls(folder: Path, java: str) -> SimpleNamespace:
        tls_calls.append((folder, java))
        return SimpleNamespace(keystore=keystore, password="ks-pass", cafile=tmp_path / "ca.pem")

    monkeypatch.setattr(broker, "ensure_tls", ensure_tls)
    seams.metadata_answers = [True]
    seams.silent_ports = {7003}  # the SSL port answers only later: up() must keep waiting for it
    probes = {"n": 0}
    real_sleep = seams.clock.sleep

    def sleep(dt: float) -> None:
        real_sleep(dt)
        probes["n"] += 1
        seams.silent_ports.clear()

    monkeypatch.setattr(broker, "time", SimpleNamespace(monotonic=seams.clock.monotonic, sleep=sleep))
    data = tmp_path / "d"
    info = broker.up(
        port=7000, data_dir=data, sasl_port=7002, sasl_users="alice:pw1", ssl_port=7003, sasl_ssl_port=7004
    )
    data = data.resolve()

    assert probes["n"] == 1  # one round spent waiting for the silent SSL port
    assert (info.sasl_bootstrap, info.sasl_port, info.sasl_users) == ("127.0.0.1:7002", 7002, ("alice",))
    assert (info.ssl_bootstrap, info.ssl_port) == ("127.0.0.1:7003", 7003)
    assert (info.sasl_ssl_bootstrap, info.sasl_ssl_port) == ("127.0.0.1:7004", 7004)
    assert info.ssl_cafile == str(tmp_path / "ca.pem")
    assert tls_calls == [(data / "tls", "/jdk/bin/java")]
    props = _props((data / "server.properties").read_text())
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:7000,SASL_PLAINTEXT://127.0.0.1:7002,SSL://127.0.0.1:7003,"
        "SASL_SSL://127.0.0.1:7004,CONTROLLER://127.0.0.1:7001"
    )
    assert props["ssl.keystore.location"] == str(keystore)
    assert props["ssl.keystore.password"] == "ks-pass"
    assert seams.formatted[0][4] == {"alice": "pw1"}  # the SCRAM users go to the storage format
    assert broker._read_state(data) == info


def test_up_with_only_an_ssl_listener_makes_tls_and_no_sasl(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Path] = []

    def ensure_tls(folder: Path, java: str) -> SimpleNamespace:
        made.append(folder)
        return SimpleNamespace(keystore=tmp_path / "k.p12", password="p", cafile=tmp_path / "ca.pem")

    monkeypatch.setattr(broker, "ensure_tls", ensure_tls)
    info = broker.up(port=7000, controller_port=7100, data_dir=tmp_path / "d", ssl_port=7003)
    assert made == [(tmp_path / "d").resolve() / "tls"]
    assert info.controller_port == 7100
    assert (info.ssl_port, info.sasl_port, info.sasl_users) == (7003, None, ())
    assert "sasl.enabled.mechanisms" not in _props((tmp_path / "d" / "server.properties").read_text())


def test_up_without_tls_listeners_never_makes_a_ca(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ensure_tls(folder: Path, java: str) -> None:
        raise AssertionError("no TLS listener was asked for")

    monkeypatch.setattr(broker, "ensure_tls", ensure_tls)
    info = broker.up(port=7000, data_dir=tmp_path, sasl_port=7002, sasl_users={"bob": "pw"})
    assert info.ssl_cafile is None
    assert info.sasl_users == ("bob",)


# -- up: failures during start-up ----------------------------------------------------------------------


def test_a_broker_that_exits_during_start_up_is_reported_with_its_log_and_forgotten(
    tmp_path: Path, seams: Seams
) -> None:
    seams.proc.exit_code = 3
    seams.log_text = "starting\nFATAL bad config\n"
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path)
    message = str(err.value)
    assert "exited with code 3 during start-up" in message
    assert str(tmp_path.resolve() / "broker.log") in message
    assert message.endswith("starting\nFATAL bad config")
    assert not (tmp_path / "broker.pid").exists()
    assert not (tmp_path / "broker.json").exists()
    assert seams.metadata == []  # an exited broker is not probed


def test_a_broker_that_never_answers_is_stopped_after_wait_s(tmp_path: Path, seams: Seams) -> None:
    seams.silent_ports = {7000}
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path, wait_s=1.1)
    message = str(err.value)
    assert "did not answer on 127.0.0.1:7000 within 1 s (stopped it)" in message
    assert message.endswith("line one\nline two")
    assert seams.stopped == [4242]
    # polled every 0.2 s until the clock passed start + 1.1 s: the check at 101.2 gives up after 6 sleeps
    assert seams.clock.sleeps == [0.2] * 6
    assert not (tmp_path / "broker.pid").exists()
    assert not (tmp_path / "broker.json").exists()


def test_metadata_is_asked_only_once_the_port_answers(tmp_path: Path, seams: Seams) -> None:
    seams.silent_ports = {7000}
    with pytest.raises(KafkaLauncherError):
        broker.up(port=7000, data_dir=tmp_path, wait_s=0.5)
    assert seams.metadata == []


# -- up: a broker already running from this data dir ----------------------------------------------------


def _running(monkeypatch: pytest.MonkeyPatch, data: Path, **fields: Any) -> broker.BrokerInfo:
    info = broker.BrokerInfo(
        bootstrap="127.0.0.1:7000",
        port=7000,
        controller_port=7001,
        pid=55,
        data_dir=str(data),
        log_file=str(data / "broker.log"),
        version="4.0.0",
        cluster_id="c",
        started_in_s=1.0,
        **fields,
    )
    (data / "broker.json").write_text(json.dumps(asdict(info)))
    monkeypatch.setattr(
        broker, "status", lambda d: broker.BrokerStatus(True, 55, 7000, "127.0.0.1:7000", str(d), True)
    )
    return info


def test_up_returns_the_running_broker_when_its_listeners_match(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = _running(monkeypatch, tmp_path, ssl_port=7003)
    assert broker.up(port=7000, data_dir=tmp_path, ssl_port=7003) == info
    assert seams.started == []


def test_up_refuses_a_running_broker_with_other_listeners_naming_them(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    _running(monkeypatch, tmp_path, ssl_port=7003, sasl_port=7002, sasl_users=("a",))
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path)
    assert str(err.value) == (
        f"a broker from {tmp_path.resolve()} is already running on port 7000 (SASL port 7002, SSL port 7003) "
        f"(pid 55); stop it with `dana-wf kafka down --data-dir {tmp_path.resolve()}` or use that port"
    )
    with pytest.raises(KafkaLauncherError, match="already running on port 7000 \\(SASL port"):
        broker.up(port=7000, data_dir=tmp_path, ssl_port=7003)  # same SSL port, SASL missing
    assert seams.started == []


def test_up_refuses_a_running_broker_on_another_port_without_listeners_in_parentheses(
    tmp_path: Path, seams: Seams, monkeypatch: pytest.MonkeyPatch
) -> None:
    _running(monkeypatch, tmp_path)
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=8000, data_dir=tmp_path)
    assert (
        "is already running on port 7000 (pid 55); stop it with "
        f"`dana-wf kafka down --data-dir {tmp_path.resolve()}`" in str(err.value)
    )


def test_a_listener_port_equal_to_another_names_both(tmp_path: Path, seams: Seams) -> None:
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path, ssl_port=7001)
    assert (
        str(err.value)
        == "--ssl-port 7001 is also the --controller-port port: give each listener its own port"
    )
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path, sasl_port=7002, sasl_users="a:b", sasl_ssl_port=7002)
    assert (
        str(err.value) == "--sasl-ssl-port 7002 is also the --sasl-port port: give each listener its own port"
    )
    assert seams.started == []


# -- ensure_jars: the Maven fetch ----------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DWF_KAFKA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/mvn/bin/mvn" if name == "mvn" else None)
    return tmp_path / "home"


def _pom_digest() -> str:
    return hashlib.sha256(broker.POM.read_bytes()).hexdigest()


def _fake_maven(
    monkeypatch: pytest.MonkeyPatch,
    calls: list[list[str]],
    *,
    code: int = 0,
    jar: str = "kafka_2.13-4.0.0.jar",
    out: str = "",
) -> None:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        assert (kwargs["timeout"], kwargs["capture_output"], kwargs["text"], kwargs["check"]) == (
            900.0,
            True,
            True,
            False,
        )
        staging = Path(next(a for a in cmd if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
        (staging / jar).write_bytes(b"PK")
        return subprocess.CompletedProcess(cmd, code, out, "maven said no" if code else "")

    monkeypatch.setattr(subprocess, "run", run)


def test_ensure_jars_fetches_with_maven_into_place_and_marks_the_cache_complete(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "jars").mkdir(parents=True)
    (home / "jars" / "stale.jar").write_text("old")  # an incomplete cache (no marker) is replaced
    calls: list[list[str]] = []
    _fake_maven(monkeypatch, calls)
    assert broker.ensure_jars() == home / "jars"
    [cmd] = calls
    assert cmd[:6] == ["/opt/mvn/bin/mvn", "-q", "-B", "-f", str(broker.POM), "dependency:copy-dependencies"]
    assert "-DincludeScope=runtime" in cmd
    staging = Path(cmd[-1].split("=", 1)[1])
    assert staging.parent == home and staging.name.startswith("jars.")
    assert not staging.exists()  # renamed into place
    assert sorted(p.name for p in (home / "jars").iterdir()) == [".dwf-complete", "kafka_2.13-4.0.0.jar"]
    assert (home / "jars" / ".dwf-complete").read_text() == _pom_digest() + "\n"
    assert broker.jars_ready()
    assert broker.ensure_jars() == home / "jars"
    assert len(calls) == 1  # complete now: Maven is not run again


def test_a_failed_maven_run_leaves_no_cache_and_shows_its_output(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    _fake_maven(monkeypatch, calls, code=1, out="resolving...")
    with pytest.raises(KafkaLauncherError) as err:
        broker.ensure_jars()
    message = str(err.value)
    assert "failed (exit 1)" in message
    assert message.endswith("resolving...maven said no")
    assert "dependency:copy-dependencies" in message
    assert not (home / "jars").exists()
    assert [p.name for p in home.iterdir() if p.name.startswith("jars.")] == []


def test_maven_succeeding_without_the_kafka_jar_is_a_failure(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    _fake_maven(monkeypatch, calls, jar="something-else.jar")
    with pytest.raises(KafkaLauncherError, match=r"failed \(exit 0\)"):
        broker.ensure_jars()
    assert not (home / "jars").exists()
    assert [p.name for p in home.iterdir() if p.name.startswith("jars.")] == []


def test_a_maven_run_past_its_timeout_is_reported_and_cleaned_up(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(KafkaLauncherError) as err:
        broker.ensure_jars(timeout_s=12.4)
    assert "did not finish in 12 s: is Maven Central reachable" in str(err.value)
    assert str(err.value).startswith("`/opt/mvn/bin/mvn -q -B -f ")
    assert [p.name for p in home.iterdir() if p.name.startswith("jars.")] == []


def test_no_maven_names_the_cache_folder_and_the_install(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(KafkaLauncherError) as err:
        broker.ensure_jars()
    assert str(err.value) == (
        f"the Kafka jars are not cached in {home / 'jars'} and `mvn` is not on PATH to fetch them. "
        "Install Maven with `apt-get install openjdk-17-jre-headless maven` "
        "(or copy a complete jars folder there)"
    )


# -- _metadata_ok: one admin round trip ----------------------------------------------------------------


class FakeAdmin:
    instances: list[FakeAdmin] = []
    cluster: dict[str, Any] = {}
    fail_start = False

    def __init__(self, bootstrap_servers: str, request_timeout_ms: int) -> None:
        self.args = (bootstrap_servers, request_timeout_ms)
        self.closed = False
        FakeAdmin.instances.append(self)

    async def start(self) -> None:
        if FakeAdmin.fail_start:
            raise ConnectionError("no broker")

    async def describe_cluster(self) -> dict[str, Any]:
        return FakeAdmin.cluster

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("cluster", "fail_start", "ok"),
    [
        ({"brokers": [{"node_id": 1}], "controller_id": 1}, False, True),
        ({"brokers": [{"node_id": 1}], "controller_id": 0}, False, True),  # id 0 is a controller too
        ({"brokers": [], "controller_id": 1}, False, False),
        ({"brokers": [{"node_id": 1}], "controller_id": None}, False, False),
        ({"controller_id": 1}, False, False),
        ({"brokers": [{"node_id": 1}], "controller_id": 1}, True, False),
    ],
)
def test_metadata_ok_needs_a_broker_and_a_controller(
    monkeypatch: pytest.MonkeyPatch, cluster: dict[str, Any], fail_start: bool, ok: bool
) -> None:
    import aiokafka.admin

    monkeypatch.setattr(aiokafka.admin, "AIOKafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(FakeAdmin, "instances", [])
    monkeypatch.setattr(FakeAdmin, "cluster", cluster)
    monkeypatch.setattr(FakeAdmin, "fail_start", fail_start)
    assert broker._metadata_ok("127.0.0.1:7000", timeout_s=2.5) is ok
    [admin] = FakeAdmin.instances
    assert admin.args == ("127.0.0.1:7000", 2500)
    assert admin.closed  # closed whatever the answer


# -- formatting the storage, the JVM command, the rendered config ----------------------------------------


def test_fresh_storage_is_formatted_with_a_new_id_and_the_scram_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DWF_KAFKA_HEAP", raising=False)
    monkeypatch.delenv("DWF_KAFKA_JAVA_OPTS", raising=False)
    runs: list[tuple[list[str], dict[str, Any]]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 0, "Formatting ...", "")

    monkeypatch.setattr(subprocess, "run", run)
    users = {"alice": "pw1", "bob": "pw2"}
    cluster_id = broker._format_storage(
        "/jdk/bin/java", tmp_path / "jars", tmp_path, tmp_path / "logs", users
    )
    [(cmd, kwargs)] = runs
    assert cmd == [
        "/jdk/bin/java",
        "-Xmx512m",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={tmp_path}",
        "-cp",
        f"{tmp_path / 'jars'}/*",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(tmp_path / "server.properties"),
        "--add-scram",
        "SCRAM-SHA-256=[name=alice,password=pw1]",
        "--add-scram",
        "SCRAM-SHA-512=[name=alice,password=pw1]",
        "--add-scram",
        "SCRAM-SHA-256=[name=bob,password=pw2]",
        "--add-scram",
        "SCRAM-SHA-512=[name=bob,password=pw2]",
    ]
    assert (kwargs["capture_output"], kwargs["text"], kwargs["timeout"], kwargs["check"]) == (
        True,
        True,
        120,
        False,
    )
    assert len(cluster_id) == 22 and not cluster_id.startswith("-")
    fingerprint = tmp_path / "scram-users.sha256"
    assert fingerprint.read_text() == hashlib.sha256(b"alice:pw1\nbob:pw2").hexdigest() + "\n"
    assert fingerprint.stat().st_mode & 0o777 == 0o600


def test_fresh_storage_without_users_adds_no_scram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        runs.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    broker._format_storage("java", tmp_path, tmp_path, tmp_path / "logs")
    assert "--add-scram" not in runs[0]
    assert not (tmp_path / "scram-users.sha256").exists()


def test_a_failed_format_names_the_fix_and_hides_the_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "Invalid SCRAM user alice with password s3cret-pw\n")

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(KafkaLauncherError) as err:
        broker._format_storage("java", tmp_path, tmp_path, tmp_path / "logs", {"alice": "s3cret-pw"})
    assert str(err.value) == (
        f"formatting the Kafka storage in {tmp_path / 'logs'} failed (exit 1); if the folder holds data from "
        f"another broker, remove {tmp_path} and retry:\nInvalid SCRAM user alice with password ***"
    )
    assert not (tmp_path / "scram-users.sha256").exists()


def test_the_plain_node_config_whole(tmp_path: Path) -> None:
    """The single KRaft node of the module docstring: every internal topic with one replica, small segments,
    few threads for a 2-core machine."""
    assert _props(broker.server_properties(9092, 9093, tmp_path / "logs")) == {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": "1@127.0.0.1:9093",
        "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:9092",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(tmp_path / "logs"),
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
        "group.initial.rebalance.delay.ms": "0",
        "log.segment.bytes": "16777216",  # 16 MiB
        "log.retention.hours": "24",
        "log.retention.check.interval.ms": "60000",
        "log.cleaner.dedupe.buffer.size": "16777216",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "background.threads": "4",
    }


def test_a_tls_listener_without_its_keystore_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(KafkaLauncherError) as err:
        broker.server_properties(
            9092, 9093, tmp_path, sasl_ssl_port=9096, sasl_users={"a": "b"}, keystore=tmp_path
        )
    assert str(err.value) == "a TLS listener needs the broker's keystore and its password"


def test_the_jar_cache_defaults_under_the_home_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DWF_KAFKA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert broker.kafka_home() == tmp_path / ".cache" / "dana-wf" / "kafka" / broker.kafka_version()
    monkeypatch.setenv("DWF_KAFKA_HOME", "~/kafka-here")
    assert broker.kafka_home() == tmp_path / "kafka-here"


def test_a_data_dir_of_an_earlier_run_is_started_again(tmp_path: Path, seams: Seams) -> None:
    (tmp_path / "logs" / "__cluster_metadata-0").mkdir(parents=True)  # what a stopped broker leaves
    (tmp_path / "broker.log").write_text("the earlier run\n")
    info = broker.up(port=7000, data_dir=tmp_path)
    assert info.pid == 4242
    assert (tmp_path / "logs" / "__cluster_metadata-0").is_dir()


def test_a_sasl_ssl_listener_without_users_names_both_options(tmp_path: Path, seams: Seams) -> None:
    with pytest.raises(KafkaLauncherError) as err:
        broker.up(port=7000, data_dir=tmp_path, sasl_ssl_port=7004)
    assert str(err.value) == (
        "a SASL_SSL listener needs both --sasl-ssl-port and --sasl-users (user:password[,user2:password2])"
    )
