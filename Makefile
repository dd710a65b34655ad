# ecoeco — run `make help` for the list of targets.
SHELL := bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_WORKERS ?= auto

.PHONY: help up test lint fmt bench check clean deploy-tools deploy-check

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" || python3 -m pip install --quiet "uv==$(UV_VERSION)"

# Byte-compiled once here, as pip and deploy/Dockerfile do: where no .pyc can be written
# (PYTHONDONTWRITEBYTECODE), every process would compile its imports again, 1.7 s of a 2.9 s start.
# Not `compile-bytecode` in pyproject.toml: that re-checks 17,000 files on every `uv run` (about 1 s).
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

up: .venv/.synced ## Run the whole system on the embedded default (no external services)
	$(UV) run ecoeco up

test: .venv/.synced ## Run the test suite (needs PostgreSQL, Redis, RabbitMQ on localhost)
	$(UV) run pytest -n $(PYTEST_WORKERS)

lint: .venv/.synced ## ruff (lint + format check), mypy and the dependency rule (import-linter)
	$(UV) run ruff check src tests benchmarks
	$(UV) run ruff format --check src tests benchmarks
	$(UV) run mypy
	$(UV) run lint-imports --no-cache

fmt: .venv/.synced ## Apply ruff fixes and formatting
	$(UV) run ruff check --fix src tests benchmarks
	$(UV) run ruff format src tests benchmarks

bench: .venv/.synced ## Run every benchmark (prints ratios against same-run baselines)
	$(UV) run python -m benchmarks

check: .venv/.synced ## Which backends are configured and are they reachable?
	$(UV) run ecoeco check

deploy-tools: .venv/.synced ## Install the pinned deploy gate tools (deploy/tools/.venv)
	PATH="$(dir $(UV)):$$PATH" bash deploy/tools/install.sh

deploy-check: deploy-tools ## Offline deploy gates: kustomize, kubernetes-validate, checkov, promtool, terraform fmt, ansible
	bash deploy/check.sh

clean: ## Remove the virtualenv and local data
	rm -rf .venv var
