# Gophernetes: two commands for a new user (as root, on Debian 12 or Ubuntu 24.04)
#   sudo make demo    installs what is missing, then runs a first container
#   sudo make test    installs what is missing, then runs every test
PYTHON ?= python3
# what make test runs (pytest's arguments): every test, or e.g. `make test TESTS=tests/unit`
TESTS ?=
# .ci/install's mode for make test: empty = everything the tests need; `python` = only what
# tests/unit needs (the quick start's proof, tests/system/container/test_quickstart.py, uses it)
INSTALL ?=
# The distribution's python3 (Debian 12, Ubuntu 24.04) refuses pip (PEP 668: an
# EXTERNALLY-MANAGED file in its stdlib folder), so there .ci/install puts the test tools in a
# venv, $(VENV), that also sees the distribution's packages, and make test runs pytest with it,
# its bin first on PATH (the tests look up ruff, mypy, molecule, ansible-lint there).
# A pyenv Python, as in CI, has no such file: no venv, pytest from $(PYTHON) itself.
VENV = .venv
EXTERNALLY_MANAGED = $(PYTHON) -c 'import pathlib, sys, sysconfig; \
	sys.exit(not pathlib.Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists())'

.PHONY: demo test test-only install lint bench bench-quick bench-readme

install:
	PYTHON=$(PYTHON) VENV=$(VENV) .ci/install $(INSTALL)

demo:
	.ci/install core
	gophernetes run --net none /bin/sh -c 'echo "hello from $$(hostname), PID $$$$ in a container"; ps'

test: install
	if $(EXTERNALLY_MANAGED); then \
	    PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(MAKE) --no-print-directory test-only PYTHON="$(CURDIR)/$(VENV)/bin/python"; \
	else \
	    $(MAKE) --no-print-directory test-only; \
	fi

# the README's test command, without the install step (.ci/run calls this)
test-only:
	$(PYTHON) -m pytest -q $(TESTS)

lint:
	ruff check gophernetes tests bench

# every benchmark (< 15 minutes, as root): writes bench/RESULTS.md
bench:
	$(PYTHON) bench/all.py

# small sizes, to try the benches (~2 minutes)
bench-quick:
	$(PYTHON) bench/all.py --quick --output /tmp/gophernetes-bench-quick.md

# a full run that also refreshes README.md's generated table: only from a quiet machine
bench-readme:
	$(PYTHON) bench/all.py --readme
