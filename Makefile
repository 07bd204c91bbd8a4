# Gophernetes: two commands for a new user (as root, on Debian 12 or Ubuntu 24.04)
#   sudo make demo    installs what is missing, then runs a first container
#   sudo make test    installs what is missing, then runs every test
PYTHON ?= python3

.PHONY: demo test test-only install lint bench bench-quick bench-readme

install:
	.ci/install

demo:
	.ci/install core
	gophernetes run --net none /bin/sh -c 'echo "hello from $$(hostname), PID $$$$ in a container"; ps'

test: install test-only

# the README's test command, without the install step (.ci/run calls this)
test-only:
	$(PYTHON) -m pytest -q

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
