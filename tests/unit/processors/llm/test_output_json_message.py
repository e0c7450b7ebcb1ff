"""The invalid-JSON message of a reply reads as one sentence (processors/llm/output.py).

A reply cut in a string (a model's truncated answer, the test server's malformed_json fault) said
"the reply is not valid JSON (Unterminated string starting at at char 41)": json's own message ends in
"at" (NEWCOMER5, session 19, N5-8). Positions are those of the reply as json reads it, stripped."""

from __future__ import annotations

import pytest

from dana_workflows.processors.llm.output import OutputError, OutputSpec
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit

OUT = OutputSpec((FieldIR(name="category", type="string"),), "classify")


def test_a_reply_cut_in_a_string_says_at_once() -> None:
    with pytest.raises(OutputError) as cut:
        OUT.parse('{"category": "out')
    assert str(cut.value) == "the reply is not valid JSON (Unterminated string starting at char 13)"


def test_other_json_errors_keep_their_at() -> None:
    with pytest.raises(OutputError) as cut:
        OUT.parse('{"category": ')
    assert (
        str(cut.value) == "the reply is not valid JSON (Expecting value at char 12)"
    )  # of the stripped reply
