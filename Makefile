# autofreeze: `make demo` runs the main job on the default model and data;
# `make test` runs every test. Both run `make setup` first, which fetches
# and verifies everything (see scripts/setup.sh; nothing is installed by hand).

SHELL := bash
GO ?= go
BIN := bin/autofreeze

.PHONY: all setup build test demo bench clean distclean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/autofreeze

test: setup
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

demo: build
	@scripts/demo.sh

clean:
	rm -rf bin

# Also removes everything setup unpacked (downloads stay cached).
distclean: clean
	rm -rf .deps go.work go.work.sum
