"""Session 17's second newcomer pass (/tmp/newcomer2/FINDINGS.md): what a user meets after the first run, each
mistake answered in one line that names the place and the fix, and the run summary telling the real cost."""

from __future__ import annotations

import json
import logging
import socket
import sys
from pathlib import Path

import pytest

from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.cli.main import main
from dana_workflows.sinks.audit_model import AuditRow
from tests.unit.cli.scoring_run import Scoring

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[object, str]:
    """`dana-wf ARGV` as the installed command runs it (cli.main.main, home of the last one-line answers)."""
    monkeypatch.setattr(sys, "argv", ["dana-wf", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _step_row(details: dict[str, object]) -> AuditRow:
    return AuditRow("wf", 1, "run", 3, "e", "assess", "emitted", details=json.dumps(details))


# E1: the step's row carries gen_ai.usage.* of its first call only; a verified answer made a second call
# (the policy_claims example: 410 tokens on the row, 886 in dwf.eff, `efficiency report` says 2 calls)
_VERIFIED = {
    "gen_ai.usage.input_tokens": 410,
    "gen_ai.usage.output_tokens": 17,
    "dwf.llm.cache_hit": False,
    "dwf.llm.latency_ms": 5.6,
    "dwf.eff": {
        "calls": {"combined": 1, "verify": 1},
        "avoided": {"combined": 1},
        "tokens": {"input": 886, "output": 34},
    },
}
_REPLAYED = {  # the same event again: both calls answered by the cache
    "gen_ai.usage.input_tokens": 0,
    "gen_ai.usage.output_tokens": 0,
    "dwf.llm.cache_hit": True,
    "dwf.eff": {"calls": {}, "avoided": {"cache": 2, "combined": 1}, "tokens": {"input": 0, "output": 0}},
}


def test_the_run_summary_counts_the_verification_call_too() -> None:
    usage = llm_usage([_step_row(_VERIFIED), _step_row(_VERIFIED)])
    assert usage is not None
    assert (usage.calls, usage.cache_hits, usage.input_tokens, usage.output_tokens) == (4, 0, 1772, 68)


def test_a_rerun_counts_every_call_the_cache_answered() -> None:
    usage = llm_usage([_step_row(_REPLAYED)])
    assert usage is not None
    assert (usage.calls, usage.cache_hits, usage.input_tokens, usage.output_tokens) == (0, 2, 0, 0)


# SR2, CFG1, W1, W2: settings and options that could never work are refused before anything runs
@pytest.mark.parametrize(
    ("env", "says"),
    [
        # a registry URL without its scheme: a traceback from run/topology, another message from schemas
        ({"DWF_SCHEMA_REGISTRY": "127.0.0.1:8081"}, "DWF_SCHEMA_REGISTRY: Value error, use file://<dir>"),
        # the broker refused it a minute into the worker's start, and the worker never exited
        (
            {"DWF_TOPIC_PREFIX": "bad prefix!"},
            "DWF_TOPIC_PREFIX: Value error, topic names take only ASCII letters",
        ),
    ],
)
def test_a_setting_that_cannot_work_is_refused_before_any_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, err = _main(monkeypatch, capsys, "topology", str(EXAMPLES / "claims" / "claims.yaml"))
    assert code == 2
    assert err.startswith(f"error: invalid settings: {says}")
    assert "bad prefix!" not in err and "8081" not in err  # a setting's value is never repeated


def test_a_config_file_key_that_is_no_setting_is_refused_with_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text("audit_dns: clickhouse://default@127.0.0.1:9000/dwf\n")
    monkeypatch.setenv("DWF_CONFIG_FILE", str(config))
    code, err = _main(monkeypatch, capsys, "config", "show")
    assert code == 2
    assert err.strip() == (
        f"error: config file (DWF_CONFIG_FILE): {config}: audit_dns is not a setting; "
        "did you mean audit_dsn? (docs/configuration.md lists them)"
    )


def test_a_misspelt_variable_is_named_and_the_others_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "DWF_AUDIT_DNS", "clickhouse://default@127.0.0.1:9000/dwf"
    )  # the run used chdb instead
    monkeypatch.setenv("DWF_KAFKA_HEAP", "1g")  # the broker launcher's own, far from every setting
    code, err = _main(monkeypatch, capsys, "validate", str(EXAMPLES / "claims" / "claims.yaml"))
    assert code == 0
    assert err.strip() == (
        "warning: DWF_AUDIT_DNS is not a setting; did you mean DWF_AUDIT_DSN? "
        "(docs/configuration.md lists them)"
    )


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (("--prefix", "bad prefix!"), "--prefix 'bad prefix!': topic names take only ASCII letters"),
        (
            ("--partitions", "0"),
            "--partitions 0: a topic needs at least 1",
        ),  # was faust's ValueError traceback
        (("--session-timeout", "-1"), "--session-timeout -1: give a number of seconds above 0"),  # hung
        (("--session-timeout", "91"), "--session-timeout 91: at most 90 s"),  # faust's tracebacks at start
    ],
)
def test_worker_options_that_cannot_work_are_refused_at_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: tuple[str, str],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = str(EXAMPLES / "claims" / "claims.yaml")
    code, err = _main(monkeypatch, capsys, "worker", spec, "--broker", "127.0.0.1:1", "--no-audit", *option)
    assert code == 1
    assert err.strip().startswith(f"error: {says}")
    code, err = _main(
        monkeypatch, capsys, "produce", spec, "-i", spec, "--broker", "127.0.0.1:1", "--prefix", "a b"
    )
    assert code == 2 and err.strip().startswith("error: --prefix 'a b': topic names take only")


