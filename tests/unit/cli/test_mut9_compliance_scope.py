"""`dana-wf audit compliance`'s options (cli/compliance.py, docs/compliance.md): a report covers a run or a
period, never both or neither; a period must not be empty; a checkpoint directory must exist. A bad option
is one `error:` line and exit 2."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer

from dana_workflows.cli.compliance import checkpoint_status, scope_of
from dana_workflows.sinks.audit_scope import AuditScope
from dana_workflows.sinks.compliance import CheckpointStatus

pytestmark = pytest.mark.unit

DEC1, DEC2 = "2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"


def us(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()) * 1_000_000


def refused(capsys: pytest.CaptureFixture[str], *args: Any) -> str:
    with pytest.raises(typer.Exit) as info:
        scope_of(*args)
    assert info.value.exit_code == 2
    return " ".join(capsys.readouterr().err.split())


def test_a_run_or_a_period_not_both_nor_neither(capsys: pytest.CaptureFixture[str]) -> None:
    both = "error: name a run (--run-id) or a period (--since/--until), not both"
    assert refused(capsys, "r1", DEC1, None, None) == both
    assert refused(capsys, "r1", None, DEC2, None) == both
    neither = "error: name a run (--run-id ID) or a period (--since T and/or --until T)"
    assert refused(capsys, None, None, None, "claims") == neither


@pytest.mark.parametrize(("since", "until"), [(DEC2, DEC1), (DEC1, DEC1)])
def test_an_empty_period_is_refused(capsys: pytest.CaptureFixture[str], since: str, until: str) -> None:
    assert refused(capsys, None, since, until, None) == (
        f"error: --since {since} is not before --until {until}: the period is empty"
    )


def test_a_time_that_is_not_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert refused(capsys, None, "soonish", None, None).startswith(
        "error: --since 'soonish' is not a time: give "
    )


def test_the_scopes_it_makes() -> None:
    assert scope_of("r1", None, None, "claims") == AuditScope(run_id="r1", workflow="claims")
    assert scope_of(None, DEC1, DEC2, None) == AuditScope(since_us=us(DEC1), until_us=us(DEC2))
    assert scope_of(None, None, DEC2, "w") == AuditScope(until_us=us(DEC2), workflow="w")
    assert scope_of(None, DEC1, None, None) == AuditScope(since_us=us(DEC1))


def test_no_checkpoint_location_checks_nothing_and_a_missing_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store: Any = object()  # never asked: the location is refused before the store is read
    assert checkpoint_status(store, None, None, ["w"]) == CheckpointStatus()
    gone = tmp_path / "gone"
    for location in (str(gone), f"file://{gone}"):
        with pytest.raises(typer.Exit) as info:
            checkpoint_status(store, location, None, ["w"])
        assert info.value.exit_code == 2
        assert " ".join(capsys.readouterr().err.split()) == (
            f"error: --checkpoints {location}: no such directory; give the directory "
            "`dana-wf audit checkpoint create --to` exported to"
        )
