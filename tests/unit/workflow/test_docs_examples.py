"""The examples in the docs are run, so the docs cannot drift from the code.

docs/spec.md: every ```yaml block that is a whole spec (first line past comments is `workflow:`) parses;
one whose first comment says "broken" must fail, and the output printed after it must be the real one.
The claims example is shown verbatim, and the topology tables and diagram match the real topology.
docs/dsl.md: every ```python block runs, in order, in one namespace, and prints what the page shows.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from dana_workflows.processors.pipeline import compile_pipeline
from dana_workflows.schemas.registry import FileRegistry
from dana_workflows.streams.topology import Topology
from dana_workflows.workflow.cel_expr import EvaluationError, ExpressionError, compile_expr
from dana_workflows.workflow.errors import SpecError
from dana_workflows.workflow.spec import parse_spec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def blocks(doc: str, lang: str) -> list[str]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def _first_comment(block: str) -> str:
    first = block.lstrip().splitlines()[0]
    return first if first.startswith("#") else ""


def _is_spec(block: str) -> bool:
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and lines[0].startswith("workflow:")


SPEC_BLOCKS = [b for b in blocks("spec.md", "yaml") if _is_spec(b)]
GOOD_SPECS = [b for b in SPEC_BLOCKS if "broken" not in _first_comment(b)]
BROKEN_SPECS = [b for b in SPEC_BLOCKS if "broken" in _first_comment(b)]


def _name(block: str) -> str:
    return str(YAML(typ="safe").load(block)["workflow"])


def test_spec_md_has_examples() -> None:
    assert len(GOOD_SPECS) >= 5 and len(BROKEN_SPECS) == 1


@pytest.mark.parametrize("block", GOOD_SPECS, ids=[_name(b) for b in GOOD_SPECS])
def test_spec_md_example_parses_and_compiles(block: str) -> None:
    ir = parse_spec(block, "docs/spec.md")
    if not any(s.kind == "llm" for s in ir.steps):  # llm processors need settings, not needed here
        compile_pipeline(ir)


@pytest.mark.parametrize("block", GOOD_SPECS, ids=[_name(b) for b in GOOD_SPECS])
def test_spec_md_example_passes_the_json_schema(block: str) -> None:
    schema = json.loads((DOCS / "spec.schema.json").read_text(encoding="utf-8"))
    errors = [
        e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(YAML(typ="safe").load(block))
    ]
    assert errors == []


def test_broken_example_shows_the_real_validate_output() -> None:
    (block,) = BROKEN_SPECS
    file = _first_comment(block).lstrip("# ").split(":")[0]
    with pytest.raises(SpecError) as exc:
        parse_spec(block, file)
    shown = next(b for b in blocks("spec.md", "text") if b.startswith(f"$ dana-wf validate {file}\n"))
    assert shown == f"$ dana-wf validate {file}\n✗ {exc.value}\n"


def test_claims_example_is_shown_verbatim() -> None:
    claims = (DOCS / "examples" / "claims" / "claims.yaml").read_text(encoding="utf-8")
    assert claims.strip() + "\n" in blocks("spec.md", "yaml")


def _topology_of(spec_block: str) -> Topology:
    return Topology(compile_pipeline(parse_spec(spec_block, "docs/spec.md")), FileRegistry())


def _shown_rows(command: str) -> list[tuple[str, ...]]:
    shown = next(b for b in blocks("spec.md", "text") if b.startswith(command + "\n"))
    return [tuple(line.split()[:3]) for line in shown.splitlines()[2:]]


def _real_rows(topology: Topology) -> list[tuple[str, ...]]:
    consumers = topology.pipeline.consumers
    return [(b, t.topic, consumers.get(b, "-")) for b, t in topology.topics.items()]


def test_topology_tables_match_the_real_topology() -> None:
    claims = (DOCS / "examples" / "claims" / "claims.yaml").read_text(encoding="utf-8")
    rows = _shown_rows("$ dana-wf topology docs/examples/claims/claims.yaml")
    assert rows == _real_rows(_topology_of(claims))
    branches = next(b for b in GOOD_SPECS if _name(b) == "claims-branches")
    assert _shown_rows("$ dana-wf topology claims-branches.yaml") == _real_rows(_topology_of(branches))


def test_topology_diagram_is_the_real_one() -> None:
    claims = (DOCS / "examples" / "claims" / "claims.yaml").read_text(encoding="utf-8")
    real = _topology_of(claims).mermaid()
    assert real + "\n" in blocks("spec.md", "mermaid")


def test_spec_md_links_the_anchors_the_parser_cites() -> None:
    """Parser messages say 'see docs/spec.md#expressions' and '#llm': those headings must exist."""
    headings = re.findall(r"^#+ (.+)$", (DOCS / "spec.md").read_text(encoding="utf-8"), re.MULTILINE)
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
    assert {"expressions", "llm", "route", "reference"} <= anchors


def test_dsl_md_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = blocks("dsl.md", "python")
    assert len(code) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "dsl_md"}
    for i, block in enumerate(code):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(block, f"docs/dsl.md[python block {i}]", "exec"), namespace)
        except Exception as exc:  # name the block, so a broken doc is easy to find
            raise AssertionError(f"docs/dsl.md python block {i} fails: {exc!r}\n{block}") from exc
        # what a block prints is shown under it as whole-line comments: "# <output line>"
        shown = [ln.strip()[2:] for ln in block.splitlines() if ln.strip().startswith("# ")]
        assert out.getvalue().splitlines() == shown, f"docs/dsl.md python block {i} prints something else"


ERROR = object()
NOT_CEL = object()
SCOPE = {"amount": 12.5, "qty": 3, "channel": None, "currency": " eur ", "description": "car stolen"}
# What docs/expressions.md says about this CEL implementation; if an upgrade changes one, update the page.
EXPRESSION_CLAIMS: list[tuple[str, object]] = [
    ("amount * 2", ERROR),
    ("amount * 2.0", 25.0),
    ("qty * 1.5", ERROR),
    ("double(qty) * 1.5", 4.5),
    ("amount + qty", ERROR),
    ("int(amount) * 2", 24),
    ("amount > 0", True),
    ("qty <= 2.5", False),
    ("qty in [1.0, 3.0]", True),
    ("7 / 2", 3),
    ("amount % 2.0", ERROR),
    ("int(-1.7)", -1),
    ("string(12.5)", "12.5"),
    ("string(true)", ERROR),
    ("size('héllo')", 6),
    ("'EUR'.matches('^[A-Z]{3}$')", True),
    ("'web'.matches('e')", True),
    ("upper(trim(currency))", "EUR"),
    ("round2(10.0 / 3.0)", 3.33),
    ("upper(channel)", None),
    ("channel == 'web'", False),
    ("channel != null && channel.startsWith('w')", False),
    ("channel.startsWith('w')", ERROR),
    ("has(channel)", NOT_CEL),
    ("['stolen', 'fire'].exists(w, description.contains(w))", True),
    ("abs(-1)", ERROR),
]


@pytest.mark.parametrize(("expr", "expected"), EXPRESSION_CLAIMS, ids=[e for e, _ in EXPRESSION_CLAIMS])
def test_expressions_md_claims_hold(expr: str, expected: object) -> None:
    if expected is NOT_CEL:
        with pytest.raises(ExpressionError):
            compile_expr(expr)
        return
    compiled = compile_expr(expr)
    if expected is ERROR:
        with pytest.raises(EvaluationError):
            compiled.evaluate(SCOPE)
        return
    assert compiled.evaluate(SCOPE) == expected
