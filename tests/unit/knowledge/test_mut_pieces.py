"""The knowledge room's small parts, each against its documented rule.

- terms: lower-case words, stop words out, a compound counted whole and by its parts (index.py);
- chunk versions: the same text and metadata give the same version, any change a new one (chunks.py);
- records: one chunk per record, id from the key, text from the text fields, CSV numbers parsed;
- facts: a chunk holds a fact when it is of the fact's source and every ``where`` field equals the
  event's value (as text); a fact is stale when the version in use is not the latest;
- assembly: edges first (ranks 1, 3, 5 from the top, 2, 4, 6 from the bottom); the budget must hold
  the instructions (+ 8 tokens of chat framing) and the answer's reserve, exactly at the limit fits;
- splitting: paragraphs joined while they fit (exactly the size fits), repeated headings -2, -3,
  long sections ~2, ~3, front matter only between two ``---`` lines;
- the estimator: a letter run costs ceil(len / 2), one per letter when fewer than one vowel in four;
  digits in groups of three; any other visible character one; non-ASCII one per UTF-8 byte.
"""

from __future__ import annotations

import pytest

from dana_workflows.knowledge.assemble import Assembler, BudgetError, edges_first, render
from dana_workflows.knowledge.chunks import Chunk, content_version, make_chunk, slug
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.facts import Fact, find_fact, matches
from dana_workflows.knowledge.index import ChunkIndex, block, terms
from dana_workflows.knowledge.records import record_chunks, scalar
from dana_workflows.knowledge.text_split import markdown_sections, split_front_matter, text_sections
from dana_workflows.knowledge.tokens import EstimatingCounter
from dana_workflows.knowledge.validate import check_facts
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit


class Words:
    """A counter with an obvious rule (one token a whitespace-separated word), to state budgets exactly."""

    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())


# -- terms, blocks, chunks -----------------------------------------------------------------------------


def test_terms_drop_stop_words_and_keep_compounds_whole_and_in_parts() -> None:
    assert terms("The Policy P-1001 of v2.3") == ["policy", "p-1001", "p", "1001", "v2.3", "v2", "3"]
    assert terms("a an the") == []
    assert terms("flood/earthquake") == ["flood/earthquake", "flood", "earthquake"]


def test_a_block_is_the_id_then_the_text() -> None:
    assert block(Chunk("s:d#x", "s", "body")) == "[s:d#x]\nbody\n\n"


def test_a_version_follows_text_and_metadata_only() -> None:
    a = make_chunk("s:1", "s", "text", {"k": 1})
    assert a.version == content_version("text", {"k": 1}) and len(a.version) == 16
    assert make_chunk("s:other", "t", "text", {"k": 1}, 99).version == a.version
    assert make_chunk("s:1", "s", "text!", {"k": 1}).version != a.version
    assert make_chunk("s:1", "s", "text", {"k": 2}).version != a.version
    assert a.ref() == ("s:1", a.version)


def test_slugs() -> None:
    assert slug("Terms & Conditions (2026)") == "terms-conditions-2026"
    assert slug("  --  ") == "section"


# -- records ---------------------------------------------------------------------------------------------


def test_scalars_keep_numbers_and_parse_csv_text() -> None:
    assert scalar("12") == 12 and isinstance(scalar("12"), int)
    assert scalar("1.5") == 1.5
    assert scalar("abc") == "abc"
    assert scalar(True) is True and scalar(None) is None and scalar(3) == 3


def test_records_become_chunks_by_key_with_their_text_fields() -> None:
    src = KnowledgeSourceIR(id="pol", path="p", key="id", text=("name", "note"))
    rows = [{"id": "A", "name": "alpha", "note": "", "n": "7", "nested": {"x": 1}}, {"id": 2, "name": "beta"}]
    a, b = record_chunks(src, rows, "f.json", updated_us=5)
    assert a.chunk_id == "pol:A" and a.source == "pol" and a.updated_us == 5
    assert a.text == "name: alpha"  # empty values are left out
    assert a.meta == {"id": "A", "name": "alpha", "note": "", "n": 7}  # nested values are not metadata
    assert b.chunk_id == "pol:2" and b.text == "name: beta"


