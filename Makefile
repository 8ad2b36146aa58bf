# maint: the two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
# Debian packages the lab and the tests need (installed with apt-get when running as root).
DEB_PACKAGES := podman runc debootstrap uidmap slirp4netns fuse-overlayfs openssh-client dpkg-dev chromium chromium-driver cron restic debsecan \
  qemu-system-x86 qemu-utils e2fsprogs lynis
# Commands that tell whether those packages are present.
DEB_COMMANDS := podman runc debootstrap ssh-keygen dpkg-scanpackages chromium chromedriver crontab restic debsecan \
  qemu-system-x86_64 qemu-img mkfs.ext4 lynis
N ?= 3
# Seeded faults for make lab (maint lab up --faults; 'none' for a fleet in good order).
FAULTS ?= outdated:all
# The VM lab host's sshd port (make lab-vm); make judge ENFORCE=1 fails when a target is missed.
VM_PORT ?= 2300
ENFORCE ?=

.PHONY: help deps system-deps venv lint unit test demo lab-image lab lab-down lab-vm-image lab-vm lab-vm-down \
  judge bench-actionlog bench-cycle clean

help:
	@echo "make demo       the change cycle on two lab hosts: plan, approve, apply, rollback, report"
	@echo "make test       install what is missing, lint, then pytest (unit, integration, Molecule)"
	@echo "make lint       ruff, the runner's import contracts, yamllint, ansible-lint, playbook syntax"
	@echo "make lab N=3    start N lab hosts (inventory in .maint/lab/hosts.yml); make lab-down"
	@echo "                FAULTS=weak-sshd:2,av-stale:1-3 seeds faults (.maint/lab/faults.json)"
	@echo "make lab-vm     start the VM lab host under qemu (inventory in .maint/lab-vm/hosts.yml); make lab-vm-down"
	@echo "make judge      Lynis and ssh-audit before/after hardening on a lab container and the VM host"
	@echo "                (about an hour; writes docs/judges.md; ENFORCE=1 fails on a missed target)"

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

test: deps lint lab-image lab-vm-image
	scripts/test.sh

demo: deps lab-image
	scripts/demo.sh

lab: deps lab-image
	maint lab up -n $(N) --faults '$(FAULTS)'

lab-down: venv
	maint lab down

lab-vm-image: system-deps lab-image
	@if [ "$$(id -u)" = 0 ]; then lab/build-vm-image.sh; \
	else echo "lab-vm-image: needs root (chroot, rootful Podman); VM lab tests will be skipped" >&2; fi

lab-vm: deps lab-vm-image
	maint lab vm up --port $(VM_PORT)

lab-vm-down: venv
	maint lab vm down

judge: deps lab-vm-image
	python bench/judge.py --write docs/judges.md --json docs/judges.json $(if $(ENFORCE),--enforce)

bench-actionlog: venv
	python bench/actionlog_ingest.py --results 1000000 --verify

bench-cycle: venv lab-image
	python bench/cycle.py --sizes 10,50 --runs 3

clean:
	-maint lab down
	-maint lab vm down
	-scripts/start-postgres.sh --stop .cache/pg
	rm -rf .cache .maint .pytest_cache .ruff_cache
