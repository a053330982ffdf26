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
  for suffix in spsc mpsc dead full big json bcast insp; do
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
for cmd in create send recv stat rm ls dump watch tail counters; do
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

# ---- broadcast rings ------------------------------------------------------------------------------
expect 2 create "$PREFIX-bcast" --capacity 4k --readers 4
contains "$WORK/err" "--readers applies to broadcast rings"
expect 2 create "$PREFIX-bcast" --capacity 4k --kind broadcast --producers 2
expect 0 create "$PREFIX-bcast" --capacity 4k --kind broadcast --readers 4
contains "$WORK/out" "(broadcast, capacity 4096 bytes, max payload 496 bytes"
# send never blocks on a broadcast ring: 2000 records overwrite a 4 KiB ring many times over.
seq 1 2000 >"$WORK/in"
expect_in 0 send "$PREFIX-bcast" --timeout-ms 1
expect 2 recv "$PREFIX-bcast" --count 1
contains "$WORK/err" "use 'shmring tail $PREFIX-bcast -f'"
expect 0 tail "$PREFIX-bcast" -n 3
same "$WORK/out" "1998
1999
2000"
expect 0 stat "$PREFIX-bcast" --no-rates
contains "$WORK/out" "kind:               broadcast"
contains "$WORK/out" "next_sequence:      2000"
contains "$WORK/out" "readers:            0 attached, 4 slots"
# tail -f follows as a reader: records sent after it attached, then --count ends it.
timeout 30 "$SHMRING" tail "$PREFIX-bcast" -n 0 -f --count 3 --timeout-ms 20000 \
  >"$WORK/tail.out" 2>"$WORK/tail.err" &
TAIL_PID=$!
BACKGROUND="$BACKGROUND $TAIL_PID"
for _ in $(seq 200); do
  timeout 10 "$SHMRING" stat "$PREFIX-bcast" --json --no-rates >"$WORK/out" 2>/dev/null || true
  python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["readers"] else 1)' \
    "$WORK/out" 2>/dev/null && break
  sleep 0.05
done
expect 0 send "$PREFIX-bcast" first second third fourth
wait "$TAIL_PID" || fail "tail -f on a broadcast ring failed: $(cat "$WORK/tail.err")"
same "$WORK/tail.out" "first
second
third"
ok

# ---- inspection: ls, dump, stat, watch, tail, counters never write a byte ---------------------------
expect 0 create "$PREFIX-insp" --capacity 4k --kind mpsc
expect 0 send "$PREFIX-insp" alpha beta "$(printf 'bin\001ary')" gamma
OBJ="/dev/shm/shmring.$PREFIX-insp"
BEFORE=$(sha256sum <"$OBJ")
expect 0 dump "$PREFIX-insp"
same "$WORK/out" "ring '$PREFIX-insp' (mpsc, capacity 4096): from oldest position 0, producer position 64
[0 @0] type 0, 5 bytes: alpha
[16 @16] type 0, 4 bytes: beta
[32 @32] type 0, 7 bytes: 0x62696e01617279
[48 @48] type 0, 5 bytes: gamma
-- end at position 64 after 4 records: reached the producer position"
expect 0 dump "$PREFIX-insp" --from 16 --max 1
contains "$WORK/out" "[16 @16] type 0, 4 bytes: beta"
contains "$WORK/out" "-- max at position 32 after 1 record"
expect 0 dump "$PREFIX-insp" --format hex --from 0x20 --max 1
contains "$WORK/out" "0000  62 69 6e 01 61 72 79"
contains "$WORK/out" "|bin.ary|"
expect 0 dump "$PREFIX-insp" --format json
python3 - "$WORK/out" <<'EOF2' || fail "dump --format json is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
assert [r.get("text") for r in d["records"]] == ["alpha", "beta", None, "gamma"], d
assert d["records"][2]["hex"] == "0x62696e01617279", d
assert d["stop"] == {"reason": "end", "position": 64, "records": 4,
                     "detail": "reached the producer position"}, d["stop"]
