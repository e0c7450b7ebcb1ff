"""A decision diff as text, JSON and an HTML page (jinja2): changes grouped by cause, counts, samples."""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from dana_workflows.cli.diff_replay import Change, Replay


@dataclass(slots=True)
class Group:
    causes: tuple[str, ...]
    changes: list[Change] = field(default_factory=list)
    expected: bool = False

    @property
    def label(self) -> str:
        return " + ".join(self.causes)

    def moves(self) -> Counter[str]:
        return Counter(f"{c.old}  ->  {c.new}" for c in self.changes)


def group(changes: list[Change], expect: list[str]) -> list[Group]:
    """Changes by cause, largest first; a group is expected when every cause matches an --expect pattern."""
    groups: dict[tuple[str, ...], Group] = {}
    for change in changes:
        groups.setdefault(change.causes, Group(change.causes)).changes.append(change)
    for g in groups.values():
        g.expected = all(any(fnmatch.fnmatchcase(c, p) for p in expect) for c in g.causes)
    return sorted(groups.values(), key=lambda g: (-len(g.changes), g.label))


def text(groups: list[Group], old: Replay, new: Replay, events: int, samples: int) -> list[str]:
    changed = sum(len(g.changes) for g in groups)
    lines = [f"{events} events replayed through both versions: {changed} decisions changed"]
    for outcome in sorted(old.outcomes.keys() | new.outcomes.keys()):
        lines.append(f"  {outcome:<12} {old.outcomes[outcome]:>8} -> {new.outcomes[outcome]:<8}")
    for g in groups:
        mark = "expected" if g.expected else "UNEXPECTED"
        lines.append(f"\n{g.label}: {len(g.changes)} events ({mark})")
        lines.append(f"  {g.changes[0].detail}")
        for move, n in g.moves().most_common():
            lines.append(f"  {n:>6}  {move}")
        for c in g.changes[:samples]:
            lines.append(f"  e.g. #{c.index}: {c.line[:160]}")
    if new.llm_misses:
        lines.append(
            f"\n{new.llm_misses} events of the new version needed an LLM reply that was never recorded"
        )
    return lines


def as_json(groups: list[Group], path: Path) -> None:
    records: list[dict[str, Any]] = [{**asdict(c), "expected": g.expected} for g in groups for c in g.changes]
    path.write_text(json.dumps({"changes": records}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Decision diff: {{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 72rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
.unexpected { color: #a40000; } .expected { color: #2e6b00; }
code { font-size: .85rem; word-break: break-all; }
</style></head><body>
<h1>Decision diff</h1>
<p>{{ old_name }} &rarr; {{ new_name }}: {{ events }} events replayed,
<strong>{{ changed }}</strong> decisions changed ({{ unexpected }} unexpected).</p>
<table><tr><th>outcome</th><th>old</th><th>new</th></tr>
{% for o in outcomes %}
<tr><td>{{ o.name }}</td><td>{{ o.old }}</td><td>{{ o.new }}</td></tr>
{% endfor %}
</table>
{% for g in groups %}
<h2 class="{{ 'expected' if g.expected else 'unexpected' }}">{{ g.label }}: {{ g.changes|length }} events
({{ 'expected' if g.expected else 'unexpected' }})</h2>
<p>{{ g.changes[0].detail }}</p>
<table><tr><th>events</th><th>old decision</th><th>new decision</th></tr>
{% for move, n in g.moves().most_common() %}{% set parts = move.split('  ->  ') %}
<tr><td>{{ n }}</td><td>{{ parts[0] }}</td><td>{{ parts[1] }}</td></tr>{% endfor %}
</table>
<details><summary>sample events</summary><ul>
{% for c in g.changes[:samples] %}<li>#{{ c.index }} <code>{{ c.line }}</code></li>{% endfor %}
</ul></details>
{% endfor %}
</body></html>
"""


def html(
    groups: list[Group], old: Replay, new: Replay, names: tuple[str, str], events: int, samples: int
) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    outcomes = [
        {"name": o, "old": old.outcomes[o], "new": new.outcomes[o]}
        for o in sorted(old.outcomes.keys() | new.outcomes.keys())
    ]
    return env.from_string(_PAGE).render(
        title=f"{names[0]} -> {names[1]}",
        old_name=names[0],
        new_name=names[1],
        events=events,
        changed=sum(len(g.changes) for g in groups),
        unexpected=sum(len(g.changes) for g in groups if not g.expected),
        outcomes=outcomes,
        groups=groups,
        samples=samples,
    )
