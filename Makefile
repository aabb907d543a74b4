# The README's two commands are `make run` and `make test`; everything else is optional.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# Keep equal to the uv pin in pyproject.toml.
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

export UV_PYTHON_DOWNLOADS := never
export DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY := True
export BENTOML_DO_NOT_TRACK := True
export DVC_NO_ANALYTICS := 1
export GIT_PAGER := cat

.PHONY: help install run repro report test lint format serve clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen
	@touch $@

install: .venv/.synced ## Set up the environment from uv.lock (bootstraps uv if missing)

run: install ## Run the whole pipeline on params.yaml's data; print the verdict and the report's path
	$(RUN) python -m mlops.run

repro: install ## Only `dvc repro` (no preflight, gate or report)
	$(RUN) dvc repro

report: install ## Gate and report from the last run: reports/gate.json, reports/report.md
	$(RUN) python -m mlops.review.gate; status=$$?; $(RUN) python -m mlops.review.report && exit $$status

serve: install ## Serve the trained model over HTTP on 127.0.0.1, port PORT (default 3000)
	$(RUN) bentoml serve mlops.serving.service:Model --host 127.0.0.1 --port $${PORT:-3000}

test: install ## Run the test suite
	$(RUN) pytest

lint: install ## Lint and check formatting
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install ## Fix lint and formatting where possible
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean: ## Remove the environment and caches (pipeline outputs stay; DVC tracks them)
	rm -rf .venv .tools .pytest_cache .ruff_cache .coverage
