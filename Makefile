# promobot Makefile. `make help` lists the targets.
SHELL := /usr/bin/env bash
GO ?= go
BIN := $(CURDIR)/bin
CACHE := $(CURDIR)/.cache
STATICCHECK_VERSION := 2026.1
HELM_VERSION := v3.22.0
KUSTOMIZE_VERSION := v5.8.2
OCTOKIT_OPENAPI_VERSION := 23.0.2
TEST_TIMEOUT ?= 45m
FUZZTIME ?= 60s

TOOLS_SRC := $(wildcard test/tools/go.mod test/tools/go.sum test/tools/*/*.go)
OPENAPI := $(CACHE)/openapi/node_modules/@octokit/openapi/generated/api.github.com.json

export PROMOBOT_BIN_DIR := $(BIN)
export PROMOBOT_GITHUB_OPENAPI := $(OPENAPI)

.PHONY: help build test bench lint fuzz tools openapi demo clean system-packages image

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

build: ## build bin/promobot
	$(GO) build -o $(BIN)/promobot ./cmd/promobot

# The container image, FROM scratch with podman: the static binary built on
# the host, the CA bundle, a non-root user and /var/lib/promobot (see
# build/image.sh; podman's settings for this machine in build/containers.conf).
IMAGE ?= localhost/promobot:dev

image: system-packages ## build the container image IMAGE (default localhost/promobot:dev) with podman
	GO=$(GO) build/image.sh $(IMAGE)

# The real-component harness: kube-apiserver, etcd and kubectl built from the
# Go module proxy (about 5 minutes the first time on 2 cores, cached in bin/).
tools: $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubectl $(BIN)/kustomize $(BIN)/helm $(BIN)/nats-server ## build the harness binaries into bin/

$(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubectl &: $(TOOLS_SRC)
	@echo ">> building kube-apiserver, etcd and kubectl from the Go module proxy (first time: about 5 minutes)"
	cd test/tools && $(GO) build -o $(BIN)/ ./kube-apiserver ./etcd ./kubectl
	@touch $(BIN)/kube-apiserver $(BIN)/etcd $(BIN)/kubectl

# nats-server, at the version promobot's go.mod embeds, for the tests that run
# a NATS cluster of real processes (test/natscluster).
NATS_SERVER_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)

$(BIN)/nats-server: go.mod
	@echo ">> building nats-server $(NATS_SERVER_VERSION) from the Go module proxy"
	mkdir -p $(CACHE) && cd $(CACHE) && GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
	@touch $@

# The kustomize CLI, the reference `promobot render` output is compared with.
$(BIN)/kustomize:
	@echo ">> building kustomize $(KUSTOMIZE_VERSION) from the Go module proxy"
	GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# helm, built with the flags of helm's own release builds so that it reports
# its version and renders for the Kubernetes version the harness runs.
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37

$(BIN)/helm:
	@echo ">> building helm $(HELM_VERSION) from the Go module proxy (about a minute)"
	mkdir -p $(CACHE) && cd $(CACHE) && GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

openapi: $(OPENAPI) ## fetch GitHub's OpenAPI description (npm @octokit/openapi)

$(OPENAPI):
	@echo ">> fetching @octokit/openapi@$(OCTOKIT_OPENAPI_VERSION) from npm"
	mkdir -p $(CACHE)/openapi
	cd $(CACHE)/openapi && npm install --no-audit --no-fund --silent @octokit/openapi@$(OCTOKIT_OPENAPI_VERSION)
	@touch $@

# Debian packages the browser and image tests need: Chromium (driven by
# chromedp) and podman with runc. Installed with apt when missing.
SYSTEM_PACKAGES := chromium podman runc

system-packages: ## install Chromium, podman and runc with apt when missing
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || printf '%s ' $$p; done); \
	if [ -n "$$missing" ]; then \
		echo ">> installing $$missing with apt"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: tools openapi system-packages ## run every test against real components
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# The story of the seed document, played on this machine. DEMO_ARGS=--once
# plays it and exits (status 0 only if every step held).
demo: tools build ## run promobot's story locally (DEMO_ARGS=--once to play and exit)
	@echo ">> playing the story (local GitHub API, kube-apiserver, promobot serve)"
	$(GO) run ./test/demo $(DEMO_ARGS)

# Every Go fuzz target, one after another, each for FUZZTIME (make test runs
# only their seed corpora). New crashers land in the package's
# testdata/fuzz/<target>/ and fail make test until fixed.
fuzz: ## run every fuzz target for FUZZTIME (default 60s) each
	@set -e; for file in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
		pkg=./$$(dirname $$file); \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo ">> $$target in $$pkg for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: tools ## run the benchmarks and print the figures
	$(GO) run ./test/bench

lint: ## gofmt, go mod tidy, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean: ## remove built binaries and caches
	rm -rf $(BIN) $(CACHE)
