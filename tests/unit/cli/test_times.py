"""cli/times.py: the one reading of --since/--until (expected values worked out by hand from the forms)."""

from __future__ import annotations

import pytest
import typer

from dana_workflows.cli.times import parse_time_us, time_option_us

pytestmark = pytest.mark.unit

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "expected_us"),
    [
        ("2026-01-01", 1_767_225_600_000_000),  # a date: midnight UTC
        ("2026-01-01T01:00", 1_767_229_200_000_000),  # no zone: UTC
        ("2026-01-01T01:00:00+01:00", 1_767_225_600_000_000),  # a zone is honoured
        ("2026-01-01T00:00:00Z", 1_767_225_600_000_000),
        ("1767225600", 1_767_225_600_000_000),  # epoch seconds
        ("1767225600.5", 1_767_225_600_500_000),
        ("30m", 1_767_223_800_000_000),  # a span back from now
        ("2h", 1_767_218_400_000_000),
        ("7d", 1_766_620_800_000_000),
        ("45s", 1_767_225_555_000_000),
        (" 1h ", 1_767_222_000_000_000),
    ],
)
def test_every_accepted_form(text: str, expected_us: int) -> None:
    assert parse_time_us(text, NOW) == expected_us


@pytest.mark.parametrize("text", ["yesterday", "30 minutes", "2h ago", "", "1w"])
def test_anything_else_is_refused_naming_the_forms(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stop:
        time_option_us(text, "--since", now=lambda: NOW)
    assert stop.value.exit_code == 2
    err = capsys.readouterr().err
    assert f"--since {text!r} is not a time" in err and "ISO" in err and "30m" in err


def test_no_option_is_no_bound() -> None:
    assert time_option_us(None, "--until", now=lambda: NOW) is None
    assert time_option_us("2h", "--until", now=lambda: NOW) == 1_767_218_400_000_000
