# The two commands of the README:
#   make run    - run the claims example in-process on embedded defaults (chdb audit, file registry)
#   make test   - install everything the tests need, start Kafka and ClickHouse, run every test, stop them
PY ?= python3

.PHONY: install run test lint typecheck bench lock

install:
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'

run: install
	$(PY) -m dana_workflows.cli run docs/examples/claims/claims.yaml --input docs/examples/claims/events.jsonl

test:
	bash tests/run-all.sh

lint:
	ruff check . && ruff format --check .

typecheck:
	mypy --strict dana_workflows
	lint-imports --no-cache

bench:
	$(PY) bench/local_throughput.py

# requirements.lock: the runtime dependencies pinned with hashes, for the image's cached dependency layer
# (Dockerfile); regenerate after changing [project] dependencies in pyproject.toml (tests check they agree).
lock:
	$(PY) -m uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
	  -o requirements.lock pyproject.toml
