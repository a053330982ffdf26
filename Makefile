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

# The long tiers have their own targets below (reliability, soak, fuzz): `make test` stays fast.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -LE 'soak|fuzz|reliability'

demo: build
	$(BUILD)/tools/shmring-demo --seconds 3

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD)

# ---- benchmarks: `make bench` (QUICK=1 for a 1-2 minute run; BENCH_ARGS for bench/run.py) ----
# A full run also copies its tables into bench/README.md; a QUICK one only writes bench/results/.
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
	python3 bench/run.py --build $(BENCH_BUILD) $(if $(QUICK),--quick,--publish bench/README.md) $(BENCH_ARGS)

# ---- Windows: `make test-windows` (see docs/windows.md) --------------------------------------
# mingw-w64 builds of the library, the C ABI, the CLI and the test suite, run under Wine in a
# private prefix: unit, multiprocess, stress, fault, inspect and broadcast tiers, c_api and the
# CLI round trip.
WIN_BUILD ?= build-win
WIN_DEBS := cmake make libboost-dev catch2 python3 g++-mingw-w64-x86-64 wine wine64

.PHONY: test-windows
test-windows:
	@missing=""; for p in $(WIN_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	tests/run_under_wine.sh $(WIN_BUILD) $(JOBS)

# ---- reliability (docs/security.md): sanitizers, fuzzing, fault injection, soak --------------
#   make test-reliability   fault injection with real processes, create races, truncation and
#                           overwrite, one test per core bug found (docs/security.md); in $(BUILD)
#   make test-sanitize      the whole suite under ASan+UBSan (build-asan, clang) and TSan
#                           (build-tsan, gcc: see CMakeLists.txt); SANITIZERS="asan" or "tsan" runs
#                           one; the reliability tier runs at SAN_SCALE of its normal size
#   make fuzz               each libFuzzer target for FUZZ_SECONDS from its seed corpus (build-fuzz;
#                           FUZZ_SECONDS=40 in CI); crashes land in build-fuzz/fuzz-artifacts/
#   make soak               SOAK_MESSAGES checksummed messages per ring kind across processes,
#                           throughput printed as it goes (10^8 by default; 10^7 in CI)
SAN_DEBS := clang libclang-rt-14-dev libasan8 libubsan1 libtsan2
SANITIZERS ?= asan tsan
SAN_SCALE ?= 0.25
FUZZ_SECONDS ?= 300
SOAK_MESSAGES ?= 100000000
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/reliability/tsan.supp \
           SHMRING_RELIABILITY_SCALE=$(SAN_SCALE)

.PHONY: san-deps test-reliability test-sanitize fuzz soak

san-deps: deps
	@missing=""; for p in $(SAN_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test-reliability: build
	cd $(BUILD) && ctest --output-on-failure -L reliability

test-sanitize: san-deps
	@failed=""; for s in $(SANITIZERS); do \
	  case $$s in asan) set="address;undefined"; cc=clang; cxx=clang++;; \
	              tsan) set="thread"; cc=gcc; cxx=g++;; \
	              *) echo "unknown sanitizer $$s" >&2; exit 2;; esac; \
	  echo "== $$s: build-$$s ($$set, $$cxx)"; \
	  CC=$$cc CXX=$$cxx cmake -S . -B build-$$s -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DSHMRING_SANITIZE=$$set" >/dev/null \
	    && cmake --build build-$$s -j $(JOBS) \
	    && (cd build-$$s && env $(SAN_ENV) ctest --output-on-failure --timeout 1200 -LE 'soak|fuzz') \
	    || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-sanitize: failures under:$$failed" >&2; exit 1; fi

fuzz: san-deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHMRING_FUZZ=ON \
	  -DSHMRING_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzz_image fuzz_attach fuzz_peer
	cd build-fuzz && ctest --output-on-failure -L fuzz

soak: build
	SHMRING_SOAK_MESSAGES=$(SOAK_MESSAGES) $(BUILD)/tests/reliability/reliability_tests "[soak]"
