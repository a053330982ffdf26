#!/usr/bin/env bash
# End-to-end test of the `shmring` command-line tool.
#   tools/tests/cli_test.sh path/to/shmring
# Rings are named cli-<pid>-*, so parallel runs do not collide; a trap removes them.
# Background processes whose pid the test checks run without a `timeout` wrapper (it would
# own that pid); the trap kills them, and every blocking send has its own --timeout-ms.
set -eu

SHMRING=${1:?usage: cli_test.sh PATH_TO_SHMRING}
PREFIX="cli-$$"
WORK=$(mktemp -d)
BACKGROUND=""
CHECKS=0

cleanup() {
  for pid in $BACKGROUND; do kill -9 "$pid" 2>/dev/null || true; done
  for suffix in spsc mpsc dead full big json; do
    "$SHMRING" rm --force "$PREFIX-$suffix" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/out "$WORK"/err; do
    [ -s "$f" ] && { echo "--- $(basename "$f"):" >&2; head -50 "$f" >&2; }
  done
  exit 1
}

ok() { CHECKS=$((CHECKS + 1)); }

# expect RC CMD...: runs `shmring CMD...` (30 s limit) with stdout in $WORK/out, stderr in
# $WORK/err, and checks the exit code.
expect() {
  local want=$1 rc=0
  shift
  timeout 30 "$SHMRING" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
  [ "$rc" -eq "$want" ] || fail "'shmring $*' exited $rc, expected $want"
  ok
}

# expect_in RC CMD... with stdin from $WORK/in.
expect_in() {
  local want=$1 rc=0
  shift
  timeout 30 "$SHMRING" "$@" <"$WORK/in" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'shmring $*' (stdin) exited $rc, expected $want"
  ok
}

contains() {  # FILE TEXT
  grep -qF -- "$2" "$1" || fail "$(basename "$1") does not contain '$2'"
  ok
}

same() {  # FILE EXPECTED_TEXT (exact, with a final newline)
  printf '%s\n' "$2" | cmp -s - "$1" || fail "$(basename "$1") differs from expected:
$2"
  ok
}

mode_of() { stat -c %a "/dev/shm/shmring.$1"; }

# ---- help and usage errors ----------------------------------------------------------------------
expect 0 --help
contains "$WORK/out" "usage: shmring"
contains "$WORK/out" "/dev/shm/shmring.NAME"
expect 0 help
contains "$WORK/out" "usage: shmring"
for cmd in create send recv stat rm; do
  expect 0 "$cmd" --help
  contains "$WORK/out" "usage: shmring $cmd"
  expect 0 help "$cmd"
  contains "$WORK/out" "usage: shmring $cmd"
done
expect 0 create --help
contains "$WORK/out" "/dev/shm/shmring.NAME"
expect 2
expect 2 frobnicate
contains "$WORK/err" "unknown command"
expect 2 create
contains "$WORK/err" "missing ring NAME"
expect 2 create "$PREFIX-spsc"
contains "$WORK/err" "--capacity"
expect 2 create "$PREFIX-spsc" --capacity 12x
contains "$WORK/err" "bad value '12x' for --capacity"
expect 2 create "$PREFIX-spsc" --capacity 64k --kind ring
expect 2 create "$PREFIX-spsc" --capacity 64k --mode 999
expect 2 create "$PREFIX-spsc" --capacity 64k --bogus
contains "$WORK/err" "unknown option '--bogus'"
expect 2 recv "$PREFIX-spsc" --count -1
expect 2 recv "$PREFIX-spsc" --count
contains "$WORK/err" "needs a value"
expect 2 send "$PREFIX-spsc" --type 4294967295

# ---- create ---------------------------------------------------------------------------------------
expect 1 create ../x --capacity 64k
contains "$WORK/err" "shmring create: invalid ring name '../x'"
expect 1 create "$PREFIX-spsc" --capacity 1000
contains "$WORK/err" "shmring create: ring '$PREFIX-spsc': capacity 1000"
[ ! -e "/dev/shm/shmring.$PREFIX-spsc" ] || fail "a failed create left an object behind"

expect 0 create "$PREFIX-spsc" --capacity 64k
[ "$(mode_of "$PREFIX-spsc")" = 600 ] || fail "default mode is $(mode_of "$PREFIX-spsc"), not 600"
ok
expect 1 create "$PREFIX-spsc" --capacity 64k
contains "$WORK/err" "shmring create: ring '$PREFIX-spsc'"
expect 0 create "$PREFIX-mpsc" --capacity 4k --kind mpsc --mode 640 --producers 8
[ "$(mode_of "$PREFIX-mpsc")" = 640 ] || fail "--mode 640 gave $(mode_of "$PREFIX-mpsc")"
ok
expect 2 create "$PREFIX-big" --capacity 64k --producers 4
contains "$WORK/err" "mpsc"

