# Two commands on a fresh clone: `make run` and `make test`. Only Python >= 3.11 and pip needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install install-dev migrate demo serve bandit lint typecheck clean bench bench-fhir load load-short

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo-data

## run: install, migrate the SQLite database under instance/, load demo data, serve on :5000
run: demo
	$(FLASK) run --host 127.0.0.1 --port 5000

## serve: production server (gunicorn) for CLINIC_ENV=production with DATABASE_URL and SECRET_KEY
## set; run `make migrate` first as the deploy step. WORKERS and BIND may be overridden.
WORKERS ?= 4
BIND ?= 127.0.0.1:8000
serve: install
	CLINIC_ENV=$${CLINIC_ENV:-production} $(BIN)/gunicorn --workers $(WORKERS) --bind $(BIND) \
		--access-logfile - --forwarded-allow-ips 127.0.0.1 wsgi:app

## test: install with the dev extra and run the whole suite (unit, views, migrations, browser)
test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

## bench: page cost on a generated 2,000-patient history, SQLite and PostgreSQL (127.0.0.1:5432;
## throwaway databases), throughput via wrk (apt-get install wrk) against gunicorn; ~8 min.
## Writes bench/REPORT.md and bench/latency_vs_history.png. Not part of `make test`.
bench: install-dev
	$(BIN)/python -m bench.bench $(BENCH_ARGS)

## bench-fhir: FHIR bulk export on 100- and 2,000-patient histories (SQLite): peak memory and
## time per resource type, into bench/REPORT.md (~6 min). Not part of `make test`.
bench-fhir: install-dev
	$(BIN)/python -m bench.fhir_export $(BENCH_ARGS)

## load: load and fault tests against gunicorn: 50 simulated staff for 60 s on PostgreSQL, a
## PostgreSQL restart and SIGKILLed workers under load, concurrent SQLite writers (~4 min; restarts
## the local PostgreSQL once). load-short: the CI variant (10 staff, 10 s; ~2 min).
load: install-dev
	CLINIC_LOAD_TESTS=full $(BIN)/pytest tests/load $(PYTEST_ARGS)

load-short: install-dev
	CLINIC_LOAD_TESTS=short $(BIN)/pytest tests/load $(PYTEST_ARGS)

bandit: install-dev
	$(BIN)/bandit -r clinic_app -ll -q

## lint: ruff (style, imports, bugbear, complexity <= 15) and ruff's formatter, check only
lint: install-dev
	$(BIN)/ruff check clinic_app tests bench config.py wsgi.py
	$(BIN)/ruff format --check clinic_app tests bench config.py wsgi.py

## typecheck: mypy, strict on clinic_app/clinical/ (settings in pyproject.toml)
typecheck: install-dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
