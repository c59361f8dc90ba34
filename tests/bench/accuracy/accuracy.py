"""The accuracy benchmark (issue 17 section 3; docs/ACCURACY.md), the `accuracy` step of the
benchmark suite: `tests/bench/run BUILD --only accuracy [--seeds-healthy N] [--seeds-degraded M]
[--jobs J]`.

For every scenario (kind, seed) it writes the recording with qsc_accuracy_gen into a temporary
file, runs `qsc replay --json` on it once per policy (policies.json), keeps what the replay
decided and deletes the recording. Each result is appended to BUILD/bench/accuracy/results.jsonl
as soon as it is known, so a run that is cut short keeps what it did: the next run with the same
generator, policies, qsc binary and plugins skips the scenarios already there (resumable), and
the table is computed from that file.

Statistics (all reported per policy):
- false-rollback rate: healthy periods with a rollback / healthy periods, with an exact
  (Clopper-Pearson) 95% confidence interval;
- expected events to a false alarm: healthy events watched (up to the first rollback of each
  period) / false rollbacks, the exponential model's estimate; with none, a 97.5% lower bound
  (events watched / 3.689, the Poisson upper bound for zero counts);
- per degradation kind: detection rate (a rollback at or after the onset; one before it is a
  false rollback and counts as missed), and the delay from the onset to the rollback in events
  and minutes (median and P90, numpy's linear interpolation, over the detected seeds).
"""

import concurrent.futures
import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("hold_collapse", "gradual_collapse", "flattening", "confidence_drift", "inverted",
         "stuck", "nan_bursts", "silence")
CANARY = "patchtst"
START_MS = 1768024800000  # 2026-01-10T06:00:00Z
EVENTS = 43200            # 6 h at 2 events/s
SPACING_MS = 500
# The recording runs 60 s past the period, so a clean period completes (replay needs the
# recording to reach the period's end; otherwise it is inconclusive).
TAIL_EVENTS = 120
# The machine is shared: the scenarios yield to interactive work (the results do not depend on
# speed); QSC_ACCURACY_NICE sets another niceness.
# qsc's required plugins (agent/core/config.hpp kRequiredPlugins): a replay refuses to start
# without any of them (exit 2), so every policy's plugin directory holds them all.
REQUIRED_DETECTORS = ("action_collapse", "constant_output", "dead_zone", "distribution_shift",
                      "ensemble_dysfunction", "flat_predictions", "inactive_canary",
                      "model_chaos", "narrow_range", "quality_gate", "telemetry_stale")
NICE = ["nice", "-n", os.environ.get("QSC_ACCURACY_NICE", "10")]
GENERATOR_SOURCES = ("prng.hpp", "scenario.hpp", "scenario.cpp", "accuracy_gen.cpp")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def binomial_cdf(k, n, p):
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if k >= n else 0.0
    total = 0.0
    for i in range(0, k + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) +
                          i * math.log(p) + (n - i) * math.log1p(-p))
    return min(1.0, total)


def clopper_pearson(k, n, confidence=0.95):
    """The exact two-sided interval for a binomial proportion, by bisection on the CDF."""
    if n == 0:
        return (float("nan"), float("nan"))
    tail = (1 - confidence) / 2

    def solve(f):  # f increasing in p from negative to positive
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            if f(mid) < 0:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2
    lower = 0.0 if k == 0 else solve(lambda p: (1 - binomial_cdf(k - 1, n, p)) - tail)
    upper = 1.0 if k == n else solve(lambda p: tail - binomial_cdf(k, n, p))
    return (lower, upper)


def quantiles(values):
    if not values:
        return {"median": None, "p90": None}
    a = np.asarray(values, dtype=float)
    return {"median": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90))}


