# gatherer: build, tests, conformance suite, peer images.
#
#   make deps          install what the build and the tests need (idempotent)
#   make build         bin/gatherer, bin/gatherer-check (static: they also run in the peer images)
#   make test          gofmt, go vet, staticcheck, go test -short ./...
#   make conformance   the godog suite (GATHERER=python|go|both MODE=container|process|auto),
#                      then every fuzz target for 60s and the 2-minute soak (the heavy
#                      runs CI needs; GODOG_TAGS=... or SUITE_ONLY=1 runs the suite alone)
#   make fuzz          every FuzzX for FUZZTIME each (60s)
#   make soak          churn against a restarting gatherer (SOAK_DURATION: 30m, 2m when CI=true)
#   make bench         ours vs python-foolscap, measured in one run (cmd/bench)
#   make fixtures      re-record golden files from the real python-foolscap
#   make image         peer images gatherer-peer-{bookworm,trixie}:<recipe hash>
#   make rootfs        the trixie root filesystem for process mode (chroot)
#   make run           an incident gatherer in run/incident-gatherer, foreground
#
# python-foolscap runs with Debian's /usr/bin/python3: the python3 first on
# PATH may be another interpreter without it.

SHELL := /bin/bash
GO ?= go
PYTHON := /usr/bin/python3
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GOBIN)/staticcheck
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: python-foolscap 21.7 (peers, reference gatherers, flogtool,
# twistd3), bzip2 (python's log gatherer's --bzip; the reference our
# in-process compressor is compared with), debootstrap (peer root
# filesystems), curl (Tahoe's report_incident), util-linux (unshare for the
# chroot helper).
DEBIAN_PACKAGES := python3-foolscap python3-twisted bzip2 busybox-static debootstrap curl ca-certificates util-linux

GATHERER ?= both
MODE ?= auto
GODOG_TAGS ?=
FUZZTIME ?= 60s
SOAK_DURATION ?= $(if $(filter true,$(CI)),2m,30m)
SOAK_TIMEOUT ?= $(if $(filter true,$(CI)),20m,90m)
CONFORMANCE_TIMEOUT ?= 30m

IMAGES := conformance/peers/images/build.sh

.PHONY: all deps build test lint conformance bench fuzz soak fixtures image rootfs run clean

all: build test

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing from Debian:" $$missing; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	@$(PYTHON) -c 'import foolscap' || { echo "make deps: $(PYTHON) cannot import foolscap" >&2; exit 1; }
	$(GO) mod download
	@if ! $(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))'; then \
		echo "make deps: installing staticcheck $(STATICCHECK_VERSION)"; \
		GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

build:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/gatherer ./cmd/gatherer-check

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

# -short skips the conformance suite (make conformance) and other long tests.
test: lint
	$(GO) test -short -count=1 -timeout 10m ./...

# MODE=auto: container mode when a Docker engine answers, else process mode
# (loudly). Images and root filesystems are rebuilt only when their recipe
# changed.
conformance: $(if $(filter go both,$(GATHERER)),build)
	@mode=$(MODE); \
	if [ "$$mode" = auto ]; then \
		if docker info >/dev/null 2>&1; then mode=container; else \
			mode=process; \
			echo; echo "*** NOTICE: no Docker engine answers: the conformance suite runs in PROCESS mode ***"; echo; \
		fi; \
	fi; \
	if [ "$$mode" = container ]; then $(MAKE) --no-print-directory image; else $(MAKE) --no-print-directory rootfs; fi && \
	cd conformance && GATHERER=$(GATHERER) MODE=$$mode GODOG_TAGS='$(GODOG_TAGS)' $(GO) test -count=1 -timeout $(CONFORMANCE_TIMEOUT) -v -run '^TestFeatures$$' .
	@if [ -n '$(GODOG_TAGS)' ] || [ '$(SUITE_ONLY)' = 1 ]; then \
		echo "make conformance: GODOG_TAGS or SUITE_ONLY=1 given: the fuzz targets and the soak are not run"; \
	else \
		$(MAKE) --no-print-directory fuzz FUZZTIME=60s && \
		$(MAKE) --no-print-directory soak SOAK_DURATION=2m SOAK_TIMEOUT=20m; \
	fi

fuzz:
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Nodes join and leave an incident gatherer restarted three times (once with
# SIGKILL); every incident must be stored exactly once and RSS stay flat.
# SOAK_NODES (200) and SOAK_INCIDENTS (20 per node) size it.
soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -timeout $(SOAK_TIMEOUT) -run '^TestSoak$$' ./internal/soak

# cmd/bench: each workload against python-foolscap's gatherer and ours, in one
# run (BENCHFLAGS are passed on).
bench:
	$(GO) run ./cmd/bench $(BENCHFLAGS)
	@echo; echo "== stats gatherer: 1,000 providers polled every second over real Foolscap (CPU share, RSS) =="
	$(GO) test -run '^$$' -bench BenchmarkWire1000PerSecond -benchtime=5x ./gatherer/stats

# Packages whose tests take -update re-record their golden files from the
# real python-foolscap (each rewrites only what no longer matches).
fixtures:
	@pkgs=$$(grep -rl --include='*_test.go' 'flag.Bool("update"' foolscap gatherer cmd internal 2>/dev/null | xargs -r -n1 dirname | sort -u | sed 's|^|./|'); \
	echo "make fixtures: re-recording in" $$pkgs; \
	$(GO) test -count=1 $$pkgs -args -update

image:
	$(IMAGES) bookworm trixie

rootfs:
	$(IMAGES) --rootfs-only trixie

RUN_DIR := run/incident-gatherer
run: build
	@if [ ! -f $(RUN_DIR)/port ]; then \
		bin/gatherer create-incident-gatherer --port tcp:3118:interface=127.0.0.1 --location tcp:127.0.0.1:3118 $(RUN_DIR); \
	fi
	@bin/gatherer run $(RUN_DIR) & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null; wait $$pid' INT TERM; \
	for _ in $$(seq 100); do [ -s $(RUN_DIR)/log_gatherer.furl ] && break; kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	if [ -s $(RUN_DIR)/log_gatherer.furl ]; then echo "incident gatherer FURL (give it to nodes as log_gatherer.furl): $$(cat $(RUN_DIR)/log_gatherer.furl)"; fi; \
	wait $$pid

clean:
	rm -rf bin reports
