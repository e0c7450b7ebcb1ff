"""The development services' launchers without starting Java or ClickHouse: the broker's rendered config
(one KRaft node on loopback, every internal topic with one replica, the optional SASL and TLS listeners),
where the jars are cached and when the cache counts as complete, the checks `up` makes before it starts
anything (SASL options in pairs, ports free and distinct), a broker found again through its pid file (a
stand-in process whose command line is the broker's), ClickHouse's rendered config and the pid and log
helpers every service shares."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dana_workflows.devservices import processes
from dana_workflows.devservices.clickhouse import server as clickhouse
from dana_workflows.devservices.kafka import broker
from dana_workflows.devservices.kafka.errors import KafkaLauncherError
from dana_workflows.devservices.kafka.sasl import parse_sasl_users, sasl_properties, scram_fingerprint

pytestmark = pytest.mark.unit


def _props(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


# -- the broker's config ------------------------------------------------------------------------------


def test_a_plain_node_is_broker_and_controller_on_loopback_with_single_replica_topics(tmp_path: Path) -> None:
    text = broker.server_properties(9092, 9093, tmp_path / "logs")
    assert text.endswith("\n")
    p = _props(text)
    assert p["process.roles"] == "broker,controller"
    assert p["node.id"] == "1"
    assert p["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"  # clients never see the controller
    assert p["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert p["inter.broker.listener.name"] == "PLAINTEXT"
    assert p["controller.listener.names"] == "CONTROLLER"
    assert p["log.dirs"] == str(tmp_path / "logs")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "min.insync.replicas",
        "default.replication.factor",
    ):
        assert p[key] == "1", key  # a single node cannot hold a second replica
    assert p["group.initial.rebalance.delay.ms"] == "0"
    assert p["auto.create.topics.enable"] == "true"
    assert not [k for k in p if k.startswith(("sasl.", "ssl.", "listener.name."))]


def test_a_sasl_listener_is_added_beside_plaintext_with_its_mechanisms(tmp_path: Path) -> None:
    p = _props(broker.server_properties(9092, 9093, tmp_path, sasl_port=9094, sasl_users={"alice": "pw1"}))
    assert p["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9093"
    )
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094"
    assert p["listener.security.protocol.map"].split(",") == [
        "PLAINTEXT:PLAINTEXT",
        "CONTROLLER:PLAINTEXT",
        "SASL_PLAINTEXT:SASL_PLAINTEXT",
    ]
    assert p["sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert 'user_alice="pw1"' in p["listener.name.sasl_plaintext.plain.sasl.jaas.config"]


def test_tls_listeners_need_the_keystore_and_serve_it(tmp_path: Path) -> None:
    with pytest.raises(KafkaLauncherError, match="needs the broker's keystore and its password"):
        broker.server_properties(9092, 9093, tmp_path, ssl_port=9095)
    keystore = tmp_path / "broker.p12"
    p = _props(
        broker.server_properties(
            9092,
            9093,
            tmp_path,
            ssl_port=9095,
            sasl_ssl_port=9096,
            sasl_users={"bob": "pw"},
            keystore=keystore,
            keystore_password="secret",
        )
    )
    assert p["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9095,SASL_SSL://127.0.0.1:9096,CONTROLLER://127.0.0.1:9093"
    )
    assert "SSL:SSL" in p["listener.security.protocol.map"].split(",")
    assert "SASL_SSL:SASL_SSL" in p["listener.security.protocol.map"].split(",")
    assert p["ssl.keystore.location"] == str(keystore)
    assert p["ssl.keystore.password"] == "secret"
    assert p["ssl.keystore.type"] == "PKCS12"
    assert "listener.name.sasl_ssl.plain.sasl.jaas.config" in p
    assert "listener.name.sasl_plaintext.plain.sasl.jaas.config" not in p  # only the listeners asked for


def test_sasl_properties_give_each_listener_plain_and_both_scram_logins() -> None:
    props = sasl_properties(["SASL_PLAINTEXT"], {"a": "x", "b": "y"})
    plain = props["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert plain == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x" user_b="y";'
    )
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    assert props["listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config"] == scram
    assert props["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"] == scram


def test_sasl_users_are_parsed_and_checked() -> None:
    assert parse_sasl_users(None) == {}
    assert parse_sasl_users("alice:pw1, bob:p:w=2,") == {"alice": "pw1", "bob": "p:w=2"}
    assert parse_sasl_users({"c": "pw"}) == {"c": "pw"}
    for spec, named in (
        ("alice", "has no password"),
        ("a:1,a:2", "is given twice"),
        ("", "no SASL users given"),
        ("al ice:pw", "use letters, digits"),
        ("alice:p w", "cannot carry"),
        ("alice:", "is empty"),
        ('alice:p"w', "cannot carry"),
    ):
        with pytest.raises(KafkaLauncherError, match=named):
            parse_sasl_users(spec)


def test_the_scram_fingerprint_is_the_sha256_of_sorted_user_lines() -> None:
    import hashlib

    expected = hashlib.sha256(b"a:1\nb:2").hexdigest()
    assert scram_fingerprint({"b": "2", "a": "1"}) == expected
    assert scram_fingerprint({"a": "1", "b": "3"}) != expected


# -- jars, java, cluster ids ---------------------------------------------------------------------------


def test_the_kafka_version_comes_from_the_pom() -> None:
    import re

    pom = (Path(broker.__file__).parent / "pom.xml").read_text()
    assert broker.kafka_version() == re.search(r"<kafka\.version>(.+?)</kafka\.version>", pom).group(1)  # type: ignore[union-attr]


def test_where_the_jars_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_KAFKA_HOME", str(tmp_path / "home"))
    assert broker.kafka_home() == tmp_path / "home"
    assert broker.jars_dir() == tmp_path / "home" / "jars"
    monkeypatch.delenv("DWF_KAFKA_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert broker.kafka_home() == tmp_path / "cache" / "dana-wf" / "kafka" / broker.kafka_version()


def test_the_jar_cache_is_complete_only_with_the_poms_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("DWF_KAFKA_HOME", str(tmp_path))
    assert not broker.jars_ready()
    jars = tmp_path / "jars"
    jars.mkdir()
    marker = jars / ".dwf-complete"
    marker.write_text("0" * 64 + "\n")  # a cache fetched for another pom
    assert not broker.jars_ready()
    pom = (Path(broker.__file__).parent / "pom.xml").read_bytes()
    marker.write_text(hashlib.sha256(pom).hexdigest() + "\n")
    assert broker.jars_ready()
    assert broker.ensure_jars() == jars  # a complete cache: no Maven


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


@pytest.mark.parametrize(
    ("line", "major"), [('openjdk version "11.0.2" 2019-01-15', 11), ('java version "1.8.0_292"', 8)]
)
def test_java_older_than_17_is_refused_by_its_major_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, major: int
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, line)))
    with pytest.raises(KafkaLauncherError, match=rf"is Java {major}; Apache Kafka .* needs Java 17\+"):
        broker.find_java()


def test_java_17_from_java_home_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_java(tmp_path, 'openjdk version "17.0.9" 2023-10-17')
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert broker.find_java() == str(home / "bin" / "java")


def test_no_java_anywhere_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KafkaLauncherError, match="apt-get install openjdk-17-jre-headless maven"):
        broker.find_java()


def test_a_cluster_id_is_22_url_safe_characters_never_starting_with_a_dash() -> None:
    import re

    for _ in range(200):
        cid = broker._new_cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)
        assert not cid.startswith("-")


def test_the_java_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DWF_KAFKA_HEAP", "1g")
    monkeypatch.setenv("DWF_KAFKA_JAVA_OPTS", "-Da=1 -Db=2")
    cmd = broker._java_cmd("java", tmp_path / "jars", tmp_path, "kafka.Kafka", "x.properties")
    assert cmd[0] == "java"
    assert cmd[1] == "-Xmx1g"
    assert f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.properties'}" in cmd
    assert cmd[-5:] == ["-Db=2", "-cp", f"{tmp_path / 'jars'}/*", "kafka.Kafka", "x.properties"]
    assert cmd.index("-Da=1") < cmd.index("-cp")
    monkeypatch.delenv("DWF_KAFKA_HEAP")
    assert "-Xmx512m" in broker._java_cmd("java", tmp_path, tmp_path, "M")


def test_formatted_storage_keeps_its_cluster_id_and_its_scram_users(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "meta.properties").write_text("version=1\ncluster.id=abcDEF123\nnode.id=1\n")
    assert broker._format_storage("java", tmp_path, tmp_path, logs) == "abcDEF123"
    (tmp_path / "scram-users.sha256").write_text(scram_fingerprint({"a": "1"}) + "\n")
    assert broker._format_storage("java", tmp_path, tmp_path, logs, {"a": "1"}) == "abcDEF123"
    with pytest.raises(KafkaLauncherError, match="formatted with other SASL users"):
        broker._format_storage("java", tmp_path, tmp_path, logs, {"a": "2"})


# -- up's checks, status, down ------------------------------------------------------------------------


def test_sasl_options_come_in_pairs(tmp_path: Path) -> None:
    with pytest.raises(KafkaLauncherError, match="needs both --sasl-port and --sasl-users"):
        broker.up(port=1, data_dir=tmp_path, sasl_port=5)
    with pytest.raises(KafkaLauncherError, match="needs both --sasl-port and --sasl-users"):
        broker.up(port=1, data_dir=tmp_path, sasl_users="a:b")
    with pytest.raises(KafkaLauncherError, match="needs both --sasl-ssl-port and --sasl-users"):
        broker.up(port=1, data_dir=tmp_path, sasl_ssl_port=5)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_in_use_is_refused_naming_its_option(tmp_path: Path, listening: int) -> None:
    free = processes.free_port()
    with pytest.raises(
        KafkaLauncherError, match=rf"port {listening} on 127\.0\.0\.1 is already in use.*--port"
    ):
        broker.up(port=listening, controller_port=free, data_dir=tmp_path)
    with pytest.raises(KafkaLauncherError, match=r"already in use.*--controller-port"):
        broker.up(port=free, controller_port=listening, data_dir=tmp_path)
    with pytest.raises(KafkaLauncherError, match=r"already in use.*--ssl-port"):
        broker.up(port=free, data_dir=tmp_path, ssl_port=listening)


def test_ports_must_differ(tmp_path: Path) -> None:
    free = processes.free_port()
    with pytest.raises(KafkaLauncherError, match=f"port and controller port are both {free}"):
        broker.up(port=free, controller_port=free, data_dir=tmp_path)
    with pytest.raises(KafkaLauncherError, match=f"--ssl-port {free} is also the --port port"):
        broker.up(port=free, controller_port=free + 1, data_dir=tmp_path, ssl_port=free)


def test_nothing_running_in_a_fresh_data_dir(tmp_path: Path) -> None:
    st = broker.status(tmp_path)
    assert (st.running, st.pid, st.port, st.answering) == (False, None, None, False)
    assert st.describe() == f"Kafka not running (data dir {tmp_path.resolve()})"
    assert broker.down(tmp_path) is False


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line names the broker's main class and this data dir's config."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "kafka.Kafka",
            str(tmp_path / "server.properties"),
        ]
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _state(tmp_path: Path, pid: int, port: int, **extra: object) -> None:
    info = broker.BrokerInfo(
        bootstrap=f"127.0.0.1:{port}",
        port=port,
        controller_port=port + 1,
        pid=pid,
        data_dir=str(tmp_path),
        log_file=str(tmp_path / "broker.log"),
        version="4.0.0",
        cluster_id="x",
        started_in_s=1.0,
        **extra,  # type: ignore[arg-type]
    )
    (tmp_path / "broker.json").write_text(json.dumps(broker.asdict(info)))
    (tmp_path / "broker.pid").write_text(f"{pid}\n")


def test_a_running_broker_is_found_by_its_pid_file_returned_by_up_and_stopped_by_down(
    tmp_path: Path, stand_in: subprocess.Popen[bytes], listening: int
) -> None:
    _state(tmp_path, stand_in.pid, listening, sasl_users=["alice"])
    st = broker.status(tmp_path)
    assert (st.running, st.pid, st.port, st.bootstrap, st.answering) == (
        True,
        stand_in.pid,
        listening,
        f"127.0.0.1:{listening}",
        True,
    )
    assert st.describe() == (
        f"Kafka running: pid {stand_in.pid}, 127.0.0.1:{listening} (answering), data dir {tmp_path.resolve()}"
    )
    again = broker.up(port=listening, data_dir=tmp_path)  # the same broker: returned as it is
    assert again.pid == stand_in.pid
    assert again.sasl_users == ("alice",)
    with pytest.raises(
        KafkaLauncherError, match=rf"already running on port {listening} \(pid {stand_in.pid}\)"
    ):
        broker.up(port=listening + 7, data_dir=tmp_path)
    assert broker.down(tmp_path, timeout_s=10) is True
    assert stand_in.wait(10) is not None
    assert not (tmp_path / "broker.pid").exists()
    assert not (tmp_path / "broker.json").exists()


def test_a_broker_not_answering_says_so(tmp_path: Path, stand_in: subprocess.Popen[bytes]) -> None:
    port = processes.free_port()
    _state(tmp_path, stand_in.pid, port, ssl_port=port + 2)
    st = broker.status(tmp_path)
    assert st.running and not st.answering
    assert "(NOT answering on its port)" in st.describe()
    with pytest.raises(KafkaLauncherError, match=rf"\(SSL port {port + 2}\)"):
        broker.up(port=port, data_dir=tmp_path)  # the running one has an SSL listener this call lacks


def test_a_reused_pid_is_not_our_broker(tmp_path: Path) -> None:
    (tmp_path / "broker.pid").write_text(f"{os.getpid()}\n")  # alive, but this test process
    assert broker.status(tmp_path).running is False
    (tmp_path / "broker.pid").write_text("not a pid\n")
    assert broker.status(tmp_path).running is False


def test_a_state_file_that_does_not_parse_is_no_state(tmp_path: Path) -> None:
    (tmp_path / "broker.json").write_text("{")
    assert broker._read_state(tmp_path) is None
    (tmp_path / "broker.json").write_text('{"unknown": 1}')
    assert broker._read_state(tmp_path) is None


# -- ClickHouse --------------------------------------------------------------------------------------


def test_clickhouses_config_is_rendered_into_the_data_dir_and_read_back(tmp_path: Path) -> None:
    ch = clickhouse.LocalClickHouse(data_dir=tmp_path / "ch", tcp_port=29000, http_port=28123)
    ch._write_config()
    text = ch.config_file.read_text()
    assert ch.config_file == (tmp_path / "ch").resolve() / "etc" / "config.xml"
    assert "<tcp_port>29000</tcp_port>" in text
    assert "<http_port>28123</http_port>" in text
    assert "@" + "DATA_DIR@" not in text
    assert str((tmp_path / "ch").resolve()) in text
    for sub in ("data", "tmp", "log", "user_files", "format_schemas"):
        assert (tmp_path / "ch" / sub).is_dir()
    assert (ch.config_file.parent / "users.xml").is_file()
    again = clickhouse.LocalClickHouse.attach(tmp_path / "ch")
    assert (again.tcp_port, again.http_port) == (29000, 28123)
    assert again.dsn == "clickhouse://default@127.0.0.1:29000/default"


def test_render_replaces_every_placeholder(tmp_path: Path) -> None:
    out = clickhouse._render("@DATA_DIR@/x @TCP_PORT@ @HTTP_PORT@ @TCP_PORT@", tmp_path, 1, 2)
    assert out == f"{tmp_path}/x 1 2 1"


def test_no_clickhouse_running_in_a_fresh_dir(tmp_path: Path) -> None:
    attached = clickhouse.LocalClickHouse.attach(tmp_path)
    assert (attached.tcp_port, attached.http_port) == (19000, 18123)  # no config: the defaults
    st = clickhouse.status(tmp_path)
    assert st == {
        "running": False,
        "pid": None,
        "answers": False,
        "dsn": "clickhouse://default@127.0.0.1:19000/default",
        "data_dir": str(tmp_path.resolve()),
    }
    assert clickhouse.down(tmp_path) is False
    (tmp_path / "clickhouse-server.pid").write_text(f"{os.getpid()}\n")  # alive, not clickhouse
    assert attached.pid() is None


def test_clickhouses_log_tail(tmp_path: Path) -> None:
    ch = clickhouse.LocalClickHouse(data_dir=tmp_path)
    assert ch._log_tail() == "(no log output)"
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "stdout.log").write_text("\n".join(f"line {i}" for i in range(30)))
    assert ch._log_tail(lines=2) == "line 28\nline 29"


# -- what every service shares ---------------------------------------------------------------------------


def test_pid_files_log_tails_and_ports(tmp_path: Path, listening: int) -> None:
    assert processes.read_pid(tmp_path / "none") is None
    (tmp_path / "p").write_text(" 42 \n")
    assert processes.read_pid(tmp_path / "p") == 42
    (tmp_path / "p").write_text("x")
    assert processes.read_pid(tmp_path / "p") is None
    assert processes.log_tail(tmp_path / "none") == "(no log)"
    (tmp_path / "log").write_text("a\nb\nc\n")
    assert processes.log_tail(tmp_path / "log", lines=2) == "b\nc"
    assert processes.port_answers(listening)
    assert not processes.port_answers(processes.free_port())


def test_a_detached_child_keeps_the_previous_log_and_is_stopped(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("old run\n")
    code = "print('new run', flush=True); import time; time.sleep(60)"
    proc = processes.start_detached([sys.executable, "-c", code], log, tmp_path)
    try:
        assert (tmp_path / "svc.log.prev").read_text() == "old run\n"
        for _ in range(200):  # a bound on the poll, not a measure: the child's first line reaches the log
            if "new run" in log.read_text():
                break
            time.sleep(0.05)
        assert log.read_text() == "new run\n"  # stdout goes to the new log, the old one was kept aside
        assert processes.alive(proc.pid)
        assert os.getsid(proc.pid) == proc.pid  # its own session: outlives the shell that started it
        assert processes.command_line(proc.pid)[:2] == [sys.executable, "-c"]  # type: ignore[index]
    finally:
        processes.stop(proc.pid, timeout_s=10)
    assert not processes.alive(proc.pid)
    assert proc.pid not in processes._CHILDREN


def test_stop_service_forgets_every_file_even_when_nothing_ran(tmp_path: Path) -> None:
    for name in ("svc.pid", "svc.json"):
        (tmp_path / name).write_text("1234567\n")
    assert processes.stop_service(tmp_path, ("svc.pid", "svc.json"), lambda pid, data: False, 1.0) is False
    assert not (tmp_path / "svc.pid").exists()
    assert not (tmp_path / "svc.json").exists()
