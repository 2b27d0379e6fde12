# One command each: `make run` serves the API, `make test` runs the whole suite.
# Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install migrate run test bench reliability clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	exec $(BIN)/gunicorn --config config/gunicorn.conf.py wsgi:app

test: install
	$(BIN)/pytest

# Reruns tests/reliability and rewrites docs/reliability.md with the figures of that run
# (set TEST_DATABASE_URL to include PostgreSQL).
reliability: install
	$(BIN)/python -m tests.reliability.report

bench: install
	mkdir -p bench/results
	$(BIN)/python -m bench --json bench/results/latest.json

clean:
	rm -rf $(VENV) .pytest_cache
