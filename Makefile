# maint: the two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# Debian packages the lab and the tests need (installed with apt-get when running as root).
DEB_PACKAGES := podman runc debootstrap uidmap slirp4netns fuse-overlayfs openssh-client dpkg-dev chromium chromium-driver cron restic debsecan
# Commands that tell whether those packages are present.
DEB_COMMANDS := podman runc debootstrap ssh-keygen dpkg-scanpackages chromium chromedriver crontab restic debsecan
N ?= 3
# Seeded faults for make lab (maint lab up --faults; 'none' for a fleet in good order).
FAULTS ?= outdated:all

.PHONY: help deps system-deps venv lint unit test demo lab-image lab lab-down bench-actionlog bench-cycle clean

help:
	@echo "make demo       the change cycle on two lab hosts: plan, approve, apply, rollback, report"
	@echo "make test       install what is missing, lint, then pytest (unit, integration, Molecule)"
	@echo "make lint       ruff, the runner's import contracts, yamllint, ansible-lint, playbook syntax"
	@echo "make lab N=3    start N lab hosts (inventory in .maint/lab/hosts.yml); make lab-down"
	@echo "                FAULTS=weak-sshd:2,av-stale:1-3 seeds faults (.maint/lab/faults.json)"

system-deps:
	@missing=""; for c in $(DEB_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages (missing:$$missing)"; \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing; run as root (or: sudo apt-get install $(DEB_PACKAGES)); lab tests will be skipped" >&2; \
	  fi; \
	fi
	@if [ "$$(id -u)" = 0 ] && command -v runc >/dev/null 2>&1; then lab/configure-podman.sh; fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

deps: system-deps venv

lint: venv
	ruff check .
	ruff format --check .
	lint-imports
	yamllint --strict .
	@# ansible-lint and the syntax check resolve maint.preventive to this checkout.
	export ANSIBLE_COLLECTIONS_PATH="$$(python -m maintenance_runner.ansible.collection)"; \
	ansible-lint && \
	for pb in playbooks/*.yml; do \
	  ansible-playbook --syntax-check -i localhost, "$$pb" >/dev/null || exit 1; \
	done
	@echo "lint: clean"

lab-image: system-deps
	@if [ "$$(id -u)" = 0 ]; then lab/build-image.sh; \
	else echo "lab-image: needs root (debootstrap, rootful Podman); lab tests will be skipped" >&2; fi

unit: venv
	pytest -q tests/unit

test: deps lint lab-image
	scripts/test.sh

demo: deps lab-image
	scripts/demo.sh

lab: deps lab-image
	maint lab up -n $(N) --faults '$(FAULTS)'

lab-down: venv
	maint lab down

bench-actionlog: venv
	python bench/actionlog_ingest.py --results 1000000 --verify

bench-cycle: venv lab-image
	python bench/cycle.py --sizes 10,50 --runs 3

clean:
	-maint lab down
	-scripts/start-postgres.sh --stop .cache/pg
	rm -rf .cache .maint .pytest_cache .ruff_cache