# C1: an output path that cannot be written was a rich traceback (audit report --html, audit compliance -o,
# diff --html/--json, drift report --svg, topology --write-schemas, run --out, audit checkpoint create --to)
@pytest.mark.parametrize(
    ("where", "says"),
    [("a-file/schemas", "Not a directory (fix: a part of the path is a file, not a folder"), (".", None)],
)
def test_an_output_path_that_cannot_be_written_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    says: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "a-file").write_text("not a folder")
    spec = str(EXAMPLES / "claims" / "claims.yaml")
    code, err = _main(monkeypatch, capsys, "topology", spec, "--write-schemas", where)
    if says is None:  # a folder that can be written: the command succeeds
        assert code == 0 and err == ""
        return
    assert code == 2
    assert err.strip() == f"error: {where}: {says}; name another path)"


# R1: review/dlq --broker with no broker there was aiokafka's KafkaConnectionError traceback
@pytest.mark.parametrize("command", [("dlq", "list"), ("review", "list")])
def test_review_and_dlq_on_a_broker_that_is_down_say_it_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / "data"))
    broker = f"127.0.0.1:{_closed_port()}"
    spec = str(EXAMPLES / "claims" / "claims.yaml")
    code, err = _main(monkeypatch, capsys, *command, spec, "--broker", broker, "--prefix", "nc17")
    assert code == 1
    assert err.strip() == (
        f"error: no Kafka broker answers at {broker}: start the local one with `dana-wf kafka up`, or pass "
        "--broker host:port (or set DWF_KAFKA_BOOTSTRAP_SERVERS)"
    )


# K1, FB1, S1: a ClickHouse server that is down: clickhouse-driver's logged traceback came first
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("knowledge", "ls"), "error: knowledge store clickhouse://default@127.0.0.1:{port}/default: "),
        (
            ("feedback", "0123456789abcdef01234567", "--step", "assess", "--correct", "--audit", "{dsn}"),
            "error: cannot reach the audit store clickhouse://default@127.0.0.1:{port}/default: ",
        ),
        (
            ("shadow", "report", str(EXAMPLES / "claims" / "claims.yaml"), "--audit", "{dsn}"),
            "error: cannot reach the audit store clickhouse://default@127.0.0.1:{port}/default: ",
        ),
    ],
)
def test_a_clickhouse_server_that_is_down_is_one_line_without_the_drivers_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    argv: tuple[str, ...],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    port = _closed_port()
    dsn = f"clickhouse://default@127.0.0.1:{port}/default"
    monkeypatch.setenv("DWF_KNOWLEDGE_DSN", dsn)
    caplog.set_level(logging.DEBUG)
    code, err = _main(monkeypatch, capsys, *(a.replace("{dsn}", dsn) for a in argv))
    assert code == 1
    assert err.startswith(says.replace("{port}", str(port))) and len(err.strip().splitlines()) == 1
    assert "Connection refused" in err
    assert [r for r in caplog.records if r.name.startswith("clickhouse_driver")] == []


def test_diff_refuses_a_negative_number_of_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # D1: `--samples -1` printed every changed event but one (changes[:-1])
    monkeypatch.chdir(tmp_path)
    spec = str(EXAMPLES / "claims" / "claims.yaml")
    code, err = _main(monkeypatch, capsys, "diff", spec, spec, "-i", spec, "--samples", "-1")
    assert code == 2
    assert "Invalid value for '--samples'" in err and "greater than or equal to 0" in err