def test_records_without_a_key_are_named_by_position_and_show_every_field() -> None:
    src = KnowledgeSourceIR(id="s", path="p")
    a, b = record_chunks(src, [{"x": 1, "y": None}, {"x": 2}], "t.csv")
    assert (a.chunk_id, b.chunk_id) == ("s:t.csv[1]", "s:t.csv[2]")
    assert a.text == "x: 1"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": "a"}, 3], "source 's': f record 2 is not an object; give a list of objects"),
        ([{"id": ""}], "source 's': f record 1 has no 'id' (the source's key)"),
        ([{"x": 1}], "source 's': f record 1 has no 'id'"),
        ([{"id": "a"}, {"id": "a"}], "source 's': two records in f have the key 'a'; keys must be unique"),
    ],
)
def test_bad_records_name_the_source_the_record_and_the_fix(rows: list[object], message: str) -> None:
    with pytest.raises(KnowledgeError) as e:
        record_chunks(KnowledgeSourceIR(id="s", path="p", key="id"), rows, "f")  # type: ignore[arg-type]
    assert str(e.value).startswith(message)


# -- facts and their validation ----------------------------------------------------------------------------


def _index() -> ChunkIndex:
    chunks = [
        make_chunk("pol:P1#terms", "pol", "Policy P1 pays 1000 USD", {"policy_id": "P1", "limit": 1000}),
        make_chunk("pol:P2#terms", "pol", "Policy P2 pays 2000 USD", {"policy_id": "P2", "limit": 2000}),
        make_chunk("pol:P1#excl", "pol", "Policy P1 excludes flood", {"policy_id": "P1"}),
        make_chunk("gl:water", "gl", "Water claims need a plumber report", {"policy_id": "P1"}),
    ]
    return ChunkIndex(chunks, Words(), roles={"gl": "examples"})


def test_metadata_match_as_text_and_every_field_is_needed() -> None:
    assert matches({"a": 1, "b": "x"}, {"a": "1"})
    assert not matches({"a": 1}, {"a": 1, "b": 2})
    assert matches({}, {})


def test_a_fact_is_found_in_its_source_only_by_every_where_field() -> None:
    idx = _index()
    assert find_fact(idx, Fact("f", "pol", {"policy_id": "P1"})) == [0, 2]
    assert find_fact(idx, Fact("f", "pol", {"policy_id": "P1", "limit": 1000})) == [0]
    assert find_fact(idx, Fact("f", "gl", {"policy_id": "P1"})) == [3]
    assert find_fact(idx, Fact("f", "nope", {"policy_id": "P1"})) == []
    assert find_fact(idx, Fact("f", "pol", {"policy_id": "P9"})) == []


def test_facts_missing_stale_and_found() -> None:
    idx = _index()
    facts = [Fact("terms", "pol", {"policy_id": "P2"}), Fact("none", "pol", {"policy_id": "P3"})]
    check = check_facts(idx, facts)
    assert check.missing == ("none",) and check.stale == () and not check.ok
    assert check.found == {"terms": ("pol:P2#terms",), "none": ()}
    assert check_facts(idx, facts[:1]).ok
    v = idx.candidates[1].chunk.version
    assert check_facts(idx, facts[:1], {"pol:P2#terms": v}).ok
    assert check_facts(idx, facts[:1], {"other": "x"}).ok  # no newer version known: current
    stale = check_facts(idx, facts[:1], {"pol:P2#terms": "newer"})
    assert stale.stale == ("terms",) and stale.missing == () and not stale.ok


def test_the_index_gives_roles_quality_sources_and_costs() -> None:
    idx = ChunkIndex(_index_chunks(), Words(), roles={"gl": "memory"}, quality={"gl:water": 0.25})
    assert len(idx) == 2
    assert [c.role for c in idx.candidates] == ["knowledge", "memory"]
    assert [c.quality for c in idx.candidates] == [1.0, 0.25]
    assert idx.candidates[0].tokens == Words().count(block(idx.candidates[0].chunk))
    assert idx.min_tokens == min(c.tokens for c in idx.candidates)
    assert idx.by_source == {"pol": [0], "gl": [1]}
    assert list(idx.in_sources(frozenset({"gl", "unknown"}))) == [False, True]
    assert list(idx.scores("unknownword")) == [0.0, 0.0]
    s = idx.scores("plumber")
    assert s[1] > 0.0 and s[0] == 0.0
    empty = ChunkIndex([], Words())
    assert len(empty.scores("x")) == 0 and empty.min_tokens == 0


def _index_chunks() -> list[Chunk]:
    return [
        make_chunk("pol:P1", "pol", "Policy P1 pays 1000 USD", {"policy_id": "P1"}),
        make_chunk("gl:water", "gl", "Water claims need a plumber report", {}),
    ]


# -- assembly --------------------------------------------------------------------------------------------