# ---- send and recv --------------------------------------------------------------------------------
expect 0 send "$PREFIX-spsc" hello "two words" ""
expect 0 recv "$PREFIX-spsc" --count 3 --timeout-ms 5000
same "$WORK/out" "hello
two words
"
printf 'line 1\nline 2\n\nno newline at the end' >"$WORK/in"
expect_in 0 send "$PREFIX-spsc" --type 7
expect 0 recv "$PREFIX-spsc" --count 4
same "$WORK/out" "line 1
line 2

no newline at the end"
printf 'a\001b\n\377\n' >"$WORK/in"
expect_in 0 send "$PREFIX-spsc"
expect 0 recv "$PREFIX-spsc" --count 2
same "$WORK/out" "0x610162
0xff"
expect 0 send "$PREFIX-spsc" -- --not-an-option text
expect 0 recv "$PREFIX-spsc" --count 2 --hex
same "$WORK/out" "0x2d2d6e6f742d616e2d6f7074696f6e
0x74657874"

# The deadline covers all N records: 2 arrive, 5 were asked for.
expect 0 send "$PREFIX-spsc" first second
expect 3 recv "$PREFIX-spsc" --count 5 --timeout-ms 500
same "$WORK/out" "first
second"
contains "$WORK/err" "shmring recv: ring '$PREFIX-spsc': timed out after 500 ms with 2 of 5 records"
# Without --count the timeout just ends the run.
expect 0 send "$PREFIX-spsc" only
expect 0 recv "$PREFIX-spsc" --timeout-ms 200
same "$WORK/out" "only"

# Too large for the ring: 64k ring -> max payload 8184 bytes.
head -c 9000 /dev/zero | tr '\0' x >"$WORK/in"
expect_in 1 send "$PREFIX-spsc"
contains "$WORK/err" "above the ring's max payload of 8184 bytes"

# ---- stat -----------------------------------------------------------------------------------------
expect 0 send "$PREFIX-spsc" unread-1 unread-2
expect 0 stat "$PREFIX-spsc"
for key in "kind:               spsc" "capacity:           65536" "max_record_size:" \
  "producer_position:" "consumer_position:" "used_bytes:" "% full" "messages_written:" \
  "messages_read:" "bytes_written:" "bytes_read:" "full_count:" "sleeps:" "wakes:" \
  "recovered_claims:" "consumer:           none attached" "producers:"; do
  contains "$WORK/out" "$key"
done
expect 0 stat "$PREFIX-spsc" --json
python3 -m json.tool "$WORK/out" >/dev/null || fail "stat --json is not valid JSON"
ok
python3 - "$WORK/out" <<'EOF' || fail "stat --json has wrong values"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "spsc" and s["capacity"] == 65536 and s["max_record_size"] == 8192, s
assert s["used_bytes"] == s["producer_position"] - s["consumer_position"] > 0, s
assert s["messages_written"] == s["messages_read"] + 2, s
for key in ("bytes_written", "bytes_read", "full_count", "producer_sleeps", "consumer_sleeps",
            "producer_wakes_sent", "consumer_wakes_sent", "recovered_claims", "fill_percent"):
    assert key in s, key
assert s["consumer"]["pid"] == 0 and s["consumer"]["alive"] is False, s["consumer"]
assert s["producers"] == [], s["producers"]
EOF
ok
expect 1 stat "$PREFIX-nonexistent"
contains "$WORK/err" "shmring stat: ring '$PREFIX-nonexistent'"

# A live consumer and producer show up with their pids; stat maps read-only and changes nothing.
expect 0 create "$PREFIX-json" --capacity 4k
"$SHMRING" recv "$PREFIX-json" >/dev/null 2>&1 &
RECV_PID=$!
BACKGROUND="$BACKGROUND $RECV_PID"
mkfifo "$WORK/fifo"
"$SHMRING" send "$PREFIX-json" --timeout-ms 30000 <"$WORK/fifo" 2>/dev/null &
SEND_PID=$!
BACKGROUND="$BACKGROUND $SEND_PID"
exec 3>"$WORK/fifo"
echo ping >&3
for _ in $(seq 100); do
  timeout 10 "$SHMRING" stat "$PREFIX-json" --json >"$WORK/out" 2>"$WORK/err" || true
  if python3 - "$WORK/out" "$RECV_PID" "$SEND_PID" <<'EOF'; then break; fi
