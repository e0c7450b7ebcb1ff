"""cli/resume_run.poison_line (session 16): how many poison records a dead-letter topic holds, and the
FIRST one's partition, offset and reason (its dwf-error header), so a reader finds where it starts;
nothing to say when there are none (mutation pass, session 17)."""

from __future__ import annotations

import pytest

from dana_workflows.cli.resume_run import poison_line
from dana_workflows.streams.kafka.resume_topics import PoisonRecord

pytestmark = pytest.mark.unit


def test_no_poison_says_nothing() -> None:
    assert poison_line("dwf.t.dlq", []) is None


def test_the_count_and_the_first_records_place_and_reason() -> None:
    poison = [PoisonRecord(2, 17, "not JSON: Expecting value"), PoisonRecord(0, 3, "not an object")]
    line = poison_line("dwf.t.dlq", poison)
    assert line is not None
    assert line.startswith(
        "2 poison record(s) on dwf.t.dlq too: not envelopes, so not listed and not replayable"
    )
    assert line.endswith("(first: partition 2 offset 17: not JSON: Expecting value)")


def test_the_kafka_client_is_not_imported_with_the_module() -> None:
    # the module's own statement: the Kafka client is imported only by the commands that read a topic
    # (a `dana-wf review` of a file starts without it)
    import subprocess
    import sys

    probe = (
        "import sys, dana_workflows.cli.resume_run; "
        "print('dana_workflows.streams.kafka.resume_topics' in sys.modules, 'aiokafka' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
