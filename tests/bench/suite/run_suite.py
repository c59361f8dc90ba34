#!/usr/bin/python3
"""The benchmark suite (issue 9), run by tests/bench/run: every measurement side by side with its
baseline in one run, one table on stdout, every figure as JSON (BUILD_DIR/bench/results.json).

  run_suite.py --root REPO --build BUILD_DIR [--out PATH] [--quick] [--only STEP,...]

Measurements (docs/PERFORMANCE.md explains each):
  gate        `qsc gate` vs baseline/quality_gate.py, 2,000 and 100,000 post-cutover events
  scoreboard  `qsc scoreboard` vs baseline/scoreboard.py
  detection   event-driven `qsc monitor` (shm and Redis sources) vs the runbook's 30 s poll
  footprint   a running `qsc monitor` at 1,000 / 10,000 / 100,000 events/s (shm), and at
              1,000 / 10,000 events/s (Redis); its baseline at 1,000 events/s is the bare
              futex wake-up per event (tests/bench/ring/wake_floor), run just before
  supervised  the supervised `qsc monitor` (supervisor + worker, issue 14) against its worker run
              alone (the round-1 in-process monitor), alternately: detection latency (shm-block)
              and CPU + RSS of both processes at 1,000 and 100,000 events/s
  scaling     gate and window evaluation from 2,000 to 1,000,000 predictions
  evaluation  the evaluation step per event (window update + every built-in detector, loaded
              from the build's plugins): running figures vs the full recomputation (issue 17)
  ring        tests/bench/ring (ring vs boost spsc_queue vs Redis Streams)
  telemetry   tests/bench/telemetry (when built)
  accuracy    (only with --only accuracy) tests/bench/accuracy: the monitor's decision quality through `qsc replay` on
              generated healthy and degraded 6 h periods (docs/ACCURACY.md); --seeds-healthy,
              --seeds-degraded, --jobs; resumable (BUILD_DIR/bench/accuracy/results.jsonl)
Every figure is measured in this run; nothing is carried over from an earlier one.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"  # Debian's, with python3-numpy and python3-redis
CANARY = "patchtst"
CUTOVER_MS = 1768023795000  # 2026-01-10T05:43:15Z, the runbook's example
# In the order they run; each is Suite.bench_<name>.
STEPS = ("gate_scoreboard", "detection", "footprint", "supervised", "scaling", "evaluation",
         "ring", "telemetry", "replay", "accuracy")
# Steps run only when --only names them: the accuracy benchmark takes hours, not the suite's
# 10-minute budget.
OPT_IN_STEPS = ("accuracy",)
# The two ways of running the monitor that the "supervised" step compares.
MODES = ("supervised", "worker")


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def pct(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    """A throwaway redis-server on a free loopback port."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start on port %d" % self.port)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


