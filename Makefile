# autofreeze: `make demo` runs the main job on the default model and data;
# `make test` runs every test. Both run `make setup` first, which fetches
# and verifies everything (see scripts/setup.sh; nothing is installed by hand).

SHELL := bash
GO ?= go
BIN := bin/autofreeze

.PHONY: all setup build test test-torchrun demo bench clean distclean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/autofreeze

test: setup
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...

# Data-parallel training under the real torchrun of torch 2.1, which needs
# the torch wheel and its CUDA libraries (2.4 GB of downloads, 4 GB
# installed), so it is not part of `make test`.
test-torchrun: setup
	TORCHRUN=$$(scripts/torchrun_venv.sh) $(GO) test -count=1 -run 'TestTorchrun' -v ./cli

demo: build
	@scripts/demo.sh

clean:
	rm -rf bin

# Also removes everything setup unpacked (downloads stay cached).
distclean: clean
	rm -rf .deps go.work go.work.sum
