#!/usr/bin/env python3
"""shmring benchmarks beside their peers, in one run (`make bench`; python3 stdlib only).

Runs every cell of bench/harness (`shmring-bench`) for R repetitions. Within a repetition the
cells run in a shuffled order, so that drift on a shared machine hits every mechanism alike;
the bare cache-line ping-pong (the probe) is measured at the start of every repetition. Then
the fast-path system-call counts, the idle consumer's CPU time and the micro-benchmarks.

Writes bench/results/latest.json (one row per mechanism x metric x size: median, min, max,
repetition count), latest.md (the tables), throughput.png and latency.png (gnuplot).
"""

import argparse
import ctypes
import json
import os
import platform
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIZES = [8, 64, 512, 4096, 65536]

LABELS = {
    "shm-spsc": "shmring spsc",
    "shm-spsc-claim": "shmring spsc claim/commit",
    "shm-mpsc": "shmring mpsc",
    "pipe": "pipe",
    "uds": "UNIX stream socket",
    "pmq": "POSIX mq",
    "boost-mq": "Boost message_queue",
    "iceoryx": "iceoryx",
    "rwq": "moodycamel ReaderWriterQueue (2 threads)",
    "cq": "moodycamel ConcurrentQueue (2 threads)",
    "futex": "raw futex + shm",
    "eventfd": "eventfd + shm",
    "cacheline": "bare cache-line ping-pong",
}

# Throughput cells: (mechanism, harness mode, producers). shmring, iceoryx and moodycamel
# consumers poll (spin); the kernel peers and Boost use their blocking calls.
THROUGHPUT = [
    ("shm-spsc", "busy", 1),
    ("shm-spsc-claim", "busy", 1),
    ("shm-mpsc", "busy", 1),
    ("shm-mpsc", "busy", 2),
    ("pipe", "block", 1),
    ("uds", "block", 1),
    ("pmq", "block", 1),
    ("boost-mq", "block", 1),
    ("iceoryx", "busy", 1),
    ("rwq", "busy", 1),
    ("cq", "busy", 1),
]
# Latency cells: (mechanism, harness mode, table). "busy" polls; "blocking" uses each
# mechanism's blocking call (shmring: its default spin_then_park, and park).
LATENCY = [
    ("cacheline", "busy", "busy"),
    ("shm-spsc", "busy", "busy"),
    ("shm-mpsc", "busy", "busy"),
    ("pipe", "busy", "busy"),
    ("uds", "busy", "busy"),
    ("pmq", "busy", "busy"),
    ("boost-mq", "busy", "busy"),
    ("iceoryx", "busy", "busy"),
    ("rwq", "busy", "busy"),
    ("cq", "busy", "busy"),
    ("shm-spsc", "block", "blocking"),
    ("shm-spsc", "park", "blocking"),
    ("shm-mpsc", "block", "blocking"),
    ("pipe", "block", "blocking"),
    ("uds", "block", "blocking"),
    ("pmq", "block", "blocking"),
    ("boost-mq", "block", "blocking"),
    ("iceoryx", "block", "blocking"),
    ("futex", "block", "blocking"),
    ("eventfd", "block", "blocking"),
]
# System calls per message: (mechanism, mode, producer gap in us, awake?)
SYSCALLS = [
    ("shm-spsc", "busy", 0, True),
    ("shm-spsc-claim", "busy", 0, True),
    ("shm-mpsc", "busy", 0, True),
    ("pipe", "block", 0, True),
    ("uds", "block", 0, True),
    ("pmq", "block", 0, True),
    ("boost-mq", "block", 0, True),
    ("iceoryx", "busy", 0, True),
    ("shm-spsc", "park", 300, False),
    ("shm-spsc", "block", 300, False),
    ("shm-mpsc", "park", 300, False),
    ("pipe", "block", 300, False),
    ("boost-mq", "block", 300, False),
]


def label(mech, mode=None, producers=1):
    name = LABELS.get(mech, mech)
    if mech == "shm-mpsc":
        name += " (%d producer%s)" % (producers, "s" if producers > 1 else "")
    if mode == "park":
        name += " [park]"
    elif mode == "block" and mech.startswith("shm-"):
        name += " [default: spin, then park]"
    return name


def log(msg):
    print(msg, flush=True)


# ---- machine ------------------------------------------------------------------------------------


def read_loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[:3]
    except OSError:
        return []


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = read_loadavg()
    commit = ""
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += " (with local changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "os": platform.platform(),
        "loadavg_at_start": load,
        "commit": commit,
    }


# ---- system settings for the peers --------------------------------------------------------------


class Sysctls:
    """Lifts fs.mqueue limits (as root) so POSIX mq gets the same depth as the others; restores."""

    WANT = {"/proc/sys/fs/mqueue/msg_max": 65536, "/proc/sys/fs/mqueue/msgsize_max": 65536}

    def __init__(self):
        self.saved = {}
        self.notes = []

    def apply(self):
        for path, want in self.WANT.items():
            try:
                with open(path) as f:
                    old = int(f.read().strip())
                if old >= want:
                    continue
                with open(path, "w") as f:
                    f.write(str(want))
                self.saved[path] = old
                self.notes.append("%s raised from %d to %d for the run" %
                                  (path.replace("/proc/sys/", "").replace("/", "."), old, want))
            except (OSError, ValueError):
                pass

    def restore(self):
        for path, old in self.saved.items():
            try:
                with open(path, "w") as f:
                    f.write(str(old))
            except OSError:
                pass
        self.saved = {}

    def msgsize_max(self):
        try:
            with open("/proc/sys/fs/mqueue/msgsize_max") as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 8192


