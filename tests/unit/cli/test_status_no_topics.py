"""`dana-wf status` under a prefix with no entry topic (NEWCOMER2 ST1): one line naming the topic and the
prefix, the prefixes close to it that hold this workflow's entry topic, exit 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dana_workflows.cli.main import app
from dana_workflows.cli.status import no_topics_line
from dana_workflows.streams import status as status_module
from dana_workflows.streams.status import NoEntryTopic

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[3] / "docs" / "examples" / "claims" / "claims.yaml"
ENTRY = "claims-triage.in"


def missing(prefix: str, *topics: str) -> NoEntryTopic:
    return NoEntryTopic(f"{prefix}.{ENTRY}", set(topics))


def test_the_close_prefixes_holding_the_entry_topic_are_suggested() -> None:
    exc = missing(
        "dwff", f"dwf.{ENTRY}", "dwf.claims-triage.out", f"dwf2.{ENTRY}", f"zzz.{ENTRY}", f".{ENTRY}"
    )
    assert no_topics_line(exc, "dwff", "b:9092") == (
        f"no topic dwff.{ENTRY} on b:9092: nothing was produced under prefix 'dwff' "
        "(check --prefix; did you mean 'dwf' or 'dwf2'?)"
    )


def test_with_none_close_up_to_five_prefixes_are_listed() -> None:
    exc = missing("q", *(f"prefix{i}.{ENTRY}" for i in range(7)), "prefix9.other.in")
    assert no_topics_line(exc, "q", "b:9092").endswith(
        "(check --prefix; prefixes with this workflow's topics: prefix0, prefix1, prefix2, prefix3, prefix4 "
        "and 2 more)"
    )
    exc = missing("q", f"a.{ENTRY}")
    assert no_topics_line(exc, "q", "b:9092").endswith("prefixes with this workflow's topics: a)")


def test_with_no_prefix_holding_it_the_line_says_what_creates_the_topics() -> None:
    assert no_topics_line(missing("dwf", "other.topic"), "dwf", "b:9092").endswith(
        "(check --prefix; no prefix has this workflow's topics yet: `dana-wf produce` or a worker creates "
        "them)"
    )


def test_the_command_exits_1_with_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def read_status(topology: Any, *args: Any) -> Any:
        raise NoEntryTopic(topology.topic("in"), {f"nc17.{ENTRY}"})

    monkeypatch.setattr(status_module, "read_status", read_status)
    res = CliRunner().invoke(app, ["status", str(SPEC), "--broker", "b:9092", "--prefix", "nc1"])
    assert res.exit_code == 1
    assert " ".join(res.output.split()) == (
        f"error: no topic nc1.{ENTRY} on b:9092: nothing was produced under prefix 'nc1' "
        "(check --prefix; did you mean 'nc17'?)"
    )
