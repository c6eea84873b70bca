# Two commands for a newcomer: `make run` and `make test`. Everything else builds on them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run console test lint bench clean

install: $(STAMP)

# Re-install only when the dependency list changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 2; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python -m bot

console: install
	$(BIN)/python -m bot console

# Each test process migrates its databases once and copies them per test (tests/conftest.py).
test: install
	$(BIN)/python -m pytest -q -n auto

# Style, types, the import contracts of the layout (pyproject.toml), and dead code.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture bot knowledge vulture_whitelist.py --min-confidence 60

# Each benchmark exits 1 when it misses its budget; run them all and report every figure.
bench: install
	-$(BIN)/python -m bench.query_latency
	-$(BIN)/python -m bench.end_to_end
	-$(BIN)/python -m bench.digest_fanout --quick
	-$(BIN)/python -m bench.throughput --output ''
	-$(BIN)/python -m bench.loop_lag
	-$(BIN)/python -m bench.test_suite --quick
	-$(BIN)/python -m bench.propose --quick

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
