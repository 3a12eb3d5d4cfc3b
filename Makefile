# crawlctl — see README.md. `make run` tries it out; `make test` runs every test.
GO      ?= go
BIN     := bin/crawlctl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/crawlctl/crawlctl/pkg/internal/buildinfo.Version=$(VERSION)

.PHONY: build test lint run bench clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/crawlctl

# Every test, with the race detector, against a real MySQL/MariaDB (started
# by scripts/with-test-db.sh when none answers) and SQLite.
test:
	scripts/with-test-db.sh $(GO) test -race -count=1 -timeout 15m ./...

lint:
	@out=$$(gofmt -l cmd pkg migrations); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Start crawlctl solo (SQLite, one executor), run the example flow, keep serving.
# SOLO_LISTEN=127.0.0.1:8082 when port 8081 is taken.
SOLO_LISTEN ?= 127.0.0.1:8081
run: build
	scripts/quickstart.sh --bin $(BIN) --listen $(SOLO_LISTEN)

# Measure a real loopback cluster against this machine's limits; writes
# var/bench/latest.json. BENCH_FLAGS=--quick for a run under a minute.
bench:
	scripts/with-test-db.sh $(GO) run ./cmd/crawlbench $(BENCH_FLAGS)

clean:
	rm -rf bin var
