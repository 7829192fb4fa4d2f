# The two quick-start commands:
#   make run    set up a virtual environment, initialize ./var (SQLite, master key, server
#               keys) and serve on 127.0.0.1:8080
#   make test   set up the development environment and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= var

.PHONY: run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/propusk --data-dir $(DATA_DIR) init
	$(BIN)/propusk --data-dir $(DATA_DIR) serve

test: $(VENV)/.dev
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
