#!/usr/bin/python3
"""`qsc replay` throughput: a baseline build against this one, alternately in one run, as the
suite's replay step measures it (every built-in detector of each build's own plugin directory,
one core, events per CPU second of the replaying process; issue 17's target 1,000,000).

  replay_compare.py --root REPO --build BUILD --baseline DIR [--rounds N] [--events N]
                    [--recording FILE] [--cpu K] [--out PATH]

DIR holds the baseline's bin/qsc and lib/qsc/plugins. Why pairs: on a shared machine the same
binary reads 450,000 or 750,000 events per CPU second depending on the minute (docs/
PERFORMANCE.md, "Session 16"), so a median of each side's rounds can mislead where the ratio
of two runs made one after the other, on the same core, does not: each round runs the baseline,
then this build, and reports their ratio; the figure is the median of the rounds' ratios.
Exactness is checked in every round: the two --json reports must be equal but for the timings
and the configuration's digest (a difference is an error, not a figure). Prints one JSON object.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_suite  # noqa: E402

# The report's fields that are measurements of the run or name the build, not its verdicts.
TIMING_FIELDS = {"replay_seconds", "replay_cpu_seconds", "entries_per_second",
                 "entries_per_cpu_second", "config_sha256"}


def without_timings(report):
    if isinstance(report, dict):
        return {k: without_timings(v) for k, v in report.items() if k not in TIMING_FIELDS}
    if isinstance(report, list):
        return [without_timings(v) for v in report]
    return report


def replay_once(qsc, config, recording, events, cpu, out):
    duration_s = events // 1000 - 1  # 1 ms apart: the period ends 1 s before the recording
    cmd = ["taskset", "-c", str(cpu), qsc, "--config", config, "replay", "--file", recording,
           "--model", "patchtst", "--activated-at", run_suite.iso(run_suite.CUTOVER_MS),
           "--duration", "%ds" % duration_s, "--interval", "30s", "--json", out]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("%s exited %d (expected 0: a clean period): %s" %
                           (" ".join(cmd), done.returncode, done.stderr[-400:]))
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="the repository (for the suite's helpers)")
    ap.add_argument("--build", required=True, help="this build's directory")
    ap.add_argument("--baseline", required=True, help="DIR with bin/qsc and lib/qsc/plugins")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--events", type=int, default=300000)
    ap.add_argument("--recording", help="a recording to replay (default: written by this "
                    "build's qsc_bench_suite write-recording, 1 ms apart from the cut-over)")
    ap.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)))
    ap.add_argument("--out")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    work = tempfile.mkdtemp(prefix="qsc-bench-replay-")
    recording = a.recording
    if recording is None:
        recording = os.path.join(work, "rec.jsonl")
        subprocess.run([os.path.join(build, "bench", "qsc_bench_suite"), "write-recording",
                        "--out", recording, "--events", str(a.events), "--start-ms",
                        str(run_suite.CUTOVER_MS), "--spacing-ms", "1"], check=True)
    sides = {"baseline": os.path.abspath(a.baseline), "this": build}
    configs = {}
    for key, root in sides.items():
        # The suite's replay configuration (run_suite.py, Suite.config) on the side's plugins.
        config = {"telemetry": {"min_events": 200, "window_events": 2000, "source": "file"},
                  "canary": {"duration": "10m", "interval": "30s"},
                  "plugins": {"dir": os.path.join(root, "lib", "qsc", "plugins"),
                              "actions": ["rollback"]}}
        configs[key] = os.path.join(work, key + ".json")
        with open(configs[key], "w") as f:
            json.dump(config, f)
    rounds = []
    for i in range(a.rounds):
        row = {}
        reports = {}
        for key, root in sides.items():
            out = os.path.join(work, key + "-out.json")
            reports[key] = replay_once(os.path.join(root, "bin", "qsc"), configs[key],
                                       recording, a.events, a.cpu, out)
            row[key] = reports[key]["entries_per_cpu_second"]
        if without_timings(reports["baseline"]) != without_timings(reports["this"]):
            raise RuntimeError("round %d: the two builds' reports differ beyond the timings "
                               "(%s)" % (i + 1, os.path.join(work, "*-out.json")))
        row["ratio"] = row["this"] / row["baseline"]
        row["loadavg"] = run_suite.loadavg()
        run_suite.log("round %d: baseline %.0f, this %.0f events per CPU second (%.3fx)" %
                      (i + 1, row["baseline"], row["this"], row["ratio"]))
        rounds.append(row)
    summary = {
        "events": a.events, "cpu": a.cpu, "rounds": rounds,
        "baseline_median": statistics.median(r["baseline"] for r in rounds),
        "this_median": statistics.median(r["this"] for r in rounds),
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
        "target_events_per_cpu_second": 1000000,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
