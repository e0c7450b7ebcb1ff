"""Prompt templates: sandboxed, strict about missing names, hashed per rendering."""

from __future__ import annotations

import pytest

from dana_workflows.processors.llm.prompt import PromptError, PromptTemplate, prompt_hash

pytestmark = pytest.mark.unit


def test_renders_fields_and_hashes_the_rendering() -> None:
    t = PromptTemplate("Claim {{ claim_id }}: {{ description | upper }}", "You assess {{ kind }}.")
    r = t.render({"claim_id": "c1", "description": "fire", "kind": "fraud"})
    assert r.user == "Claim c1: FIRE" and r.system == "You assess fraud."
    assert r.hash == prompt_hash("You assess fraud.", "Claim c1: FIRE") and len(r.hash) == 64
    assert t.render({"claim_id": "c2", "description": "fire", "kind": "fraud"}).hash != r.hash


def test_missing_field_is_a_clear_error() -> None:
    t = PromptTemplate("{{ descripton }}", where="llm step 'risk'")
    with pytest.raises(PromptError, match=r"llm step 'risk'.*descripton.*available: description"):
        t.render({"description": "x"})


def test_syntax_error_names_the_step() -> None:
    with pytest.raises(PromptError, match=r"step 'x'.*does not compile"):
        PromptTemplate("{{ oops ", where="step 'x'")


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ payload.__class__.__init__.__globals__ }}"],
)
def test_sandbox_blocks_python_internals(source: str) -> None:
    with pytest.raises(PromptError):
        PromptTemplate(source).render({"payload": {"a": 1}})


def test_immutable_sandbox_blocks_mutation() -> None:
    with pytest.raises(PromptError):
        PromptTemplate("{{ items.append(3) }}").render({"items": [1, 2]})
