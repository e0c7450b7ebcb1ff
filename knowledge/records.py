"""Records (JSON objects, CSV rows, table rows, audit decisions) -> chunks: one chunk per record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dana_workflows.knowledge.chunks import Chunk, make_chunk
from dana_workflows.knowledge.errors import KnowledgeError
from dana_workflows.workflow.knowledge_ir import KnowledgeSourceIR


def scalar(value: Any) -> Any:
    """A record value as chunk metadata: numbers stay numbers (CSV text that parses as one becomes one)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = str(value)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def record_chunks(
    source: KnowledgeSourceIR, records: Iterable[Mapping[str, Any]], where: str, updated_us: int = 0
) -> list[Chunk]:
    """One chunk per record; its id is the `key` field's value (else its position in `where`)."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for n, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise KnowledgeError(
                f"source {source.id!r}: {where} record {n} is not an object; give a list of objects"
            )
        meta = {str(k): scalar(v) for k, v in record.items() if not isinstance(v, dict | list)}
        if source.key is not None:
            if record.get(source.key) in (None, ""):
                raise KnowledgeError(
                    f"source {source.id!r}: {where} record {n} has no {source.key!r} (the source's key); "
                    "give every record one, or change key"
                )
            name = str(record[source.key])
        else:
            name = f"{where}[{n}]"
        if name in seen:
            raise KnowledgeError(
                f"source {source.id!r}: two records in {where} have the key {name!r}; keys must be unique"
            )
        seen.add(name)
        fields = source.text or tuple(str(k) for k in record)
        text = "\n".join(f"{f}: {record[f]}" for f in fields if f in record and record[f] not in (None, ""))
        chunks.append(make_chunk(f"{source.id}:{name}", source.id, text, meta, updated_us))
    return chunks