class Policy:
    def __init__(self, spec, plugin_dirs, work, log):
        self.name = spec["name"]
        self.description = spec.get("description", "")
        self.spec = spec
        self.skipped = None
        # A derived policy is not replayed: its verdicts are computed from the records of the
        # policy it names, whose detectors (same configuration) include all of its own (see
        # derive_record). It halves the full run's cost; the derivation is exact because every
        # detector instance is independent of the others and replay records each detector's
        # first violation, also after the rollback.
        self.derived_from = spec.get("derived_from")
        self.detectors = set(spec["detectors"])
        self.extra_detectors = []
        if self.derived_from:
            return
        # A policy without a required detector (the runbook's policies have no
        # distribution_shift) still loads it, since qsc refuses to run without it; its verdicts
        # are then computed from its own detectors' first violations (derive_record), which is
        # exact for the reason above.
        self.extra_detectors = sorted(set(REQUIRED_DETECTORS) - self.detectors)
        names = spec["detectors"] + self.extra_detectors + spec["actions"]
        # Opt-in plugins (built with OPT_IN) are in plugins-available/.
        found = {}
        for n in names:
            for d in plugin_dirs:
                if os.path.isfile(os.path.join(d, n + ".so")):
                    found[n] = os.path.join(d, n + ".so")
                    break
        missing = [n for n in names if n not in found]
        if missing:
            self.skipped = ("skipped: the build has no %s in %s (build the plugin to measure "
                            "this policy)" % (", ".join(n + ".so" for n in missing),
                                              " or ".join(plugin_dirs)))
            log("policy %s %s" % (self.name, self.skipped))
            return
        # A private plugin directory with exactly this policy's plugins: the loader loads every
        # *.so of its directory, so a policy without a detector must not see it.
        self.dir = os.path.join(work, "policy-" + self.name.replace("+", "_"))
        plugins = os.path.join(self.dir, "plugins")
        os.makedirs(plugins, mode=0o700)
        fingerprint = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
        for n in sorted(names):
            dst = os.path.join(plugins, n + ".so")
            shutil.copyfile(found[n], dst)
            os.chmod(dst, 0o755)
            fingerprint.update(sha256_file(dst).encode())
        self.fingerprint = fingerprint.hexdigest()
        config = {
            "telemetry": {"source": "file", "min_events": 200, "window_events": 2000},
            "canary": {"duration": "6h", "interval": "30s"},
            "plugins": {"dir": plugins, "actions": spec["actions"],
                        "config": spec.get("config", {})},
        }
        if spec.get("required"):
            config["plugins"]["required"] = (list(REQUIRED_DETECTORS) + ["rollback"] +
                                             spec["required"])
        path = os.path.join(self.dir, "qsc.json")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        os.chmod(path, 0o600)


def derive_record(record, policy):
    """What `policy` (a subset of the record's policy's detectors, same configuration) would
    have decided: the rollback at the earliest first violation among its own detectors."""
    events = record.get("first_violation_events", {})
    own = {d: at for d, at in record["first_violations"].items() if d in policy.detectors}
    out = dict(record, policy=policy.name,
               first_violations=own,
               first_violation_events={d: e for d, e in events.items() if d in own})
    rb = record["rollback"]
    if rb is not None and not rb["detectors"]:
        return out  # a rollback no detector caused (the host's own rules): every policy has it
    if not own:
        out["rollback"] = None
        out["exit_code"] = 0 if record["exit_code"] in (0, 1) else record["exit_code"]
        return out
    at = min(own.values())
    first = sorted(d for d, t in own.items() if t == at)
    out["rollback"] = {"at_ms": at, "cause": "event", "event_index": events.get(first[0]),
                       "detectors": first, "violations": []}
    out["exit_code"] = 1
    return out


