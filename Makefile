# Two commands for a fresh machine (only python3 >= 3.10 and make needed):
#   make run    set up .venv and start the app   (ARGS="--model qwen3:4b" to pass flags)
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint lock bench clean

# constraints.txt pins every package to the versions the suite last passed with (`make lock`
# refreshes it from the working .venv), so CI and a fresh clone install the same set
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
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

lock: $(STAMP)
	{ echo "# Exact versions make installs with (pip install -c). Refresh: make lock"; \
	  $(PY) -m pip freeze --exclude-editable; } > constraints.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV)
