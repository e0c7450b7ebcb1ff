"""A config file key inside a nested setting (llm_default.modle, llm_endpoints.big.base_ur) is refused like a
top-level one, with the closest name: it was ignored and the default model or URL used without a word, the
failure 24dffb3 closed for top-level keys only (REVIEW-N). Documented config files still load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dana_workflows.core.settings import UnknownSettingError, load_settings, misspelt_env_settings

pytestmark = pytest.mark.unit

# docs/configuration.md's and docs/compliance.md's examples, as written there
_DOCUMENTED = [
    """\
kafka_bootstrap_servers: b-1.kafka.internal:9092,b-2.kafka.internal:9092
kafka_security_protocol: SASL_SSL
kafka_sasl_mechanism: SCRAM-SHA-512
kafka_sasl_username: dwf
topic_partitions: 12
topic_replication: 3
audit_dsn: clickhouse://dwf@clickhouse.internal:9440/dwf?secure=true
llm_default:
  base_url: https://api.openai.com/v1
  model: gpt-4o-mini
  rpm: 500
  price_per_mtok: {input: 0.15, output: 0.6}
llm_endpoints:
  big: {base_url: https://x/v1, model: gpt-4o, price_per_mtok: {input: 2.5, cached_input: 1.25}}
""",
    """\
models:
  - id: gpt-4o-mini
    version: gpt-4o-mini-2024-07-18
    provider: openai
    owner: claims-ml-team
    risk_tier: high
""",
]


@pytest.mark.parametrize("text", _DOCUMENTED)
def test_documented_config_files_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "dwf.yaml"
    path.write_text(text)
    assert load_settings(path) is not None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "llm_default:\n  modle: gpt-4o\n",
            "llm_default.modle is not a setting; did you mean llm_default.model?",
        ),
        (
            "llm_endpoints:\n  big: {base_ur: https://x/v1}\n",
            "llm_endpoints.big.base_ur is not a setting; did you mean llm_endpoints.big.base_url?",
        ),
        ("audit_dns: chdb:///x\n", "audit_dns is not a setting; did you mean audit_dsn?"),
        ("AUDIT_DSN: chdb:///x\n", "AUDIT_DSN is not a setting; did you mean audit_dsn?"),  # ignored before
    ],
)
def test_a_nested_key_that_is_no_setting_is_refused(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "dwf.yaml"
    path.write_text(text)
    with pytest.raises(UnknownSettingError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: {says} (docs/configuration.md lists them)"


@pytest.mark.parametrize("text", ["llm_endpoints:\n  big: 3\n", "topic_partitions: {a: 1}\n"])
def test_a_value_of_the_wrong_shape_is_left_to_the_settings_validation(tmp_path: Path, text: str) -> None:
    path = tmp_path / "dwf.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError):  # `invalid settings: ...`, not a key that is no setting
        load_settings(path)


@pytest.mark.parametrize(
    ("variable", "says"),
    [
        (
            "DWF_LLM_DEFAULT__MODLE",
            "DWF_LLM_DEFAULT__MODLE is not a setting; did you mean DWF_LLM_DEFAULT__MODEL?",
        ),
        (
            "DWF_LLM_ENDPOINTS__BIG__BASE_UR",
            "DWF_LLM_ENDPOINTS__BIG__BASE_UR is not a setting; did you mean "
            "DWF_LLM_ENDPOINTS__BIG__BASE_URL?",
        ),
        ("DWF_LLM_DEFAULT__PRICE_PER_MTOK__INPUT", None),  # a dict's own keys are free
        ("DWF_LLM_DEFAULT__BASE_URL", None),
        ("DWF_LLM_DEFAULT__", None),  # no part after the delimiter: nothing set
        ("DWF_LLM_ENDPOINTS__BIG", None),  # an entry as a whole (JSON)
        ("DWF_AUDIT_DNS", "DWF_AUDIT_DNS is not a setting; did you mean DWF_AUDIT_DSN?"),
        ("DWF_TEST_LLM_LOCAL_URL", None),  # far from every setting: the tests' own
    ],
)
def test_a_nested_variable_that_is_no_setting_is_named(variable: str, says: str | None) -> None:
    warnings = list(misspelt_env_settings({variable: "x"}))
    assert warnings == ([] if says is None else [f"{says} (docs/configuration.md lists them)"])
