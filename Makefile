# mehr — developer entry points. `make run` starts the product, `make test` checks it.
#
# The virtualenv is built on demand: created with $(PYTHON) -m venv when .venv is missing, and
# reinstalled when a requirements file changes (stamp files inside .venv). When .venv is a symlink
# to an existing virtualenv (a shared one), it is used as it is and never modified.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

VENV_IS_LINK := $(shell [ -L $(VENV) ] && [ -x $(VENV)/bin/python ] && echo yes)
ifeq ($(VENV_IS_LINK),yes)
STAMP_RUN :=
STAMP_DEV :=
else
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
endif

.PHONY: help run test lint bench clean venv venv-dev chromium

help:
	@echo "make run    migrate, load the catalogue and demo data, start web + worker + beat (PORT=8000)"
	@echo "make test   ruff + pytest (PostgreSQL/Redis when reachable; PYTEST_ARGS=... passes through)"
	@echo "make lint   ruff check"
	@echo "make bench  python bench/run_all.py"
	@echo "make clean  remove var/, caches and the virtualenv (unless it is a symlink)"

$(VENV)/.stamp-run: requirements.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.stamp-dev: requirements.txt requirements-dev.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.stamp-run

venv: $(STAMP_RUN)
venv-dev: $(STAMP_DEV)

run: $(STAMP_RUN)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@if $(PY) manage.py help load_catalogue >/dev/null 2>&1; then $(PY) manage.py load_catalogue; \
	  else echo "mehr: load_catalogue not available yet, skipped"; fi
	@if $(PY) manage.py help seed_demo >/dev/null 2>&1; then $(PY) manage.py seed_demo; \
	  else echo "mehr: seed_demo not available yet, skipped"; fi
	exec $(PY) -m mehr_site.launcher

lint: $(STAMP_DEV)
	$(PY) -m ruff check .

# Browser tests use Debian's Chromium at /usr/bin/chromium; installed here when missing (as root).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "mehr: installing Debian's chromium for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation fonts-dejavu-core >/dev/null; \
	  else echo "mehr: /usr/bin/chromium is missing; install Debian's chromium (sudo apt-get install chromium)"; fi; \
	fi

# testenv.py picks PostgreSQL/Redis or the fallbacks (failing at once when CI=true and one is
# missing), then runs ruff and pytest with that environment.
test: $(STAMP_DEV) chromium
	$(PY) mehr_site/testenv.py -- sh -c '$(PY) -m ruff check . && exec $(PY) -m pytest "$$@"' pytest $(PYTEST_ARGS)

bench: $(STAMP_DEV)
	@if [ -f bench/run_all.py ]; then $(PY) bench/run_all.py; else echo "mehr: bench/run_all.py does not exist yet"; fi

clean:
	rm -rf var .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print -exec rm -rf {} +
	@if [ -L $(VENV) ]; then echo "mehr: $(VENV) is a symlink, left alone"; else rm -rf $(VENV); fi
