# fadi-seldon: every entry point. `make demo` and `make test` are the two that matter.
# Versions come from versions.env (the only place they are written).
include versions.env

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
TOOLS_DIR ?= $(CURDIR)/.tools
# The project's tools and virtual environment come first; helm state stays inside the checkout.
export PATH := $(TOOLS_DIR)/bin:$(VENV)/bin:$(PATH)
export HELM_PLUGINS := $(TOOLS_DIR)/helm/plugins
export HELM_CACHE_HOME := $(TOOLS_DIR)/helm/cache
export HELM_CONFIG_HOME := $(TOOLS_DIR)/helm/config
export HELM_DATA_HOME := $(TOOLS_DIR)/helm/data
export FADI_TOOLS_DIR := $(TOOLS_DIR)

# Seldon's source release, which the operator and executor are built from (the Go module proxy refuses
# them): set SELDON_CORE_SOURCE=/path/to/seldon-core-1.17.1.tar.gz, or keep it in ../shared/vendor/
SELDON_CORE_SOURCE ?= $(wildcard $(CURDIR)/../shared/vendor/seldon-core-$(SELDON_CORE_VERSION).tar.gz)
ifneq ($(SELDON_CORE_SOURCE),)
export SELDON_CORE_SOURCE
endif

# `make tools`: TOOLS=chart|cluster|operator|node|all or tool names (default all); PYTEST_ARGS for extra pytest flags
TOOLS ?= all
PYTEST_ARGS ?=
# `make install`: the FADI values file to install with
VALUES ?= fadi/values.yaml

.PHONY: help setup tools needed-tools generate lint lint-python lint-charts lint-workflows test test-unit test-chart \
        test-cluster test-compat bench demo install cluster-up cluster-down e2e-kind clean distclean package dist

# One target at a time, in the order the prerequisites are listed (`make test` runs its parts in order).
.NOTPARALLEL:

# The tools each target uses: names or groups (chart, cluster, operator, node, all) of `fadi-seldon tools install`.
# `needed-tools` installs, once per make run, the union for the targets named on the command line, so
# `make lint` never builds Kubernetes and `make test` checks each tool once.
TOOLS_lint := helm helm4 actionlint
TOOLS_lint-workflows := actionlint
TOOLS_lint-charts := helm helm4
TOOLS_test-unit := chart
TOOLS_test-chart := chart
TOOLS_test-cluster := helm cluster operator node
TOOLS_test := all
TOOLS_bench := all
TOOLS_test-compat := all
TOOLS_package := helm
TOOLS_dist := helm
NEEDED_TOOLS = $(sort $(foreach goal,$(MAKECMDGOALS),$(TOOLS_$(goal))))

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## virtual environment with fadi-seldon installed (editable) and dev tools

$(VENV)/.installed: pyproject.toml
	@echo "[setup] creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %d.%d); set PYTHON=python3.11" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	@touch $@

tools: setup ## pinned tools into .tools/: helm, helm4, ct, helm-unittest, etcd, Kubernetes, kwok, the Seldon operator; a node's kubelet, kube-proxy, containerd, CoreDNS and apt packages
	$(VPY) -m fadi_seldon tools install $(TOOLS)

needed-tools: setup
	$(VPY) -m fadi_seldon tools install $(or $(NEEDED_TOOLS),$(error no TOOLS_<target> entry for '$(MAKECMDGOALS)' in the Makefile))

generate: setup ## regenerate committed artefacts (CRD template, chart READMEs, schemas)
	$(VPY) -m fadi_seldon.dev.generate

lint: lint-python lint-charts lint-workflows ## ruff, mypy, helm lint --strict of the charts (Helm v3 and v4), actionlint of the workflows

lint-python: setup ## ruff check, ruff format --check, mypy of src/ (configured in pyproject.toml)
	$(VPY) -m ruff check src tests bench scripts
	$(VPY) -m ruff format --check src tests bench scripts
	$(VPY) -m mypy

lint-charts: setup needed-tools ## helm lint --strict of every chart and ci values set, Helm v3 and v4
	scripts/lint-charts.sh

