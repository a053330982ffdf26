#!/usr/bin/env bash
# Builds the Windows programs with mingw-w64 and runs the test suite under Wine:
#   tests/run_under_wine.sh [BUILD_DIR] [JOBS]        (what `make test-windows` runs)
# The unit, multiprocess, stress, fault, inspect and broadcast tiers, the C ABI test and the CLI
# round trip run as Windows executables; the multi-process tiers start their peers with
# CreateProcessW.
# Wine runs non-interactively in a private prefix that is created here and removed at the end,
# with a persistent wineserver started first and stopped last (facts behind each setting:
# docs/windows.md). SHMRING_WINE_LABELS overrides the CTest label filter.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${1:-build-win}
JOBS=${2:-$(nproc 2>/dev/null || echo 2)}
LABELS=${SHMRING_WINE_LABELS:-^(unit|multiprocess|stress|fault|inspect|broadcast|c_api|cli)$}
TARGETS="unit_tests proc_tests inspect_tests shmring_cli shmring_c test_c_api"
START=$(date +%s)

# Not make's sub-make: no "Entering directory" noise; -j is given explicitly.
unset MAKEFLAGS MAKELEVEL MFLAGS
timeout 300 cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Only what the Windows run needs: Linux-only targets (demo, fuzz and reliability harnesses)
# stay out.
timeout 1800 cmake --build "$BUILD" -j "$JOBS" --target $TARGETS

WINE_HOME=$(mktemp -d /tmp/shmring-wine.XXXXXX)
export WINEPREFIX="$WINE_HOME/prefix"
export WINEDEBUG=-all                                    # no "wine32 is missing" noise
export WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"  # no Mono/Gecko install, no debugger
unset DISPLAY
stop_wine() {
  timeout 30 wineserver -k </dev/null >/dev/null 2>&1 || true
  timeout 30 wineserver -w </dev/null >/dev/null 2>&1 || true
  rm -rf "$WINE_HOME"
}
trap stop_wine EXIT
# A persistent server first, then the prefix; all with stdio on /dev/null, or ctest would wait
# forever on the pipes that Wine's services inherit.
mkdir -p "$WINEPREFIX"  # wineserver runs in it, so it must exist first
timeout 60 wineserver -p </dev/null >/dev/null 2>&1
timeout 300 wineboot -i </dev/null >/dev/null 2>&1

RC=0
(cd "$BUILD" && timeout 3600 ctest --output-on-failure --timeout 600 -L "$LABELS") || RC=$?
echo "test-windows: ctest exit $RC, $(($(date +%s) - START)) s wall (build included)"
exit $RC