def test_edges_first_puts_odd_ranks_on_top_and_even_ranks_at_the_bottom() -> None:
    assert edges_first([1, 2, 3, 4, 5, 6]) == [1, 3, 5, 6, 4, 2]
    assert edges_first([1, 2, 3]) == [1, 3, 2]
    assert edges_first([]) == []


def test_an_empty_section_renders_nothing_and_a_filled_one_its_header_then_blocks() -> None:
    idx = _index()
    assert render("knowledge", []) == ""
    assert render("memory", idx.candidates[:1]) == "## Earlier decisions\n" + block(idx.candidates[0].chunk)


def test_the_budget_holds_instructions_framing_and_reserve_exactly() -> None:
    idx = _index()
    a = Assembler(idx, 100, {"output": 0.1})
    assert a.reserve == 10
    instructions = " ".join(["w"] * 82)  # 82 + 8 framing + 10 reserve == 100: fits exactly
    assert a.check_instructions(instructions, "s") == 90
    with pytest.raises(BudgetError) as e:
        a.check_instructions(instructions + " w", "step x")
    assert str(e.value) == (
        "step x: the budget (100 tokens) is smaller than the instructions (91 tokens) plus the answer's "
        "reserve (10); raise knowledge.budget or shorten the prompt"
    )


def test_assembly_counts_what_it_sends_and_never_exceeds_the_budget() -> None:
    idx = _index()
    out = Assembler(idx, 200, {"output": 0.1}).assemble("policy P1 flood", "answer please")
    t = out.tokens
    assert t["instructions"] == 2 + 8 and t["reserve"] == 20
    assert t["context"] == Words().count(out.context())
    assert t["total"] == t["instructions"] + t["context"] + t["reserve"] <= 200
    assert out.used and all(c.chunk.source == "pol" for c in out.sections["knowledge"])


def test_a_filter_excludes_chunks_of_another_value_and_boosts_its_own() -> None:
    idx = _index()
    out = Assembler(idx, 500).assemble("policy pays", "q", filters={"policy_id": "P2"})
    ids = [c.chunk.chunk_id for c in out.used]
    assert "pol:P2#terms" in ids
    assert "pol:P1#terms" not in ids and "pol:P1#excl" not in ids


# -- splitting --------------------------------------------------------------------------------------------


def test_front_matter_needs_both_fences() -> None:
    assert split_front_matter("---\na: 1\n---\nbody") == ("a: 1\n", "body")
    assert split_front_matter("---\na: 1\nbody") == (None, "---\na: 1\nbody")
    assert split_front_matter("body\n---\n") == (None, "body\n---\n")


def test_markdown_sections_take_the_first_h1_and_number_repeats() -> None:
    doc = "intro text\n\n# Title\n\n## Terms\n\none\n\n## Terms\n\ntwo\n\n# Second\n\n## Empty\n"
    title, sections = markdown_sections(doc, 100)
    assert title == "Title"
    assert [(s.key, s.heading, s.body) for s in sections] == [
        ("intro", "", "intro text"),
        ("terms", "Terms", "one"),
        ("terms-2", "Terms", "two"),
    ]


def test_a_long_section_is_cut_into_parts_under_the_size() -> None:
    # each "word." paragraph: "word" = 2 tokens, "." = 1 -> 3 tokens; two fit in 6, a third does not
    body = "\n\n".join(["word."] * 5)
    _, sections = markdown_sections(f"## S\n\n{body}", 6)
    assert [s.key for s in sections] == ["s", "s~2", "s~3"]
    assert [s.body for s in sections] == ["word.\n\nword.", "word.\n\nword.", "word."]
    assert [s.key for s in text_sections(body, 6)] == ["p1", "p2", "p3"]
    assert [s.key for s in text_sections(body, 5)] == ["p1", "p2", "p3", "p4", "p5"]


# -- the estimator -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("word", 2),  # 4 letters with a vowel: ceil(4 / 2)
        ("words", 5),  # one vowel in five letters: under one in four, one a letter
        ("wordy", 3),  # y counts as a vowel: two in five, ceil(5 / 2)
        (" word", 2),  # the blank before a word goes with it
        ("xzkq", 4),  # no vowel: one a letter
        ("strengths", 9),  # one vowel in nine letters: less than one in four, one a letter
        ("paysPolicy", 2 + 3),  # cut where the case changes
        ("1234567", 3),  # digits in groups of three
        ("!?", 2),
        ("é", 2),  # two UTF-8 bytes
    ],
)
def test_the_estimator_counts_by_its_stated_rules(text: str, tokens: int) -> None:
    assert EstimatingCounter().count(text) == tokens
