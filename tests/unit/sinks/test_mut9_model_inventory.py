"""The model inventory's registry match (sinks/model_inventory.py ``match_registry``), from its docstring:
each used model with its registry entry (owner, risk tier, registered version and provider), registered
when the id is listed and every version the provider reported is the registered one (when one is named),
a used model the registry lacks flagged as unregistered, and registered models nothing used listed after.
"""

from __future__ import annotations

import pytest

from dana_workflows.core.settings import ModelRecord
from dana_workflows.sinks.model_inventory import (
    REGISTERED,
    UNREGISTERED,
    UNUSED,
    VERSION_MISMATCH,
    ModelEntry,
    match_registry,
)

pytestmark = pytest.mark.unit

REGISTRY = [
    ModelRecord(id="gpt-x", version="gpt-x-2025", provider="openai", owner="claims team", risk_tier="high"),
    ModelRecord(id="small", owner="ops", risk_tier="minimal"),
    ModelRecord(id="idle", version="v1", provider="local", owner="lab", risk_tier="limited"),
]


def test_used_models_are_matched_and_unused_ones_listed_after() -> None:
    used = [
        ModelEntry(id="gpt-x", versions=["gpt-x-2025"], rows=4, runs=2),
        ModelEntry(id="small", versions=["small-a", "small-b"]),  # no version registered: any will do
        ModelEntry(id="rogue", versions=["r1"]),
    ]
    out = match_registry(used, REGISTRY)
    assert [(e.id, e.status) for e in out] == [
        ("gpt-x", REGISTERED),
        ("small", REGISTERED),
        ("rogue", UNREGISTERED),
        ("idle", UNUSED),
    ]
    gpt = out[0]
    assert (gpt.owner, gpt.risk_tier, gpt.registered_version, gpt.registered_provider) == (
        "claims team",
        "high",
        "gpt-x-2025",
        "openai",
    )
    assert (gpt.rows, gpt.runs) == (4, 2)
    idle = out[3]
    assert (idle.owner, idle.risk_tier, idle.registered_version, idle.registered_provider) == (
        "lab",
        "limited",
        "v1",
        "local",
    )
    assert (idle.rows, idle.first_use_us, idle.versions) == (0, None, [])
    assert (out[2].owner, out[2].risk_tier) == ("", "")
    assert [e.flagged for e in out] == [False, False, True, False]


def test_a_version_the_registry_does_not_name_is_flagged() -> None:
    [entry, _, _] = match_registry([ModelEntry(id="gpt-x", versions=["gpt-x-2025", "gpt-x-2026"])], REGISTRY)
    assert entry.status == VERSION_MISMATCH
    assert entry.flagged
    [entry, _, _] = match_registry([ModelEntry(id="gpt-x", versions=[])], REGISTRY)  # no version reported
    assert entry.status == REGISTERED


def test_as_dict_shows_times_in_utc_or_none() -> None:
    entry = ModelEntry(id="m", first_use_us=0, last_use_us=1_500_000)
    d = entry.as_dict()
    assert (d["first_use"], d["last_use"]) == (
        "1970-01-01 00:00:00.000000 UTC",
        "1970-01-01 00:00:01.500000 UTC",
    )
    assert ModelEntry(id="m").as_dict()["first_use"] is None
    assert d["status"] == UNREGISTERED
