"""A new user's first hour, session 16: what the README and docs/cli.md promise for output into pipes,
`--quiet`, a missing or wrong input, a spec that cannot be read, an audit server that is down, the run
summary's hints and LLM line, and the docs that describe the Python API and the Kafka quickstart. Every
expectation comes from the docs (docs/cli.md, docs/dsl.md, README), not from the code under test."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.conventions import OutputConsole
from dana_workflows.cli.llm_usage import llm_usage
from dana_workflows.cli.main import app
from dana_workflows.core.settings import Settings
from dana_workflows.devservices.processes import free_port
from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.workflow import dsl
from tests.unit.cli.test_drift_cli import SPEC as TALLY  # a workflow with one drift monitor

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LENDING = ROOT / "docs" / "examples" / "lending"
runner = CliRunner()

ORDERS = """\
workflow: order-check
input: {order_id: string, qty: long, price: double, country: string}
steps:
  - check_order:
      validate:
        - {id: qty_positive, rule: "qty > 0", message: "qty must be positive"}
  - triage:
      route:
        big: "double(qty) * price >= 500.0"
        normal: "true"
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DWF_DATA_DIR", str(tmp_path / ".dwf"))
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    monkeypatch.delenv("COLUMNS", raising=False)  # rich would take its width from here instead of the pipe


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    spec = tmp_path / "orders.yaml"
    spec.write_text(ORDERS)
    events = [{"order_id": f"O{i}", "qty": i - 1, "price": 120.0, "country": "DE"} for i in range(6)]
    (tmp_path / "orders.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return spec


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


# --- output into pipes (docs/cli.md: "When standard output is not a terminal, nothing is cut or wrapped")


def test_objectives_review_into_a_pipe_keeps_every_rule_whole(tmp_path: Path) -> None:
    work = tmp_path / "lending"
    shutil.copytree(LENDING, work, ignore=shutil.ignore_patterns("*.lock.yaml", ".dwf"))
    spec, sample = str(work / "lending.yaml"), str(work / "sample.jsonl")
    res = runner.invoke(app, ["objectives", "infer", spec, "--sample", sample, "--domain", "finance:lending"])
    assert res.exit_code == 0, res.output
    # docs/objectives.md's walk-through: the term rule, written whole on the line that offers it
    assert "+ input/term_months_domain: term_months in [12, 24, 36, 48, 60]" in res.output.splitlines()
    review = runner.invoke(app, ["objectives", "review", spec])
    assert review.exit_code == 0, review.output
    assert "…" not in review.output  # no cell cut at 80 columns
    assert any("term_months in [12, 24, 36, 48, 60]" in line for line in review.output.splitlines())


@pytest.mark.parametrize("module", ["objectives", "worker", "knowledge", "feedback", "efficiency"])
def test_every_command_prints_its_results_on_the_pipe_safe_console(module: str) -> None:
    console = importlib.import_module(f"dana_workflows.cli.{module}").console
    assert isinstance(console, OutputConsole)


# --- dana-wf produce: --quiet says nothing; the summary is one line


def _fake_produce(monkeypatch: pytest.MonkeyPatch) -> None:
    from dana_workflows.streams.kafka import producer

    async def produce_lines(*_: Any, **__: Any) -> producer.ProduceSummary:
        return producer.ProduceSummary(lines=6, outcomes={"in": 5, "rejected": 1, "dlq": 0}, audit_rows=12)

    monkeypatch.setattr(producer, "produce_lines", produce_lines)


def test_produce_quiet_prints_no_summary(orders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_produce(monkeypatch)
    args = ["produce", str(orders), "-i", "orders.jsonl", "--broker", f"127.0.0.1:{free_port()}"]
    loud = runner.invoke(app, [*args, "--prefix", "a-rather-long-topic-prefix-for-this-test"])
    assert loud.exit_code == 0, loud.output
    summary = [line for line in loud.output.splitlines() if "events to" in line]
    assert len(summary) == 1 and summary[0].endswith(
        "12 audit rows to a-rather-long-topic-prefix-for-this-test.audit"
    )
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.exit_code == 0 and quiet.output.strip() == "", quiet.output  # --help: no summary


# --- a missing or wrong input file: exit 2 (docs/cli.md), one line, no advice for another workflow


def _broker(command: str) -> list[str]:
    """produce's broker: a closed port, never reached when the input is refused first."""
    return ["--broker", f"127.0.0.1:{free_port()}"] if command == "produce" else []


@pytest.mark.parametrize("command", ["run", "produce"])
def test_a_missing_input_is_a_usage_error_naming_only_the_path(orders: Path, command: str) -> None:
    res = runner.invoke(app, [command, str(orders), "-i", "nope.jsonl", *_broker(command)])
    assert res.exit_code == 2
    assert _one_error_line(res.output) == "error: input file nope.jsonl does not exist"


@pytest.mark.parametrize("command", ["run", "produce", "diff"])
def test_a_directory_as_input_is_one_line_not_a_traceback(orders: Path, tmp_path: Path, command: str) -> None:
    (tmp_path / "adir").mkdir()
    args = [command, str(orders), *([str(orders)] if command == "diff" else []), "-i", "adir"]
    res = runner.invoke(app, [*args, *_broker(command)])
    assert res.exit_code == 2, res.output
    assert "adir is a directory" in _one_error_line(res.output)


# --- objectives: a spec that cannot be read or used is the user's file to fix, as for run and topology


def test_objectives_on_a_missing_or_broken_spec_is_a_usage_error(orders: Path, tmp_path: Path) -> None:
    for command in (["infer", "nope.yaml", "--sample", "orders.jsonl"], ["review", "nope.yaml"]):
        res = runner.invoke(app, ["objectives", *command])
        assert res.exit_code == 2, res.output
        assert "nope.yaml: <file>: cannot read" in res.output  # the words every command says
    broken = tmp_path / "broken.yaml"
    broken.write_text(ORDERS.replace("validate:", "valdate:"))
    res = runner.invoke(app, ["objectives", "review", str(broken)])
    assert res.exit_code == 2 and "did you mean 'validate'?" in res.output
    assert runner.invoke(app, ["topology", str(broken)]).exit_code == 2  # the same file, the same code


# --- an audit server that is down: one line naming the store, exit 1, and a run that writes nothing


def _down() -> str:
    return f"clickhouse://default@127.0.0.1:{free_port()}/dwf"


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "report", "some-run"]])
def test_reading_an_audit_server_that_is_down_is_one_line(command: list[str]) -> None:
    dsn = _down()
    res = runner.invoke(app, [*command, "--audit", dsn])
    assert res.exit_code == 1
    line = _one_error_line(res.output)
    assert line.startswith(f"error: cannot reach the audit store {dsn}: ") and "Connection refused" in line


