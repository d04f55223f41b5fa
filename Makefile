# Two commands for a fresh machine (only python3 >= 3.10 and make needed):
#   make run    set up .venv and start the app   (ARGS="--model qwen3:4b" to pass flags)
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/rlm-tui $(ARGS)

# the guardrails: ruff, the import contracts (layering), mypy on the engine (pyproject.toml)
lint: $(STAMP)
	$(VENV)/bin/ruff check -q .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -n 2 $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/loop_overhead.py

clean:
	rm -rf $(VENV)