# ---- iox-roudi ----------------------------------------------------------------------------------


def _die_with_parent():
    # RouDi must not outlive us even if we are killed: PR_SET_PDEATHSIG(SIGTERM).
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Roudi:
    def __init__(self):
        self.proc = None
        self.note = ""

    def start(self):
        exe = shutil.which("iox-roudi")
        if not exe:
            self.note = "iox-roudi not installed"
            return False
        config = os.path.join(HERE, "iceoryx", "roudi_config.toml")
        self.proc = subprocess.Popen([exe, "-c", config, "-l", "warning", "-m", "off"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        deadline = time.time() + 20
        out = b""
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
                if b"RouDi is ready for clients" in out:
                    return True
            if self.proc.poll() is not None:
                break
        self.note = "iox-roudi did not start: " + out.decode(errors="replace").strip()[-300:]
        self.stop()
        return False

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---- running cells ------------------------------------------------------------------------------


class Harness:
    def __init__(self, exe, pin, timeout):
        self.exe = exe
        self.pin = pin
        self.timeout = timeout

    def args(self, *extra):
        a = [self.exe] + [str(x) for x in extra]
        if self.pin:
            a.append("--pin")
        return a

    def run(self, *extra, wrapper=None, timeout=None):
        cmd = (wrapper or []) + self.args(*extra) + ["--timeout", str(self.timeout)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=(timeout or self.timeout) + 15)
        except subprocess.TimeoutExpired:
            return {"valid": False, "error": "timed out: " + " ".join(cmd)}
        result = None
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                except json.JSONDecodeError:
                    pass
        if result is None:
            err = (p.stderr or p.stdout).strip().splitlines()
            return {"valid": False, "error": (err[-1] if err else "no output") + " [exit %d]" %
                    p.returncode}
        if p.returncode != 0 and result.get("valid"):
            result["valid"] = False
            result["error"] = "exit code %d" % p.returncode
        return result

    def available(self):
        out = subprocess.run([self.exe, "list"], capture_output=True, text=True, timeout=30)
        return {m["id"]: m for m in json.loads(out.stdout)["mechanisms"]}


def fmt_duration(s):
    s = int(s)
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


def si(v, unit=""):
    if v is None:
        return "–"
    for scale, prefix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= scale:
            return "%.3g%s%s" % (v / scale, prefix, unit)
    return "%.3g%s" % (v, (" " + unit) if unit else "")


def ns(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "%.3g ms" % (v / 1e6)
    if v >= 1e3:
        return "%.3g µs" % (v / 1e3)
    return "%d ns" % round(v)


class Rows:
    """Collects values per (mechanism, mech id, mode, metric, size) and aggregates them."""

    def __init__(self):
        self.data = {}
        self.units = {}

    def add(self, mechanism, mech, mode, metric, size, unit, value, rep=None):
        key = (mechanism, mech, mode, metric, size)
        self.data.setdefault(key, []).append((rep, value))
        self.units[key] = unit

    def _find(self, mechanism, metric, size, mode):
        for key, vals in self.data.items():
            if (key[0] == mechanism and key[3] == metric and key[4] == size and
                    (mode is None or key[2] == mode)):
                return vals
        return []

    def get(self, mechanism, metric, size, mode=None):
        return [v for _, v in self._find(mechanism, metric, size, mode)]

    def by_rep(self, mechanism, metric, size, mode=None):
        return {r: v for r, v in self._find(mechanism, metric, size, mode)}

    def median(self, mechanism, metric, size, mode=None):
        v = self.get(mechanism, metric, size, mode)
        return statistics.median(v) if v else None

    def rows(self):
        out = []
        for key, vals in self.data.items():
            values = [v for _, v in vals]
            out.append({
                "mechanism": key[0], "mech": key[1], "mode": key[2], "metric": key[3],
                "size": key[4], "unit": self.units[key], "median": statistics.median(values),
                "min": min(values), "max": max(values), "repetitions": len(values),
                "values": values, "repetition_of_value": [r for r, _ in vals],
            })
        return out

    @staticmethod
    def from_json(rows):
        r = Rows()
        for row in rows:
            reps = row.get("repetition_of_value") or [None] * len(row["values"])
            for rep, v in zip(reps, row["values"]):
                r.add(row["mechanism"], row["mech"], row["mode"], row["metric"], row["size"],
                      row["unit"], v, rep)
        return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                    help="build dir holding bench/shmring-bench and bench/shmring_micro")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--quick", action="store_true", help="a 1-2 minute run (fewer, shorter cells)")
    ap.add_argument("--reps", type=int, help="repetitions (default 5, quick 2)")
    ap.add_argument("--seconds", type=float, help="seconds per throughput cell (0.3, quick 0.1)")
    ap.add_argument("--round-trips", type=int, help="measured round trips (200000, quick 20000)")
    ap.add_argument("--latency-sizes", default="64", help="comma-separated sizes for round trips")
    ap.add_argument("--only", help="comma-separated mechanism ids (see shmring-bench list)")
    ap.add_argument("--no-pin", action="store_true", help="let the scheduler place the processes")
    ap.add_argument("--skip-micro", action="store_true")
    ap.add_argument("--skip-syscalls", action="store_true")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--idle-seconds", type=float, help="idle consumer wait (5, quick 2)")
    ap.add_argument("--timeout", type=float, default=90, help="per cell, seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--render", metavar="JSON",
                    help="only redraw latest.md and the plots from a results file")
    ap.add_argument("--publish", metavar="MD", action="append", default=[],
                    help="also copy the tables into this Markdown file, between the lines "
                         "'<!-- bench:results:begin -->' and '<!-- bench:results:end -->'")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            report = json.load(f)
        rows = Rows.from_json(report["rows"])
        out = os.path.dirname(os.path.abspath(a.render))
        sizes = report["config"]["latency_sizes"]
        plot(report, rows, out, sizes)
        md = markdown(report, rows, sizes)
        with open(os.path.join(out, "latest.md"), "w") as f:
            f.write(md)
        log("redrew %s/latest.md and the plots" % out)
        for path in a.publish:
            publish(path, md)
        return

    reps = a.reps or (2 if a.quick else 5)
    seconds = a.seconds or (0.1 if a.quick else 0.3)
    round_trips = a.round_trips or (20000 if a.quick else 200000)
    warmup = max(1000, round_trips // 10)
    idle_seconds = a.idle_seconds or (2.0 if a.quick else 5.0)
    latency_sizes = [int(s) for s in a.latency_sizes.split(",") if s]
    only = set(a.only.split(",")) if a.only else None

    exe = os.path.join(a.build, "bench", "shmring-bench")
    micro = os.path.join(a.build, "bench", "shmring_micro")
    if not os.access(exe, os.X_OK):
        sys.exit("run.py: %s not found: build it first (make bench)" % exe)
    pin = not a.no_pin and len(os.sched_getaffinity(0)) >= 2
    h = Harness(exe, pin, a.timeout)
    os.makedirs(a.out, exist_ok=True)

    machine = machine_info()
    began = time.time()
    log("== shmring bench: %s, %s cores, kernel %s, load %s" %
        (machine["cpu_model"], machine["cores"], machine["kernel"],
         " ".join(machine["loadavg_at_start"])))
    if machine["loadavg_at_start"] and float(machine["loadavg_at_start"][0]) > 0.5:
        log("   note: the machine is not idle (load %s); numbers will be noisier" %
            machine["loadavg_at_start"][0])
    log("   %d repetitions, %s, %s" % (reps, "quick" if a.quick else "full",
                                       "pinned to 2 CPUs" if pin else "not pinned"))

    sysctls = Sysctls()
    roudi = Roudi()
    notes = []

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    rows = Rows()
    probes = []
    loads = []
    failures = []
    try:
        if os.geteuid() == 0:
            sysctls.apply()
        notes += sysctls.notes
        mq_max = sysctls.msgsize_max()
        avail = h.available()
        use = {m for m, info in avail.items() if info["available"] and (only is None or m in only)}
        for m, info in avail.items():
            if not info["available"]:
                notes.append("%s: not compiled in (not found at build time)" % LABELS.get(m, m))
        if "iceoryx" in use:
            if roudi.start():
                log("   iox-roudi started (pid %d)" % roudi.proc.pid)
            else:
                use.discard("iceoryx")
                notes.append("iceoryx left out: " + roudi.note)
                log("   " + notes[-1])
        use.add("cacheline")

        cells = []
        for mech, mode, producers in THROUGHPUT:
            if mech not in use:
                continue
            for size in SIZES:
                if mech == "pmq" and size > mq_max:
                    continue
                cells.append(("throughput", mech, mode, producers, size))
        for mech, mode, _table in LATENCY:
            if mech not in use or mech == "cacheline":
                continue
            for size in latency_sizes:
                if mech == "pmq" and size > mq_max:
                    continue
                cells.append(("latency", mech, mode, 1, size))
        if "pmq" in use and mq_max < max(SIZES):
            notes.append("POSIX mq: sizes above fs.mqueue.msgsize_max (%d) left out" % mq_max)

        total = reps * (len(cells) + 3)
        done = 0
        t0 = time.time()
        for rep in range(reps):
            loads.append(read_loadavg())
            order = list(cells)
            random.Random(a.seed * 1000 + rep).shuffle(order)
            rep_probes = []
            # The probe runs at the start, in the middle and at the end of each repetition; the
            # repetition's probe is their median (the host may move a vCPU at any time).
            order = order[:len(order) // 2] + [("probe", None, None, 1, 0)] + \
                order[len(order) // 2:] + [("probe", None, None, 1, 0)]
            order.insert(0, ("probe", None, None, 1, 0))
            for kind, mech, mode, producers, size in order:
                if kind == "probe":
                    probe = h.run("probe", "--round-trips", round_trips, "--warmup", warmup)
                    if probe.get("valid"):
                        rep_probes.append(probe)
                        log("[rep %d/%d] probe: bare cache-line round trip p50 %s" %
                            (rep + 1, reps, ns(probe["p50_ns"])))
                    else:
                        failures.append(("probe", probe.get("error")))
                    done += 1
                    continue
                if kind == "throughput":
                    r = h.run("throughput", "--mech", mech, "--mode", mode, "--size", size,
                              "--producers", producers, "--seconds", seconds)
                    name = label(mech, None, producers)
                    if r.get("valid"):
                        rows.add(name, mech, mode, "throughput_msgs_per_s", size, "msgs/s",
                                 r["msgs_per_s"], rep)
                        rows.add(name, mech, mode, "throughput_MB_per_s", size, "MB/s",
                                 r["mb_per_s"], rep)
                        what = "%s msgs/s, %s" % (si(r["msgs_per_s"]),
                                                  si(r["mb_per_s"] * 1e6, "B/s"))
                    else:
                        failures.append(("throughput %s %d B" % (name, size), r.get("error")))
                        what = "FAILED: %s" % r.get("error")
                else:
                    adjacent = None
                    if mode == "busy":
                        # A short probe right before each busy cell: the vCPU placement can
                        # change within a repetition, so the ratio uses its nearest probe.
                        adjacent = h.run("probe", "--round-trips", min(round_trips, 50000),
                                         "--warmup", 5000)
                    r = h.run("latency", "--mech", mech, "--mode", mode, "--size", size,
                              "--round-trips", round_trips, "--warmup", warmup)
                    name = label(mech, mode)
                    if r.get("valid"):
                        for metric, key in (("rtt_p50_ns", "p50_ns"), ("rtt_p99_ns", "p99_ns"),
                                            ("rtt_p999_ns", "p999_ns"), ("rtt_max_ns", "max_ns")):
                            rows.add(name, mech, mode, metric, size, "ns", r[key], rep)
                        if adjacent and adjacent.get("valid") and adjacent["p50_ns"]:
                            rows.add(name, mech, mode, "rtt_p50_over_adjacent_probe", size,
                                     "ratio", r["p50_ns"] / float(adjacent["p50_ns"]), rep)
                        what = "p50 %s, p99 %s, p99.9 %s" % (ns(r["p50_ns"]), ns(r["p99_ns"]),
                                                            ns(r["p999_ns"]))
                    else:
                        failures.append(("latency %s %s %d B" % (name, mode, size),
                                         r.get("error")))
                        what = "FAILED: %s" % r.get("error")
                done += 1
                elapsed = time.time() - t0
                eta = elapsed / done * (total - done)
                log("[rep %d/%d %3d/%d, eta %s] %-10s %-48s %6d B  %s" %
                    (rep + 1, reps, done, total, fmt_duration(eta), kind,
                     name if kind == "throughput" else name + " (" + mode + ")", size, what))
            if rep_probes:
                probes.append([p["p50_ns"] for p in rep_probes])
                for metric, key in (("rtt_p50_ns", "p50_ns"), ("rtt_p99_ns", "p99_ns"),
                                    ("rtt_p999_ns", "p999_ns"), ("rtt_max_ns", "max_ns")):
                    for size in latency_sizes:
                        rows.add(label("cacheline"), "cacheline", "busy", metric, size, "ns",
                                 statistics.median(p[key] for p in rep_probes), rep)

        sys_rows = []
        if not a.skip_syscalls:
            sys_reps = 1 if a.quick else min(reps, 2)
            sys_rows = count_syscalls(h, use, sys_reps, a.quick, rows, notes, failures)
        idle_rows = []
        if not a.skip_idle:
            for mode in ("block", "park"):
                r = h.run("idle", "--mode", mode, "--seconds", idle_seconds,
                          timeout=idle_seconds + 30)
                name = label("shm-spsc", mode)
                if r.get("valid"):
                    rows.add(name, "shm-spsc", mode, "idle_cpu_ms", 0, "ms", r["cpu_ms"])
                    rows.add(name, "shm-spsc", mode, "idle_cpu_percent", 0, "%", r["cpu_percent"])
                    rows.add(name, "shm-spsc", mode, "idle_wakeups", 0, "count",
                             r["voluntary_switches"])
                    idle_rows.append((name, r))
                    log("idle consumer %s: %.2f ms CPU over %.1f s (%.3f%%), %d wake-ups" %
                        (name, r["cpu_ms"], r["wall_s"], r["cpu_percent"],
                         r["voluntary_switches"]))
                else:
                    failures.append(("idle " + mode, r.get("error")))
        if not a.skip_micro:
            run_micro(micro, reps, a.quick, rows, notes, failures)
    finally:
        roudi.stop()
        sysctls.restore()
        remove_leftovers()

    machine["probe_p50_ns_per_repetition"] = probes
    machine["loadavg_per_repetition"] = loads
    duration = time.time() - began
    report = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "duration_s": round(duration, 1),
        "config": {"repetitions": reps, "quick": a.quick, "pinned": pin,
                   "throughput_seconds": seconds, "round_trips": round_trips, "warmup": warmup,
                   "latency_sizes": latency_sizes, "queue_bytes": 256 * 1024,
                   "idle_seconds": idle_seconds},
        "machine": machine,
        "notes": notes,
        "failures": [{"cell": c, "error": e} for c, e in failures],
        "targets": [],
        "rows": rows.rows(),
    }
    report["targets"] = evaluate_targets(rows, probes, latency_sizes)
    plots = plot(report, rows, a.out, latency_sizes)
    with open(os.path.join(a.out, "latest.json"), "w") as f:
        json.dump(report, f, indent=1)
    md = markdown(report, rows, latency_sizes)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md)
    for path in a.publish:
        publish(path, md)
    log("")
    log(md)
    log("wrote %s/latest.json, latest.md%s in %s" %
        (os.path.relpath(a.out, os.getcwd()), "".join(", " + p for p in plots),
         fmt_duration(duration)))
    if failures:
        log("%d cell(s) failed (listed in latest.md)" % len(failures))


def remove_leftovers():
    """Removes OS objects of harness processes that were killed (names carry their pid)."""
    pattern = re.compile(r"(?:shmring\.)?sb\.(\d+)\.")
    for folder in ("/dev/shm", "/dev/mqueue"):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            m = pattern.match(name)
            if m and not os.path.exists("/proc/" + m.group(1)):
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass


# ---- system calls per message -------------------------------------------------------------------


def syscall_counter():
    """perf stat (raw_syscalls:sys_enter, whole process tree) if it works, else strace -f -c."""
    if shutil.which("perf"):
        try:
            p = subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter", "-x,", "--",
                                "true"], capture_output=True, text=True, timeout=30)
            if p.returncode == 0 and re.search(r"^\d+,", p.stderr, re.M):
                return "perf"
        except (OSError, subprocess.SubprocessError):
            pass
    if shutil.which("strace"):
        return "strace"
    return None


def counted(h, tool, extra):
    fd, path = tempfile.mkstemp(prefix="shmring-bench-sys.")
    os.close(fd)
    try:
        if tool == "perf":
            wrapper = ["perf", "stat", "-e", "raw_syscalls:sys_enter", "-x,", "-o", path, "--"]
        else:
            wrapper = ["strace", "-f", "-c", "-o", path]
        r = h.run(*extra, wrapper=wrapper)
        if not r.get("valid"):
            return None, r.get("error")
        with open(path) as f:
            text = f.read()
        if tool == "perf":
            m = re.search(r"^(\d+),", text, re.M)
        else:
            m = re.search(r"^\s*[\d.]+\s+[\d.]+\s+(?:\d+\s+)?(\d+)\s+(?:\d+\s+)?total\s*$", text,
                          re.M)
        return (int(m.group(1)) if m else None), None if m else "could not parse " + tool
    finally:
        os.unlink(path)


def count_syscalls(h, use, reps, quick, rows, notes, failures):
    tool = syscall_counter()
    if tool is None:
        notes.append("system calls not counted: neither perf nor strace is installed")
        return []
    notes.append("system calls counted with %s over the whole process tree; per message = "
                 "(calls(N2) - calls(N1)) / (N2 - N1), which cancels setup" %
                 ("perf stat -e raw_syscalls:sys_enter" if tool == "perf" else "strace -f -c"))
    log("system calls per message (%s) ..." % tool)
    out = []
    cases = [c for c in SYSCALLS if c[0] in use]
    for rep in range(reps):
        order = list(cases)
        random.Random(7000 + rep).shuffle(order)
        for mech, mode, gap, awake in order:
            if not awake:
                n1, n2 = (50, 250) if quick else (200, 1200)
            elif mech.startswith("shm-"):
                n1, n2 = (20000, 220000) if quick else (100000, 1100000)
            else:
                n1, n2 = (1000, 6000) if quick else (2000, 22000)
            counts = []
            for n in (n1, n2):
                extra = ["throughput", "--mech", mech, "--mode", mode, "--size", 64, "--count", n]
                if gap:
                    extra += ["--gap-us", gap]
                c, err = counted(h, tool, extra)
                if c is None:
                    failures.append(("syscalls %s %s" % (mech, mode), err))
                    break
                counts.append(c)
            if len(counts) != 2:
                continue
            per = (counts[1] - counts[0]) / float(n2 - n1)
            name = label(mech, mode)
            metric = "syscalls_per_msg_peer_awake" if awake else "syscalls_per_msg_peer_parked"
            rows.add(name, mech, mode, metric, 64, "calls/msg", per, rep)
            log("  %-52s %-6s %s: %.4f calls/msg (%d vs %d calls for %d vs %d msgs)" %
                (name, mode, "awake " if awake else "parked", per, counts[0], counts[1], n1, n2))
            out.append((name, awake, per))
    return out


# ---- micro-benchmarks ---------------------------------------------------------------------------


def run_micro(micro, reps, quick, rows, notes, failures):
    if not os.access(micro, os.X_OK):
        notes.append("micro-benchmarks not run: %s not built" % micro)
        return
    log("micro-benchmarks (shmring_micro, %d repetitions) ..." % reps)
    cmd = [micro, "--benchmark_format=json", "--benchmark_repetitions=%d" % max(reps, 1),
           "--benchmark_min_time=%s" % ("0.02" if quick else "0.05")]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        data = json.loads(p.stdout)
    except (subprocess.SubprocessError, ValueError) as e:
        failures.append(("micro", str(e)))
        return
    names = {"BM_try_write_try_read": "try_write + try_read",
             "BM_claim_commit_poll": "try_claim/commit + poll",
             "BM_try_write_batch_poll": "try_write x64 + poll(64)"}
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        m = re.match(r"(\w+)/size:(\d+)/mpsc:(\d)", b["name"])
        if not m or "items_per_second" not in b:
            continue
        kind = "mpsc" if m.group(3) == "1" else "spsc"
        name = "shmring %s: %s" % (kind, names.get(m.group(1), m.group(1)))
        rows.add(name, "micro", kind, "micro_ns_per_record", int(m.group(2)), "ns",
                 1e9 / b["items_per_second"], b.get("repetition_index"))


# ---- targets ------------------------------------------------------------------------------------


def ratio_per_rep(rows, a, b, metric, size, mode_a=None, mode_b=None):
    """Median over repetitions of a/b, pairing values of the same repetition."""
    ra = rows.by_rep(a, metric, size, mode_a)
    rb = rows.by_rep(b, metric, size, mode_b)
    ratios = [ra[r] / rb[r] for r in ra if r in rb and rb[r]]
    if not ratios:
        return None, None, None
    return statistics.median(ratios), min(ratios), max(ratios)


def evaluate_targets(rows, probes, latency_sizes):
    t = []
    spsc = label("shm-spsc")

    def add(name, value, lo, hi, goal, met, detail):
        t.append({"target": name, "median": value, "min": lo, "max": hi, "goal": goal,
                  "met": met, "detail": detail})

    for peer, factor in (("rwq", 3.0), ("boost-mq", 10.0)):
        med, lo, hi = ratio_per_rep(rows, spsc, label(peer), "throughput_msgs_per_s", 64)
        add("shmring spsc 64 B throughput >= %gx %s" % (factor, label(peer)), med, lo, hi,
            ">= %g" % factor, med is not None and med >= factor,
            "ratio of msgs/s, same repetition")
    size = 64 if 64 in latency_sizes else latency_sizes[0]
    vals = rows.get(label("shm-spsc", "busy"), "rtt_p50_over_adjacent_probe", size, "busy")
    if vals:
        med, lo, hi = statistics.median(vals), min(vals), max(vals)
        how = "shmring spsc busy p50 / the probe run just before it, median over repetitions"
    else:  # results of a run without adjacent probes: pair with the repetition's probe
        med, lo, hi = ratio_per_rep(rows, label("shm-spsc", "busy"), label("cacheline"),
                                    "rtt_p50_ns", size, "busy", "busy")
        how = "shmring spsc busy p50 / the repetition's probe p50"
    add("busy-poll round trip p50 <= 1.3x bare cache-line ping-pong", med, lo, hi, "<= 1.3",
        med is not None and med <= 1.3, how)
    for mode in ("block", "park"):
        best = None
        for ref in ("futex", "eventfd"):
            med, lo, hi = ratio_per_rep(rows, label("shm-spsc", mode), label(ref, "block"),
                                        "rtt_p50_ns", size, mode, "block")
            if med is not None and (best is None or med > best[0]):
                best = (med, lo, hi, ref)
        if best:
            add("blocking round trip p50 (%s) <= raw futex and eventfd" %
                ("default strategy" if mode == "block" else "park strategy"), best[0], best[1],
                best[2], "<= 1", best[0] <= 1.0,
                "worst of shmring/futex and shmring/eventfd p50 (here: %s)" % best[3])
    vals = rows.get(label("shm-spsc", "busy"), "syscalls_per_msg_peer_awake", 64, "busy")
    if vals:
        med = statistics.median(vals)
        add("zero system calls per message while the peer is awake", med, min(vals), max(vals),
            "< 0.001", med < 0.001, "shmring spsc, busy consumer")
    return t


# ---- Markdown -----------------------------------------------------------------------------------


def cell_text(rows, mech, metric, size, fmt, mode=None):
    v = rows.get(mech, metric, size, mode)
    if metric.startswith("syscalls"):
        v = [max(x, 0.0) for x in v]  # setup noise can make N2 - N1 come out a hair negative
    if not v:
        return "–"
    med = statistics.median(v)
    if len(v) == 1:
        return fmt(med)
    lo, hi = fmt(min(v)), fmt(max(v))
    lo_parts, hi_parts = lo.rsplit(" ", 1), hi.rsplit(" ", 1)
    if len(lo_parts) == 2 and len(hi_parts) == 2 and lo_parts[1] == hi_parts[1]:
        lo = lo_parts[0]  # same unit: "1.2–1.5 µs"
    return "%s <sub>%s–%s</sub>" % (fmt(med), lo, hi)


def markdown(report, rows, latency_sizes):
    m = report["machine"]
    c = report["config"]
    probes = [statistics.median(p) for p in m["probe_p50_ns_per_repetition"]]
    out = []
    w = out.append
    w("# shmring benchmark results\n")
    w("Generated %s by `make bench%s` in %s (commit %s).\n" %
      (report["generated"], " QUICK=1" if c["quick"] else "", fmt_duration(report["duration_s"]),
       m["commit"] or "?"))
    w("**Machine:** %s, %s cores (%s usable), Linux %s; 1-minute load average at the start of "
      "each repetition: %s.  " %
      (m["cpu_model"], m["cores"], m["usable_cpus"], m["kernel"],
       ", ".join(x[0] for x in m.get("loadavg_per_repetition", []) if x) or
       " ".join(m["loadavg_at_start"][:1])))
    w("**Probe** (bare cache-line ping-pong between two processes, round-trip p50; measured at "
      "the start, middle and end of each repetition): %s%s. Compare figures only within one "
      "run.\n" %
      ("; ".join("/".join("%d" % v for v in p) + " ns" for p in
                 m["probe_p50_ns_per_repetition"]) or "–",
       " (median %d ns)" % statistics.median(probes) if probes else ""))
    w("%d repetitions, cells interleaved in a shuffled order; %s; throughput cells of %.1f s; "
      "%d round trips after %d warm-up (at least two laps of a shmring or Boost ring); every "
      "mechanism gets a %d KiB buffer (at least 16 "
      "messages). Each cell shows the median and, small, min–max over the repetitions.\n" %
      (c["repetitions"], "producer and consumer pinned to two CPUs" if c["pinned"]
       else "not pinned", c["throughput_seconds"], c["round_trips"], c["warmup"],
       c["queue_bytes"] // 1024))

    if report["targets"]:
        w("## Targets\n")
        w("| target | measured (median, min–max over repetitions) | goal | |")
        w("|---|---|---|---|")
        for t in report["targets"]:
            val = "–" if t["median"] is None else "%.3g <sub>%.3g–%.3g</sub>" % (
                max(t["median"], 0), max(t["min"], 0), max(t["max"], 0))
            w("| %s | %s | %s | %s |" % (t["target"], val, t["goal"],
                                         "**met**" if t["met"] else "**missed**"))
        w("")

    thr_names = []
    for key in rows.data:
        if key[3] == "throughput_msgs_per_s" and key[0] not in thr_names:
            thr_names.append(key[0])
    if thr_names:
        order = [label(mech, None, p) for mech, _, p in THROUGHPUT]
        thr_names.sort(key=lambda n: order.index(n) if n in order else 99)
        for metric, title, fmt in (
                ("throughput_msgs_per_s", "Throughput, messages per second",
                 lambda v: si(v)),
                ("throughput_MB_per_s", "Throughput, payload bytes per second",
                 lambda v: si(v * 1e6, "B/s"))):
            w("## %s\n" % title)
            w("| mechanism | " + " | ".join("%d B" % s for s in SIZES) + " |")
            w("|---|" + "---|" * len(SIZES))
            for n in thr_names:
                w("| %s | %s |" % (n, " | ".join(cell_text(rows, n, metric, s, fmt)
                                                 for s in SIZES)))
            w("")
        w("One write and one read per message for pipe, socket and POSIX mq (batching would "
          "change them); shmring producers spin on `try_write` while full and the consumer "
          "`poll`s batches; iceoryx loans, publishes and takes; the moodycamel queues run "
          "between two threads of one process (the in-process reference). Every run verifies "
          "order and count of the delivered messages. Consumers read the first and last 8 bytes "
          "of each message in place when the API is zero-copy (shmring `poll`, iceoryx `take`); "
          "the others copy it out.\n")

    for table, title in (("busy", "busy-poll"), ("blocking", "blocking")):
        for size in latency_sizes:
            names = []
            for mech, mode, tab in LATENCY:
                if tab == table and rows.get(label(mech, mode), "rtt_p50_ns", size, mode):
                    names.append((label(mech, mode), mode))
            if not names:
                continue
            busy = table == "busy"
            w("## Round trip, %d B each way, %s\n" % (size, title))
            w("| mechanism | p50 | p99 | p99.9 | max |" + (" p50 / probe just before |"
                                                         if busy else ""))
            w("|---|---|---|---|---|" + ("---|" if busy else ""))
            for n, mode in names:
                cells = [cell_text(rows, n, metric, size, ns, mode)
                         for metric in ("rtt_p50_ns", "rtt_p99_ns", "rtt_p999_ns", "rtt_max_ns")]
                if busy:
                    cells.append(cell_text(rows, n, "rtt_p50_over_adjacent_probe", size,
                                           lambda v: "%.2f" % v, mode)
                                 if n != label("cacheline") else "1")
                w("| %s | %s |" % (n, " | ".join(cells)))
            w("")
    w("busy-poll: both sides spin on non-blocking calls (`poll`, `try_receive`, `O_NONBLOCK` "
      "reads, iceoryx `take`). blocking: each mechanism's blocking call; shmring's default "
      "strategy spins about 50 µs before it parks, so while a reply comes back within that it "
      "never sleeps; `[park]` sleeps in the kernel at once, like the futex and eventfd "
      "references.\n")

    sys_names = []
    for mech, mode, _gap, _awake in SYSCALLS:
        n = label(mech, mode)
        if n not in sys_names and any(k[0] == n and k[3].startswith("syscalls_per_msg")
                                      for k in rows.data):
            sys_names.append(n)
    if sys_names:
        w("## Fast path: system calls per message (64 B)\n")
        w("| mechanism | peer awake (busy consumer) | peer parked (one message every 300 µs) |")
        w("|---|---|---|")
        for n in sys_names:
            cells = []
            for metric in ("syscalls_per_msg_peer_awake", "syscalls_per_msg_peer_parked"):
                cells.append(cell_text(rows, n, metric, 64, lambda v: "%.3f" % v))
            w("| %s | %s |" % (n, " | ".join(cells)))
        w("")
    idle = [k for k in rows.data if k[3] == "idle_cpu_ms"]
    if idle:
        w("## Idle consumer\n")
        w("A consumer blocked in `read(..., %g s)` on an empty ring; CPU time from "
          "`getrusage`.\n" % c["idle_seconds"])
        w("| strategy | CPU time | CPU share | wake-ups |")
        w("|---|---|---|---|")
        for k in idle:
            w("| %s | %.2f ms | %.3f %% | %d |" % (
                k[0], rows.median(k[0], "idle_cpu_ms", 0),
                rows.median(k[0], "idle_cpu_percent", 0), rows.median(k[0], "idle_wakeups", 0)))
        w("")
    micro = []
    for key in rows.data:
        if key[3] == "micro_ns_per_record" and key[0] not in micro:
            micro.append(key[0])
    if micro:
        w("## Micro-benchmarks: ns per record in one process (Google Benchmark)\n")
        w("| call sequence | " + " | ".join("%d B" % s for s in SIZES) + " |")
        w("|---|" + "---|" * len(SIZES))
        for n in micro:
            w("| %s | %s |" % (n, " | ".join(
                cell_text(rows, n, "micro_ns_per_record", s, lambda v: "%.3g" % v)
                for s in SIZES)))
        w("")
    if report["notes"] or report["failures"]:
        w("## Notes\n")
        for n in report["notes"]:
            w("- %s" % n)
        for f in report["failures"]:
            w("- FAILED %s: %s" % (f["cell"], f["error"]))
        w("")
    w("Throughput and latency plots: `throughput.png`, `latency.png` beside this file.\n")
    return "\n".join(out)


# ---- plots --------------------------------------------------------------------------------------


def plot(report, rows, out, latency_sizes):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        report["notes"].append("plots not drawn: gnuplot is not installed")
        return []
    terminals = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True,
                               text=True).stderr + subprocess.run(
        [gnuplot, "-e", "set terminal"], capture_output=True, text=True).stdout
    term = "pngcairo" if "pngcairo" in terminals else "png"
    m = report["machine"]
    probes = [statistics.median(p) for p in m["probe_p50_ns_per_repetition"]]
    subtitle = "%s, %s cores, Linux %s; probe p50 %s" % (
        m["cpu_model"], m["cores"], m["kernel"],
        ("%d ns" % statistics.median(probes)) if probes else "?")
    data_dir = os.path.join(out, "plot-data")
    os.makedirs(data_dir, exist_ok=True)
    made = []

    names = []
    for key in rows.data:
        if key[3] == "throughput_msgs_per_s" and key[0] not in names:
            names.append(key[0])
    if names:
        order = [label(mech, None, p) for mech, _, p in THROUGHPUT]
        names.sort(key=lambda n: order.index(n) if n in order else 99)
        colors = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#1f77b4", "#17becf", "#2ca02c",
                  "#bcbd22", "#9467bd", "#7f7f7f", "#000000", "#aec7e8"]
        plots = []
        for i, n in enumerate(names):
            path = os.path.join(data_dir, "throughput-%d.dat" % i)
            with open(path, "w") as f:
                for s in SIZES:
                    v = rows.get(n, "throughput_msgs_per_s", s)
                    if v:
                        f.write("%d %g %g %g\n" % (s, statistics.median(v), min(v), max(v)))
            plots.append("'%s' using 1:2:3:4 with yerrorlines lw %d pt %d lc rgb '%s' title '%s'" %
                         (path, 2 if n.startswith("shmring") else 1, i + 1,
                          colors[i % len(colors)], n.replace("'", "")))
        script = """
set terminal %s size 1100,700 font ',10' noenhanced
set output '%s'
set title "Throughput per message size (median, min-max bars)\\n%s"
set logscale x 2
set logscale y 10
set xrange [5:100000]
set xtics ("8" 8, "64" 64, "512" 512, "4096" 4096, "65536" 65536)
set xlabel 'message size (bytes)'
set ylabel 'messages per second'
set key outside right
set grid
plot %s
""" % (term, os.path.join(out, "throughput.png"), subtitle, ", \\\n  ".join(plots))
        if run_gnuplot(gnuplot, script, report):
            made.append("throughput.png")

    size = 64 if 64 in latency_sizes else latency_sizes[0]
    path = os.path.join(data_dir, "latency.dat")
    count = 0
    with open(path, "w") as f:
        for mech, mode, table in LATENCY:
            n = label(mech, mode)
            vals = [rows.median(n, metric, size, mode) for metric in
                    ("rtt_p50_ns", "rtt_p99_ns", "rtt_p999_ns")]
            if None in vals:
                continue
            short = n.replace("moodycamel ", "").replace(" (2 threads)", " (thr)").replace(
                " [default: spin, then park]", " [default]").replace(
                "bare cache-line ping-pong", "cache-line probe")
            f.write('"%s (%s)" %g %g %g\n' % (short, table, vals[0], vals[1], vals[2]))
            count += 1
    if count:
        script = """
set terminal %s size 1300,700 font ',10' noenhanced
set output '%s'
set title "Round trip, %d B each way: p50, p99, p99.9 (median over repetitions)\\n%s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y 10
set yrange [10:*]
set rmargin 10
set ylabel 'nanoseconds'
set xtics rotate by -40 scale 0 font ',9'
set grid ytics
set key top left
set bmargin 12
plot '%s' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'
""" % (term, os.path.join(out, "latency.png"), size, subtitle, path)
        if run_gnuplot(gnuplot, script, report):
            made.append("latency.png")
    return made


def publish(path, md):
    """Replaces the text between the result markers of a Markdown file with the tables."""
    begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        log("not published to %s: it has no %s ... %s markers" % (path, begin, end))
        return
    body = md.split("\n", 1)[1].lstrip("\n")  # without the "# shmring benchmark results" title
    body = body.replace("## ", "### ").replace(
        "`throughput.png`, `latency.png` beside this file", "`bench/results/throughput.png`, "
        "`bench/results/latency.png`")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + "\n" + body + "\n" + end + tail)
    log("published the tables to %s" % path)


def run_gnuplot(gnuplot, script, report):
    p = subprocess.run([gnuplot], input=script, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        report["notes"].append("gnuplot failed: " + p.stderr.strip()[-300:])
        return False
    return True


if __name__ == "__main__":
    main()
