# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-postgres lint fix load validate catalog bench fuzz constraints clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

validate: $(STAMP)
	$(BIN)/opendata validate

# `opendata load` validates every release it has not loaded yet (and refuses an invalid one),
# and checks that loaded ones are unchanged: no separate validation pass.
load: $(STAMP)
	$(BIN)/opendata load

run: load
	$(BIN)/opendata serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

test-postgres: $(STAMP)
	OPENDATA_TEST_DATABASE_URL=$${OPENDATA_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -m postgres

lint: $(STAMP)
	$(BIN)/ruff check api tests bench
	$(BIN)/ruff format --check api
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/opendata catalog --check

fix: $(STAMP)
	$(BIN)/ruff check --fix api tests bench
	$(BIN)/ruff format api

catalog: $(STAMP)
	$(BIN)/opendata catalog

# Datasette, the server compared against, goes into its own venv under bench/out, never .venv.
bench: $(STAMP)
	@command -v wrk >/dev/null && command -v sqlite3 >/dev/null || \
		{ echo "make bench needs wrk and the sqlite3 shell (e.g. apt install wrk sqlite3)"; exit 1; }
	$(BIN)/python bench/load.py && $(BIN)/python bench/serve.py && $(BIN)/python bench/load_test.py

# A long fuzz run: schemathesis with every check against a live `opendata serve` on FUZZ_PORT
# (the hooks and settings of tests/test_fuzz_schema.py: tests/schemathesis_*.py and .toml),
# then the property and HTTP fuzz tests with Hypothesis's long profile. Both backends with
# OPENDATA_DATABASE_URL / OPENDATA_TEST_DATABASE_URL set as for `make run` / `make test`.
FUZZ_PORT ?= 8765
FUZZ_EXAMPLES ?= 500
FUZZ_SEED ?= 20260312
fuzz: load
	@$(BIN)/opendata serve --host 127.0.0.1 --port $(FUZZ_PORT) & server=$$!; \
	trap 'kill $$server' EXIT; \
	for _ in $$(seq 100); do \
		$(BIN)/python -c "import httpx; httpx.get('http://127.0.0.1:$(FUZZ_PORT)/healthz').raise_for_status()" \
			2>/dev/null && break; sleep 0.2; \
	done; \
	PYTHONPATH=. SCHEMATHESIS_HOOKS=tests.schemathesis_hooks \
		$(BIN)/schemathesis --config-file tests/schemathesis.toml \
		run http://127.0.0.1:$(FUZZ_PORT)/openapi.json --checks all \
		--max-examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED) --workers 2
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/test_grammar_properties.py tests/test_fuzz_http.py

# The image's exact versions: what `pip install .` resolves in a fresh venv, frozen.
CONSTRAINTS_VENV ?= /tmp/opendata-constraints-venv
constraints:
	rm -rf $(CONSTRAINTS_VENV) && $(PYTHON) -m venv $(CONSTRAINTS_VENV)
	$(CONSTRAINTS_VENV)/bin/python -m pip install --quiet .
	{ sed -n '1,2p' constraints.txt; $(CONSTRAINTS_VENV)/bin/python -m pip freeze \
		--exclude opendata-api; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf $(CONSTRAINTS_VENV)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