lint-workflows: setup needed-tools ## actionlint of the GitHub workflows in .github/workflows
	actionlint .github/workflows/*.yaml

test: lint test-unit test-chart test-cluster ## everything: lint, Python unit tests, charts, cluster suite (the CI command)
	@echo "[test] all suites passed"

test-unit: setup needed-tools ## fast Python tests (no cluster)
	scripts/pytest.sh -m "not cluster" $(PYTEST_ARGS)

test-chart: setup needed-tools lint-charts ## helm lint (lint-charts), helm-unittest, ct lint, rendered-manifest validation
	scripts/test-chart.sh

test-cluster: setup needed-tools ## the cluster suite against the local control plane (one case of each fault group)
	scripts/pytest.sh -m "cluster and not faults" $(PYTEST_ARGS)

test-faults: setup needed-tools ## every fault and rollout case, with traffic (tests/cluster/test_15_faults.py; not in `make test`)
	scripts/pytest.sh -m cluster tests/cluster/test_15_faults.py $(PYTEST_ARGS)

# the oldest Kubernetes minor the chart claims that builds here, and the pinned one (README, "Kubernetes versions")
COMPAT_KUBERNETES ?= v1.28.15 $(KUBERNETES_VERSION)
test-compat: setup needed-tools ## the cluster suite on the oldest claimed Kubernetes minor and the pinned one (not in `make test`)
	COMPAT_KUBERNETES="$(COMPAT_KUBERNETES)" scripts/test-compat.sh

bench: setup needed-tools ## run every benchmark in bench/ and print the figures
	@for b in bench/bench_*.py; do echo "[bench] $$b"; $(VPY) $$b; done

demo: setup ## fresh machine to a real prediction: tools, local Kubernetes (or $KUBECONFIG), FADI + Seldon, a model
	scripts/demo.sh

cluster-up: setup ## start the local Kubernetes (control plane, a real node where the host can, kwok); idempotent
	$(VPY) -m fadi_seldon tools install cluster node
	$(VPY) -m fadi_seldon cluster up
	@$(VPY) -m fadi_seldon cluster env

cluster-down: ## stop the local Kubernetes, put the host back as it was, and remove its state (.cluster/)
	$(VPY) -m fadi_seldon cluster down

# kind and its default node image; the suite's fixture uses FADI_TEST_KUBECONFIG instead of the local cluster
KIND ?= kind
KIND_CLUSTER ?= fadi-seldon-e2e
# cert-manager for the chart's certManager.enabled values set (the local cluster stubs its APIs instead)
e2e-kind: setup ## the cluster suite against kind with the real images (needs Docker and kind; see docs/local-cluster.md)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "[e2e-kind] needs a running Docker engine; without one use 'make test-cluster' (docs/local-cluster.md)" >&2; exit 2; }
	@command -v $(KIND) >/dev/null || { echo "[e2e-kind] needs kind: go install sigs.k8s.io/kind@$(KIND_VERSION)" >&2; exit 2; }
	$(MAKE) --no-print-directory tools
	mkdir -p build/kind
	$(KIND) get clusters | grep -qx $(KIND_CLUSTER) || $(KIND) create cluster --name $(KIND_CLUSTER) --kubeconfig build/kind/kubeconfig --wait 180s
	$(KIND) get kubeconfig --name $(KIND_CLUSTER) > build/kind/kubeconfig
	helm --kubeconfig build/kind/kubeconfig upgrade --install cert-manager oci://quay.io/jetstack/charts/cert-manager \
	  --version $(CERT_MANAGER_VERSION) --namespace cert-manager --create-namespace --set crds.enabled=true --wait --timeout 300s
	rc=0; FADI_TEST_KUBECONFIG=$(CURDIR)/build/kind/kubeconfig scripts/pytest.sh -m cluster tests/cluster $(PYTEST_ARGS) || rc=$$?; \
	  [ -n "$${KEEP_KIND:-}" ] || $(KIND) delete cluster --name $(KIND_CLUSTER); exit $$rc

# `make package`: FADI_SIGNING_KEY (+ FADI_SIGNING_KEYRING, FADI_SIGNING_PASSPHRASE_FILE) signs with your
# key, otherwise a throw-away key made at build time does (scripts/package-charts.sh); DIST=dir
package: setup needed-tools ## chart archives of both charts into dist/, each with a signed .prov (helm verify)
	scripts/package-charts.sh

dist: package ## `make package`, plus the Python wheel and sdist, into dist/
	scripts/dist.sh

install: setup ## helm upgrade --install FADI into the current kube context (VALUES=fadi/values.yaml)
	$(VPY) -m fadi_seldon tools install helm
	VALUES="$(VALUES)" scripts/install.sh

clean: ## remove the virtual environment and caches (keeps the built tools in .tools/)
	rm -rf $(VENV) .venv-serve .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## also remove the built tools (next `make tools` rebuilds them)
	rm -rf $(TOOLS_DIR) .cluster
