# The two commands of the README: `make run` and `make test`. Everything else is what they need.
SHELL := /bin/bash
# A failing step of a pipeline (the worker build piped into tail) fails the target.
.SHELLFLAGS := -o pipefail -ec
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
STAMPS := .stamps
CACHE ?= $(or $(CONFERENCE_CACHE),$(HOME)/.cache/conference)
export CONFERENCE_CACHE := $(CACHE)

.PHONY: run test test-fast setup system venv worker reference static lint clean cluster library

run: setup
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) --ping-interval 10 --ping-timeout 10 conference.asgi:application

test: setup reference
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The fast tier (tests/support/tiers.py): in-process tests without a worker, a live server, a
# browser or a child process, guarded so that none starts one; under a minute. No setup step:
# it needs neither the worker nor the Node reference.
test-fast:
	$(VENV)/bin/pytest -m "unit and not slow" --tier-guard -p no:cov -o addopts="" $(PYTEST_ARGS)

setup: system venv worker static

system:
	@bash scripts/system-deps.sh

venv: $(STAMPS)/venv
# The mediasoup-ctl library is installed from requirements.txt (editable): its pyproject
# changes (dependencies, the console command) reinstall it too. The library's test and lint
# tools (import-linter, mypy; the same pins where both files have one) serve `make lint` too.
LIBRARY_TOOLS := packages/mediasoup-ctl/requirements-test.txt
$(STAMPS)/venv: requirements.txt requirements-dev.txt packages/mediasoup-ctl/pyproject.toml $(LIBRARY_TOOLS)
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r $(LIBRARY_TOOLS)
	@touch $@

# Builds (or reuses from the cache) mediasoup-worker and its Python FlatBuffers bindings with
# the library's console command, which puts the bindings on the virtual environment's path.
worker: venv
	@$(VENV)/bin/mediasoup-ctl-worker >/dev/null

# mediasoup's own Node layer on the same worker binary: golden vectors and benchmarks.
reference:
	@bash scripts/setup-node-reference.sh >/dev/null

static:
	@if [ -x scripts/build-static.sh ]; then bash scripts/build-static.sh; fi

# ruff, then the application's import rules (pyproject.toml [tool.importlinter]: the apps
# around the call use only rtc.services' API); the library's own are in `make library`.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

# The mediasoup-ctl library alone: its wheel in a fresh environment without Django (CI's first pass).
library: system reference
	bash scripts/ci-library.sh

clean:
	rm -rf $(VENV) $(STAMPS) staticfiles

# A local cluster of NODES daphne nodes behind a round-robin balancer on HOST:PORT, on the
# machine's PostgreSQL (CLUSTER_DATABASE_URL) and Redis (REDIS_URL): README, A cluster of nodes.
NODES ?= 3
cluster: setup
	$(PY) scripts/cluster.py --nodes $(NODES) --host $(HOST) --port $(PORT)
