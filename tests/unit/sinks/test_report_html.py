"""The compliance report an auditor is handed (issue 20): HTML from a jinja2 template with pass and fail in
colour, hashes in monospace, values by Avro type and the journey as an SVG; and the same page as a PDF."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from dana_workflows.sinks.audit_model import AuditRow
from dana_workflows.sinks.report_html import format_value, render_report_html, write_report_pdf
from dana_workflows.streams.embedded import run

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
OVER_LIMIT = (  # auto-pay of 379.45 on a policy limit of 250: the objective rejects it
    '{"claim_id": "C000001", "policy_id": "P00968", "policy_limit": 250.0, "amount": 379.45, '
    '"currency": "USD", "description": "fire in <garage>", "submitted_at": 1767225639, "channel": "phone"}'
)
SMALL = (  # 120 USD on a 5000 limit: paid automatically, every rule passes
    '{"claim_id": "C000002", "policy_id": "P00763", "policy_limit": 5000.0, "amount": 120.0, '
    '"currency": "USD", "description": "hail on car roof", "submitted_at": 1767225676, "channel": "agent"}'
)


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[AuditRow]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path_factory.mktemp('schemas')}")
        result = run(CLAIMS, [OVER_LIMIT, SMALL])
    outcomes = [d.outcome for d in result.decisions]
    assert outcomes == ["rejected", "out"]
    return {
        d.outcome: [r for r in result.audit_rows if r.run_id == d.run_id and r.kind != "drift"]
        for d in result.decisions
    }


@pytest.mark.parametrize(
    ("value", "avro_type", "text"),
    [
        (402.09400000000005, None, "402.094"),  # binary noise of a computed double is not shown
        (250.0, "double", "250.0"),  # still reads as a double
        (3, "double", "3.0"),
        (1767225639, None, "1767225639"),  # a long stays whole, no separators, no exponent
        (True, None, "true"),
        (None, "string", "null"),
        ("EUR", None, "EUR"),
        ({"b": 1, "a": [1, 2]}, None, '{"a":[1,2],"b":1}'),
    ],
)
def test_values_are_written_by_their_avro_type(value: object, avro_type: str | None, text: str) -> None:
    assert format_value(value, avro_type).text == text


def test_a_rejected_journey_shows_the_failed_rule_in_red(journeys: dict[str, list[AuditRow]]) -> None:
    page = render_report_html(journeys["rejected"])
    assert "**" not in page and "`" not in page  # no raw Markdown
    assert '<span class="badge fail">rejected</span> at <code>enforce_objective</code>' in page
    failed = re.findall(r"<code>(\w+)</code></td>\s*<td><span class=\"badge fail\">fail</span>", page)
    assert failed == ["within_limit"]
    passed = re.findall(r"<code>(\w+)</code></td>\s*<td><span class=\"badge pass\">pass</span>", page)
    assert set(passed) >= {"positive_amount", "known_currency"}
    assert 'policy_limit</span>&nbsp;=&nbsp;<span class="num">250.0</span>' in page
    assert "fire in &lt;garage&gt;" in page and "<garage>" not in page  # values are escaped


def test_hashes_are_whole_and_monospaced(journeys: dict[str, list[AuditRow]]) -> None:
    rows = journeys["rejected"]
    page = render_report_html(rows)
    for row in rows:
        assert f'<td class="hash">{row.hash}</td>' in page and len(row.hash) == 64
    assert re.search(r"code, \.hash \{ font-family: [^}]*monospace", page)


def test_the_journey_is_a_picture_of_every_transition(journeys: dict[str, list[AuditRow]]) -> None:
    rows = journeys["rejected"]
    page = render_report_html(rows)
    svg = page[page.index("<svg") : page.index("</svg>")]
    boxes = re.findall(r'<g class="step (\w+)">', svg)
    assert len(boxes) == len(rows)
    assert boxes[-1] == "fail" and "fail" not in boxes[:-1]
    assert svg.count("<line ") == len(rows) - 1  # an arrow between consecutive transitions
    assert "fail" not in re.findall(r'<g class="step (\w+)">', render_report_html(journeys["out"]))


def test_the_pdf_holds_the_report(journeys: dict[str, list[AuditRow]], tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    rows = journeys["rejected"]
    path = tmp_path / "report.pdf"
    write_report_pdf(rows, path)
    assert path.read_bytes().startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(path.read_bytes())).pages)
    flat = re.sub(r"\s+", "", text)
    assert (
        rows[0].run_id in flat and "within_limit" in flat and "never auto-pay above the policy limit" in text
    )
    assert rows[-1].hash in flat  # whole, even where the PDF wraps it
