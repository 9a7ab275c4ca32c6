# occupancy — developer entry points. Everything runs from the project venv in .venv/.
# `make demo` and `make test` are the two commands a newcomer needs (see README.md).

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV_DIR := .tools/uv
UV := $(UV_DIR)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
ARGS ?=

export UV_PYTHON_DOWNLOADS := never

.PHONY: help venv demo test unit integration e2e lint format bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_DIR) uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python 3.11
	@touch $@

venv: $(STAMP) ## Create or update .venv from the lock file

demo: $(STAMP) ## Run the whole pipeline locally on embedded defaults (ARGS="--rows 50000 --no-serve")
	$(VENV)/bin/occupancy demo $(ARGS)

test: $(STAMP) ## Unit and integration tests (starts PostgreSQL, S3 and MLflow servers itself)
	$(VENV)/bin/pytest tests/unit tests/dags tests/integration $(ARGS)

unit: $(STAMP) ## Unit and DAG tests only (fast, no servers)
	$(VENV)/bin/pytest tests/unit tests/dags $(ARGS)

e2e: $(STAMP) ## Build the images, run the compose stack, drive it end to end, tear it down (needs Docker)
	$(VENV)/bin/pytest tests/e2e -s -p no:cacheprovider $(ARGS)

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check src dags tests benchmarks
	$(VENV)/bin/ruff format --check src dags tests benchmarks
	$(VENV)/bin/mypy
	cd dags && ../$(VENV)/bin/mypy --strict --ignore-missing-imports --follow-imports=skip --allow-untyped-decorators .

format: $(STAMP) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src dags tests benchmarks
	$(VENV)/bin/ruff format src dags tests benchmarks

bench: $(STAMP) ## Pipeline (ingest + treat vs pyarrow parse) and API (vs mlflow models serve; needs wrk)
	@status=0; \
	$(VENV)/bin/python benchmarks/bench_pipeline.py || status=1; \
	$(VENV)/bin/python benchmarks/bench_api.py || status=1; \
	exit $$status

clean: ## Remove local state (.occupancy/) and caches, keep .venv
	rm -rf .occupancy .pytest_cache .mypy_cache .ruff_cache
