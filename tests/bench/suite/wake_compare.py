#!/usr/bin/python3
"""The supervised `qsc monitor` with `shm_wait: block`: a baseline build against this one,
alternately in one run (docs/PERFORMANCE.md, "Session 14: the monitor wakes when a verdict can
change"). Each round runs the suite's footprint step at 1,000 events/s (CPU, wake-ups per
second and RSS of the supervisor and the worker apart) and its detection step (latency from the
producer's degraded event to the rollback's detected_at) on both builds, baseline first.

  wake_compare.py --root REPO --build BUILD --baseline DIR [--rounds N] [--window S]
                  [--detections N] [--out PATH]

DIR holds the baseline's bin/qsc, lib/qsc/plugins and bench/qsc_bench_suite (its producer), so
each build runs with its own ring code on both sides. Prints one JSON object.
"""

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_suite  # noqa: E402


def run_build(suite, qsc, tool, window, detections, interval_s):
    suite.qsc, suite.tool = qsc, tool
    fp = suite.footprint_run("shm-block", 1000, window, interval_s=interval_s)
    lat = []
    for _ in range(detections):
        try:
            ms, _ = suite.detection_run("shm-block", 1000)
            lat.append(ms)
        except RuntimeError as e:  # reported, never dropped
            run_suite.log("detection failed: %s" % str(e)[:200])
    return {"footprint": fp, "detection_ms": lat}


def summarise(rounds, key):
    fps = [r[key]["footprint"] for r in rounds if r[key]["footprint"].get("alive")]
    lat = sorted(x for r in rounds for x in r[key]["detection_ms"])

    def med(f):
        return statistics.median(f(x) for x in fps) if fps else float("nan")
    return {
        "runs": len(fps),
        "cpu_pct_total_median": med(lambda x: x["cpu_pct_of_core"]),
        "cpu_pct_supervisor_median": med(lambda x: x["cpu_pct_by_process"][0]),
        "cpu_pct_worker_median": med(lambda x: sum(x["cpu_pct_by_process"][1:])),
        "wakeups_per_s_supervisor_median": med(lambda x: x["wakeups_per_s_by_process"][0]),
        "wakeups_per_s_worker_median": med(lambda x: sum(x["wakeups_per_s_by_process"][1:])),
        "events_lost_max": max((x["events_lost"] for x in fps), default=None),
        "detections": len(lat),
        "detection_p50_ms": run_suite.pct(lat, 50) if lat else None,
        "detection_p99_ms": run_suite.pct(lat, 99) if lat else None,
        "detection_max_ms": max(lat) if lat else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--detections", type=int, default=10)
    ap.add_argument("--interval-s", type=int, default=5,
                    help="the monitor's interval checks (5 s: the suite's figure; 30 s: the default)")
    ap.add_argument("--out")
    a = ap.parse_args()
    suite = run_suite.Suite(argparse.Namespace(
        root=a.root, build=a.build, quick=False, only=None, seeds_healthy=None,
        seeds_degraded=None, jobs=None, policies=None))
    builds = {
        "baseline": (os.path.join(a.baseline, "bin", "qsc"),
                     os.path.join(a.baseline, "bench", "qsc_bench_suite")),
        "this": (suite.qsc, suite.tool),
    }
    rounds = []
    for i in range(a.rounds):
        row = {}
        for key, (qsc, tool) in builds.items():
            run_suite.log("round %d: %s" % (i + 1, key))
            row[key] = run_build(suite, qsc, tool, a.window, a.detections, a.interval_s)
        rounds.append(row)
    out = {"rate_eps": 1000, "source": "shm-block", "mode": "supervised",
           "interval_s": a.interval_s, "rounds": rounds,
           "baseline": summarise(rounds, "baseline"), "this": summarise(rounds, "this")}
    text = json.dumps(out, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(json.dumps({k: out[k] for k in ("baseline", "this")}, indent=1))


if __name__ == "__main__":
    main()
