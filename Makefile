# Two set-up commands for a fresh clone: `make run` and `make test`. Both are idempotent and need
# only Python 3.11+ (and, for `make test`, nothing else: tests that need PostgreSQL, Redis,
# Chromium or the shared datasets skip with a reason unless CI=true).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
BOOTSTRAP_PYTHON := $(shell command -v python3.11 || command -v python3)
# Re-install only when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d" " -f1)
# torch comes first and pinned: the CPU build of this exact version is on the build machine's disk
# (pip's find-links); any other version would pull a multi-GB CUDA build.
TORCH_VERSION := 2.13.0

PORT ?= 8000
ITEMS ?= 100000
REVIEWERS ?= 20
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_OUT ?= benchmarks/results/next_item-$(shell date -u +%Y%m%dT%H%M%SZ).json

.PHONY: help venv run test test-media lint typecheck migrations-check pytest bench-next-item \
	clean-venv

help:
	@echo "make run    - install, migrate, load demo data, start a Celery worker + beat and the web"
	@echo "              server on http://127.0.0.1:$(PORT)/ (PORT=...)"
	@echo "make test   - install, then ruff, ruff format --check, mypy, migrations check, pytest"
	@echo "make lint   - ruff check and ruff format --check only"
	@echo "make bench-next-item - next-item benchmark on PostgreSQL (BENCH_DATABASE_URL=...)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(BIN)/pip install torch==$(TORCH_VERSION)
	$(BIN)/pip install -e '.[ml,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py load_demo
	PORT=$(PORT) scripts/run.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

migrations-check: venv
	$(PYTHON) manage.py makemigrations --check --dry-run

# PDQ's reference image comes from the threatexchange sdist on PyPI. Offline, the fetch says why
# and the tests that need it skip (under CI=true they fail instead).
test-media: venv
	$(PYTHON) scripts/fetch_test_media.py

pytest: venv test-media
	$(BIN)/pytest

# pytest exits 5 when it collected nothing; any non-zero status fails the target.
test: lint typecheck migrations-check pytest

bench-next-item: venv
	$(PYTHON) -m benchmarks.next_item --items $(ITEMS) --reviewers $(REVIEWERS) \
		--database-url $(BENCH_DATABASE_URL) --out $(BENCH_OUT)

clean-venv:
	rm -rf $(VENV)