def test_dlq_list_says_an_event_dead_at_ingest_is_not_replayable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R2: an unreadable input line was listed `replayable: yes`; `dlq replay` refused it (no step to rerun)
    s = Scoring(tmp_path, monkeypatch)
    s.events.write_text(s.events.read_text() + "not json\n")
    ran = s.cli("run", str(s.spec), "--input", str(s.events), "--out", str(s.out), "--audit", s.audit, "-q")
    assert ran.exit_code == 0, ran.output
    dead = [json.loads(x) for x in (s.out / "dwf.scoring.dlq.jsonl").read_text().splitlines()]
    by_id = {str(d["payload"].get("id")): str(d["run_id"]) for d in dead}
    assert set(by_id) == {"b", "None"}  # the scorer failed on b; the last line was never an event
    at_ingest = by_id["None"]
    listed = s.cli("dlq", "list", *s.common())
    assert listed.exit_code == 0, listed.output
    rows = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if line.count("│") > 4}
    assert rows[at_ingest].rstrip(" │").endswith("no")
    assert rows[by_id["b"]].rstrip(" │").endswith("yes")  # a step failed: replayable
    refused = s.cli("dlq", "replay", *s.common(), "--event", at_ingest)
    assert refused.exit_code == 2 and "at ingest" in refused.output


def test_a_bad_knowledge_dsn_gives_the_knowledge_stores_own_example() -> None:
    # K4: the example after `use clickhouse:// or chdb://` was the audit store's path, which chdb cannot share
    from dana_workflows.knowledge.backend import open_backend
    from dana_workflows.knowledge.errors import KnowledgeError

    with pytest.raises(KnowledgeError) as info:
        open_backend("postgres://x")
    assert "knowledge DSN 'postgres://x': unknown scheme 'postgres'" in str(info.value)
    assert "chdb://.dwf/knowledge" in str(info.value) and ".dwf/audit" not in str(info.value)


def test_main_passes_on_what_it_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # only an OSError naming a path and BrokerUnavailableError become one line; the rest stays a traceback
    import dana_workflows.cli.main as cli_main

    for exc in (OSError("no path"), RuntimeError("a bug")):

        def boom(exc: Exception = exc) -> None:
            raise exc

        monkeypatch.setattr(cli_main, "app", boom)
        with pytest.raises(type(exc)) as info:
            cli_main.main()
        assert info.value is exc


@pytest.mark.parametrize("command", [("review", "list"), ("dlq", "list")])
def test_a_missing_out_folder_is_named_not_read_as_an_empty_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, str]
) -> None:
    # R3: `review list SPEC --out nowhere` said `no events to review in nowhere/...` (exit 0)
    s = Scoring(tmp_path, monkeypatch)
    listed = s.cli(*command, str(s.spec), "--out", str(tmp_path / "nowhere"), "--audit", s.audit)
    assert listed.exit_code == 2
    assert f"no folder {tmp_path / 'nowhere'}: name the run's output folder with --out" in listed.output
    s.out.mkdir()  # a folder without the file: nothing there yet, as before
    empty = s.cli(*command, *s.common())
    assert empty.exit_code == 0 and "no " in empty.output


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (("knowledge", "ls"), 0, "no knowledge synced yet: run `dana-wf knowledge sync SPEC`"),
        (("knowledge", "show", "policies"), 1, "error: no source or chunk 'policies'"),
        (("knowledge", "diff", "policies"), 1, "error: no syncs of source 'policies'"),
    ],
)
def test_knowledge_readers_create_no_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    code: int,
    says: str,
) -> None:
    # K2: `knowledge ls` in a new directory said "no knowledge synced yet" and left .dwf/knowledge behind
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DWF_KNOWLEDGE_DSN", raising=False)
    monkeypatch.setattr(sys, "argv", ["dana-wf", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    assert info.value.code == code and says in out.out + out.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("expect", "says"),
    [
        (
            "rout:triage",
            "--expect 'rout:triage': no cause starts with 'rout' (did you mean 'route:'? causes are",
        ),
        ("triage", "--expect 'triage': no cause starts with 'triage' (causes are route:, rule:, constraint:"),
    ],
)
def test_diff_refuses_an_expect_no_cause_can_match(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    expect: str,
    says: str,
) -> None:
    # D2: `--expect rout:triage` was taken; every change then read UNEXPECTED (exit 1), with no word why
    monkeypatch.chdir(tmp_path)
    spec = str(EXAMPLES / "claims" / "claims.yaml")
    code, err = _main(monkeypatch, capsys, "diff", spec, spec, "-i", spec, "--expect", expect)
    assert code == 2
    assert err.startswith(f"error: {says}")


def test_a_session_timeout_at_the_request_timeout_is_taken() -> None:
    # faust refuses a session timeout *greater* than its broker_request_timeout (90 s): 90 itself starts
    from dana_workflows.streams.kafka.options import KafkaOptions

    assert KafkaOptions(bootstrap="127.0.0.1:1", session_timeout_s=90.0).session_timeout_s == 90.0
    with pytest.raises(ValueError, match="at most 90 s"):
        KafkaOptions(bootstrap="127.0.0.1:1", session_timeout_s=90.5)
