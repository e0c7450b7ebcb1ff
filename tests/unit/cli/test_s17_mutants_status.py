"""Mutation pass over session 17's lines of cli/status.py: a test for the mutant that survived.

With no prefix close to the one given, the line lists up to five prefixes that hold the workflow's entry
topic, and says how many more there are only when there are more (exactly five: all of them, no
"and 0 more").
"""

from __future__ import annotations

import pytest

from dana_workflows.cli.status import no_topics_line
from dana_workflows.streams.status import NoEntryTopic

pytestmark = pytest.mark.unit

ENTRY = "claims-triage.in"


def test_exactly_five_prefixes_are_all_listed_with_no_more() -> None:
    exc = NoEntryTopic(f"q.{ENTRY}", {f"prefix{i}.{ENTRY}" for i in range(5)})
    line = no_topics_line(exc, "q", "b:9092")
    assert line.endswith("prefixes with this workflow's topics: prefix0, prefix1, prefix2, prefix3, prefix4)")
    assert "more" not in line


def test_six_prefixes_list_five_and_one_more() -> None:
    exc = NoEntryTopic(f"q.{ENTRY}", {f"prefix{i}.{ENTRY}" for i in range(6)})
    assert no_topics_line(exc, "q", "b:9092").endswith(
        "prefixes with this workflow's topics: prefix0, prefix1, prefix2, prefix3, prefix4 and 1 more)"
    )


def test_a_topic_with_an_empty_prefix_is_no_prefix_to_suggest() -> None:
    # '.claims-triage.in' is the entry topic's suffix alone: no prefix of this workflow, nothing listed
    exc = NoEntryTopic(f"q.{ENTRY}", {f".{ENTRY}"})
    assert no_topics_line(exc, "q", "b:9092").endswith(
        "(check --prefix; no prefix has this workflow's topics yet: `dana-wf produce` or a worker creates "
        "them)"
    )
