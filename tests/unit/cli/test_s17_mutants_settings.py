"""Mutation pass over session 17's lines of core/settings.py: tests for the mutants that survived.

- The nested-key checks (config file and DWF_* variables) step into a setting's own model only: a dict of
  plain values (llm_default.price_per_mtok: {input: 0.15}) has free keys, and a value of the wrong shape
  under one is pydantic's to refuse (a ValidationError naming the field), not a crash of the key check.
  The DWF_* warnings run before every command (cli/main.py): no variable may make them raise.
- A refused setting's value is never repeated in the error (Settings' model_config: "a refused value may
  be a secret or hold one (a URL's password)").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dana_workflows.core.settings import Settings, load_settings, misspelt_env_settings

pytestmark = pytest.mark.unit


def test_a_mapping_under_a_dict_of_numbers_is_refused_by_validation(tmp_path: Path) -> None:
    config = tmp_path / "dwf.yaml"
    config.write_text("llm_default:\n  price_per_mtok: {input: {usd: 0.15}}\n")
    with pytest.raises(ValidationError) as caught:
        load_settings(config)
    assert "price_per_mtok.input" in str(caught.value)


@pytest.mark.parametrize(
    "var",
    [
        "DWF_LLM_DEFAULT__PRICE_PER_MTOK__INPUT__USD",
        "DWF_LLM_ENDPOINTS__BIG__PRICE_PER_MTOK__INPUT__USD",
    ],
)
def test_a_variable_deeper_than_a_dict_of_numbers_is_no_crash(var: str) -> None:
    warnings = list(misspelt_env_settings({var: "0.15"}))
    assert all(isinstance(w, str) for w in warnings)


def test_a_refused_value_is_not_repeated_in_the_error() -> None:
    secret = "s3cr3t"
    with pytest.raises(ValidationError) as caught:  # short: pydantic cuts a long value's middle out
        Settings(schema_registry=f"ftp://u:{secret}@h")
    assert "schema_registry" in str(caught.value)
    assert secret not in str(caught.value)  # the message printed (errors() keeps the input for code)
