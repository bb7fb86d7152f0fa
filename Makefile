# Wick's developer commands. Everything installs what it needs into .venv
# (Python packages from the package index, Go modules from the module proxy).
#
#   make demo    set up, then run the main job on bundled data
#   make test    set up, then go vet + Go tests (-race) + pytest
#   make bench   set up, then print Wick beside the reference quantizers
#                (BENCH_ARGS="--section blockwise zerocopy" picks sections)
#   make lint    gofmt, go vet, ruff
#
# WITH_LLAMA=1 also installs llama-cpp-python (it compiles llama.cpp: a few
# minutes) so that the tests and benchmarks that use llama.cpp itself run.
# WITH_BNB=1 (or `make test-bnb`) installs torch, transformers, accelerate and
# bitsandbytes (about 2.8 GB of wheels, 5 GB installed), with sentencepiece and
# protobuf for transformers' SentencePiece tokenizers, so that the tests
# comparing Wick's bitsandbytes directories and export-hf's folders with
# transformers and bitsandbytes themselves run, and `make bench` times
# bitsandbytes beside Wick.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GO ?= go
LLAMA_CPP_PYTHON ?= llama-cpp-python==0.3.36
BNB_PACKAGES ?= torch==2.11.0 transformers==4.57.6 accelerate==1.16.0 bitsandbytes==0.50.2 sentencepiece==0.2.3 protobuf==7.36.2
# Every file the library is built from, as `go list` reports them (the same
# list the source distribution takes; see build_native.py).
GO_SOURCES := $(shell $(PYTHON) build_native.py --sources)
LIB := python/wick/_lib/libwick.so
# The test suite's build of the library: with the wick_debug_* test hooks
# (build tag wick_testhooks), which release builds leave out.
TESTLIB := build/test-lib/libwick.so

.PHONY: all setup lib test gotest pytest bench bench-quick demo lint fmt clean llama test-bnb bnb

all: test

# The virtual environment with Wick installed in editable mode and the test
# dependencies. Rebuilt when the packaging files change.
$(VENV)/.installed: pyproject.toml setup.py build_native.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else "Wick needs Python 3.9 or newer")'
	@command -v $(GO) >/dev/null || { echo "error: Wick's core needs the Go toolchain (1.25 or newer) on PATH: https://go.dev/dl/"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,dev]"
	@touch $@

setup: $(VENV)/.installed

# llama-cpp-python (compiles llama.cpp) for the tests that run llama.cpp itself.
# It is built for a portable x86-64 (AVX2, no -march=native): a native build
# on a virtual machine whose CPU reports AMX but whose hypervisor does not let
# it run dies with SIGILL in ggml's AMX matrix multiply (tilezero) as soon as a
# model generates. Quantization is unaffected either way (ggml-base, which
# holds the quantizers, is built without -march flags). Set LLAMA_CMAKE_ARGS
# to override.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
# The build takes about 9 minutes on 2 cores (seconds when pip has a wheel
# cached): its output goes to a log, and every 30 s the build step it has
# reached (cmake/ninja's [n/N] or [ n%]) is shown.
LLAMA_LOG := $(VENV)/llama-cpp-python-build.log
$(VENV)/.llama: | $(VENV)/.installed
	@echo "installing $(LLAMA_CPP_PYTHON): compiles llama.cpp, about 9 minutes on 2 cores (log: $(LLAMA_LOG))"
	@CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -v "$(LLAMA_CPP_PYTHON)" > $(LLAMA_LOG) 2>&1 & pid=$$!; start=$$(date +%s); n=0; \
	while kill -0 $$pid 2>/dev/null; do \
		sleep 5; n=$$((n + 1)); kill -0 $$pid 2>/dev/null || break; [ $$((n % 6)) -eq 0 ] || continue; \
		step=$$(grep -Eo '^ *\[ *[0-9]+(/[0-9]+|%)\]' $(LLAMA_LOG) | tail -n 1 | tr -d ' '); \
		t=$$(( $$(date +%s) - start )); printf '  %d:%02d  %s\n' $$((t / 60)) $$((t % 60)) "$${step:-preparing the build}"; \
	done; \
	if ! wait $$pid; then tail -n 40 $(LLAMA_LOG); echo "error: installing $(LLAMA_CPP_PYTHON) failed (log: $(LLAMA_LOG))"; exit 1; fi
	@touch $@