import json, sys
s = json.load(open(sys.argv[1]))
ok = (s["consumer"]["pid"] == int(sys.argv[2]) and s["consumer"]["alive"]
      and [p["pid"] for p in s["producers"]] == [int(sys.argv[3])] and s["producers"][0]["alive"]
      and s["messages_read"] == 1)
sys.exit(0 if ok else 1)
EOF
  sleep 0.05
done
python3 -m json.tool "$WORK/out" >/dev/null || fail "stat --json of a live ring is not valid JSON"
contains "$WORK/out" "\"pid\": $RECV_PID"
contains "$WORK/out" "\"pid\": $SEND_PID"
expect 0 stat "$PREFIX-json"
contains "$WORK/out" "pid $RECV_PID (alive)"
contains "$WORK/out" "pid $SEND_PID (alive)"
exec 3>&-
wait "$SEND_PID" || fail "send from a fifo failed"
kill "$RECV_PID" 2>/dev/null || true
wait "$RECV_PID" 2>/dev/null || true

# ---- three concurrent send pipelines into one mpsc ring --------------------------------------------
timeout 60 "$SHMRING" recv "$PREFIX-mpsc" --count 3000 --timeout-ms 50000 >"$WORK/merged" \
  2>"$WORK/recv.err" &
RECV_PID=$!
BACKGROUND="$BACKGROUND $RECV_PID"
SENDERS=""
for source in a b c; do
  (seq 1 1000 | sed "s/^/$source-/" | timeout 60 "$SHMRING" send "$PREFIX-mpsc" --timeout-ms 30000) &
  SENDERS="$SENDERS $!"
done
BACKGROUND="$BACKGROUND $SENDERS"
for pid in $SENDERS; do wait "$pid" || fail "a send pipeline into the mpsc ring failed"; done
wait "$RECV_PID" || fail "recv of 3000 records from the mpsc ring failed: $(cat "$WORK/recv.err")"
for source in a b c; do seq 1 1000 | sed "s/^/$source-/"; done | sort >"$WORK/expected"
sort "$WORK/merged" | cmp -s - "$WORK/expected" || fail "mpsc: received lines differ from sent lines"
ok
for source in a b c; do  # each producer's records stay in its order
  grep "^$source-" "$WORK/merged" | cut -d- -f2 | cmp -s - <(seq 1 1000) ||
    fail "mpsc: records of source $source out of order"
  ok
done

# ---- a dead consumer makes a blocked send fail instead of hanging ----------------------------------
expect 0 create "$PREFIX-dead" --capacity 1k
"$SHMRING" recv "$PREFIX-dead" >/dev/null 2>&1 &
RECV_PID=$!
BACKGROUND="$BACKGROUND $RECV_PID"
for _ in $(seq 100); do
  timeout 10 "$SHMRING" stat "$PREFIX-dead" >"$WORK/out" 2>&1 || true
  grep -qF "pid $RECV_PID (alive)" "$WORK/out" && break
  sleep 0.05
done
contains "$WORK/out" "pid $RECV_PID (alive)"
kill -9 "$RECV_PID"
wait "$RECV_PID" 2>/dev/null || true
seq 1 1000 >"$WORK/in"
expect_in 1 send "$PREFIX-dead" --timeout-ms 20000
contains "$WORK/err" "shmring send: ring '$PREFIX-dead': the ring is full and its consumer (pid $RECV_PID) has died"

# ---- a full ring with no consumer times out --------------------------------------------------------
expect 0 create "$PREFIX-full" --capacity 1k
expect_in 3 send "$PREFIX-full" --timeout-ms 200
contains "$WORK/err" "timed out after 200 ms waiting for space"

# ---- rm -------------------------------------------------------------------------------------------
expect 0 rm "$PREFIX-spsc"
[ ! -e "/dev/shm/shmring.$PREFIX-spsc" ] || fail "rm left /dev/shm/shmring.$PREFIX-spsc"
ok
expect 1 rm "$PREFIX-spsc"
contains "$WORK/err" "shmring rm: ring '$PREFIX-spsc'"
expect 0 rm --force "$PREFIX-spsc"
expect 1 rm ../x
expect 2 rm

echo "cli_test: $CHECKS checks passed"