def test_a_run_into_an_audit_server_that_is_down_stops_before_any_event(orders: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(orders), "-i", "orders.jsonl", "--audit", _down(), "--out", "out"])
    assert res.exit_code == 1
    assert "cannot reach the audit store" in _one_error_line(res.output)
    assert not (tmp_path / "out").exists()  # nothing decided without its audit rows


def test_a_wrong_password_is_one_line_with_the_password_masked() -> None:
    class Refusing:
        closed = False

        def query(self, sql: str) -> None:
            from dana_workflows.sinks.chdb_store import AuditStoreError

            raise AuditStoreError("the server refused the query: Wrong password for user default. (code 193)")

        def close(self) -> None:
            self.closed = True

    from dana_workflows.cli.stores import reachable_or_exit

    store: Any = Refusing()
    with pytest.raises(Exception) as caught:
        reachable_or_exit(store, "clickhouse://default:s3cret@ch:9000/dwf")
    assert type(caught.value).__name__ == "Exit" and store.closed
    writer: Any = Refusing()  # an INSERT-only writer may be refused SELECT: the server is up, the run goes on
    assert reachable_or_exit(writer, "clickhouse://w:pw@ch:9000/dwf", refusal_ok=True) is writer


# --- the run summary: its hints paste as they are


def test_the_audit_sql_hint_names_a_store_that_is_not_the_default() -> None:
    from dana_workflows.cli.run import audit_sql_hint

    default = Settings().audit_dsn
    assert (
        audit_sql_hint(default, default)
        == 'dana-wf audit sql "SELECT kind, count() FROM dwf.events GROUP BY kind"'
    )
    server = "clickhouse://default@ch:9000/claims_audit"
    assert audit_sql_hint(server, default) == (
        'dana-wf audit sql "SELECT kind, count() FROM claims_audit.events GROUP BY kind"'
        f" --audit '{server}'"
    )


def _llm_row(details: dict[str, object]) -> AuditRow:
    return AuditRow("wf", 1, "run", 0, "e", "assess", "error", details=json.dumps(details))


def test_the_llm_line_says_how_many_calls_failed_and_why() -> None:
    down = "all models failed: m: connection error: Connection error."
    rows = [
        _llm_row({"gen_ai.usage.input_tokens": 0, "dwf.llm.outcome": "error", "dwf.llm.error": down}),
        _llm_row(
            {"gen_ai.usage.input_tokens": 0, "dwf.llm.outcome": "error", "dwf.llm.error": "circuit open"}
        ),
        _llm_row({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 4, "dwf.llm.outcome": "ok"}),
    ]
    usage = llm_usage(rows)
    assert usage is not None
    assert usage.line() == (
        f"llm: 3 calls, 0 from the cache, 2 step runs got no answer (first: {down}); tokens 10 in, 4 out"
    )


# --- docs that a first hour reads


def test_dsl_md_names_every_option_of_route_it_cannot_take_as_a_branch() -> None:
    text = (ROOT / "docs" / "dsl.md").read_text()
    limits = text[text.index("## Limits of the Python form") :]
    route_bullet = next(b for b in limits.split("\n- ") if b.startswith("`route()`"))
    options = [
        name for name, p in inspect.signature(dsl.route).parameters.items() if p.kind is not p.VAR_KEYWORD
    ][1:]  # its name is positional
    assert options and all(f"`{name}`" in route_bullet for name in options), route_bullet
    assert "no `retry=`" not in text