llama: $(VENV)/.llama

# torch, transformers and bitsandbytes (CPU backend) for the tests that run them.
$(VENV)/.bnb: | $(VENV)/.installed
	$(PY) -m pip install -q $(BNB_PACKAGES)
	@touch $@

bnb: $(VENV)/.bnb

# The native library, rebuilt whenever a Go source changes (or the code that writes
# the prebuilt cffi declarations beside it).
FFI_SOURCES := build_native.py python/wick/_headers.py
$(LIB): $(GO_SOURCES) $(FFI_SOURCES) | $(VENV)/.installed
	$(PY) build_native.py

$(TESTLIB): $(GO_SOURCES) $(FFI_SOURCES) | $(VENV)/.installed
	$(PY) build_native.py --test-hooks

lib: $(LIB) $(TESTLIB)

test: setup lib $(if $(WITH_LLAMA),llama) $(if $(WITH_BNB),bnb) gotest pytest

# Wick's bitsandbytes directories against transformers and bitsandbytes themselves.
test-bnb: setup lib bnb
	$(PY) -m pytest tests/test_bnb_out.py -q -rs

gotest:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -race -short ./...
	# the portable Go kernels alone, as on CPUs and architectures without the assembly
	$(GO) test -short -tags noasm ./...
	# FMA must never change the bytes: the same tests with AVX2+FMA code generation
	@if [ "$$($(GO) env GOARCH)" = amd64 ] && grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then \
		echo "GOAMD64=v3 $(GO) test -short ./quant/..."; GOAMD64=v3 $(GO) test -short ./quant/...; \
	else echo "skipping the GOAMD64=v3 run: this CPU has no AVX2/FMA"; fi
	# exhaustive checks (all 2^32 float32 inputs: minutes), too slow under -race;
	# -v shows each test and, every 20 s, how far it is
	$(GO) test -v -run 'Exhaustive' ./quant/...

# pytest exits 5 when it collects no test: that is a failure too.
pytest: setup lib
	$(PY) -m pytest tests -q

# bench: quantizer throughput beside the anchors, then whole-model
# conversions (peak RSS and wall time; writes a 2.5 GB dense and a 3.7 GB
# mixture-of-experts synthetic model into bench/.cache once; set
# WICK_LLAMA_PYTHON to a Python with torch and transformers to time llama.cpp's
# convert_hf_to_gguf.py on the MoE model). bench-quick: the first part only.
bench: bench-quick
	$(PY) bench/convert_bench.py

bench-quick: setup lib $(if $(WITH_LLAMA),llama)
	$(PY) bench/bench.py $(BENCH_ARGS)

# The main job on the bundled demo model: examples/make_tiny_llama.py writes a
# deterministic few-MB Llama-3-shaped Hugging Face model (weights, BPE
# tokenizer, config), then `wick convert` turns it into a Q4_K_M GGUF file
# llama.cpp loads, and prints the per-tensor report.
DEMO_MODEL := examples/tiny-llama
DEMO_TYPE ?= Q4_K_M

$(DEMO_MODEL)/model.safetensors: examples/make_tiny_llama.py | $(VENV)/.installed
	$(PY) examples/make_tiny_llama.py $(DEMO_MODEL)

demo: setup lib $(DEMO_MODEL)/model.safetensors
	$(VENV)/bin/wick convert $(DEMO_MODEL) -o examples/tiny-llama-$(DEMO_TYPE).gguf --type $(DEMO_TYPE) --force --progress

lint: setup
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(PY) -m ruff check python tests bench examples build_native.py setup.py

fmt: setup
	gofmt -w .
	$(PY) -m ruff check --fix python tests bench examples build_native.py setup.py

clean:
	rm -rf $(VENV) build dist python/wick/_lib *.egg-info python/*.egg-info .pytest_cache
