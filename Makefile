# The README's two commands are `make run` and `make test`; everything else is optional.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# Keep equal to the uv pin in pyproject.toml.
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen
# uv uses any installed Python that pyproject.toml's requires-python allows, or downloads one.
PYTHONS = $(shell sed -n 's/^requires-python = "\(.*\)"/\1/p' pyproject.toml)

export DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY := True
export BENTOML_DO_NOT_TRACK := True
export DVC_NO_ANALYTICS := 1
export GIT_PAGER := cat
# Let Python cache compiled modules (.pyc) in .venv: where PYTHONDONTWRITEBYTECODE is set, every
# process compiles Deepchecks, scikit-learn and DVC again (each Deepchecks stage: ~10 s, not ~4 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install run refresh repro report monitor test lint format serve traffic clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: uv.lock pyproject.toml | $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	@$(UV) python find >/dev/null 2>&1 || echo "No installed Python fits requires-python ($(PYTHONS)): uv downloads one."
	$(UV) sync --frozen || { $(UV) python find >/dev/null 2>&1 || echo "make: no installed Python fits" \
		"requires-python ($(PYTHONS)) and uv could not download one (offline?): install Python 3.11 or 3.12" \
		"(e.g. sudo apt install python3.12, or pyenv), then run make again." >&2; exit 1; }
	@touch $@

install: .venv/.synced ## Set up the environment from uv.lock (bootstraps uv if missing)

run: install ## Run the whole pipeline on params.yaml's data; print the verdict and the report's path
	@$(RUN) python -m mlops.run; status=$$?; case $$status in \
	  1) echo "make run: exit 1: the gate failed (reports/report.md says why)." ;; \
	  2) echo "make run: exit 2: bad input, stopped before the pipeline ran; nothing changed." ;; \
	  3) echo "make run: exit 3: a pipeline stage failed; the last good outputs are restored." ;; \
	  130) echo "make run: exit 130: interrupted; the last good outputs are restored." ;; \
	esac; exit $$status

refresh: install ## Get the newest data (params.yaml refresh:) and track it in data.dvc; DRIFT=0.3 drifts the example
	$(RUN) python -m mlops.retraining.refresh --drift $${DRIFT:-0}

repro: install ## Only `dvc repro` (no preflight, gate or report)
	$(RUN) dvc repro

report: install ## Gate and report from the last run: reports/gate.json, reports/report.md
	$(RUN) python -m mlops.review.gate; status=$$?; $(RUN) python -m mlops.review.report && exit $$status

monitor: install ## Check production logs against training: reports/monitoring/ (LOGS=dir or s3://…, SINCE=7d)
	@$(RUN) python -m mlops.monitoring.check $(if $(LOGS),--logs '$(LOGS)') $(if $(SINCE),--since '$(SINCE)'); \
	status=$$?; \
	case $$status in \
	  1) echo "make monitor: exit 1: alert (reports/monitoring/report.md says why)." ;; \
	  2) echo "make monitor: exit 2: bad input, nothing checked." ;; \
	  3) echo "make monitor: exit 3: an unexpected error (see above)." ;; \
	esac; exit $$status

serve: install ## Serve the trained model over HTTP on 127.0.0.1, port PORT (default 3000)
	$(RUN) bentoml serve mlops.serving.service:Model --host 127.0.0.1 --port $${PORT:-3000}

traffic: install ## Send example records and their true labels to the service at URL (RECORDS=500, DRIFT=0)
	$(RUN) python -m mlops.monitoring.traffic $${URL:-http://127.0.0.1:3000} --records $${RECORDS:-500} --drift $${DRIFT:-0}

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
