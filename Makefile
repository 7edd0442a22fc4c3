# OpenRefusal — `make run` starts everything; `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# A developer's machine serves plain HTTP on 127.0.0.1 with a generated secret key.
export DJANGO_ENV ?= local

.PHONY: run test bench install lint format clean

$(VENV)/.installed: requirements.lock
	@if command -v uv >/dev/null 2>&1; then \
	  uv venv -q --allow-existing --python $(PYTHON) $(VENV) && \
	  uv pip sync -q --python $(BIN)/python requirements.lock; \
	else \
	  $(PYTHON) -m venv $(VENV) && \
	  $(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock; \
	fi
	@touch $@

install: $(VENV)/.installed

## Start PostgreSQL (embedded unless DATABASE_URL), migrate, load demo data, serve on :8000
## with a Celery worker and beat; Ctrl-C stops everything.
run: install
	$(BIN)/python manage.py devstack

## Lint, format check, migrations check, and every test.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

## Performance figures beside their baselines from the same run.
bench: install
	$(BIN)/python -m bench

lint:
	$(BIN)/ruff check --fix .
format:
	$(BIN)/ruff format .

## Update the lock file after changing pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --universal --generate-hashes --python-version 3.11 -q -o requirements.lock
	uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 -q -o requirements-runtime.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
