# The two commands of the README:
#   make run    - run the claims example in-process on embedded defaults (chdb audit, file registry)
#   make test   - install everything the tests need, start Kafka and ClickHouse, run every test, stop them
PY ?= python3

.PHONY: install run test lint typecheck bench

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
