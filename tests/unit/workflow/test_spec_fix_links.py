"""Every `docs/<page>.md#anchor` a fix in workflow/ points at is a heading the page has (GitHub's anchors:
lower case, backticks and punctuation dropped, spaces as hyphens)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r"docs/([\w-]+\.md)#([\w-]+)")


def _anchors(page: Path) -> set[str]:
    out = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def _links() -> list[tuple[str, str, str]]:
    found = []
    for source in sorted((ROOT / "workflow").rglob("*.py")):
        for page, anchor in LINK.findall(source.read_text()):
            found.append((source.name, page, anchor))
    return found


def test_the_anchor_rule_reads_headings_as_github_does() -> None:
    assert {"llm", "errors-you-may-see", "a-first-example-triaging-insurance-claims"} <= _anchors(
        ROOT / "docs" / "spec.md"
    )


@pytest.mark.parametrize(("source", "page", "anchor"), _links())
def test_every_fix_link_in_workflow_names_a_real_heading(source: str, page: str, anchor: str) -> None:
    assert anchor in _anchors(ROOT / "docs" / page), f"{source}: docs/{page}#{anchor}"
