# metricsync: `make demo` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install demo test test-airflow bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

# the test suite also covers the optional Dagster deployment (deploy/dagster), so it installs that extra
# and Debian's Chromium, which tests/commands/test_report.py opens the HTML report in (installed as root when missing)
$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,dagster]"
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
		echo "make: chromium is not installed (apt-get install chromium, as root): the report's browser test skips"
	touch $(TEST_STAMP)

# Airflow (deploy/airflow) in a venv of its own, run by CI after `make test`: a 620 MB venv that takes
# 2-4 minutes to install here, and its test about 1.5 minutes, which `make test` has no room for
AIRFLOW_VENV := .venv-airflow
$(AIRFLOW_VENV)/.installed: pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install -q --disable-pip-version-check -e ".[test,airflow]"
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m metricsync demo --duckdb demo.duckdb

# tests in parallel (pytest-xdist), a whole file per worker at a time (a module's shared warehouse is
# built once), the longest files first (tests/conftest.py LONGEST_FIRST); the session's loaded
# warehouse is built by one worker and shared (tests/conftest.py built_once)
TEST_WORKERS ?= 3
test: $(TEST_STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test-airflow: $(AIRFLOW_VENV)/.installed
	METRICSYNC_REQUIRE_AIRFLOW=1 $(AIRFLOW_VENV)/bin/python -m pytest -q tests/deploy/test_airflow.py

bench: $(STAMP)
	$(PY) -m metricsync.bench

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) demo.duckdb demo-report.html metricsync.duckdb .pytest_cache bench/results
