# shmring — the two commands: `make demo` and `make test` (run as root on a fresh Debian 12;
# they install what is missing with apt-get, configure, build, and run).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DEBS := cmake make g++ libboost-dev catch2 libconcurrentqueue-dev libreaderwriterqueue-dev \
        libbenchmark-dev python3

.PHONY: all deps configure build test demo clean format

all: build

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

demo: build
	$(BUILD)/tools/shmring-demo --seconds 3

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD)

# ---- benchmarks: `make bench` (QUICK=1 for a 1-2 minute run; BENCH_ARGS for bench/run.py) ----
# Bench-only packages, installed by this target alone: the iceoryx peer and its RouDi daemon,
# gnuplot for the plots, strace / perf for counting system calls.
BENCH_DEBS := iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev gnuplot-nox strace linux-perf
BENCH_BUILD ?= build-bench

.PHONY: bench
bench:
	@missing=""; for p in $(DEBS) $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMRING_BUILD_BENCH=ON -DSHMRING_BUILD_TESTS=OFF
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target shmring-bench shmring_micro
	python3 bench/run.py --build $(BENCH_BUILD) $(if $(QUICK),--quick) $(BENCH_ARGS)
