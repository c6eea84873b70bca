# Two commands for a newcomer: `make run` and `make test`. Everything else builds on them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run console test lint lock lock-check image-check bench clean messages

# The interface's gettext catalogs, compiled from the .po files (bot/locales) at install.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard bot/locales/*/LC_MESSAGES/messages.po))

install: $(STAMP) $(CATALOGS)

# Exactly the locked versions, each checked against its hash (requirements/dev.txt: the bot,
# the dev tools and the build backend); then the package itself, editable, built by the
# locked setuptools. Re-install only when the lock changes.
$(STAMP): pyproject.toml requirements/dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 2; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

# After changing any message: extract them, merge into every catalog, then translate what is
# new (tests/test_i18n.py names what is missing); see "Adding a language" in the README.
messages: install
	BIN=$(BIN) scripts/messages

# The lock: uv.lock resolves pyproject.toml; requirements/*.txt are its exports for pip
# (runtime.txt for the image, build.txt for its build stage, dev.txt for `make install`).
# `make lock` after editing dependencies; `uv lock --upgrade-package NAME` to move one.
lock: install
	$(BIN)/uv lock
	scripts/lock-export requirements

# Fails when pyproject.toml changed without `make lock`, or the exports differ from uv.lock.
lock-check: install
	@$(BIN)/uv lock --check --offline --quiet || { echo "uv.lock does not match pyproject.toml: run make lock"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && scripts/lock-export "$$tmp" && \
	  diff -r requirements "$$tmp" >/dev/null || { echo "requirements/*.txt differ from uv.lock: run make lock"; exit 1; }

run: install
	$(BIN)/python -m bot

console: install
	$(BIN)/python -m bot console

# Each test process migrates its databases once and copies them per test (tests/conftest.py).
test: install
	$(BIN)/python -m pytest -q -n auto

# Style, types, the import contracts of the layout (pyproject.toml), and dead code.
lint: install lock-check
	$(BIN)/hadolint Dockerfile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture bot knowledge vulture_whitelist.py --min-confidence 60

# Build the image from the lock with a daemonless builder and smoke-test it (as root; installs
# podman and debootstrap from the Debian packages when missing). See docs/deploy.md.
image-check: install
	scripts/image-check

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
