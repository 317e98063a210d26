# Thin wrapper over CMake. `make demo` and `make check` work on a fresh Debian 12 machine.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local

.PHONY: all build deps deps-test demo check unit asan bench install clean

all: build

deps:
	@scripts/dev/deps.sh

deps-test:
	@scripts/dev/deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	bin/swap-run lua/experiments/fmnist.lua

# Unit tests under ASan+UBSan (their own build tree and bin dir), then every test on the release build.
asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSWAP_SANITIZE=ON -DSWAP_BIN_DIR=$(CURDIR)/$(ASAN_BUILD)/bin >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && rm -f ctest-junit.xml && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j $(JOBS) --output-junit ctest-junit.xml

# Ends with how many tests were skipped (exit 77: something they need is absent) and why; with
# SWAP_REQUIRE_ALL_TESTS=1 (CI) a skipped test fails the check.
check: deps-test build asan
	@rm -f $(BUILD)/ctest-junit.xml
	@rc=0; (cd $(BUILD) && ctest --output-on-failure --output-junit ctest-junit.xml) || rc=$$?; \
	  /usr/bin/python3 scripts/dev/ctest_skips.py $(ASAN_BUILD)/ctest-junit.xml $(BUILD)/ctest-junit.xml || rc=1; exit $$rc

unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure

bench: build deps-test
	scripts/bench/bench.sh
	scripts/bench/bench_phase1.sh

# Install into PREFIX (GNU layout; relocatable: the tree may be moved after). See README "Installing".
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) bin
