#!/bin/sh
# One bounded libFuzzer run of a shmring fuzz target from its seed corpus.
#   run_fuzz.sh FUZZ_BINARY TARGET SECONDS MAX_LEN BUILD_DIR
# New coverage goes to BUILD_DIR/fuzz-work/TARGET (kept between runs), crash / timeout inputs to
# BUILD_DIR/fuzz-artifacts/. Exit status: libFuzzer's (0: nothing found).
set -eu
bin=$1 target=$2 seconds=$3 max_len=$4 build=$5
here=$(cd "$(dirname "$0")" && pwd)
work="$build/fuzz-work/$target"
artifacts="$build/fuzz-artifacts"
mkdir -p "$work" "$artifacts"
echo "fuzzing '$target' for $seconds s; crashes go to $artifacts"
# -timeout: an input that runs this long is a hang (every call under test has a zero timeout).
set -- "$work" "$here/corpus/$target"
for extra in "$here/regressions/$target"; do
  [ -d "$extra" ] && set -- "$@" "$extra"
done
exec timeout -k 10 $((seconds + 120)) "$bin" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
  -dict="$here/shmring.dict" -artifact_prefix="$artifacts/$target-" -print_final_stats=1 "$@"
