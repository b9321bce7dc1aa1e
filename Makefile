# Shepherd: a highly available master cluster for distributed task scheduling.
GO      ?= go
BIN     ?= bin/shepherd
PKGS    := ./...

.PHONY: help build run test bench chaos lint clean

CHAOS_MASTERS  ?= 5
CHAOS_DURATION ?= 10m

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 10

build: ## build the one binary into bin/shepherd
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/shepherd

run: build ## start 3 masters and 2 workers on loopback (data in ./data/dev)
	./$(BIN) dev

test: ## unit, cluster and end-to-end tests with the race detector
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

bench: build ## end-to-end throughput and latency on a local 3-master cluster
	./$(BIN) bench --local 3 $(BENCH_ARGS)
	$(GO) test -run '^$$' -bench . -benchtime 2x ./fsm/
	$(GO) test -run '^$$' -bench Fanout -benchtime 3000x ./monitor/

chaos: build ## long chaos run against local masters, every nemesis
	./$(BIN) chaos --local $(CHAOS_MASTERS) --duration $(CHAOS_DURATION) --interval 15s \
	  --nemesis kill,pause,partition,transfer,worker-kill $(CHAOS_ARGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin data/dev
