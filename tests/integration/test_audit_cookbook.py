"""docs/audit.md against a real ClickHouse server (Debian's 18.16 in CI): the plain-SQL chain check names what
`audit verify` names, and the cookbook queries give the claims example's figures where the server has the
functions they use (JSONExtract* is newer than 18.16: there those queries fail with "Unknown function").
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from clickhouse_driver import Client
from typer.testing import CliRunner

from dana_workflows.sinks.audit_model import row_digest
from dana_workflows.sinks.clickhouse_server import ServerAuditStore
from dana_workflows.sinks.dsn import ClickHouseServerConfig, parse_dsn
from dana_workflows.sinks.reader import read_rows
from dana_workflows.sinks.sql_verify import sql_chain_findings
from dana_workflows.sinks.verify import verify_rows
from tests.unit.sinks.test_audit_cookbook import CLAIMS, EXPECTED, cookbook
from tests.unit.sinks.test_sql_verify import chain, keys

pytestmark = pytest.mark.integration

JSON_QUERIES = {"rejections_by_rule", "warn_rule_hit_rates", "objective_violations"}


def admin(dsn: str) -> Client:
    c = parse_dsn(dsn)
    assert isinstance(c, ClickHouseServerConfig)
    return Client(
        c.host,
        port=c.port,
        user=c.user,
        password=c.password.get_secret_value(),
        secure=c.secure,
        verify=c.verify,
        ca_certs=c.ca_certs,
    )


def wait_for_mutations(client: Client, database: str) -> None:
    """ALTER ... UPDATE/DELETE is asynchronous on 18.16 (no mutations_sync): wait until it is applied."""
    deadline = time.monotonic() + 60
    while client.execute(
        f"SELECT count() FROM system.mutations WHERE database = '{database}' AND is_done = 0"
    )[0][0]:
        assert time.monotonic() < deadline, "mutation not applied within 60 s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def filled(clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerAuditStore]:
    """The claims example run in-process into a fresh database on the server."""
    from dana_workflows.cli.main import app

    name = f"dwf_cookbook_{uuid.uuid4().hex[:10]}"
    dsn = urlsplit(clickhouse_dsn)._replace(path=f"/{name}").geturl()
    tmp = tmp_path_factory.mktemp("cookbook-server")
    client = admin(clickhouse_dsn)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp / 'schemas'}")
            args = ["run", str(CLAIMS / "claims.yaml"), "--input", str(CLAIMS / "events.jsonl")]
            args += ["--out", str(tmp / "out"), "--audit", dsn, "-q"]
            result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        store = ServerAuditStore.from_dsn(dsn)
        try:
            yield store
        finally:
            store.close()
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {name}")  # test cleanup, never an audit code path
        client.disconnect()


def run(store: ServerAuditStore, name: str) -> list[dict[str, object]]:
    res = store.query(cookbook()[name].replace("dwf.events", f"{store.database}.events"))
    return [dict(zip(res.columns, r, strict=True)) for r in res.rows]


def test_sql_check_of_the_filled_server_agrees_with_verify(filled: ServerAuditStore) -> None:
    assert filled.query(f"SELECT count() FROM {filled.table}").rows == [(68_725,)]
    assert sql_chain_findings(filled) == []
    assert verify_rows(read_rows(filled)).findings == []


def test_sql_check_names_tampering_on_the_server(
    clickhouse_dsn: str, clickhouse_database: ClickHouseServerConfig
) -> None:
    store = ServerAuditStore.from_config(clickhouse_database)
    client = admin(clickhouse_dsn)
    db = clickhouse_database.database
    try:
        store.insert([r for run in ("run-a", "run-b", "run-c") for r in chain(run)])
        assert sql_chain_findings(store) == []
        client.execute(
            f"ALTER TABLE {db}.events UPDATE decision = 'review' WHERE run_id = 'run-b' AND seq = 3"
        )
        client.execute(f"ALTER TABLE {db}.events DELETE WHERE run_id = 'run-c' AND seq = 2")
        wait_for_mutations(client, db)
        store.insert(chain("run-a")[1:2])  # a replayed row
        forged = chain("run-a")[4]
        forged.decision = "reject"
        forged.hash = row_digest(forged)
        store.insert([forged])  # a second, sealed row at a taken position
        in_sql = keys(sql_chain_findings(store))
        assert in_sql == keys(verify_rows(read_rows(store)).findings)
        assert ("changed", "run-b", 3, "run-b/triage") in in_sql
        assert ("removed", "run-c", 2, "run-c/triage") in in_sql
        assert ("duplicate", "run-a", 1, "run-a/ingest") in in_sql
        assert ("forked", "run-a", 4, "run-a/enforce_objective") in in_sql
    finally:
        store.close()
        client.disconnect()


def test_portable_cookbook_queries_on_the_server(filled: ServerAuditStore) -> None:
    outcomes = {r["outcome"]: r["runs"] for r in run(filled, "outcomes_per_version")}
    assert outcomes == {
        "completed:auto_pay": EXPECTED["auto_pay"],
        "completed:review": EXPECTED["review"],
        "rejected": EXPECTED["rejected"],
        "dlq": EXPECTED["dlq"],
    }
    assert len(run(filled, "dlq_runs")) == EXPECTED["dlq"]
    assert {r["step"] for r in run(filled, "slowest_steps")} == {
        "normalize",
        "check_claim",
        "triage",
        "enforce_objective",
    }
    assert run(filled, "run_latency")[0]["runs"] == 10_000
    assert len(run(filled, "slowest_runs")) == 20
    assert run(filled, "unfinished_runs") == []
    assert run(filled, "drift_alerts") == []


def has_json_functions(store: ServerAuditStore) -> bool:
    """Whether the server has the JSONExtract* family, asked on its own before any cookbook query runs."""
    try:
        return store.query("SELECT JSONExtractString('{\"a\": \"b\"}', 'a')").rows == [("b",)]
    except Exception as exc:
        assert "Unknown function JSONExtract" in str(exc), exc
        return False


def test_json_cookbook_queries_by_what_the_server_has(filled: ServerAuditStore) -> None:
    """docs/audit.md: servers before 20.x (18.16 here) have no JSON functions, so the three queries that
    read rule_results must fail there naming the missing function, never return wrong figures; on a server
    that has them they give the example's figures. Which of the two is decided by a probe of the function
    before any query runs, so a failing query can never pass on a server that has the functions. The
    figures are checked on every run on chdb too (tests/unit/sinks/test_audit_cookbook.py)."""
    if not has_json_functions(filled):
        assert filled.server_version() < (20,), "a server from 20.x on has JSONExtract*: the probe is wrong"
        for name in sorted(JSON_QUERIES):
            with pytest.raises(Exception, match="Unknown function JSONExtract"):
                run(filled, name)
        return
    for name in sorted(JSON_QUERIES):
        got = run(filled, name)
        if name == "rejections_by_rule":
            by_rule: Counter[str] = Counter()
            for r in got:
                rule = str(r["rule_id"])
                by_rule["schema" if rule.startswith("schema.") else rule] += int(str(r["rejections"]))
            assert by_rule == {k.split(":", 1)[1]: v for k, v in EXPECTED.items() if k.startswith("reject:")}
        elif name == "warn_rule_hit_rates":
            assert [(r["rule_id"], r["evaluated"], r["hits"]) for r in got] == [
                ("has_description", 9_890, 505)
            ]
        else:
            assert [(r["constraint_id"], r["violations"]) for r in got] == [("within_limit", 125)]
            assert json.loads(str(got[0]["example_values"]))["route"] == "auto_pay"


def test_docs_users_xml_on_a_server_without_access_control(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The page's users.xml recipe on a dedicated local server: the auditor only reads, the writer inserts and
    is refused ALTER/TRUNCATE/DROP by default (and, as the page warns, not by force on 18.16)."""
    import hashlib
    import re

    from dana_workflows.devservices.clickhouse.server import LocalClickHouse
    from tests.fixtures.clickhouse import start_local_server
    from tests.unit.sinks.test_audit_cookbook import DOC

    (block,) = re.findall(r"```xml\n(.*?)\n```", DOC.read_text(), flags=re.S)
    secret = "s3cret-for-test"
    xml = re.sub(
        r"<password_sha256_hex>.*?</password_sha256_hex>",
        f"<password_sha256_hex>{hashlib.sha256(secret.encode()).hexdigest()}</password_sha256_hex>",
        block,
    ).replace("10.0.0.0/8", "127.0.0.1")
    server = start_local_server(tmp_path_factory.mktemp("clickhouse-roles"))
    assert isinstance(server, LocalClickHouse)
    try:
        root = Client("127.0.0.1", port=server.tcp_port)
        root.execute("CREATE DATABASE IF NOT EXISTS dwf")
        from dana_workflows.sinks.ddl import create_events_table, parse_version

        version = parse_version(str(root.execute("SELECT version()")[0][0]))
        root.execute(create_events_table("dwf", version))
        users_d = server.config_file.parent / "users.d"
        users_d.mkdir(exist_ok=True)
        (users_d / "dwf-roles.xml").write_text(xml)
        writer = Client("127.0.0.1", port=server.tcp_port, user="dwf_pipeline", password=secret)
        auditor = Client("127.0.0.1", port=server.tcp_port, user="dwf_audit", password=secret)
        deadline = time.monotonic() + 60
        while True:  # the server picks up users.d within a few seconds
            try:
                writer.execute("SELECT 1")
                auditor.execute("SELECT 1")
                break
            except Exception:
                assert time.monotonic() < deadline, "the users.d file was not loaded within 60 s"
                time.sleep(0.5)

        from dana_workflows.sinks.audit_model import COLUMNS

        insert = f"INSERT INTO dwf.events ({', '.join(COLUMNS)}) VALUES"
        writer.execute(insert, [r.as_tuple() for r in chain("run-w")])
        for who, client, code in (("writer", writer, 392), ("auditor", auditor, 164)):
            for sql in (
                "ALTER TABLE dwf.events DELETE WHERE 1 = 1",
                "ALTER TABLE dwf.events UPDATE decision = 'x' WHERE 1 = 1",
                "TRUNCATE TABLE dwf.events",
                "DROP TABLE dwf.events",
            ):
                with pytest.raises(Exception, match=f"Code: {code}"):
                    client.execute(sql)
            assert client.execute("SELECT count() FROM dwf.events") == [(6,)], who
        with pytest.raises(Exception, match="Code: 164"):
            auditor.execute(insert, [r.as_tuple() for r in chain("run-x")])
        with pytest.raises(Exception, match="Code: 164"):
            auditor.execute("SET readonly = 0")
        writer.disconnect()
        auditor.disconnect()
        root.disconnect()
    finally:
        server.down()
