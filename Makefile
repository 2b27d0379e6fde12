# One command each: `make run` serves the API, `make test` runs the whole suite.
# Both install what they need into .venv first: `run` the pinned runtime only, `test` the test tools too.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-dev migrate run test lint format docs bench budget reliability lock clean

install: $(VENV)/.runtime

# The pinned runtime, then the checkout itself (editable, no dependencies): the `session-store` command.
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

install-dev: $(VENV)/.dev

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: install
	$(BIN)/session-store migrate

run: migrate
	exec $(BIN)/gunicorn --config config/gunicorn.conf.py wsgi:app

test: install-dev
	$(BIN)/pytest

# ruff decides formatting and import order (pyproject.toml); CI fails on either.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rewrites the settings reference in docs/configuration.md from backend/settings.py (tests/docs checks it).
docs: install
	$(BIN)/python -m backend.settings_reference

# Reruns tests/reliability and rewrites docs/reliability.md with the figures of that run
# (set TEST_DATABASE_URL to include PostgreSQL).
reliability: install-dev
	$(BIN)/python -m tests.reliability.report

bench: install-dev
	mkdir -p bench/results
	$(BIN)/python -m bench --json bench/results/latest.json

# Counts the hot paths' instructions per request under valgrind's callgrind and rewrites bench/instruction_budget.json,
# which tests/bench/test_instruction_budget.py holds them to (+10%): after a change that deliberately moves them.
budget: install-dev
	$(BIN)/python -m bench.instructions --write-budget

# Regenerates the pinned requirements from pyproject.toml (after changing a dependency there).
lock: install-dev
	$(BIN)/python -m pip install --quiet pip-tools==7.6.2
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --output-file requirements.txt pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev --constraint requirements.txt --output-file requirements-dev.txt pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache
