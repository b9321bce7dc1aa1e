# Shepherd: a highly available master cluster for distributed task scheduling.
GO      ?= go
BIN     ?= bin/shepherd
PKGS    := ./...

.PHONY: build run test bench lint clean

build: ## build the one binary into bin/shepherd
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/shepherd

run: build ## start 3 masters and 2 workers on loopback (data in ./data/dev)
	./$(BIN) dev

test: ## unit, cluster and end-to-end tests with the race detector
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

bench: build ## end-to-end throughput and latency on a local 3-master cluster
	./$(BIN) bench --local 3 $(BENCH_ARGS)
	$(GO) test -run '^$$' -bench . -benchtime 2x ./fsm/

lint: ## gofmt and go vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin data/dev
