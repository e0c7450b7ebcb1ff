"""The HTML report in a real browser (issue 20): headless Chromium renders it and the screenshot shows the
colours the page promises: red where a rule failed, green where rules passed, no red on a clean journey.

Chromium is Debian's `chromium` package; tests/run-all.sh installs it. Without it this test is skipped, and
under `--strict-skips` (CI) that skip fails the run: it is on no allow-list (tests/skip_policy.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dana_workflows.sinks.report_html import KIND_FILLS, render_report_html
from dana_workflows.streams.embedded import run

pytestmark = pytest.mark.e2e
Image = pytest.importorskip("PIL.Image")

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "docs" / "examples" / "claims" / "claims.yaml"
EVENTS = (ROOT / "docs" / "examples" / "claims" / "events.jsonl").read_text().splitlines()[:3]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def _screenshot(html: Path, png: Path) -> None:
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={png.parent / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1400,1400",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]


def _pixels_of(png: Path, colour: str) -> int:
    image = Image.open(png).convert("RGB")
    want = _rgb(colour)
    return sum(
        n
        for n, rgb in image.getcolors(maxcolors=1 << 20) or []
        if all(abs(a - b) <= 6 for a, b in zip(rgb, want, strict=True))
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (tests/run-all.sh installs Debian's chromium)"
)
def test_chromium_renders_fail_in_red_and_pass_in_green(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DWF_SCHEMA_REGISTRY", f"file://{tmp_path / 'schemas'}")
    result = run(CLAIMS, EVENTS)
    by_outcome = {d.outcome: d.run_id for d in result.decisions}
    assert {"rejected", "out"} <= set(by_outcome)  # C000001 breaks the limit, C000002 is paid
    shots = {}
    for outcome in ("rejected", "out"):
        rows = [r for r in result.audit_rows if r.run_id == by_outcome[outcome] and r.kind != "drift"]
        page = tmp_path / f"{outcome}.html"
        page.write_text(render_report_html(rows), encoding="utf-8")
        shots[outcome] = tmp_path / f"{outcome}.png"
        _screenshot(page, shots[outcome])
    red, green = KIND_FILLS["fail"], KIND_FILLS["pass"]
    assert _pixels_of(shots["rejected"], red) > 2000  # the failed rule, the rejected step, the final badge
    assert _pixels_of(shots["rejected"], green) > 2000  # the rules and steps that passed
    assert _pixels_of(shots["out"], red) == 0  # a clean journey has no red anywhere
    assert _pixels_of(shots["out"], green) > 2000
