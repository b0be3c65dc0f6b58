# One command runs every test: `make test`. It installs Debian's redis-server and redis-tools
# (the reference implementation the differential tests compare against) and systemd (whose
# systemd-analyze checks conf/strata.service) when they are missing.

GO ?= go
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RACE_PKGS := ./engine/... ./server/...

.PHONY: test deps build vet unit race fuzz bench

test: deps vet unit race fuzz

deps:
	@if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null || ! command -v redis-check-rdb >/dev/null; then \
		echo "installing redis-server and redis-tools"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server redis-tools >/dev/null; \
	fi
	@if ! command -v systemd-analyze >/dev/null; then \
		echo "installing systemd (for systemd-analyze)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq systemd >/dev/null; \
	fi
	@redis-server --version

build:
	$(GO) build -o strata ./cmd/strata

vet:
	$(GO) vet ./...

# STRATA_REQUIRE_REDIS and STRATA_REQUIRE_SYSTEMD turn a missing redis-server or
# systemd-analyze into a failure instead of a skip.
unit:
	STRATA_REQUIRE_REDIS=1 STRATA_REQUIRE_SYSTEMD=1 $(GO) test -count=1 -timeout 25m ./...

race:
	STRATA_REQUIRE_REDIS=1 $(GO) test -race -count=1 -timeout 25m $(RACE_PKGS)

# Each fuzz target runs briefly; the seed corpora also run in `unit`.
FUZZ_TIME ?= 10s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
			echo "fuzz $$(dirname $$f) $$fn ($(FUZZ_TIME))"; \
			if ! $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZ_TIME) ./$$(dirname $$f) >fuzz.log 2>&1; then \
				tail -n 40 fuzz.log; find $$(dirname $$f)/testdata/fuzz/$$fn -newer Makefile -type f -exec sh -c 'echo "== $$1"; cat "$$1"' _ {} \; 2>/dev/null; exit 1; \
			fi; \
		done; \
	done; rm -f fuzz.log

bench:
	$(GO) run ./benchmarks compare
