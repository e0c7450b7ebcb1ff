"""Splitting documents into chunks: Markdown by headings, plain text by paragraphs, each under a size.

Section ids come from the headings, so editing one section leaves the ids (and versions) of the others
unchanged; a section too long for one chunk is cut at paragraph ends into parts ``~2``, ``~3``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dana_workflows.knowledge.chunks import slug
from dana_workflows.knowledge.tokens import EstimatingCounter

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_COUNTER = EstimatingCounter()  # sizes chunks the same way on every machine, whatever is installed


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # the id part: heading slug (with -2, -3 for repeats) and ~N for parts
    heading: str
    body: str


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(YAML front matter or None, the rest) of a Markdown document."""
    if not text.startswith("---"):
        return None, text
    lines = text.splitlines(keepends=True)
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return None, text


def markdown_sections(text: str, max_tokens: int) -> tuple[str, list[Section]]:
    """(the document's first H1 or "", its sections split to size)."""
    title = ""
    raw: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            heading = m.group(2).strip()
            if not title and len(m.group(1)) == 1:
                title = heading
            raw.append((heading, []))
        else:
            raw[-1][1].append(line)
    seen: dict[str, int] = {}
    out: list[Section] = []
    for heading, lines in raw:
        body = "\n".join(lines).strip()
        if not body:
            continue
        base = slug(heading) if heading else "intro"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}-{seen[base]}"
        out.extend(_parts(key, heading, body, max_tokens))
    return title, out


def text_sections(text: str, max_tokens: int) -> list[Section]:
    """Plain text: paragraphs grouped under the size, ids p1, p2, ... in order."""
    out: list[Section] = []
    for n, part in enumerate(_pack(_paragraphs(text), max_tokens), start=1):
        out.append(Section(f"p{n}", "", part))
    return out


def _parts(key: str, heading: str, body: str, max_tokens: int) -> Iterator[Section]:
    for n, part in enumerate(_pack(_paragraphs(body), max_tokens), start=1):
        yield Section(key if n == 1 else f"{key}~{n}", heading, part)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _pack(paragraphs: list[str], max_tokens: int) -> Iterator[str]:
    """Consecutive paragraphs joined while they fit; a paragraph larger than the size is cut at words."""
    pieces = (piece for para in paragraphs for piece in _fit(para, max_tokens))
    return _greedy(pieces, max_tokens, "\n\n", _COUNTER.count)


def _fit(para: str, max_tokens: int) -> Iterator[str]:
    if _COUNTER.count(para) <= max_tokens:
        return iter([para])
    # each word with the blank before it, counted as a token of its own
    return _greedy(para.split(), max_tokens, " ", lambda word: _COUNTER.count(word) + 1)


def _greedy(items: Iterable[str], max_tokens: int, sep: str, size: Callable[[str], int]) -> Iterator[str]:
    """Items joined by `sep` into runs of at most `max_tokens` (an item larger than that stands alone)."""
    current: list[str] = []
    used = 0
    for item in items:
        n = size(item)
        if current and used + n > max_tokens:
            yield sep.join(current)
            current, used = [], 0
        current.append(item)
        used += n
    if current:
        yield sep.join(current)
