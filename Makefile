# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: demo test test-fast run ui gaps dashboard iris lint install clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: deploy/instance/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp $< $@

demo: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## offline: bundled simulator -> embedded DuckDB, last 3 days
	$(BIN)/python -m bmrs_assets demo

run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## the same against BMRS_API_BASE_URL (live API by default)
	$(BIN)/python -m bmrs_assets run

gaps: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## every day since BMRS_START_DATE: complete/partial/missing/failed
	$(BIN)/python -m bmrs_assets gaps

dashboard: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## write data/dashboard/index.html (freshness, coverage) from the instance
	$(BIN)/python -m bmrs_assets dashboard

iris: $(STAMP)  ## the IRIS consumer (real-time push -> landing store); run beside `make ui`
	$(BIN)/python -m bmrs_assets iris

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml  ## Dagster UI + daemon on 127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: $(STAMP)  ## lint, then the whole pytest suite on both cores; the timing test (marked alone) last, by itself; not the docker test (.ci/run runs it)
	$(BIN)/ruff check bmrs_assets bmrs_assets_tests tools bench
	$(BIN)/python -m pytest -n 2 -m "not slow"
	$(BIN)/python -m pytest -n 2 -m "slow and not alone and not docker"
	$(BIN)/python -m pytest -m alone

test-fast: $(STAMP)  ## lint, then every test not marked slow (a few minutes; the full suite is `make test`)
	$(BIN)/ruff check bmrs_assets bmrs_assets_tests tools bench
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)  ## platform vs the floors vs dlt on loopback, whole processes, imports, the cuts and the history scenario (about an hour; not part of make test): bench/results/
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check bmrs_assets bmrs_assets_tests tools bench

clean:
	rm -rf $(VENV) data