class AccuracyBench:
    def __init__(self, root, build, work, seeds_healthy, seeds_degraded, jobs, log,
                 only_policies=None, policies_path=None, state_dir=None):
        self.root, self.build, self.log = root, build, log
        self.work = os.path.join(work, "accuracy")
        os.makedirs(self.work, mode=0o700)
        self.seeds_healthy, self.seeds_degraded = seeds_healthy, seeds_degraded
        self.jobs = max(1, jobs)
        # Copies, like the plugins: a rebuild during a run that takes hours must not change
        # the code under measurement halfway.
        self.qsc = os.path.join(self.work, "qsc")
        shutil.copy2(os.path.join(build, "bin", "qsc"), self.qsc)
        self.gen = os.path.join(self.work, "qsc_accuracy_gen")
        shutil.copy2(os.path.join(build, "bench", "qsc_accuracy_gen"), self.gen)
        self.state_dir = state_dir or os.path.join(build, "bench", "accuracy")
        os.makedirs(self.state_dir, exist_ok=True)
        self.results_path = os.path.join(self.state_dir, "results.jsonl")
        policies_path = policies_path or os.path.join(HERE, "policies.json")
        with open(policies_path) as f:
            specs = json.load(f)["policies"]
        if only_policies:
            unknown = set(only_policies) - {s["name"] for s in specs}
            if unknown:
                raise RuntimeError("--policies: no policy %s in %s" % (
                    ", ".join(sorted(unknown)), policies_path))
            specs = [s for s in specs if s["name"] in only_policies]
        plugin_dirs = [os.path.join(build, "lib", "qsc", "plugins"),
                       os.path.join(build, "lib", "qsc", "plugins-available")]
        self.policies = [Policy(s, plugin_dirs, self.work, log) for s in specs]
        by_name = {p.name: p for p in self.policies}
        for p in self.policies:
            if not p.derived_from:
                continue
            base = by_name.get(p.derived_from)
            if base is None or base.derived_from:
                raise RuntimeError("policy %s: derived_from names %s, which is not a replayed "
                                   "policy of this run (add it to --policies)" % (
                                       p.name, p.derived_from))
            if not p.detectors <= base.detectors or p.spec.get("config", {}) != {
                    k: v for k, v in base.spec.get("config", {}).items() if k in p.detectors}:
                raise RuntimeError("policy %s: a derived policy's detectors must be a subset of "
                                   "%s's, with the same configuration" % (p.name, base.name))
            p.base = base
            p.skipped = base.skipped
        g = hashlib.sha256()
        for name in GENERATOR_SOURCES:
            g.update(sha256_file(os.path.join(HERE, name)).encode())
        g.update(sha256_file(self.gen).encode())
        self.generator_fingerprint = g.hexdigest()
        self.qsc_fingerprint = sha256_file(self.qsc)
        self.lock = threading.Lock()

    def key(self, policy, kind, seed):
        return (policy.name, policy.fingerprint, self.generator_fingerprint,
                self.qsc_fingerprint, kind, seed)

    def load_done(self):
        done = {}
        if not os.path.exists(self.results_path):
            return done
        with open(self.results_path) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:  # a line cut short by an interrupted run
                    continue
                done[(r["policy"], r["policy_fingerprint"], r["generator_fingerprint"],
                      r["qsc_fingerprint"], r["kind"], r["seed"])] = r
        return done

    def append(self, record):
        line = json.dumps(record, sort_keys=True) + "\n"
        with self.lock:
            with open(self.results_path, "a") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def scenario(self, kind, seed, policies):
        tmp = tempfile.mkdtemp(prefix="scenario-", dir=self.work)
        try:
            rec = os.path.join(tmp, "rec.jsonl")
            gen = subprocess.run(
                NICE + [self.gen, "--kind", kind, "--seed", str(seed), "--out", rec, "--start-ms",
                 str(START_MS), "--events", str(EVENTS + TAIL_EVENTS), "--spacing-ms",
                 str(SPACING_MS)], capture_output=True, text=True)
            if gen.returncode != 0:
                raise RuntimeError("qsc_accuracy_gen %s %d failed: %s" % (kind, seed, gen.stderr))
            meta = json.loads(gen.stdout.strip().splitlines()[-1])
            out = []
            for p in policies:
                js = os.path.join(tmp, "replay.json")
                rp = subprocess.run(
                    NICE + [self.qsc, "replay", "--file", rec, "--model", CANARY, "--activated-at",
                     iso(START_MS), "--duration", "6h", "--interval", "30s", "--json", js],
                    cwd=p.dir, capture_output=True, text=True)
                if rp.returncode not in (0, 1, 3):
                    raise RuntimeError("qsc replay (%s, %s seed %d) exited %d: %s" % (
                        p.name, kind, seed, rp.returncode, rp.stderr[-400:]))
                with open(js) as f:
                    rep = json.load(f)
                os.unlink(js)
                rb = rep.get("rollback")
                record = {
                    "policy": p.name, "policy_fingerprint": p.fingerprint,
                    "generator_fingerprint": self.generator_fingerprint,
                    "qsc_fingerprint": self.qsc_fingerprint,
                    "kind": kind, "seed": seed, "exit_code": rp.returncode,
                    "onset_index": meta["onset_index"], "onset_ms": meta["onset_ms"],
                    "rollback": None if rb is None else {
                        "at_ms": rb["at_ms"], "cause": rb["cause"],
                        "event_index": rb.get("event_index"), "detectors": rb["detectors"],
                        "violations": rb["violations"][:4]},
                    "first_violations": {fv["detector"]: fv["at_ms"]
                                         for fv in rep.get("first_violations", [])},
                    "first_violation_events": {fv["detector"]: fv.get("event_index")
                                               for fv in rep.get("first_violations", [])},
                    "inconclusive_reason": rep.get("inconclusive_reason", ""),
                    "replay_cpu_seconds": rep.get("replay_cpu_seconds"),
                }
                if p.extra_detectors:
                    record = derive_record(record, p)
                self.append(record)
                out.append(record)
            return out
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def run(self):
        active = [p for p in self.policies if p.skipped is None and not p.derived_from]
        done = self.load_done()
        tasks = [("healthy", s) for s in range(self.seeds_healthy)]
        # Interleaved (every kind's seed 0, then seed 1, ...): a run cut short still has every
        # kind measured on some seeds.
        tasks += [(k, s) for s in range(self.seeds_degraded) for k in KINDS]
        todo = []
        for kind, seed in tasks:
            missing = [p for p in active if self.key(p, kind, seed) not in done]
            if missing:
                todo.append((kind, seed, missing))
        self.log("accuracy: %d scenarios x %d policies; %d already in %s, %d to run with %d jobs"
                 % (len(tasks), len(active), len(tasks) - len(todo), self.results_path,
                    len(todo), self.jobs))
        finished = 0
        errors = []
        with concurrent.futures.ThreadPoolExecutor(self.jobs) as pool:
            futures = {pool.submit(self.scenario, k, s, ps): (k, s) for k, s, ps in todo}
            for fut in concurrent.futures.as_completed(futures):
                finished += 1
                try:
                    fut.result()
                except Exception as e:  # reported, never invented
                    errors.append(str(e))
                    self.log("accuracy: %s" % e)
                if finished % 10 == 0 or finished == len(todo):
                    self.log("accuracy: %d/%d scenarios done" % (finished, len(todo)))
        done = self.load_done()
        summary = {"seeds_healthy": self.seeds_healthy, "seeds_degraded": self.seeds_degraded,
                   "events_per_period": EVENTS, "spacing_ms": SPACING_MS,
                   "results_file": self.results_path, "errors": errors[:20],
                   "policies": {}}
        for p in self.policies:
            if p.skipped is not None:
                summary["policies"][p.name] = {"description": p.description,
                                               "skipped": p.skipped}
                continue
            source = p.base if p.derived_from else p
            records = {k: [done[self.key(source, k, s)] for s in range(n)
                           if self.key(source, k, s) in done]
                       for k, n in [("healthy", self.seeds_healthy)] +
                       [(k, self.seeds_degraded) for k in KINDS]}
            if p.derived_from:
                records = {k: [derive_record(r, p) for r in rs] for k, rs in records.items()}
            summary["policies"][p.name] = summarise(p, records)
        with open(os.path.join(self.state_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
        table = markdown(summary)
        with open(os.path.join(self.state_dir, "table.md"), "w") as f:
            f.write(table + "\n")
        summary["table_markdown"] = table
        self.log("accuracy table:\n" + table)
        if errors:
            raise RuntimeError("%d scenarios failed, first: %s" % (len(errors), errors[0]))
        return summary


def summarise(policy, records):
    out = {"description": policy.description, "kinds": {}}
    healthy = records["healthy"]
    n = len(healthy)
    alarms = [r for r in healthy if r["rollback"] is not None]
    k = len(alarms)
    lo, hi = clopper_pearson(k, n)
    watched = 0
    first_alarm_events = []
    for r in healthy:
        if r["rollback"] is None:
            watched += EVENTS
        else:
            idx = r["rollback"]["event_index"]
            if idx is None:
                idx = (r["rollback"]["at_ms"] - START_MS) // SPACING_MS
            watched += idx + 1
            first_alarm_events.append(idx + 1)
    by_detector = {}
    for r in healthy:
        for d in r["first_violations"]:
            by_detector[d] = by_detector.get(d, 0) + 1
    out["healthy"] = {
        "periods": n, "false_rollbacks": k,
        "rate": k / n if n else None, "ci95_clopper_pearson": [lo, hi],
        "events_watched": watched,
        "expected_events_to_false_alarm": watched / k if k else None,
        "expected_events_to_false_alarm_lower_bound": watched / 3.689 if not k else None,
        "first_false_alarm_minutes": quantiles([e * SPACING_MS / 60000.0
                                                for e in first_alarm_events]),
        "periods_where_detector_fired": dict(sorted(by_detector.items())),
        "inconclusive": sum(1 for r in healthy if r["exit_code"] == 3),
    }
    for kind in KINDS:
        rs = records[kind]
        detected, early, delays_ev, delays_min, by = [], 0, [], [], {}
        for r in rs:
            rb = r["rollback"]
            if rb is None:
                continue
            if rb["at_ms"] < r["onset_ms"]:
                early += 1
                continue
            detected.append(r)
            idx = rb["event_index"]
            delays_ev.append((idx - r["onset_index"]) if idx is not None
                             else (rb["at_ms"] - r["onset_ms"]) / SPACING_MS)
            delays_min.append((rb["at_ms"] - r["onset_ms"]) / 60000.0)
            for d in rb["detectors"]:
                by[d] = by.get(d, 0) + 1
        n = len(rs)
        out["kinds"][kind] = {
            "seeds": n, "detected": len(detected),
            "rate": len(detected) / n if n else None,
            "ci95_clopper_pearson": list(clopper_pearson(len(detected), n)),
            "rolled_back_before_onset": early,
            "delay_events": quantiles(delays_ev), "delay_minutes": quantiles(delays_min),
            "rollback_detectors": dict(sorted(by.items())),
            "inconclusive": sum(1 for r in rs if r["exit_code"] == 3),
        }
    return out


def fmt(x, digits=1):
    return "n/a" if x is None or x != x else ("%.*f" % (digits, x))


def markdown(summary):
    lines = []
    for name, p in summary["policies"].items():
        lines.append("### Policy `%s`: %s" % (name, p["description"]))
        lines.append("")
        if "skipped" in p:
            lines.append("Not measured: %s." % p["skipped"])
            lines.append("")
            continue
        h = p["healthy"]
        lo, hi = h["ci95_clopper_pearson"]
        if h["expected_events_to_false_alarm"] is not None:
            eta = "%s events (%.1f h at 2 events/s)" % (
                f"{h['expected_events_to_false_alarm']:,.0f}",
                h["expected_events_to_false_alarm"] * SPACING_MS / 3.6e6)
        else:
            eta = "> %s events (97.5%% lower bound; no false alarm)" % (
                f"{h['expected_events_to_false_alarm_lower_bound']:,.0f}")
        lines.append("| healthy 6 h periods | false rollbacks | rate (95% CI, Clopper-Pearson) "
                     "| expected events to a false alarm | first false alarm, median / P90 "
                     "| periods where each detector fired at least once |")
        lines.append("| ---: | ---: | --- | --- | --- | --- |")
        fired = ", ".join("%s %d" % (d, c) for d, c in h["periods_where_detector_fired"].items())
        fa = h["first_false_alarm_minutes"]
        lines.append("| %d | %d | %s%% (%s%% - %s%%) | %s | %s / %s min | %s |" % (
            h["periods"], h["false_rollbacks"], fmt(100 * h["rate"] if h["rate"] is not None
                                                    else None),
            fmt(100 * lo), fmt(100 * hi), eta, fmt(fa["median"], 0), fmt(fa["p90"], 0),
            fired or "none"))
        lines.append("")
        lines.append("| degradation | seeds | detected (95% CI) | rolled back before onset "
                     "| delay, events: median / P90 | delay, minutes: median / P90 "
                     "| rollback detectors |")
        lines.append("| --- | ---: | --- | ---: | --- | --- | --- |")
        for kind, k in p["kinds"].items():
            lo, hi = k["ci95_clopper_pearson"]
            by = ", ".join("%s %d" % (d, c) for d, c in k["rollback_detectors"].items())
            lines.append("| %s | %d | %s%% (%s%% - %s%%) | %d | %s / %s | %s / %s | %s |" % (
                kind, k["seeds"], fmt(100 * k["rate"] if k["rate"] is not None else None),
                fmt(100 * lo), fmt(100 * hi), k["rolled_back_before_onset"],
                fmt(k["delay_events"]["median"], 0), fmt(k["delay_events"]["p90"], 0),
                fmt(k["delay_minutes"]["median"], 1), fmt(k["delay_minutes"]["p90"], 1),
                by or "-"))
        lines.append("")
    return "\n".join(lines)


def table_rows(acc):
    """The suite's headline rows: the false-rollback rate and detection per policy."""
    rows = []
    for name, p in acc.get("policies", {}).items():
        if "skipped" in p:
            rows.append(("accuracy, policy %s" % name, "skipped", "", "", ""))
            continue
        h = p["healthy"]
        if not h["periods"]:
            continue
        rate = 100.0 * h["rate"]
        rows.append(("accuracy, %s: false rollbacks on %d healthy 6 h periods" % (
            name, h["periods"]), "%.1f%%" % rate, "", "",
            "<= 0.5%%: %s" % ("met" if rate <= 0.5 else "MISSED")))
        kinds = p["kinds"]
        worst = min((k["rate"] for k in kinds.values() if k["rate"] is not None), default=None)
        if worst is not None:
            rows.append(("accuracy, %s: lowest detection rate of %d kinds" % (name, len(kinds)),
                         "%.1f%%" % (100 * worst), "", "",
                         ">= 99%%: %s" % ("met" if worst >= 0.99 else "MISSED")))
    return rows
