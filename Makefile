# custops — every install step lives here (CI starts from a machine that may have nothing).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DATA ?= data/sample
OUT ?= reports
LANG_ ?= en
PYTEST_ARGS ?=

.PHONY: setup system-deps report test lint dashboard bench clean

# Create the venv if missing and (re)install the project when pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,spark]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (custops)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

# System packages the tests need: Java for the local Spark session, Debian chromium for
# the browser tests. Installed only when missing.
system-deps:
	@if ! command -v java >/dev/null 2>&1; then \
	  echo "installing Java (for the Spark tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; fi
	@if ! test -x /usr/bin/chromium; then \
	  echo "installing Debian chromium (for the dashboard browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

# The main job: the four notebooks on the sample, as an HTML report folder.
report: setup
	$(VENV)/bin/custops report --data $(DATA) --out $(OUT) --lang $(LANG_)

lint: setup
	$(VENV)/bin/ruff check lib tests notebooks

# The test suite, then every notebook as an analyst opens it in JupyterLab (default
# parameters, on the sample; nbval fails on any cell that raises).
test: setup system-deps lint
	$(PY) -m pytest -q $(PYTEST_ARGS) tests --nbval-lax notebooks; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

# Serves the latest finished report in $(OUT) (run `make report` first), else the sample.
dashboard: setup
	$(VENV)/bin/custops dashboard $(if $(wildcard $(OUT)/manifest.json),--run $(OUT),)

bench: setup
	$(VENV)/bin/custops bench --out benchmarks/results.json

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
