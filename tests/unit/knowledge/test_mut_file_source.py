"""Files sources (knowledge/file_source.py): what each kind of file becomes, by the documented rules.

A Markdown section's chunk text starts with "<title> / <heading>" (the title alone when the section is
the title's own), its metadata are the front matter's scalars plus the document and section; the title
comes from front matter, else the first H1, else the file name; a file of exactly ``max_file_bytes`` is
read, one byte more is refused; a JSON object holding exactly one list is that list of records, any
other object is one record; CSV cells that parse as numbers become numbers; files are read in name
order, ids carry the path relative to the folder, the suffix is matched in any case.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.knowledge.file_source import read_files
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR

pytestmark = pytest.mark.unit


def _src(path: Path, **kw: object) -> KnowledgeSourceIR:
    return KnowledgeSourceIR.model_validate({"id": "kb", "path": str(path), **kw})


def test_markdown_sections_carry_title_heading_and_front_matter(tmp_path: Path) -> None:
    doc = tmp_path / "p.md"
    doc.write_text("---\nowner: claims\nlimit: 5000\ntags: [a]\n---\n# Policy\n\nintro\n\n## Terms\n\npays\n")
    os.utime(doc, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    chunks = read_files(_src(doc), tmp_path)
    assert [c.chunk_id for c in chunks] == ["kb:p.md#policy", "kb:p.md#terms"]
    assert [c.text for c in chunks] == ["Policy\nintro", "Policy / Terms\npays"]
    assert chunks[1].meta == {"owner": "claims", "limit": 5000, "doc": "p.md", "section": "Terms"}
    assert chunks[0].meta["section"] == "Policy"
    assert all(c.updated_us == 1_700_000_000_000_000 for c in chunks)


def test_the_title_from_front_matter_then_h1_then_file_name(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: Given\n---\n# Heading\n\nbody\n")
    (tmp_path / "b.md").write_text("## Only a section\n\nbody\n")
    chunks = read_files(_src(tmp_path), tmp_path)
    assert chunks[0].text == "Given / Heading\nbody"
    assert chunks[1].text == "b / Only a section\nbody"


def test_the_size_limit_is_inclusive(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_text("x" * 50)
    assert len(read_files(_src(f, max_file_bytes=50), tmp_path)) == 1
    with pytest.raises(KnowledgeError) as e:
        read_files(_src(f, max_file_bytes=49), tmp_path)
    assert str(e.value) == (
        f"source 'kb': {f} is 50 bytes, over max_file_bytes (49); split the file or raise max_file_bytes"
    )


def test_json_objects_and_lists(tmp_path: Path) -> None:
    (tmp_path / "one_list.json").write_text('{"version": 2, "items": [{"k": "a"}, {"k": "b"}]}')
    (tmp_path / "two_lists.json").write_text('{"k": "c", "x": [1], "y": [2]}')
    (tmp_path / "plain.json").write_text('[{"k": "d"}]')
    chunks = read_files(_src(tmp_path, key="k"), tmp_path)
    assert [c.chunk_id for c in chunks] == ["kb:a", "kb:b", "kb:d", "kb:c"]  # files in name order
    with_lists = chunks[3]
    assert with_lists.meta == {"k": "c"}  # lists are not metadata


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "r.jsonl").write_text('{"k": 1}\n{oops\n')
    with pytest.raises(KnowledgeError, match=r"r\.jsonl line 1: not valid JSON \(.*\); fix the file$"):
        read_files(_src(tmp_path, key="k"), tmp_path)


def test_csv_cells_become_numbers_and_ids_carry_the_relative_path(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.CSV").write_text("name,limit,rate\nalpha,10,0.5\nbeta,x,\n")
    chunks = read_files(_src(tmp_path), tmp_path)
    assert [c.chunk_id for c in chunks] == ["kb:sub/t.CSV[1]", "kb:sub/t.CSV[2]"]
    assert chunks[0].meta == {"name": "alpha", "limit": 10, "rate": 0.5}
    assert chunks[0].text == "name: alpha\nlimit: 10\nrate: 0.5"
    assert chunks[1].meta == {"name": "beta", "limit": "x", "rate": ""}


def test_the_glob_selects_files_and_a_relative_path_is_from_the_spec(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("# A\n\nx\n")
    (tmp_path / "kb" / "b.txt").write_text("y\n")
    chunks = read_files(KnowledgeSourceIR(id="kb", path="kb", glob="*.txt"), tmp_path)
    assert [c.chunk_id for c in chunks] == ["kb:b.txt#p1"] and chunks[0].meta == {"doc": "b.txt"}


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(KnowledgeError, match=r"bad\.txt is not UTF-8 text \(.*\); convert it$"):
        read_files(_src(f), tmp_path)
