"""The spec's knowledge sections: the sources a workflow draws on, and how one llm step uses them.

Declared here (the IR), read by dana_workflows.knowledge (ingest, quality, assembly, validation).
See docs/context.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SourceKind = Literal["files", "clickhouse", "audit"]
SourceRole = Literal["knowledge", "examples", "memory"]
SECTION_NAMES: tuple[str, ...] = ("instructions", "knowledge", "examples", "memory", "output")
DEFAULT_SECTIONS: dict[str, float] = {
    "instructions": 0.15,
    "knowledge": 0.40,
    "examples": 0.25,
    "memory": 0.10,
    "output": 0.10,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KnowledgeSourceIR(_Model):
    """One source: files or a folder, a ClickHouse table or query, or the audit log's earlier decisions."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: SourceKind = "files"
    role: SourceRole = "knowledge"  # which budget section its chunks fill
    # files: a file or a folder (relative to the spec's folder); Markdown, text, JSON, CSV
    path: str | None = None
    glob: str = "**/*"
    # clickhouse: a table or a SELECT, on the server a DSN names (default: the knowledge store's)
    table: str | None = None
    query: str | None = None
    dsn: str | None = None
    # records (JSON, CSV, tables, audit): the field that names a record (its chunk id); text fields
    key: str | None = None
    text: tuple[str, ...] = ()  # fields rendered into the chunk's text (default: all of them)
    # audit: earlier decisions of an llm step that remembers them (its knowledge.remember)
    workflow: str | None = None  # default: the spec's own workflow
    step: str | None = None
    by: str | None = None  # the remembered payload field that groups history (e.g. policy_id)
    limit: int = Field(default=10_000, ge=1)  # rows read from a query or the audit log
    # quality
    trust: float = Field(default=0.7, ge=0.0, le=1.0)
    max_age_days: float | None = Field(default=None, gt=0)  # older than this: not fresh
    shape: tuple[str, ...] = ()  # metadata fields every chunk should have (completeness)
    # limits
    max_chunk_tokens: int = Field(default=160, ge=16)
    max_file_bytes: int = Field(default=2_000_000, ge=1)

    @model_validator(mode="after")
    def _kind_fields(self) -> KnowledgeSourceIR:
        if self.kind == "files" and not self.path:
            raise ValueError(f"source {self.id!r}: a files source needs path (a file or a folder)")
        if self.kind == "clickhouse" and bool(self.table) == bool(self.query):
            raise ValueError(f"source {self.id!r}: a clickhouse source needs exactly one of table, query")
        if self.kind == "clickhouse" and not self.key:
            raise ValueError(f"source {self.id!r}: a clickhouse source needs key (the column naming a row)")
        if self.kind == "audit" and not (self.by and self.step):
            raise ValueError(
                f"source {self.id!r}: an audit source needs step (an llm step that remembers) and by "
                "(the remembered payload field, e.g. policy_id)"
            )
        return self


class ExposeIR(_Model):
    """A payload field set from the fact's metadata: what the objective checks the answer against."""

    meta: str  # the chunk metadata field
    type: str = "string"  # an Avro primitive (checked with the spec's other types)


class RequiredFactIR(_Model):
    """A fact the step cannot do without: a chunk of `source` whose metadata match `where`."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    source: str
    where: dict[str, str] = Field(default_factory=dict)  # chunk metadata field -> payload field
    # payload field -> a metadata field of the fact's chunk: the values the model saw, for the objective
    expose: dict[str, ExposeIR] = Field(default_factory=dict)
    on_missing: Literal["recover", "flag"] = "recover"  # recover: no call, the step's recovery policy
    on_stale: Literal["recover", "flag"] = "flag"


class StepKnowledgeIR(_Model):
    """How one llm step draws on the workflow's knowledge."""

    sources: tuple[str, ...] = ()  # empty: every declared source
    query: str = ""  # Jinja2 over the payload: what to search for (default: the rendered prompt)
    where: dict[str, str] = Field(default_factory=dict)  # filter: chunk metadata field -> payload field
    budget: int = Field(default=2000, ge=1)  # tokens for the whole call (prompt, context, answer)
    sections: dict[str, float] = Field(default_factory=dict)  # overrides of DEFAULT_SECTIONS
    require: tuple[RequiredFactIR, ...] = ()
    mix_field: str | None = None  # payload field that receives the sources@versions used (drift)
    remember: tuple[str, ...] = ()  # payload fields recorded with the answer (an audit source reads them)
    max_age_s: float = Field(default=30.0, ge=0)  # how often a worker looks for newer syncs

    @model_validator(mode="after")
    def _check_sections(self) -> StepKnowledgeIR:
        unknown = sorted(set(self.sections) - set(SECTION_NAMES))
        if unknown:
            raise ValueError(f"unknown budget sections {unknown}; use {', '.join(SECTION_NAMES)}")
        if any(v < 0 for v in self.sections.values()):
            raise ValueError("budget sections are shares of the budget, each >= 0")
        total = sum(self.shares().values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"budget sections must add up to 1.0 (with the defaults they add up to {total:.3f})"
            )
        ids = [f.id for f in self.require]
        if len(ids) != len(set(ids)):
            raise ValueError("required facts need distinct ids")
        return self

    def shares(self) -> dict[str, float]:
        """Every section's share: the defaults, overridden by the sections the spec names."""
        return {k: float(self.sections.get(k, DEFAULT_SECTIONS[k])) for k in SECTION_NAMES}


class KnowledgeIR(_Model):
    sources: tuple[KnowledgeSourceIR, ...] = ()
    store: str | None = None  # DSN of the knowledge store (default: DWF_KNOWLEDGE_DSN)

    @model_validator(mode="after")
    def _unique(self) -> KnowledgeIR:
        ids = [s.id for s in self.sources]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate source ids {dup}; give every source its own id")
        return self
