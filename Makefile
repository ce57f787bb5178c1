# metricsync: `make demo` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: install demo test test-airflow test-wheel test-dagster-cli test-dagster-fanout bench docs lint clean

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

# the wheel installed as a user installs it: pip resolves every dependency into a fresh venv outside the
# repository (`make test` installs it with --no-deps over the project venv's packages), then the same test
test-wheel: $(TEST_STAMP)
	METRICSYNC_WHEEL_INSTALL=full $(PY) -m pytest -q tests/deploy/test_wheel.py

# the Dagster recipe's documented `dagster` lines as written (tests/deploy/test_dagster_cli.py: a partition,
# a backfill, the dbt assets, a schedule started, `dagster dev` and its daemon): five `dagster` processes
# and their children, about 3 minutes on 2 cores, which `make test`'s 8 minutes have no room for; run by CI
test-dagster-cli: $(TEST_STAMP)
	METRICSYNC_DAGSTER_CLI=1 $(PY) -m pytest -q tests/deploy/test_dagster_cli.py

# the Dagster recipe's fan-out (issue 31): FANOUT_ACCOUNTS (default 50) account partitions through
# Dagster's run queue, 4 runs at a time, each run its own processes; minutes on 2 cores, run by CI after `make test`
test-dagster-fanout: $(TEST_STAMP)
	METRICSYNC_DAGSTER_FANOUT=1 $(PY) -m pytest -q -s tests/deploy/test_dagster_fanout.py

# the manual as a site (mkdocs.yml) in site/, strictly: a broken link or anchor fails (tests/codebase/test_docs.py too)
docs: export NO_MKDOCS_2_WARNING = 1
docs: $(TEST_STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet

# ruff (check and format) and mypy in a venv of their own: mypy needs pathspec>=1, which dbt in .venv
# refuses. mypy reads sources/ and pipelines/ under their import names (metricsync, metricsync.sources)
# through a tree of links in the lint venv; its configuration is in pyproject.toml ([tool.mypy])
LINT_VENV := .venv-lint
LINT_TREE := $(LINT_VENV)/tree/metricsync
$(LINT_VENV)/.installed: pyproject.toml
	test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install -q --disable-pip-version-check $(LINT_TOOLS)
	touch $@
LINT_TOOLS := "ruff==0.17.6" "mypy==2.4.1" types-psycopg2

# sqlfluff (.sqlfluff) on the dbt project's models and tests through its dbt templater, which compiles them
# with dbt: so from the project's venv, where the `test` extra installs it (pyproject.toml pins it)
lint: $(LINT_VENV)/.installed $(STAMP)
	$(VENV)/bin/sqlfluff lint transform/models transform/tests
	$(LINT_VENV)/bin/ruff check .
	$(LINT_VENV)/bin/ruff format --check .
	rm -rf $(LINT_TREE) && mkdir -p $(LINT_TREE)
	for entry in pipelines/*; do ln -s "$(CURDIR)/$$entry" $(LINT_TREE)/; done
	ln -s "$(CURDIR)/sources" $(LINT_TREE)/sources
	cd $(LINT_VENV)/tree && ../bin/mypy --config-file "$(CURDIR)/pyproject.toml" metricsync > mypy.txt; \
	  status=$$?; sed -e 's#^metricsync/sources/#sources/#' -e 's#^metricsync/#pipelines/#' mypy.txt; exit $$status

bench: $(STAMP)
	$(PY) -m metricsync.bench

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) $(LINT_VENV) site demo.duckdb demo-report.html metricsync.duckdb .pytest_cache bench/results
