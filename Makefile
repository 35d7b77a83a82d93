# Tartine — the two commands a newcomer needs: `make demo` and `make test`.
GO ?= go
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: demo test test-dates deps-demo deps-test build lint fuzz

build:
	$(GO) build -o bin/tartine ./cmd/tartine
	$(GO) build -o bin/tartine-bridge ./cmd/tartine-bridge

deps-demo:
	@scripts/install-deps.sh demo

deps-test:
	@scripts/install-deps.sh test

deps-failover:
	@scripts/install-deps.sh failover

## demo: run the demo school on the embedded PostgreSQL (./var/demo)
demo: deps-demo build
	./bin/tartine demo

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...

## test: install test dependencies, then vet, gofmt check, all tests with -race,
## and the date-sensitive tests again at fixed hard dates (test-dates)
test: deps-test lint
	$(GO) test -race -count=1 -timeout 12m ./...
	@scripts/test-dates.sh

## test-dates: the date-sensitive tests at 1 January, a Saturday, a Wednesday,
## the summer holidays, both DST changes and 29 February (internal/testclock)
test-dates:
	@scripts/test-dates.sh

## test-failover: a primary, a synchronous standby and pg_auto_failover on this
## machine; the primary is killed under tap load, FAILOVER_RUNS times in a row
## (1–2 min each; not in make test). docs/DEPLOYMENT.md.
FAILOVER_RUNS ?= 5
test-failover: deps-failover
	$(GO) test -tags failover -count=$(FAILOVER_RUNS) -run '^TestFailover$$' -timeout 45m -v ./internal/e2e/

## fuzz: run each fuzz target briefly
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 10s $$pkg || exit 1; \
	  done; \
	done
