# The two commands of the README's contract:
#   make demo   fresh machine -> engine + local registry -> release of sample-go-app -> summary
#   make test   every test (unit + integration on the real engine); .ci/run calls only this
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ORCH := $(BIN)/orchestrator
# Every docker/buildx call made from here talks to the project's own engine.
WITH_ENGINE := . .engine/env &&

.PHONY: help venv engine engine-b engine-stop lint unit test demo release pin check plan bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

venv: $(BIN)/.installed ## virtualenv with the package and its test tools

engine: ## install (if missing) and start Docker Engine 26 + buildx, registry :5000, QEMU; idempotent
	bash engine/up.sh

engine-b: ## a second, independent engine (own socket, containerd, bridge; shares the registry) -> .engine/env-b
	ORCH_ENGINE_NAME=b bash engine/up.sh

engine-stop: ## stop only what `make engine` started
	bash engine/down.sh

lint: venv ## ruff + mypy (strict)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy

unit: venv ## unit tests only (no engine needed)
	$(BIN)/pytest tests/unit -q

test: venv engine engine-b lint ## everything: lint, unit and integration tests on the real engines
	$(WITH_ENGINE) $(BIN)/pytest -q

plan: venv ## print the resolved plan of every target
	$(ORCH) plan all

check: venv ## the Dockerfile checks for every target
	$(ORCH) check all

pin: venv engine ## resolve base images to digests into builds.lock
	$(WITH_ENGINE) $(ORCH) pin

# make release VERSION=1.2.3   (without VERSION it comes from git: the tag at HEAD, or a dev version)
release: venv engine ## check, pin --check, build + push production for amd64+arm64, summary
	$(WITH_ENGINE) $(ORCH) release $(if $(VERSION),--var VERSION=$(VERSION)) $(if $(FORCE),--force)

# The demo releases an explicit version: a clean tree gets the full tag set (1.0.0, 1.0, 1,
# latest, sha-...). The committed builds.lock verifies as it is: the base images are reproducible
# (engine/README.md), so nothing is re-pinned and the tree stays clean.
DEMO_VERSION ?= 1.0.0

demo: venv engine ## the main job on a fresh machine: engine, registry, a release of sample-go-app
	$(MAKE) release VERSION=$(DEMO_VERSION)

bench: venv engine ## benchmarks against raw buildx; writes bench/results/latest.json
	$(WITH_ENGINE) $(BIN)/python -m bench

clean: ## remove run scratch files (not the engine, not the registry)
	rm -rf .orchestrator
