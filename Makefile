# PostForge — `make run` runs the whole product, `make test` proves it. Both install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUN_DIR := .tools/bun
BUN := $(BUN_DIR)/node_modules/.bin/bun
INSTALLED := $(VENV)/.installed

# Reflex: no telemetry, no version checks, no network probes; use the bun installed below.
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_HTTP_CLIENT_BIND_ADDRESS := 0.0.0.0
export REFLEX_USE_SYSTEM_BUN := 1
export PATH := $(CURDIR)/$(BUN_DIR)/node_modules/.bin:$(PATH)

.PHONY: install run dev test lint format unit integration e2e bench clean

install: $(INSTALLED) $(BUN)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# Reflex 0.10 needs bun >= 1.4.4 (or Node >= 22.22); the npm registry ships bun as a package.
$(BUN):
	npm install --prefix $(BUN_DIR) --no-save --no-audit --no-fund --loglevel=error bun@1.4.4
	$(BUN) --version

run: install
	$(BIN)/postforge run

dev: install
	$(BIN)/postforge run --dev

test: install lint
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

clean:
	rm -rf .web .states data .pytest_cache .ruff_cache