QUICKSTARTS = [("README.md", "## On Kafka"), ("docs/kafka-runtime.md", "```")]  # page, where its block starts


@pytest.mark.parametrize(("page", "section"), QUICKSTARTS)
def test_kafka_quickstarts_keep_the_worker_out_of_make_runs_audit_store(page: str, section: str) -> None:
    text = (ROOT / page).read_text()
    quickstart = text[text.index(section) :]
    worker = next(line for line in quickstart.splitlines() if line.startswith("dana-wf worker "))
    found = re.search(r"--audit (\S+)", worker)
    assert found is not None, worker
    assert found.group(1) != Settings().audit_dsn  # make run's store: the same run ids would fork there


@pytest.mark.parametrize("command", ["run", "topology"])
def test_events_given_as_the_spec_say_which_argument_is_which(orders: Path, command: str) -> None:
    args = [command, "orders.jsonl", *(["-i", str(orders)] if command == "run" else [])]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert res.output.rstrip().endswith(
        "(orders.jsonl looks like events: the spec is the workflow's YAML, events go in --input)"
    )
    assert "looks like events" not in runner.invoke(app, [command, "nope.yaml", *args[2:]]).output


def test_an_empty_input_runs_and_says_there_was_nothing(orders: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    res = runner.invoke(app, ["run", str(orders), "-i", "empty.jsonl", "--no-audit"])
    assert res.exit_code == 0  # not an error: a script may feed an empty batch
    assert res.output.splitlines()[1] == "the input has no lines: nothing was run"
    full = runner.invoke(app, ["run", str(orders), "-i", "orders.jsonl", "--no-audit"])
    assert "nothing was run" not in full.output


# --- dana-wf drift: the same conventions as every command (docs/cli.md)


def test_drift_commands_answer_mistakes_in_one_line(orders: Path, tmp_path: Path) -> None:
    tally = tmp_path / "tally.yaml"
    tally.write_text(TALLY)
    cases = [
        (["report", "nope.yaml"], 2, "nope.yaml: <file>: cannot read"),
        (["report", str(orders)], 1, f"error: {orders} declares no drift monitors"),  # not "run it first"
        (["report", str(tally), "--records", "nope.jsonl"], 2, "error: input file nope.jsonl does not exist"),
        (["report", str(tally), "--audit", _down()], 1, "error: cannot reach the audit store"),
        (["baseline", str(tally), "-i", "nope.jsonl"], 2, "error: input file nope.jsonl does not exist"),
    ]
    for args, code, said in cases:
        res = runner.invoke(app, ["drift", *args])
        assert (res.exit_code, said in res.output) == (code, True), res.output
        assert isinstance(res.exception, SystemExit)  # a clean exit, not an exception's traceback
    missing = tmp_path / "no-store"
    res = runner.invoke(app, ["drift", "report", str(tally), "--audit", f"chdb://{missing}"])
    assert res.exit_code == 1 and "no audit store at" in res.output
    assert not missing.exists()  # a report reads: it never creates an empty store


def test_status_on_a_spec_it_cannot_read_is_a_usage_error_like_worker() -> None:
    for command in ("status", "worker"):
        res = runner.invoke(app, [command, "nope.yaml", "--broker", f"127.0.0.1:{free_port()}"])
        assert res.exit_code == 2, (command, res.output)
        assert "nope.yaml: <file>: cannot read" in res.output


def test_a_call_is_counted_once_though_its_operate_phase_row_repeats_it() -> None:
    # what a POET step writes for one answered call: a perceive row, the operate row with the call's fields,
    # an enforce row, then the step's own emitted row with the same fields (the README's offline LLM run:
    # 2,797 operate rows and 2,797 emitted rows, and the summary said 5,594 calls)
    call = {"gen_ai.usage.input_tokens": 250, "gen_ai.usage.output_tokens": 60, "dwf.llm.latency_ms": 20.0}
    rows = [
        AuditRow("wf", 1, "run", 3, "e", "assess", "perceive", details="{}"),
        AuditRow("wf", 1, "run", 4, "e", "assess", "operate", decision="call", details=json.dumps(call)),
        AuditRow("wf", 1, "run", 5, "e", "assess", "enforce", details="{}"),
        AuditRow("wf", 1, "run", 6, "e", "assess", "emitted", decision="pass", details=json.dumps(call)),
    ]
    usage = llm_usage(rows)
    assert usage is not None
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (1, 250, 60)


def test_status_refuses_a_security_setting_that_cannot_work_in_one_line(
    orders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")  # SASL without a mechanism or user
    res = runner.invoke(app, ["status", str(orders), "--broker", f"127.0.0.1:{free_port()}"])
    assert res.exit_code == 1  # not the user's file: a setting that stops the command (docs/cli.md)
    assert "SASL" in _one_error_line(res.output) and isinstance(res.exception, SystemExit)
