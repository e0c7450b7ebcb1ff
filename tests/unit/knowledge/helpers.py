"""Small builders shared by the knowledge tests."""

from __future__ import annotations

from typing import Any

from dana_workflows.knowledge.chunks import Chunk, make_chunk


def policy_chunks(n: int = 30) -> list[Chunk]:
    """n policies of the same template (terms + exclusions), and a few general guidelines."""
    out = []
    for i in range(1, n + 1):
        pid = f"P-{1000 + i}"
        meta: dict[str, Any] = {"policy_id": pid, "limit_usd": 1000 * i}
        out.append(
            make_chunk(
                f"policies:{pid}.md#terms",
                "policies",
                f"Policy {pid} / Terms\nPolicy {pid} pays at most {1000 * i} USD per claim.",
                {**meta, "section": "terms"},
            )
        )
        out.append(
            make_chunk(
                f"policies:{pid}.md#exclusions",
                "policies",
                f"Policy {pid} / Exclusions\nPolicy {pid} does not cover flood or earthquake.",
                {**meta, "section": "exclusions"},
            )
        )
    for peril, docs in (
        ("water", "a plumber's report"),
        ("theft", "a police report"),
        ("fire", "the brigade report"),
    ):
        out.append(
            make_chunk(
                f"guidelines:{peril}.md#evidence",
                "guidelines",
                f"Handling {peril} claims\nA {peril} damage claim needs {docs} and photos.",
                {"peril": peril},
            )
        )
    return out
