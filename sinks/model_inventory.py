"""The model inventory: every model the workflows used, read from the audit log, matched to the registry.

Use is derived from the audit rows, never kept on the side: the log is insert-only and hash-chained, so
first and last use cannot drift from what really ran. A row records a use when its details name the model
the LLM client used (``dwf.llm.model_used``: answers, cache hits, the POET phase rows) or asked for
(``gen_ai.request.model``: also calls that failed). The version is what the provider said answered
(``gen_ai.response.model``, e.g. a dated snapshot behind an alias); the provider is the client's
``gen_ai.provider.name`` at ``server.address``.

Owner and risk tier come from the registry (settings ``models``, docs/compliance.md). A model used but not
registered, or answering as a version the registry does not name, is a finding the report shows loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dana_workflows.core.settings import ModelRecord
from dana_workflows.sinks.audit_model import AUDIT_TABLE, AuditStore, store_database
from dana_workflows.sinks.audit_scope import AuditScope, utc_text

REGISTERED = "registered"
UNREGISTERED = "unregistered"
VERSION_MISMATCH = "version not registered"
UNUSED = "registered, not used"

# visitParamExtractString: the flat-JSON extractor ClickHouse 18.16 already has (JSONExtract* came later)
_MODEL = (
    "if(visitParamExtractString(details, 'dwf.llm.model_used') != '', "
    "visitParamExtractString(details, 'dwf.llm.model_used'), "
    "visitParamExtractString(details, 'gen_ai.request.model'))"
)
_RECORDS_USE = (
    "(position(details, '\"dwf.llm.model_used\"') > 0 OR position(details, '\"gen_ai.request.model\"') > 0)"
)


@dataclass
class ModelEntry:
    """One model of the inventory: what the audit says of its use, and what the registry says of it."""

    id: str
    versions: list[str] = field(default_factory=list)  # as the provider reported them
    providers: list[str] = field(default_factory=list)  # name@server
    workflows: list[str] = field(default_factory=list)
    first_use_us: int | None = None
    last_use_us: int | None = None
    rows: int = 0  # audit rows recording a use
    runs: int = 0  # runs (input events) that used it
    owner: str = ""
    risk_tier: str = ""
    registered_version: str = ""
    registered_provider: str = ""
    status: str = UNREGISTERED

    @property
    def flagged(self) -> bool:
        return self.status in (UNREGISTERED, VERSION_MISMATCH)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "versions": self.versions,
            "providers": self.providers,
            "workflows": self.workflows,
            "owner": self.owner,
            "risk_tier": self.risk_tier,
            "registered_version": self.registered_version,
            "registered_provider": self.registered_provider,
            "status": self.status,
            "first_use_us": self.first_use_us,
            "last_use_us": self.last_use_us,
            "first_use": utc_text(self.first_use_us) if self.first_use_us is not None else None,
            "last_use": utc_text(self.last_use_us) if self.last_use_us is not None else None,
            "rows": self.rows,
            "runs": self.runs,
        }


def usage_sql(scope: AuditScope, database: str = "dwf") -> str:
    """One row per model used in scope: versions, providers, workflows, first and last use, rows, runs."""
    return (
        "SELECT model, groupUniqArray(version), groupUniqArray(provider), groupUniqArray(workflow), "
        "min(ts_us), max(ts_us), count(), uniqExact(workflow, run_id) FROM ("
        f"SELECT {_MODEL} AS model, visitParamExtractString(details, 'gen_ai.response.model') AS version, "
        "if(visitParamExtractString(details, 'gen_ai.provider.name') != '', "
        "concat(visitParamExtractString(details, 'gen_ai.provider.name'), '@', "
        "visitParamExtractString(details, 'server.address')), '') AS provider, workflow, run_id, ts_us "
        f"FROM {database}.{AUDIT_TABLE} WHERE {_RECORDS_USE} AND {scope.rows_where()}"
        ") WHERE model != '' GROUP BY model ORDER BY model"
    )


def used_models(store: AuditStore, scope: AuditScope) -> list[ModelEntry]:
    """The models the audit rows in scope record a use of (registry fields still empty)."""
    database = store_database(store)
    entries = []
    for model, versions, providers, workflows, first, last, rows, runs in store.query(
        usage_sql(scope, database)
    ).rows:
        entries.append(
            ModelEntry(
                id=str(model),
                versions=sorted(str(v) for v in versions if v),
                providers=sorted(str(p) for p in providers if p),
                workflows=sorted(str(w) for w in workflows),
                first_use_us=int(first),
                last_use_us=int(last),
                rows=int(rows),
                runs=int(runs),
            )
        )
    return entries


def match_registry(used: Sequence[ModelEntry], registry: Sequence[ModelRecord]) -> list[ModelEntry]:
    """Each used model with its registry entry (owner, risk tier, status), then the registered models
    nothing in scope used. Registered means the id is listed and, when the entry names a version, every
    version the provider reported is that one."""
    by_id = {record.id: record for record in registry}
    out: list[ModelEntry] = []
    for entry in used:
        record = by_id.get(entry.id)
        if record is None:
            entry.status = UNREGISTERED
        else:
            _fill(entry, record)
            stray = [v for v in entry.versions if v != record.version]
            entry.status = VERSION_MISMATCH if record.version and stray else REGISTERED
        out.append(entry)
    seen = {entry.id for entry in used}
    for record in registry:
        if record.id not in seen:
            unused = ModelEntry(id=record.id, status=UNUSED)
            _fill(unused, record)
            out.append(unused)
    return out


def _fill(entry: ModelEntry, record: ModelRecord) -> None:
    entry.owner = record.owner
    entry.risk_tier = record.risk_tier
    entry.registered_version = record.version
    entry.registered_provider = record.provider


def model_inventory(
    store: AuditStore, scope: AuditScope, registry: Sequence[ModelRecord]
) -> list[ModelEntry]:
    """The inventory of the scope: the models used (from the rows) matched to the registry."""
    return match_registry(used_models(store, scope), registry)
