"""Markdown and text are cut into chunks with ids that survive edits elsewhere in the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.file_source import read_files
from dana_workflows.knowledge.text_split import markdown_sections, split_front_matter
from dana_workflows.knowledge.tokens import EstimatingCounter
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit

DOC = """---
policy_id: P-1
limit_usd: 5000
---
# Policy P-1

Intro text.

## Terms

Pays at most 5000 USD.

## Exclusions

No flood.

## Terms

A second section with the same heading.
"""


def _source(tmp_path: Path, **kw: object) -> KnowledgeSourceIR:
    return KnowledgeSourceIR.model_validate({"id": "pol", "kind": "files", "path": str(tmp_path), **kw})


def test_sections_get_heading_ids_and_front_matter(tmp_path: Path) -> None:
    (tmp_path / "p1.md").write_text(DOC)
    chunks = read_files(_source(tmp_path), tmp_path)
    ids = [c.chunk_id for c in chunks]
    assert ids == ["pol:p1.md#policy-p-1", "pol:p1.md#terms", "pol:p1.md#exclusions", "pol:p1.md#terms-2"]
    terms = chunks[1]
    assert terms.meta["policy_id"] == "P-1" and terms.meta["limit_usd"] == 5000
    assert terms.text.startswith("Policy P-1 / Terms\n")


def test_editing_one_section_changes_only_its_version(tmp_path: Path) -> None:
    (tmp_path / "p1.md").write_text(DOC)
    before = {c.chunk_id: c.version for c in read_files(_source(tmp_path), tmp_path)}
    (tmp_path / "p1.md").write_text(DOC.replace("No flood.", "No flood, no earthquake."))
    after = {c.chunk_id: c.version for c in read_files(_source(tmp_path), tmp_path)}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"pol:p1.md#exclusions"}


def test_long_sections_split_under_the_size() -> None:
    body = "## Long\n\n" + "\n\n".join(f"Paragraph {i} " + "word " * 40 for i in range(10))
    _, sections = markdown_sections(body, 60)
    assert [s.key for s in sections][:3] == ["long", "long~2", "long~3"]
    assert all(EstimatingCounter().count(s.body) <= 60 for s in sections)


def test_unterminated_front_matter_is_text() -> None:
    assert split_front_matter("---\nno end") == (None, "---\nno end")


def test_records_from_json_and_csv(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"rows": [{"sku": "A", "price": 3}, {"sku": "B", "price": 4}]}')
    (tmp_path / "b.csv").write_text("sku,price\nC,5.5\nD,6\n")
    chunks = read_files(_source(tmp_path, key="sku"), tmp_path)
    assert [c.chunk_id for c in chunks] == ["pol:A", "pol:B", "pol:C", "pol:D"]
    assert chunks[2].meta["price"] == 5.5 and chunks[3].meta["price"] == 6
    assert "price: 5.5" in chunks[2].text


@pytest.mark.parametrize(
    ("files", "kw", "message"),
    [
        ({"a.md": "x" * 200}, {"max_file_bytes": 100}, "over max_file_bytes (100); split the file"),
        ({"a.txt": b"\xff\xfe bad"}, {}, "is not UTF-8 text"),
        ({"a.json": '{"a": [1, }'}, {}, "line 1: not valid JSON"),
        (
            {"a.json": '[{"sku": "A"}, {"sku": "A"}]'},
            {"key": "sku"},
            "two records in a.json have the key 'A'",
        ),
        ({"a.json": '[{"name": "A"}]'}, {"key": "sku"}, "record 1 has no 'sku'"),
        ({"a.json": "[1, 2]"}, {}, "record 1 is not an object"),
        ({"a.bin": "x"}, {}, "no .md, .markdown, .txt, .json, .jsonl, .csv files"),
    ],
)
def test_bad_files_fail_with_the_file_and_the_fix(
    tmp_path: Path, files: dict[str, str | bytes], kw: dict[str, object], message: str
) -> None:
    for name, content in files.items():
        target = tmp_path / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(KnowledgeError, match="source 'pol'") as info:
        read_files(_source(tmp_path, **kw), tmp_path)
    assert message in str(info.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist; fix path"):
        read_files(_source(tmp_path / "nope"), tmp_path)


def test_one_file_jsonl_and_text_paragraphs(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"sku": "A"}\n\n{"sku": "B"}\n')
    chunks = read_files(_source(tmp_path / "rows.jsonl", key="sku"), tmp_path)
    assert [c.chunk_id for c in chunks] == ["pol:A", "pol:B"]
    (tmp_path / "notes.txt").write_text("First paragraph.\n\nSecond one.\n")
    text = read_files(_source(tmp_path / "notes.txt", max_chunk_tokens=24), tmp_path)  # both fit: one chunk
    assert [c.chunk_id for c in text] == ["pol:notes.txt#p1"] and "Second one." in text[0].text
    (tmp_path / "one.json").write_text('{"sku": "C", "name": "single object"}')
    assert [c.chunk_id for c in read_files(_source(tmp_path / "one.json", key="sku"), tmp_path)] == ["pol:C"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("---\n: [\n---\n# T\n\nx\n", "front matter is not valid YAML"),
        ("---\n- a\n- b\n---\n# T\n\nx\n", "front matter must be a mapping"),
    ],
)
def test_bad_front_matter(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "a.md").write_text(content)
    with pytest.raises(KnowledgeError, match=message) as e:
        read_files(_source(tmp_path), tmp_path)
    assert "\n" not in str(e.value)  # one line, whatever ruamel's own text looks like


def test_a_json_scalar_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("42")
    with pytest.raises(KnowledgeError, match="holds a JSON int; give objects"):
        read_files(_source(tmp_path), tmp_path)


def test_a_folder_without_matching_files(tmp_path: Path) -> None:
    target = tmp_path / "a.md"
    target.mkdir()  # a folder named like a file, empty
    (tmp_path / "b.md").write_text("# B\n\nx\n")
    src = KnowledgeSourceIR.model_validate({"id": "pol", "path": str(target)})
    with pytest.raises(KnowledgeError, match=r"no \.md"):
        read_files(src, tmp_path)
