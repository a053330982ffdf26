#!/usr/bin/env bash
# End-to-end test of shmring.exe, the Windows build of the CLI, run under Wine from a Linux shell.
#   tools/tests/cli_test_windows.sh path/to/shmring.exe [wine]
# The caller sets up Wine (WINEPREFIX, WINEDEBUG, a running wineserver): `make test-windows`.
# On Windows a ring is a named section that exists only while some process has it open, so the
# rings here are held by `shmring create --hold` running in the background, fed from a fifo;
# closing the fifo ends the holder, and the ring with it. Every command runs under `timeout`.
set -eu

EXE=${1:?usage: cli_test_windows.sh PATH_TO_SHMRING_EXE [WINE]}
WINE=${2:-wine}
PREFIX="wcli-$$"
WORK=$(mktemp -d)
HOLDERS=""
HOLDS=0
CHECKS=0

cleanup() {
  for fd in 5 6 7 8; do eval "exec $fd>&-" 2>/dev/null || true; done
  for pid in $HOLDERS; do kill -9 "$pid" 2>/dev/null || true; done
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

shmring() { timeout 60 "$WINE" "$EXE" "$@"; }

# expect RC CMD...: runs `shmring CMD...` with stdout in $WORK/out, stderr in $WORK/err.
expect() {
  local want=$1 rc=0
  shift
  shmring "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
  [ "$rc" -eq "$want" ] || fail "'shmring $*' exited $rc, expected $want"
  ok
}

# expect_in RC CMD... with stdin from $WORK/in.
expect_in() {
  local want=$1 rc=0
  shift
  shmring "$@" <"$WORK/in" >"$WORK/out" 2>"$WORK/err" || rc=$?
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

# hold FD NAME CREATE-OPTIONS...: `shmring create NAME ... --hold` in the background, its stdin
# on a fifo that this shell keeps open as FD; returns once the ring can be opened.
hold() {
  local fd=$1 name=$2
  shift 2
  HOLDS=$((HOLDS + 1))
  local fifo="$WORK/fifo-$HOLDS"
  mkfifo "$fifo"
  timeout 600 "$WINE" "$EXE" create "$name" "$@" --hold <"$fifo" >"$WORK/hold-$name.out" 2>&1 &
  HOLDERS="$HOLDERS $!"
  eval "exec $fd>\"$fifo\""
  for _ in $(seq 200); do
    shmring stat "$name" >/dev/null 2>&1 && { ok; return 0; }
    sleep 0.05
  done
  fail "the holder of '$name' never created it: $(cat "$WORK/hold-$name.out")"
}

# release FD NAME: closes the holder's stdin and waits until its ring is gone.
release() {
  local fd=$1 name=$2
  eval "exec $fd>&-"
  for _ in $(seq 200); do
    shmring stat "$name" >/dev/null 2>&1 || { ok; return 0; }
    sleep 0.05
  done
  fail "ring '$name' outlived its holder"
}

# ---- help and usage -----------------------------------------------------------------------------
expect 0 --help
contains "$WORK/out" "usage: shmring"
contains "$WORK/out" 'Local\shmring.NAME'
expect 0 create --help
contains "$WORK/out" "--hold"
contains "$WORK/out" "SeCreateGlobalPrivilege"
expect 0 rm --help
contains "$WORK/out" "disappears when the last process"
expect 2
expect 2 create "$PREFIX-a" --capacity 12x
contains "$WORK/err" "bad value '12x' for --capacity"
expect 1 create ../x --capacity 64k
contains "$WORK/err" "invalid ring name '../x'"

# ---- without --hold a ring dies with the command that created it ------------------------------------
expect 0 create "$PREFIX-gone" --capacity 4k
contains "$WORK/out" "at Local\\shmring.$PREFIX-gone"
contains "$WORK/err" "note: a Windows ring exists only while a process has it open"
expect 1 stat "$PREFIX-gone"
contains "$WORK/err" "shmring stat: ring '$PREFIX-gone'"
contains "$WORK/err" "File not found"

# ---- create --hold, send, recv, stat, rm ------------------------------------------------------------
hold 5 "$PREFIX-spsc" --capacity 64k
contains "$WORK/hold-$PREFIX-spsc.out" "created ring '$PREFIX-spsc' (spsc, capacity 65536 bytes"
expect 1 create "$PREFIX-spsc" --capacity 64k
contains "$WORK/err" "shmring create: ring '$PREFIX-spsc'"
contains "$WORK/err" "already exists"

expect 0 send "$PREFIX-spsc" hello "two words" ""
expect 0 recv "$PREFIX-spsc" --count 3 --timeout-ms 5000
same "$WORK/out" "hello
two words
"
# Lines from standard input; a CRLF line end counts as one newline.
printf 'line 1\r\nline 2\n\nno newline at the end' >"$WORK/in"
expect_in 0 send "$PREFIX-spsc" --type 7
expect 0 recv "$PREFIX-spsc" --count 4
same "$WORK/out" "line 1
line 2

no newline at the end"
# Bytes pass unchanged (binary standard streams: no Ctrl-Z end of file, no CRLF rewriting).
printf 'a\001b\n\377\032z\n' >"$WORK/in"
expect_in 0 send "$PREFIX-spsc"
expect 0 recv "$PREFIX-spsc" --count 2
same "$WORK/out" "0x610162
0xff1a7a"
expect 0 send "$PREFIX-spsc" first second
expect 3 recv "$PREFIX-spsc" --count 5 --timeout-ms 500
same "$WORK/out" "first
second"
contains "$WORK/err" "timed out after 500 ms with 2 of 5 records"

expect 0 ls
contains "$WORK/out" "$PREFIX-spsc"
expect 0 send "$PREFIX-spsc" unread-1 unread-2
expect 0 stat "$PREFIX-spsc"
for key in "ring '$PREFIX-spsc' (Local\\shmring.$PREFIX-spsc)" "kind:               spsc" \
  "capacity:           65536" "messages_written:" "consumer:           none attached"; do
  contains "$WORK/out" "$key"
done
expect 0 stat "$PREFIX-spsc" --json
python3 - "$WORK/out" <<'EOF' || fail "stat --json has wrong values"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "spsc" and s["capacity"] == 65536, s
assert s["object"].startswith("Local\\shmring."), s["object"]
assert s["messages_written"] == s["messages_read"] + 2, s
assert s["consumer"]["pid"] == 0 and s["producers"] == [], s
EOF
ok

# rm: nothing to remove while the holder has the ring open; it goes with the holder.
expect 0 rm "$PREFIX-spsc"
expect 0 stat "$PREFIX-spsc"
release 5 "$PREFIX-spsc"
wait_holder_ok() { grep -q "holding ring" "$WORK/hold-$1.out" || fail "holder output: $(cat "$WORK/hold-$1.out")"; ok; }
wait_holder_ok "$PREFIX-spsc"
expect 1 stat "$PREFIX-spsc"
expect 1 rm "$PREFIX-spsc"
contains "$WORK/err" "shmring rm: ring '$PREFIX-spsc'"
expect 0 rm --force "$PREFIX-spsc"
# The name is free again.
hold 5 "$PREFIX-spsc" --capacity 4k
release 5 "$PREFIX-spsc"

# ---- three concurrent senders into one mpsc ring ---------------------------------------------------
hold 6 "$PREFIX-mpsc" --capacity 4k --kind mpsc --producers 8
timeout 120 "$WINE" "$EXE" recv "$PREFIX-mpsc" --count 3000 --timeout-ms 60000 >"$WORK/merged" \
  2>"$WORK/recv.err" &
RECV=$!
SENDERS=""
for source in a b c; do
  (seq 1 1000 | sed "s/^/$source-/" | timeout 120 "$WINE" "$EXE" send "$PREFIX-mpsc" \
    --timeout-ms 60000) &
  SENDERS="$SENDERS $!"
done
for pid in $SENDERS; do wait "$pid" || fail "a send pipeline into the mpsc ring failed"; done
wait "$RECV" || fail "recv of 3000 records from the mpsc ring failed: $(cat "$WORK/recv.err")"
for source in a b c; do seq 1 1000 | sed "s/^/$source-/"; done | sort >"$WORK/expected"
sort "$WORK/merged" | cmp -s - "$WORK/expected" || fail "mpsc: received lines differ from sent lines"
ok
for source in a b c; do
  grep "^$source-" "$WORK/merged" | cut -d- -f2 | cmp -s - <(seq 1 1000) ||
    fail "mpsc: records of source $source out of order"
  ok
done

# ---- a full ring: no consumer times out; a dead consumer fails the send -----------------------------
seq 1 1000 >"$WORK/in"
expect_in 3 send "$PREFIX-mpsc" --timeout-ms 300
contains "$WORK/err" "timed out after 300 ms waiting for space"
# A consumer killed from the outside (no `timeout` wrapper: $! must be the Wine process itself).
"$WINE" "$EXE" recv "$PREFIX-mpsc" --count 1000000 >/dev/null 2>&1 &
RECV=$!
HOLDERS="$HOLDERS $RECV"
for _ in $(seq 200); do
  shmring stat "$PREFIX-mpsc" >"$WORK/out" 2>&1 || true
  grep -q "consumer:.*(alive)" "$WORK/out" && break
  sleep 0.05
done
contains "$WORK/out" "(alive)"
kill -9 "$RECV"
wait "$RECV" 2>/dev/null || true
seq 1 1000 >"$WORK/in"
expect_in 1 send "$PREFIX-mpsc" --timeout-ms 20000
contains "$WORK/err" "the ring is full and its consumer (pid"
contains "$WORK/err" "has died"
expect 0 stat "$PREFIX-mpsc"
contains "$WORK/out" "(DEAD)"
release 6 "$PREFIX-mpsc"

# ---- access control: an SDDL that grants read only --------------------------------------------------
hold 7 "$PREFIX-acl" --capacity 4k --mode 640
expect 0 stat "$PREFIX-acl"
release 7 "$PREFIX-acl"
expect 1 create "$PREFIX-bad" --capacity 4k --sddl "D:NO_ACCESS_CONTROL"
contains "$WORK/err" "NULL DACL"
# Read-only for Everyone ("WD") and nobody else: a writer is refused, stat works.
hold 8 "$PREFIX-ro" --capacity 4k --sddl "D:P(A;;GR;;;WD)"
expect 1 send "$PREFIX-ro" refused
contains "$WORK/err" "Access denied"
expect 0 stat "$PREFIX-ro"
release 8 "$PREFIX-ro"

echo "cli_test_windows: $CHECKS checks passed"
