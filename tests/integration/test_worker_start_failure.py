"""On the real broker: a worker the broker refuses ends, with exit 1 and one line (NEWCOMER2 W3), and
`dana-wf status` with a prefix nothing was produced under creates no topic and says so (NEWCOMER2 ST1)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from tests.integration.kafka_support import CLAIMS_SPEC, start_worker, topic_listed

pytestmark = pytest.mark.integration

EXIT_BOUND_S = 120.0  # generous: what is asserted is that the worker exited, not how fast


async def _topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_a_worker_whose_group_join_is_refused_exits_1_with_one_line(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # 3 s is below the broker's group.min.session.timeout.ms (6 s by default): the join is refused with
    # InvalidSessionTimeoutError, which the worker's up-front checks cannot know
    proc = start_worker(tmp_path, kafka_bootstrap, topic_prefix, extra=["--session-timeout", "3"])
    try:
        code = proc.wait(EXIT_BOUND_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the worker was still running {EXIT_BOUND_S:.0f} s after a refused join")
    log = (tmp_path / "worker.log").read_text()
    assert code == 1, log
    ours = [line for line in log.splitlines() if "worker cannot start" in line]
    assert len(ours) == 1, log
    assert ours[0].endswith(
        "worker cannot start: [Error 26] InvalidSessionTimeoutError (fix: --session-timeout 3 s is outside "
        "the broker's group.min.session.timeout.ms .. group.max.session.timeout.ms (Kafka's defaults: 6 s .. "
        "30 min))"
    )


def test_status_under_a_misspelt_prefix_creates_nothing_and_names_the_close_prefix(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    entry = f"{topic_prefix}.claims-triage.in"

    async def create_entry() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(entry, 1, 1)])
            assert await topic_listed(admin, entry)
        finally:
            await admin.close()

    asyncio.run(create_entry())
    misspelt = topic_prefix[:-1]
    before = asyncio.run(_topics(kafka_bootstrap))
    assert entry in before
    args = ["status", str(CLAIMS_SPEC), "--broker", kafka_bootstrap, "--prefix", misspelt]
    res = CliRunner().invoke(app, args)
    after = asyncio.run(_topics(kafka_bootstrap))
    assert res.exit_code == 1, res.output
    assert not any(t.startswith(f"{misspelt}.") for t in after)  # others' tests create topics too
    line = " ".join(res.output.split())
    assert line.startswith(
        f"error: no topic {misspelt}.claims-triage.in on {kafka_bootstrap}: nothing was produced under "
        f"prefix '{misspelt}' (check --prefix; did you mean "
    ), line
    assert repr(topic_prefix) in line
