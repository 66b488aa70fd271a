# Two commands do everything on a fresh machine:
#   make run    set up .venv (+ Debian's Fashion-MNIST when root on Debian), run the workflow
#   make test   same set-up, then the test suite
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.14.1 torchvision==0.29.1
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?=
FMNIST := /usr/share/datasets/fashion-mnist
STAMP := $(VENV)/.installed

.PHONY: run test lint setup data unlock clean-results

run: setup data
	$(VENV)/bin/snakemake --cores $(CORES) --profile profiles/local $(SNAKEMAKE_ARGS)

test: setup data
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# ruff, snakefmt and Snakemake's linter (the CI runs them after the tests)
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check Snakefile workflow/
	$(VENV)/bin/snakemake --lint --cores 1

setup: $(STAMP)

# pip byte-compiles on install; keep it: where PYTHONDONTWRITEBYTECODE is set (as on this
# project's VMs) nothing is compiled later, so with --no-compile every job compiled torch's
# and pandas' modules at import (make run 527 s instead of under 400 s).
$(STAMP): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet $(TORCH)
	$(VENV)/bin/python -m pip install --quiet -e '.[workflow,test,lint]'
	touch $(STAMP)

# Debian ships Fashion-MNIST as a package; install it when missing and we may.
data:
	@if [ -f $(FMNIST)/train-images-idx3-ubyte.gz ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "warning: $(FMNIST) missing; run 'sudo apt-get install dataset-fashion-mnist' or set data.roots.fashion_mnist"; \
	fi

# after a hard kill (SIGKILL, power loss) Snakemake's lock stays; Ctrl-C needs no unlock.
# Refuses while a Snakemake process still runs in this folder: unlocking under a live run
# lets a second run write the same files.
# The folder comes from the shell (pwd -P), never from make: a folder name is data, not shell code.
unlock: setup
	@here="$$(pwd -P)"; \
	for proc in /proc/[0-9]*; do \
		[ "$$proc" = "/proc/$$$$" ] && continue; \
		case "$$(tr '\0' ' ' < "$$proc/cmdline" 2>/dev/null)" in *snakemake*) ;; *) continue ;; esac; \
		if [ "$$(readlink "$$proc/cwd" 2>/dev/null)" = "$$here" ]; then \
			printf 'refusing to unlock: Snakemake (pid %s) is still running in %s; let it finish or stop it first\n' \
				"$${proc#/proc/}" "$$here" >&2; \
			exit 1; \
		fi; \
	done
	$(VENV)/bin/snakemake --unlock --cores 1 $(SNAKEMAKE_ARGS)

clean-results:
	rm -rf results/default