class Suite:
    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.build = os.path.abspath(args.build)
        self.quick = args.quick
        self.only = set(args.only.split(",")) if args.only else None
        self.accuracy_args = (args.seeds_healthy, args.seeds_degraded, args.jobs,
                              args.policies.split(",") if args.policies else None)
        self.qsc = os.path.join(self.build, "bin", "qsc")
        self.tool = os.path.join(self.build, "bench", "qsc_bench_suite")
        self.ring_bench = os.path.join(self.build, "tests", "bench", "ring", "ring_bench")
        self.telemetry_bench = os.path.join(self.build, "bench", "qsc_telemetry_bench")
        self.wake_floor = os.path.join(self.build, "tests", "bench", "ring", "wake_floor")
        self.work = tempfile.mkdtemp(prefix="qsc-bench-")
        self.redis = None
        self.results = {}
        self.seq = 0

    # ---------------------------------------------------------------- helpers
    def workdir(self, name, config):
        d = os.path.join(self.work, name)
        os.makedirs(d)
        with open(os.path.join(d, "qsc.json"), "w") as f:
            json.dump(config, f, indent=2)
        return d

    def config(self, telemetry, window=2000):
        t = {"min_events": 200, "window_events": window}
        t.update(telemetry)
        return {
            "telemetry": t,
            "canary": {"duration": "10m", "interval": "30s"},
            # No real unit here: rollback only (systemd and notify are not what is measured).
            "plugins": {"actions": ["rollback"],
                        "config": {"systemd": {"dropin_dir": "systemd/quantum-ai_engine.service.d"}}},
        }

    def redis_config(self, stream, window=2000):
        return self.config({"source": "redis", "redis_url": self.redis.url, "stream": stream},
                           window)

    def tool_run(self, *args):
        out = subprocess.run([self.tool, *args], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError("qsc_bench_suite %s failed: %s" % (args[0], out.stderr))
        return out.stdout

    def fill(self, stream, pre, post):
        self.tool_run("fill-redis", "--port", str(self.redis.port), "--stream", stream,
                      "--cutover-ms", str(CUTOVER_MS), "--pre", str(pre), "--post", str(post))

    @staticmethod
    def timed(cmd, cwd, expect):
        """-> (wall ms, CPU ms = user + system of the process and its children)."""
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        dt = (time.perf_counter() - t0) * 1000.0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != expect:
            raise RuntimeError("%s exited %d (expected %d): %s" % (
                " ".join(cmd), p.returncode, expect, err.decode(errors="replace")[-500:]))
        return dt, (ru.ru_utime + ru.ru_stime) * 1000.0

    def side_by_side(self, name, qsc_cmd, py_cmd, cwd, reps, expect=0):
        """Alternating runs (one warm-up each), so load changes hit both sides alike."""
        self.timed(qsc_cmd, cwd, expect)
        self.timed(py_cmd, cwd, expect)
        q, p, qc, pc = [], [], [], []
        for i in range(reps):
            order = [(qsc_cmd, q, qc), (py_cmd, p, pc)]
            for cmd, wall, cpu in (order if i % 2 == 0 else order[::-1]):
                w, c = self.timed(cmd, cwd, expect)
                wall.append(w)
                cpu.append(c)
        qm, pm = float(np.median(q)), float(np.median(p))
        r = {"runs": reps, "qsc_ms": q, "python_ms": p, "qsc_median_ms": qm,
             "python_median_ms": pm, "ratio": pm / qm,
             "paired_ratio_median": float(np.median(np.array(p) / np.array(q))),
             "qsc_min_ms": min(q), "python_min_ms": min(p),
             "qsc_cpu_ms": qc, "python_cpu_ms": pc,
             "qsc_cpu_median_ms": float(np.median(qc)),
             "python_cpu_median_ms": float(np.median(pc)),
             "cpu_ratio": float(np.median(pc)) / max(float(np.median(qc)), 1e-3)}
        log("%s: qsc %.1f ms, python %.1f ms, %.1fx (CPU %.1f vs %.1f ms, %.1fx)" % (
            name, qm, pm, pm / qm, r["qsc_cpu_median_ms"], r["python_cpu_median_ms"],
            r["cpu_ratio"]))
        return r

    # ---------------------------------------------------------------- 1, 2: gate, scoreboard
    def bench_gate_scoreboard(self):
        out = {}
        for n, reps in ((2000, 6 if self.quick else 15), (100000, 2 if self.quick else 4)):
            stream = "bench:gate:%d" % n
            self.fill(stream, 2000, n)
            d = self.workdir("gate_%d" % n, self.redis_config(stream, window=n))
            qsc_cmd = [self.qsc, "gate", "--after", iso(CUTOVER_MS)]
            py_cmd = [PY, os.path.join(HERE, "baseline", "quality_gate.py"), "--after",
                      iso(CUTOVER_MS), "--redis-url", self.redis.url, "--stream", stream,
                      "--window", str(n)]
            out["gate_%d" % n] = self.side_by_side("gate %d" % n, qsc_cmd, py_cmd, d, reps)
            if n == 2000:
                d2 = self.workdir("scoreboard", self.redis_config(stream))
                py_sb = [PY, os.path.join(HERE, "baseline", "scoreboard.py"), "--redis-url",
                         self.redis.url, "--stream", stream, "--window", "2000"]
                out["scoreboard"] = self.side_by_side("scoreboard", [self.qsc, "scoreboard"],
                                                      py_sb, d2, reps)
        # Python's own start-up (interpreter + numpy + redis-py imports), for the report.
        imp = [self.timed([PY, "-c", "import numpy, redis, json"], self.work, 0)[0]
               for _ in range(5)]
        out["python_import_ms_median"] = float(np.median(imp))
        return out

    # ---------------------------------------------------------------- 4: detection latency
    def start_producer(self, transport_args, rate):
        p = subprocess.Popen([self.tool, "produce", *transport_args, "--rate", str(rate)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if line.strip() != "ready":
            p.kill()
            raise RuntimeError("producer did not start: %s %s" % (line, p.stderr.read()))
        return p

    @staticmethod
    def stop_producer(p):
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        m = re.search(r"published (\d+) behind_ms ([\d.]+)", out)
        return (int(m.group(1)), float(m.group(2))) if m else (None, None)

    def activate(self, d, cutover_ms):
        for _ in range(50):
            p = subprocess.run([self.qsc, "activate", "--model", CANARY, "--cutover",
                                iso(cutover_ms)], cwd=d, capture_output=True, text=True)
            if p.returncode == 0:
                return
            time.sleep(0.1)  # not yet 200 post-cutover events
        raise RuntimeError("qsc activate failed in %s: %s%s" % (d, p.stdout[-800:], p.stderr))

    def monitor_setup(self, kind, rate, tag):
        """A producer publishing healthy events and an activated canary; returns (dir, producer)."""
        self.seq += 1
        cutover = int(time.time()) * 1000 - 1000
        if kind.startswith("shm"):
            # "shm": the default consumer wait (spin_then_sleep); "shm-block": telemetry.shm_wait
            # "block" (futex wake-up).
            ring = "qsc_bench_%d_%d" % (os.getpid(), self.seq)
            cfg = self.config({"source": "shm", "shm_name": ring,
                               "shm_wait": "block" if kind == "shm-block" else "spin_then_sleep"})
            producer = self.start_producer(["--shm", ring], rate)
            cleanup = ring
        else:
            stream = "bench:monitor:%d" % self.seq
            cfg = self.redis_config(stream)
            producer = self.start_producer(["--redis-port", str(self.redis.port), "--stream",
                                            stream], rate)
            cleanup = None
        d = self.workdir("%s_%s_%d" % (tag, kind, self.seq), cfg)
        self.activate(d, cutover)
        return d, producer, cleanup

    @staticmethod
    def remove_ring(ring):
        if ring:
            try:
                os.unlink("/dev/shm/" + ring)
            except FileNotFoundError:
                pass

    @staticmethod
    def audit(d):
        entries = []
        path = os.path.join(d, "logs", "qsc_canary.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    try:
                        entries.append(json.loads(line))
                    except ValueError:
                        pass
        return entries

    def start_monitor(self, args, mode="supervised", **popen):
        """`qsc monitor ARGS`. mode "supervised": as a user runs it (a supervisor that starts the
        worker). mode "worker": the worker alone, i.e. the round-1 in-process monitor, started
        as the supervisor starts it (`--worker`, a zero-filled heartbeat block on an inherited
        memfd: the block's initial state) but with nobody watching it."""
        if mode == "supervised":
            return subprocess.Popen([self.qsc, "monitor", *args], **popen)
        fd = os.memfd_create("qsc-bench-heartbeat", 0)
        try:
            os.ftruncate(fd, 4096)  # larger than the block's layout; zero-filled
            env = dict(os.environ, QSC_SUPERVISOR_FD=str(fd))
            return subprocess.Popen([self.qsc, "monitor", *args, "--worker"], env=env,
                                    pass_fds=(fd,), **popen)
        finally:
            os.close(fd)

    @staticmethod
    def process_tree(pid):
        """The monitor's processes: itself and its children (the supervised monitor's worker)."""
        pids = [pid]
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return pids

    def detection_run(self, kind, rate, mode="supervised"):
        d, producer, ring = self.monitor_setup(kind, rate, "detect")
        try:
            mon = self.start_monitor(["--duration", "2m", "--interval", "30s"], mode,
                                     cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
            # Wait for the header, then let the canary's window pass min_events (200) healthy
            # predictions at `rate` (so the window is judged, not WAIT).
            for line in mon.stdout:
                if "Rollback:" in line:
                    break
            time.sleep(max(0.3, 600.0 / rate))
            producer.send_signal(signal.SIGUSR1)
            trigger_line = producer.stdout.readline()
            m = re.match(r"trigger_us (\d+)", trigger_line)
            if not m:
                raise RuntimeError("producer did not report its trigger: %r" % trigger_line)
            trigger_us = int(m.group(1))
            try:
                rest, _ = mon.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                mon.kill()
                raise RuntimeError("monitor did not detect the NaN canary within 20 s")
            if mon.returncode != 1:
                raise RuntimeError("monitor exited %d, expected 1 (rollback): %s" % (
                    mon.returncode, rest[-800:]))
        finally:
            self.stop_producer(producer)
            self.remove_ring(ring)
        rb = [e for e in self.audit(d) if e.get("action") == "rollback_executed"]
        if not rb:
            raise RuntimeError("no rollback_executed entry in %s" % d)
        det = rb[-1]["figures"]["detection"]
        violations = rb[-1].get("violations", [])
        return (det["detected_at_us"] - trigger_us) / 1000.0, violations

    def bench_detection(self):
        out = {}
        runs = {"shm": 8 if self.quick else 50, "shm-block": 5 if self.quick else 40,
                "redis": 5 if self.quick else 40}
        for kind in ("shm", "shm-block", "redis"):
            lat, kinds, failures = [], set(), []
            t0 = time.time()
            for _ in range(runs[kind]):
                try:
                    ms, violations = self.detection_run(kind, 2000)
                except RuntimeError as e:  # reported, never dropped silently
                    failures.append(str(e)[:300])
                    log("detection %s run failed: %s" % (kind, str(e)[:200]))
                    continue
                lat.append(ms)
                kinds.update(v.split(":")[0] for v in violations)
            if not lat:
                raise RuntimeError("every %s detection run failed: %s" % (kind, failures[-1]))
            out[kind] = {"runs": len(lat), "failures": failures, "rate_eps": 2000,
                         "latency_ms": lat,
                         "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat),
                         "violations_seen": sorted(kinds), "wall_s": time.time() - t0}
            log("detection %s: p50 %.2f ms, p99 %.2f ms over %d runs" % (
                kind, out[kind]["p50_ms"], out[kind]["p99_ms"], len(lat)))
        return out

    def poll_baseline(self, scoreboard_ms):
        """The runbook's design: a check every 30 s, each running scoreboard.py. A violation
        lands uniformly within an interval, so detection = U(0, 30 s) + one scoreboard run.
        Combined with this run's measured scoreboard.py times (not a run of a 30 s poll)."""
        u = (np.arange(2000) + 0.5) / 2000 * 30000.0
        total = (u[:, None] + np.asarray(scoreboard_ms)[None, :]).ravel()
        return {"interval_s": 30, "scoreboard_ms_median": float(np.median(scoreboard_ms)),
                "p50_ms": float(np.percentile(total, 50)),
                "p99_ms": float(np.percentile(total, 99)),
                "method": "model: uniform arrival in a 30 s interval + measured scoreboard.py"}

    # ---------------------------------------------------------------- 5: footprint
    @staticmethod
    def proc_cpu_s(pid):
        """CPU time of the process's threads, in seconds: the scheduler's nanosecond count
        (first field of /proc/PID/task/TID/schedstat) where the kernel keeps it. utime + stime
        count 10 ms clock ticks, 0.1% of a core over a 10 s window: too coarse for a monitor
        near 0.5% (the supervisor alone read 0.2, 0.3 or 0.4% from run to run). A thread that
        ends between two readings takes its time with it; the monitor's threads live as long as
        it does."""
        total_ns = 0
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total_ns += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            total_ns = 0
        if total_ns > 0:
            return total_ns / 1e9
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def proc_status(pid, key):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0  # MiB
        return float("nan")

    @staticmethod
    def proc_wakeups(pid):
        """Voluntary context switches of every thread of `pid` so far: each is a sleep, so
        over a window they count the process's wake-ups."""
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            total += int(line.split()[1])
            except FileNotFoundError:
                pass  # a thread that ended meanwhile
        return total

    @staticmethod
    def proc_pss_mib(pid):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def footprint_run(self, kind, rate, window_s, gap=None, mode="supervised", interval_s=5):
        """CPU and RSS of the monitor's processes: the supervisor and its worker summed (each
        also kept apart), or the worker alone (mode "worker"). Interval checks every
        `interval_s` (5 s: the suite's figure since round 1; canary.interval's default is 30 s)."""
        d, producer, ring = self.monitor_setup(kind, rate, "footprint")
        r = {"source": kind, "rate_eps": rate, "window_s": window_s, "interval_s": interval_s,
             "min_eval_gap": gap or "2ms (default)", "mode": mode}
        mon = None
        try:
            err_path = os.path.join(d, "monitor.stderr")
            with open(err_path, "w") as err, open(os.path.join(d, "monitor.out"), "w") as out:
                mon = self.start_monitor(["--duration", "10m", "--interval", "%ds" % interval_s] +
                                         (["--min-eval-gap", gap] if gap else []), mode,
                                         cwd=d, stdout=out, stderr=err)
                time.sleep(2.0)  # start-up and catching up with the history
                alive = mon.poll() is None
                if alive:
                    pids = self.process_tree(mon.pid)
                    c0 = [self.proc_cpu_s(p) for p in pids]
                    w0 = [self.proc_wakeups(p) for p in pids]
                    t0 = time.monotonic()
                    pc0 = self.proc_cpu_s(producer.pid)
                    time.sleep(window_s)
                    alive = mon.poll() is None
                if alive:
                    t1 = time.monotonic()
                    cpu = [(self.proc_cpu_s(p) - c) / (t1 - t0) * 100 for p, c in zip(pids, c0)]
                    wakeups = [(self.proc_wakeups(p) - w) / (t1 - t0) for p, w in zip(pids, w0)]
                    rss = [self.proc_status(p, "VmRSS") for p in pids]
                    # RSS counts the pages two processes of one binary share (qsc's text, the
                    # shared libraries) in both; PSS splits them: the memory both really use.
                    pss = [self.proc_pss_mib(p) for p in pids]
                    r.update({"cpu_pct_of_core": sum(cpu),
                              "producer_cpu_pct": (self.proc_cpu_s(producer.pid) - pc0) /
                              (t1 - t0) * 100,
                              "rss_mib": sum(rss),
                              "peak_rss_mib": sum(self.proc_status(p, "VmHWM") for p in pids),
                              "pss_mib": sum(pss),
                              "processes": len(pids),
                              "cpu_pct_by_process": cpu, "rss_mib_by_process": rss,
                              "wakeups_per_s_by_process": wakeups})
                    mon.send_signal(signal.SIGTERM)
                r["exit_code"] = mon.wait(30)
                r["alive"] = alive
        finally:
            if mon is not None and mon.poll() is None:  # only after a failure here
                mon.kill()
                mon.wait()
            r["published"], r["producer_max_late_ms"] = self.stop_producer(producer)
            self.remove_ring(ring)
        entries = self.audit(d)
        checks = [e for e in entries if e.get("action") == "check"]
        rollback = [e for e in entries if e.get("action") == "rollback_executed"]
        with open(err_path) as f:
            err_text = f.read()
        warned = sum(int(m) for m in re.findall(r"(\d+) events lost in the ring", err_text))
        r["events_lost"] = max([warned] + [int(c.get("events_lost", 0)) for c in checks])
        r["checks"] = len(checks)
        r["violations"] = rollback[-1].get("violations", []) if rollback else []
        if r["alive"]:
            log("footprint %s %d ev/s: %.2f%% of a core, RSS %.1f MiB, lost %d" % (
                kind, rate, r["cpu_pct_of_core"], r["rss_mib"], r["events_lost"]))
        else:
            r["stderr_tail"] = err_text[-600:]
            log("footprint %s %d ev/s: monitor exited %s: %s" % (kind, rate, r["exit_code"],
                                                                 r["violations"]))
        return r

    def wake_floor_run(self, rate, window_s):
        """The floor under the monitor's CPU with `shm_wait: block`: two processes that only
        wake each other once per event (tests/bench/ring/wake_floor.cpp)."""
        p = subprocess.run([self.wake_floor, "--rate", str(rate), "--seconds", str(window_s)],
                           capture_output=True, text=True, timeout=window_s + 60)
        if p.returncode != 0:
            raise RuntimeError("wake_floor failed: %s" % p.stderr.strip())
        r = json.loads(p.stdout)
        log("wake floor %d ev/s: consumer %.2f%% of a core (%.1f us a wake-up), producer %.2f%%" % (
            rate, r["consumer_cpu_pct_of_core"], r["consumer_cpu_us_per_wakeup"],
            r["producer_cpu_pct_of_core"]))
        return r

    def bench_footprint(self):
        window = 5 if self.quick else 10
        out = {}
        # The baseline of the 1,000 events/s rows: what one wake-up per event costs with nothing
        # done, measured in this run (docs/PERFORMANCE.md, "The floors under the three speed
        # targets").
        if os.path.exists(self.wake_floor):
            out["wake_floor@1000"] = self.wake_floor_run(1000, window)
        for kind, rates in (("shm", (1000, 10000, 100000)), ("shm-block", (1000, 10000, 100000)),
                            ("redis", (1000, 10000))):
            for rate in rates:
                out["%s@%d" % (kind, rate)] = self.footprint_run(kind, rate, window)
        # What the event-driven evaluation costs: evaluations at most every 20 ms instead of 2 ms
        # (detection then takes up to ~20 ms longer), with either consumer wait.
        for kind in ("shm", "shm-block"):
            out["%s gap 20ms@1000" % kind] = self.footprint_run(kind, 1000, window, gap="20ms")
        return out

    # ---------------------------------------------------------------- 5b: supervised
    def bench_supervised(self):
        """Issue 14: the supervised monitor against its worker alone, alternately (load changes
        hit both sides alike). Detection through the supervisor with the default source and wait
        (shm, block); CPU and RSS of both processes summed at 1,000 and 100,000 events/s."""
        runs = 5 if self.quick else 30
        det = {m: {"latency_ms": [], "failures": []} for m in MODES}
        t0 = time.time()
        for _ in range(runs):
            for mode in MODES:
                try:
                    ms, _ = self.detection_run("shm-block", 2000, mode)
                    det[mode]["latency_ms"].append(ms)
                except RuntimeError as e:  # reported, never dropped silently
                    det[mode]["failures"].append(str(e)[:300])
                    log("supervised detection %s run failed: %s" % (mode, str(e)[:200]))
        for mode in MODES:
            lat = det[mode]["latency_ms"]
            if not lat:
                raise RuntimeError("every %s detection run failed" % mode)
            det[mode].update({"runs": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                              "max_ms": max(lat)})
            log("supervised detection %s: p50 %.2f ms, p99 %.2f ms over %d runs" % (
                mode, det[mode]["p50_ms"], det[mode]["p99_ms"], len(lat)))
        out = {"detection": det, "detection_wall_s": time.time() - t0,
               "p99_ratio": det["supervised"]["p99_ms"] / det["worker"]["p99_ms"],
               "p50_ratio": det["supervised"]["p50_ms"] / det["worker"]["p50_ms"]}
        window = 5 if self.quick else 10
        fp = {}
        for rate in (1000, 100000):
            for mode in MODES:
                fp["%s@%d" % (mode, rate)] = self.footprint_run("shm-block", rate, window,
                                                                mode=mode)
        out["footprint"] = fp
        return out

    # ---------------------------------------------------------------- 6: scaling
    SCALED = ("window_stats_ms", "gate_ms", "monitor_eval_ms", "monitor_full_ms")

    def bench_scaling(self):
        """CPU time (medians) of each evaluation at each window size. Growth is the exponent b
        of time ~ n^b between two sizes (1 = linear): over the whole range, and over the last
        decade, where both windows are far larger than the CPU caches."""
        sizes = "2000,10000,100000,300000,1000000"
        rows = [json.loads(l) for l in self.tool_run("scaling", "--sizes", sizes,
                                                     "--budget-ms",
                                                     "500" if self.quick else "1500").splitlines()
                if l.startswith("{")]
        for r in rows:
            for k in self.SCALED:
                r[k.replace("_ms", "_ns_per_event")] = r[k] * 1e6 / r["n"]

        def exponent(a, b, k):
            return math.log(b[k] / a[k]) / math.log(b["n"] / a["n"])
        last_decade = ([r for r in rows if r["n"] * 10 <= rows[-1]["n"]] or rows)[-1]
        growth = {k: {"whole_range": exponent(rows[0], rows[-1], k),
                      "last_decade": exponent(last_decade, rows[-1], k),
                      "from_n": rows[0]["n"], "last_decade_from_n": last_decade["n"],
                      "to_n": rows[-1]["n"]} for k in self.SCALED}
        log("scaling: " + ", ".join("%d: gate %.2f ms, eval %.3f ms" % (
            r["n"], r["gate_ms"], r["monitor_eval_ms"]) for r in rows))
        return {"rows": rows, "growth_exponent": growth}

    # ---------------------------------------------------------------- evaluation (issue 17)
    def bench_evaluation(self):
        """Per event, the evaluation step's window update and a run of every built-in detector
        on the event's figures: from the running figures, and (the baseline, alternating in
        chunks in the same process) recomputed over the 2,000-event window."""
        plugins = os.path.join(self.build, "lib", "qsc", "plugins")
        out = self.tool_run("evaluation", "--plugins", plugins, "--events",
                            "40000" if self.quick else "300000", "--window", "2000")
        r = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
        r["ratio"] = r["baseline_ns_per_event"] / r["incremental_ns_per_event"]
        log("evaluation: %.0f ns per event (baseline %.0f ns, %.1fx), %d detectors" % (
            r["incremental_ns_per_event"], r["baseline_ns_per_event"], r["ratio"],
            r["detectors"]))
        return r

    # ---------------------------------------------------------------- 3: ring; telemetry
    def bench_ring(self):
        if not os.path.exists(self.ring_bench):
            return {"skipped": "ring_bench not built"}
        args = [self.ring_bench, "--json"]
        if self.quick:
            args += ["--events", "1000000", "--latency-events", "5000", "--redis-events", "10000"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=300)
        try:
            data = json.loads(p.stdout)
        except ValueError:
            return {"skipped": "ring_bench failed (%d): %s" % (p.returncode, p.stderr[-500:])}
        log("ring_bench done")
        return data

    def bench_telemetry(self):
        if not os.path.exists(self.telemetry_bench):
            return {"skipped": "qsc_telemetry_bench not built (tests/bench/telemetry)"}
        p = subprocess.run([self.telemetry_bench], capture_output=True, text=True, timeout=300)
        # Its Markdown table, read by column title (so a new column does not break this).
        rows, header = [], None
        for line in p.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or set("".join(cells)) <= set("-: "):
                continue
            if header is None:
                header = cells
                continue
            row = {}
            for title, cell in zip(header, cells):
                m = re.match(r"([\d.]+)", cell)
                row[title] = float(m.group(1)) if m else cell
            rows.append(row)
        log("telemetry bench done (%d rows)" % len(rows))
        return {"rows": rows, "exit_code": p.returncode, "table": p.stdout}

    # ---------------------------------------------------------------- replay (issue 17)
    def bench_replay(self):
        """qsc replay of a generated healthy recording with every built-in detector loaded,
        pinned to one core: events/s against the target of 1,000,000."""
        events = 50000 if self.quick else 300000
        spacing_ms = 1
        start_ms = CUTOVER_MS
        d = self.workdir("replay", self.config({"source": "file"}))
        rec = os.path.join(d, "rec.jsonl")
        self.tool_run("write-recording", "--out", rec, "--events", str(events),
                      "--start-ms", str(start_ms), "--spacing-ms", str(spacing_ms))
        # The period ends 1 s before the recording does, so the replay completes clean.
        duration_s = events * spacing_ms // 1000 - 1
        cpu = os.sched_getaffinity(0)
        pin = ["taskset", "-c", str(min(cpu))] if shutil.which("taskset") else []
        runs = []
        for _ in range(1 if self.quick else 3):
            out = os.path.join(d, "replay.json")
            wall, cpu_ms = self.timed(pin + [self.qsc, "replay", "--file", rec, "--model",
                                             "patchtst", "--activated-at", iso(start_ms),
                                             "--duration", "%ds" % duration_s, "--interval",
                                             "30s", "--json", out], d, 0)
            with open(out) as f:
                rep = json.load(f)
            runs.append({"wall_ms": wall, "cpu_ms": cpu_ms,
                         "replay_seconds": rep["replay_seconds"],
                         "entries": rep["entries"], "evaluations": rep["evaluations"],
                         "detectors": len(rep["detectors"]),
                         "entries_per_second": rep["entries_per_second"],
                         "entries_per_cpu_second": rep["entries_per_cpu_second"]})
        # Per CPU second of the replaying thread: the machine is shared, wall time is not its.
        eps = float(np.median([r["entries_per_cpu_second"] for r in runs]))
        log("replay: %.0f events/s (%d events, %d detectors)" % (eps, events,
                                                                runs[0]["detectors"]))
        return {"events": events, "runs": runs, "events_per_second_median": eps,
                "target_events_per_second": 1000000, "pinned": bool(pin)}

    # ---------------------------------------------------------------- accuracy (issue 17)
    def bench_accuracy(self):
        """Decision quality of each policy on generated periods (tests/bench/accuracy)."""
        sys.path.insert(0, os.path.join(self.root, "tests", "bench", "accuracy"))
        import accuracy
        healthy, degraded, jobs, policies = self.accuracy_args
        return accuracy.AccuracyBench(self.root, self.build, self.work, healthy, degraded, jobs,
                                      log, policies).run()

    # ---------------------------------------------------------------- all
    def machine(self):
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = ""
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()

        def version(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
            except OSError:
                return ""
        return {
            "nproc": os.cpu_count(), "cpu_model": cpu, "mem_total": mem,
            "kernel": platform.release(),
            "python": version([PY, "--version"]),
            "numpy": version([PY, "-c", "import numpy; print(numpy.__version__)"]),
            "redis_py": version([PY, "-c", "import redis; print(redis.__version__)"]),
            "redis_server": version(["redis-server", "--version"]),
            "qsc_commit": version(["git", "-C", self.root, "rev-parse", "--short", "HEAD"]),
            # Sources built with changes not yet committed (a shared working tree).
            "uncommitted": version(["git", "-C", self.root, "status", "--porcelain", "--",
                                    "agent", "ipc", "sdk", "plugins"]).splitlines(),
            "build_type": self.build_type(),
        }

    def build_type(self):
        try:
            with open(os.path.join(self.build, "CMakeCache.txt")) as f:
                for line in f:
                    if line.startswith("CMAKE_BUILD_TYPE:"):
                        return line.split("=", 1)[1].strip()
        except OSError:
            pass
        return ""

    def run(self):
        t0 = time.time()
        self.results["machine"] = self.machine()
        self.results["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
        self.results["load_start"] = loadavg()
        self.results["quick"] = self.quick
        self.redis = Redis(self.work)
        try:
            for name in STEPS:
                fn = getattr(self, "bench_" + name)
                if self.only and name not in self.only:
                    continue
                if name in OPT_IN_STEPS and not self.only:
                    continue
                log("%s (load %.1f)" % (name, loadavg()[0]))
                self.results.setdefault("load_1min_by_step", {})[name] = loadavg()[0]
                s = time.time()
                try:
                    self.results[name] = fn()
                except Exception as e:  # a failed step is reported, never invented
                    log("%s FAILED: %s" % (name, e))
                    self.results[name] = {"error": str(e)}
                self.results.setdefault("step_seconds", {})[name] = round(time.time() - s, 1)
        finally:
            self.redis.stop()
        gs = self.results.get("gate_scoreboard", {})
        if "scoreboard" in gs:
            self.results["poll_baseline"] = self.poll_baseline(gs["scoreboard"]["python_ms"])
        self.results["load_end"] = loadavg()
        self.results["wall_seconds"] = round(time.time() - t0, 1)
        shutil.rmtree(self.work, ignore_errors=True)
        return self.results


def fmt(x, unit="", digits=1):
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return ("%." + str(digits) + "f%s") % (x, unit)


def transport_rows(ring, verdict):
    """ring_bench's figures (its JSON; its own targets): 1 producer x 1 consumer, first row of
    each transport (the ring's first rows are its spinning consumer)."""
    if not isinstance(ring.get("throughput"), list):
        return [("transport (ring_bench)", ring.get("skipped", ring.get("error", "n/a")), "", "",
                 "")]

    def first(rows, prefix):
        return next((x for x in rows if x.get("name", "").startswith(prefix)
                     and not x.get("skipped")), None)

    def target(name, label):
        q = next((x for x in ring.get("ratios", []) if x.get("name") == name), None)
        if not q or not q.get("target"):
            return None
        op = "<=" if "latency (us)" in name else ">="
        return "%s %g%s: %s" % (op, q["target"], label, verdict(q["met"]))
    def eps(x):
        return fmt(x / 1e6, " M/s", 2) if x >= 1e6 else fmt(x / 1e3, " k/s", 1)
    out = []
    thr, lat = ring["throughput"], ring.get("latency", [])
    t = {k: first(thr, k) for k in ("ring 1x1", "boost spsc", "Redis")}
    if t["ring 1x1"]:
        ring_eps = t["ring 1x1"]["throughput_eps"]
        base = "; ".join("%s %s" % (k, eps(v["throughput_eps"]))
                         for k, v in t.items() if v and k != "ring 1x1")
        ratio = "; ".join("%sx %s" % (fmt(ring_eps / v["throughput_eps"], "", 1 if k == "Redis"
                                          else 2), k)
                          for k, v in t.items() if v and k != "ring 1x1" and v["throughput_eps"])
        targets = [x for x in (target("ring 1x1 throughput (M events/s)", " M/s"),
                               target("ring 1x1 / boost spsc throughput", "x spsc"),
                               target("ring 1x1 / Redis throughput", "x Redis")) if x]
        out.append(("transport throughput, 1 producer x 1 consumer (ring_bench)",
                    "%s (%s%% lapped)" % (eps(ring_eps), fmt(t["ring 1x1"].get("lost_pct"), "", 0)),
                    base, ratio,
                    "; ".join(targets)))
    q = {k: first(lat, k) for k in ("ring 1x1", "boost spsc", "Redis")}
    if q["ring 1x1"]:
        ring_p99 = q["ring 1x1"]["p99_ns"]

        def us(v):
            return "%s / %s us" % (fmt(v["p50_ns"] / 1e3, "", 1), fmt(v["p99_ns"] / 1e3, "", 1))
        base = "; ".join("%s %s" % (k, us(v)) for k, v in q.items() if v and k != "ring 1x1")
        ratio = "; ".join("%s p99 / ring p99 %sx" % (k, fmt(v["p99_ns"] / ring_p99, "", 2))
                          for k, v in q.items() if v and k != "ring 1x1" and ring_p99)
        out.append(("transport one-way latency p50 / p99, spinning consumer (ring_bench)",
                    us(q["ring 1x1"]), base, ratio,
                    target("ring 1x1 spin p99 latency (us)", " us p99") or ""))
    return out


def supervised_rows(sv, verdict):
    """Issue 14's figures: supervised monitor against its worker alone, from the same run."""
    rows = []
    det = sv.get("detection", {})
    if "p99_ms" in det.get("supervised", {}) and "p99_ms" in det.get("worker", {}):
        s, w = det["supervised"], det["worker"]
        failed = sum(len(det[m]["failures"]) for m in MODES)
        rows.append(("detection p50, supervised monitor, shm-block (%d + %d runs%s)" % (
            s["runs"], w["runs"], ", %d failed" % failed if failed else ""),
            fmt(s["p50_ms"], " ms", 2), "worker alone " + fmt(w["p50_ms"], " ms", 2),
            fmt(sv["p50_ratio"], "x", 2), ""))
        rows.append(("detection p99, supervised monitor, shm-block", fmt(s["p99_ms"], " ms", 2),
                     "worker alone " + fmt(w["p99_ms"], " ms", 2), fmt(sv["p99_ratio"], "x", 2),
                     "<= 1.2x: " + verdict(sv["p99_ratio"] <= 1.2)))
    fp = sv.get("footprint", {})
    for rate in ("1000", "100000"):
        s, w = fp.get("supervised@" + rate, {}), fp.get("worker@" + rate, {})
        label = "supervised monitor at %s ev/s, shm-block: CPU, RSS (both processes), lost" % (
            f"{int(rate):,}")
        def failed(f):
            return "exited %s: %s" % (f.get("exit_code"), "; ".join(f.get("violations", [])) or "?")
        if "cpu_pct_of_core" in s:
            sup_cpu, sup_rss = s["cpu_pct_by_process"][0], s["rss_mib_by_process"][0]
            ok = "cpu_pct_of_core" in w
            rows.append((label, "%s core, RSS %s (PSS %s), %d lost (supervisor %s, %s)" % (
                fmt(s["cpu_pct_of_core"], "%"), fmt(s["rss_mib"], " MiB"),
                fmt(s.get("pss_mib"), " MiB"), s["events_lost"], fmt(sup_cpu, "%", 2),
                fmt(sup_rss, " MiB")),
                "worker alone %s core, RSS %s (PSS %s)" % (
                    fmt(w["cpu_pct_of_core"], "%"), fmt(w["rss_mib"], " MiB"),
                    fmt(w.get("pss_mib"), " MiB")) if ok else "worker alone " + failed(w),
                "CPU %s, RSS %s" % (fmt(s["cpu_pct_of_core"] / w["cpu_pct_of_core"], "x", 2),
                                    fmt(s["rss_mib"] / w["rss_mib"], "x", 2)) if ok else "",
                "< 40 MB: " + verdict(s["rss_mib"] * 1.048576 < 40)))
        elif s or w:
            rows.append((label, failed(s), "worker alone " + (failed(w) if "cpu_pct_of_core"
                                                               not in w else "ran"), "",
                         "MISSED"))
    return rows


def table(r):
    """The headline table (Markdown), also what docs/PERFORMANCE.md shows."""
    rows = []
    gs = r.get("gate_scoreboard", {})

    def verdict(ok):
        return "met" if ok else "MISSED"
    for key, label, target in (("gate_2000", "gate, 2,000 events (process wall)", 20),
                               ("gate_100000", "gate, 100,000 events (process wall)", None),
                               ("scoreboard", "scoreboard refresh (process wall)", None)):
        g = gs.get(key)
        if g:
            rows.append((label, fmt(g["qsc_median_ms"], " ms"),
                         "Python " + fmt(g["python_median_ms"], " ms"),
                         fmt(g["ratio"], "x faster"),
                         ">= 20x: " + verdict(g["ratio"] >= 20) if target else ""))
            rows.append((label.replace("process wall", "CPU time"),
                         fmt(g["qsc_cpu_median_ms"], " ms"),
                         "Python " + fmt(g["python_cpu_median_ms"], " ms"),
                         fmt(g["cpu_ratio"], "x less"), ""))
    if "python_import_ms_median" in gs:
        rows.append(("Python start-up alone (import numpy, redis, json)", "",
                     "Python " + fmt(gs["python_import_ms_median"], " ms"), "", ""))
    det, pb = r.get("detection", {}), r.get("poll_baseline")
    pb = pb or {"p50_ms": float("nan"), "p99_ms": float("nan")}
    for kind in ("shm", "shm-block", "redis"):
        d = det.get(kind)
        if d and "p50_ms" in d:
            failed = (", %d failed" % len(d["failures"])) if d.get("failures") else ""
            rows.append(("detection p50, %s source (%d runs%s)" % (kind, d["runs"], failed),
                         fmt(d["p50_ms"], " ms", 2), "30 s poll " + fmt(pb["p50_ms"] / 1000, " s"),
                         fmt(pb["p50_ms"] / d["p50_ms"], "x sooner", 0), ""))
            rows.append(("detection p99, %s source" % kind, fmt(d["p99_ms"], " ms", 2),
                         "30 s poll " + fmt(pb["p99_ms"] / 1000, " s"),
                         fmt(pb["p99_ms"] / d["p99_ms"], "x sooner", 0),
                         ("< 5 ms: " + verdict(d["p99_ms"] < 5)) if kind != "redis" else ""))
    fp = r.get("footprint", {})
    floor = fp.get("wake_floor@1000") if "error" not in fp else None
    if floor:
        rows.append(("one futex wake-up per event at 1,000 ev/s, nothing else (wake_floor): "
                     "consumer, producer CPU",
                     "%s, %s core" % (fmt(floor["consumer_cpu_pct_of_core"], "%", 2),
                                      fmt(floor["producer_cpu_pct_of_core"], "%", 2)),
                     "", "", "the floor under the monitor's CPU"))
    for key, f in fp.items() if "error" not in fp else []:
        if key == "wake_floor@1000":
            continue
        kind, rate = key.split("@")
        label = "monitor at %s ev/s, %s: CPU, RSS, lost" % (f"{int(rate):,}", kind)
        if "cpu_pct_of_core" in f:
            target = ""
            if rate == "1000" and kind == "shm":  # the default source and wait
                target = "< 2%% core and < 30 MB: %s" % verdict(
                    f["cpu_pct_of_core"] < 2 and f["rss_mib"] < 30)
            elif rate == "1000" and kind == "shm-block":  # the default wait since round 1
                target = "< 0.5%% core (issue 17): %s" % verdict(f["cpu_pct_of_core"] < 0.5)
                if floor and floor["consumer_cpu_pct_of_core"] > 0:
                    target += "; %s the wake-up floor" % fmt(
                        f["cpu_pct_of_core"] / floor["consumer_cpu_pct_of_core"], "x", 1)
            elif rate == "10000" and kind == "shm":
                target = "< 30 MB: %s" % verdict(f["rss_mib"] < 30)
            elif rate == "100000":
                target = "zero loss: %s" % verdict(f["events_lost"] == 0)
            rows.append((label, "%s core, %s, %d lost" % (
                fmt(f["cpu_pct_of_core"], "%", 1), fmt(f["rss_mib"], " MiB"), f["events_lost"]),
                "", "", target))
        else:
            rows.append((label, "exited %s: %s" % (f.get("exit_code"),
                                                  "; ".join(f.get("violations", [])) or "?"),
                         "", "", "MISSED"))
    sc = r.get("scaling", {})
    for key, label in (("gate_ms", "gate evaluation"),
                       ("monitor_eval_ms", "monitor window evaluation (canary + ensemble)")):
        if "rows" not in sc:
            break
        a, b, g = sc["rows"][0], sc["rows"][-1], sc["growth_exponent"][key]
        # Linear: the exponent over the last decade (windows far larger than the caches) <= 1.1.
        rows.append(("%s, %s -> %s predictions (CPU)" % (label, f"{a['n']:,}", f"{b['n']:,}"),
                     "%s -> %s" % (fmt(a[key], " ms", 3), fmt(b[key], " ms", 1)), "",
                     "n^%s overall, n^%s over %s -> %s" % (
                         fmt(g["whole_range"], "", 2), fmt(g["last_decade"], "", 2),
                         f"{g['last_decade_from_n']:,}", f"{g['to_n']:,}"),
                     "linear (n^<=1.1): " + verdict(g["last_decade"] <= 1.1)))
    ev = r.get("evaluation", {})
    if "incremental_ns_per_event" in ev:
        rows.append(("evaluation step per event: window update + %d detectors, window %s "
                     "(median CPU)" % (ev["detectors"], f"{ev['window_events']:,}"),
                     fmt(ev["incremental_ns_per_event"], " ns", 0),
                     "full recompute " + fmt(ev["baseline_ns_per_event"], " ns", 0),
                     fmt(ev["ratio"], "x less", 1),
                     "<= 1 us: " + verdict(ev["incremental_ns_per_event"] <= 1000)))
    rows += supervised_rows(r.get("supervised", {}), verdict)
    rows += transport_rows(r.get("ring", {}), verdict)
    tel = r.get("telemetry", {})
    for row in tel.get("rows", []):
        n = int(row.get("events", 0))
        wall = next((v for k, v in row.items() if k.startswith("end to end") and "wall" in k),
                    None)
        cpu = next((v for k, v in row.items() if "CPU" in k), None)
        limit = 20 if n <= 2000 else 1000
        rows.append(("telemetry read+analyse %d events (in process; wall, thread CPU)" % n,
                     "%s, %s" % (fmt(wall, " ms", 1), fmt(cpu, " ms", 1)), "", "",
                     "< %d ms wall: %s" % (limit, verdict(isinstance(wall, float)
                                                           and wall < limit))))
    rp = r.get("replay", {})
    if "events_per_second_median" in rp:
        eps = rp["events_per_second_median"]
        rows.append(("qsc replay, %d events, %d detectors, one core (events per CPU second)" % (
            rp["events"], rp["runs"][0]["detectors"]), "%.0f" % eps, "", "",
            ">= 1,000,000: %s" % verdict(eps >= 1000000)))
    if "policies" in r.get("accuracy", {}):
        sys.path.insert(0, os.path.join(HERE, "..", "accuracy"))
        import accuracy
        rows += accuracy.table_rows(r["accuracy"])
    for step in STEPS:
        if isinstance(r.get(step), dict) and "error" in r[step]:
            rows.append(("%s: step failed" % step, r[step]["error"][:160].replace("|", "/"), "",
                         "", "MISSED"))
    lines = ["| measurement | QSC | baseline | ratio | target |",
             "| --- | ---: | ---: | ---: | --- |"]
    lines += ["| %s |" % " | ".join(row) for row in rows]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    ap.add_argument("--only", help="comma-separated steps: gate_scoreboard, detection, "
                    "footprint, supervised, scaling, evaluation, ring, telemetry, replay, accuracy")
    ap.add_argument("--seeds-healthy", type=int, default=1000,
                    help="accuracy: healthy 6 h periods (default 1000)")
    ap.add_argument("--seeds-degraded", type=int, default=200,
                    help="accuracy: periods per degradation kind (default 200)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="accuracy: scenarios replayed at once (default 1)")
    ap.add_argument("--policies", help="accuracy: comma-separated policy names of "
                    "tests/bench/accuracy/policies.json (default all)")
    a = ap.parse_args()
    results = Suite(a).run()
    text = table(results)
    results["table_markdown"] = text
    out = a.out or os.path.join(a.build, "bench", "results.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1, default=float)
        f.write("\n")
    m = results["machine"]
    print("Machine: %s, %d CPUs, %s; load %s at start, %s at end; %.0f s (budget 600 s)%s" % (
        m["cpu_model"], m["nproc"], m["kernel"], results["load_start"], results["load_end"],
        results["wall_seconds"], "; QUICK run (not for the report)" if a.quick else ""))
    if m.get("uncommitted"):
        print("Built with uncommitted changes to: " + ", ".join(
            line.split(None, 1)[-1] for line in m["uncommitted"]))
    print(text)
    print("\nJSON: %s" % out)
    errors = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
