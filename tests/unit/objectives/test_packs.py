from __future__ import annotations

from pathlib import Path

import pytest

from dana_workflows.objectives.domain_packs import PackError, load_pack

pytestmark = pytest.mark.unit


def test_child_pack_inherits_and_wins() -> None:
    pack = load_pack("finance:lending")
    assert pack.chain == ["finance:lending", "finance", "core"]
    first = pack.priors_for("age", "long")[0]
    assert first.pack == "finance:lending" and first.spec.range == (18, 120)
    assert any(p.pack == "core" for p in pack.priors_for("currency", "string"))


def test_unknown_pack_suggests_the_closest() -> None:
    with pytest.raises(PackError, match="did you mean 'insurance'"):
        load_pack("insurence")


def test_user_pack_from_a_directory(tmp_path: Path) -> None:
    (tmp_path / "telco.yaml").write_text(
        "name: telco\nfields:\n  - names: [msisdn]\n    types: [string]\n    format: '^[0-9]{8,15}$'\n"
    )
    pack = load_pack("telco", (tmp_path,))
    assert pack.chain == ["telco", "core"]
    assert pack.priors_for("msisdn", "string")[0].spec.format == "^[0-9]{8,15}$"
    (tmp_path / "bad.yaml").write_text("name: bad\nfields:\n  - names: [x]\n")
    with pytest.raises(PackError, match="exactly one of range, values, format"):
        load_pack("telco", (tmp_path,))