EOF2
ok
expect 2 dump "$PREFIX-insp" --format yaml
expect 2 dump "$PREFIX-insp" --from 3
expect 1 dump "$PREFIX-insp" --from 72
contains "$WORK/err" "outside the records held, [0, 64)"
expect 0 tail "$PREFIX-insp" -n 2
same "$WORK/out" "0x62696e01617279
gamma"
expect 0 tail "$PREFIX-insp" -n 1 -f --timeout-ms 100 --interval-ms 20
same "$WORK/out" "gamma"
expect 0 stat "$PREFIX-insp" --interval-ms 50
contains "$WORK/out" "rates:              in 0 msgs/s"
contains "$WORK/out" "in flight:          none"
contains "$WORK/out" "state:              stale"
expect 0 stat "$PREFIX-insp" --json --no-rates
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["rates"] is None and d["in_flight"] is None and d["stale"], d' \
  "$WORK/out" || fail "stat --json --no-rates is wrong"
ok
expect 2 stat "$PREFIX-insp" --no-rates --interval-ms 5
expect 0 watch "$PREFIX-insp" --iterations 2 --interval-ms 50
[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "watch without a terminal printed $(wc -l <"$WORK/out") lines, not 2"
ok
contains "$WORK/out" "$PREFIX-insp fill 1.6% (64/4096 B) in 0 msgs/s"
expect 0 counters "$PREFIX-insp"
contains "$WORK/out" "the ring's own counters"
contains "$WORK/out" "messages_written"
expect 0 counters "$PREFIX-insp" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c={x["label"]: x["value"] for x in d["counters"]}; assert c["messages_written"] == 4 and c["used_bytes"] == 64, c' \
  "$WORK/out" || fail "counters --json of a ring is wrong"
ok
expect 0 ls
contains "$WORK/out" "NAME"
grep -E "^$PREFIX-insp +mpsc +4 KiB +1\.6% +stale " "$WORK/out" >/dev/null || fail "ls line of $PREFIX-insp"
ok
expect 0 ls --json
python3 - "$WORK/out" "$PREFIX-insp" "$PREFIX-bcast" <<'EOF2' || fail "ls --json is wrong"
import json, sys
entries = {e["name"]: e for e in json.load(open(sys.argv[1]))}
i, b = entries[sys.argv[2]], entries[sys.argv[3]]
assert i["type"] == "ring" and i["kind"] == "mpsc" and i["used_bytes"] == 64 and i["stale"], i
assert i["object"] == "/dev/shm/shmring." + sys.argv[2], i
assert b["kind"] == "broadcast" and b["peers"] == [], b
EOF2
ok
[ "$(sha256sum <"$OBJ")" = "$BEFORE" ] || fail "an inspection command changed $OBJ"
ok
expect 0 recv "$PREFIX-insp" --count 4 --timeout-ms 2000
same "$WORK/out" "alpha
beta
0x62696e01617279
gamma"
expect 1 dump "$PREFIX-nonexistent"
contains "$WORK/err" "shmring dump: ring '$PREFIX-nonexistent'"

# watch on a terminal: a full-screen view that quits on q, and on Ctrl-C, restoring the screen.
for key in q ctrl-c; do
  python3 - "$SHMRING" "$PREFIX-insp" "$key" <<'EOF2' || fail "watch on a terminal ($key)"
import os, pty, select, signal, sys, time
shmring, name, key = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(shmring, [shmring, "watch", name, "--interval-ms", "50"])
out = b""
deadline = time.time() + 10
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                return
read_for(0.4)
assert b"\x1b[?1049h" in out, out        # alternate screen
assert b"fill [" in out and b"q: quit" in out, out
os.write(fd, b"q" if key == "q" else b"\x03")
status = None
while time.time() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
    read_for(0.05)
read_for(0.1)
assert status is not None, "watch did not quit"
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
assert b"\x1b[?1049l" in out and b"\x1b[?25h" in out, out[-200:]  # screen and cursor restored
EOF2
  ok
done

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
