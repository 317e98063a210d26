# Thin wrapper over CMake. `make demo` and `make check` work on a fresh Debian 12 machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all build deps deps-test demo check unit asan bench clean

all: build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	bin/swap-run lua/experiments/fmnist.lua

# Unit tests under ASan+UBSan (their own build tree and bin dir), then every test on the release build.
asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSWAP_SANITIZE=ON -DSWAP_BIN_DIR=$(CURDIR)/$(ASAN_BUILD)/bin >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j $(JOBS)

check: deps-test build asan
	cd $(BUILD) && ctest --output-on-failure

unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure

bench: build deps-test
	scripts/bench.sh
	scripts/bench_phase1.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) bin
