""" "No --domain means the core pack" has one home (objectives/domain_packs.pack_for), used by the CLI
and by infer_boundary for a library caller passing no pack; the built-in core is read once."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dana_workflows.objectives import domain_packs
from dana_workflows.objectives.domain_packs import load_pack, pack_for
from dana_workflows.objectives.infer import Boundary, infer_boundary
from dana_workflows.objectives.sample import parse_sample
from dana_workflows.objectives.settings import InferenceSettings
from dana_workflows.workflow.ir import FieldIR

pytestmark = pytest.mark.unit
S = InferenceSettings()
USER_CORE = (
    "name: core\nfields:\n  - names: [amount]\n    types: [double]\n    range: [0, 9000]\n    why: ours\n"
)


def _ranges(pack: domain_packs.DomainPack) -> dict[str, object]:
    return {n: p.spec.range for p in pack.priors for n in p.spec.names if p.spec.range is not None}


def test_no_domain_is_the_built_in_core() -> None:
    pack = pack_for(None)
    assert pack.chain == ["core"]
    assert _ranges(pack) == _ranges(load_pack("core"))
    assert _ranges(pack)["latitude"] == (-90, 90)


def test_no_domain_with_a_users_directory_is_the_users_core(tmp_path: Path) -> None:
    (tmp_path / "core.yaml").write_text(USER_CORE)
    pack = pack_for(None, (tmp_path,))
    assert _ranges(pack) == {"amount": (0, 9000)}  # the user's core replaces the built-in one
    # a named domain still ends at the user's core
    assert _ranges(pack_for("finance", (tmp_path,)))["amount"] == (0, 9000)


def test_a_users_directory_is_read_again_on_each_call(tmp_path: Path) -> None:
    (tmp_path / "core.yaml").write_text(USER_CORE)
    assert _ranges(pack_for(None, (tmp_path,)))["amount"] == (0, 9000)
    (tmp_path / "core.yaml").write_text(USER_CORE.replace("9000", "500"))
    assert _ranges(pack_for(None, (tmp_path,)))["amount"] == (0, 500)


def _boundary() -> Boundary:
    rng = random.Random(4)
    fields = [FieldIR(name="latitude", type="double")]
    lines = [json.dumps({"latitude": round(rng.uniform(-80.0, 88.0), 4)}) for _ in range(300)]
    fmap = {f.name: f for f in fields}
    sample, holdout = parse_sample(lines[:200], fields, "s"), parse_sample(lines[200:], fields, "h")
    return Boundary("input", fmap, sample, holdout)


def test_infer_boundary_without_a_pack_applies_the_core_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    real = domain_packs._read

    def counting(path: Path) -> domain_packs.PackFile:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(domain_packs, "_read", counting)
    domain_packs._builtin.cache_clear()
    first = infer_boundary(_boundary(), None, S)
    after_first = len(reads)
    second = infer_boundary(_boundary(), None, S)
    assert after_first > 0 and len(reads) == after_first  # the second boundary reads no file
    for result in (first, second):
        [rule] = [p for p in result.proposals if p.kind == "range"]
        assert "pack:core" in rule.basis and rule.rule.endswith("latitude <= 90.0")
