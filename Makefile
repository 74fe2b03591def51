# Developer and CI entry points. GNU make; every target is a plain command
# so it can be copied into a shell. CI runs these through .ci/run.

GO ?= go
# staticcheck is pinned so lint results do not change under our feet;
# v0.8.2 is the release that supports Go 1.26 (2025.1.1 is not served by the
# module proxy and predates Go 1.26).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Extra flags for `make test`, e.g. TESTFLAGS='-run TestRestore -v'.
TESTFLAGS ?=
# The fixed owner token `make run` accepts (README's examples use it); set
# RESTORED_DEV_TOKEN to choose another. Dev mode only.
RESTORED_DEV_TOKEN ?= rst_dev_owner_token
# Benchmark pattern for `make bench`.
BENCH ?= .

# The race detector needs cgo and a C compiler. Detect both so that `make test`
# still passes on a laptop with only Go (it just runs without -race there).
# Override with RACE= to disable, or RACE=-race to insist.
# CGO_ENABLED and CC are read from make's own variables first, because one
# given on the make command line is not visible to $(shell) in make 4.3.
# (make's built-in default CC=cc is ignored: Go would not use it either.)
CGO := $(or $(CGO_ENABLED),$(shell $(GO) env CGO_ENABLED))
CC_GO := $(if $(filter environment command line,$(origin CC)),$(CC),$(shell $(GO) env CC))
RACE ?= $(if $(filter 1,$(CGO)),$(if $(shell command -v $(firstword $(CC_GO)) 2>/dev/null),-race))

.DEFAULT_GOAL := build
.PHONY: generate migration build run test chaos bench lint check-generated graphiql

## graphiql: rebuild the embedded GraphiQL assets from the npm packages named
## in server/graphiql/VERSIONS (needs npm and the registry; the result is
## byte-for-byte reproducible and committed, so `make run` needs only Go).
graphiql:
	bash server/graphiql/build.sh

## generate: regenerate ent (and ent.graphql), then the gqlgen server code.
generate:
	cd ent && $(GO) run -mod=mod entc.go
	$(GO) run github.com/99designs/gqlgen generate

## migration: write a new versioned migration per dialect, e.g. make migration NAME=add_notes
migration:
	@if [ -z "$(NAME)" ]; then echo "usage: make migration NAME=<short_name>" >&2; exit 1; fi
	$(GO) run ./internal/store/migrategen -name "$(NAME)"

## build: the single binary, into bin/.
build:
	$(GO) build -o bin/restored ./cmd/restored

## run: the whole system in one process (SQLite, in-process Redis, simulated tenants).
run:
	RESTORED_DEV_TOKEN=$(RESTORED_DEV_TOKEN) $(GO) run ./cmd/restored serve --dev

## test: all tests; against real services when RESTORED_TEST_* are set (see testenv).
test:
	$(GO) test $(RACE) -count=1 -timeout 20m $(TESTFLAGS) ./...

## chaos: the long crash test of execution (real processes; many worker kills,
## SIGTERMs and Redis flushes, about 10 to 20 minutes). `make test` runs its
## short version. RESTORED_CHAOS_SEED=N replays a run's logged interruptions.
chaos:
	RESTORED_CHAOS=1 $(GO) test $(RACE) -count=1 -timeout 60m -run '^TestChaosExecution$$' -v $(TESTFLAGS) ./cmd/restored

## bench: benchmarks only (-run '^$$' skips the tests).
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

## lint: gofmt on hand-written code, go vet, staticcheck (not on ent's and
## gqlgen's generated packages, whose templates we do not own).
# Generated files (the "Code generated ... DO NOT EDIT." marker: ent/ output,
# graph/generated/, gqlgen models) are skipped: they are rewritten by
# `make generate` and checked by check-generated instead. ent/schema/ and
# ent/entc.go are hand-written and are checked.
lint:
	@echo "no build output tracked: no file over 1 MiB outside testdata/"
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null \
		| awk '$$1 > 1048576 && $$2 !~ /(^|\/)testdata\// {print $$2}'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MiB (build output? add it to .gitignore):"; echo "$$big"; exit 1; fi
	@echo "gofmt -l (hand-written files)"
	@out=$$(find . -path ./.git -prune -o -path ./graph/generated -prune -o -name '*.go' -print \
		| xargs -r grep -L -E '^// Code generated .* DO NOT EDIT\.$$' \
		| xargs -r gofmt -l); \
	if [ -n "$$out" ]; then echo "these files need gofmt -w:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) $$($(GO) list ./... | grep -v -E '/ent(/[a-z]+)?$$|/graph/generated$$') ./ent/schema

## check-generated: fail if regenerating changes any file (generated code must be committed up to date).
check-generated: generate
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "make generate changed the tree; run it and commit the result:"; \
		git status --porcelain; git diff --stat; exit 1; \
	fi
	@echo "generated code is up to date"
