#!/usr/bin/python3
"""Benchmark baseline: the runbook's `python3 ops/model_safety/scoreboard.py`.

Over the newest --window events: GO / WAIT / NO-GO per model and overall, written to
reports/safety/scoreboard_latest.md and .json (what the runbook's monitor refreshes every 30 s
by running this script).
"""

import argparse
import json
import os
import sys

import qsc_baseline as q


def main():
    ap = argparse.ArgumentParser()
    q.add_common_args(ap)
    a = ap.parse_args()

    r = q.connect(a.redis_url)
    events, _, _ = q.read_events(r, a.stream, count=a.window)
    stats = q.window_stats(events)
    e, t = stats["ensemble"], q.THRESHOLDS
    ensemble_ok = (t["min_agreement_pct"] <= e["agreement_pct"] <= t["max_agreement_pct"]
                   and e["hard_disagree_pct"] < t["max_hard_disagree_pct"])
    rows = {}
    for model, m in stats["models"].items():
        failures = q.model_failures(m)
        if failures:
            rows[model] = ("NO-GO", failures)
        elif m["predictions"] < a.min_events or not ensemble_ok:
            rows[model] = ("WAIT", ["too few predictions or ensemble out of range"])
        else:
            rows[model] = ("GO", [])
    statuses = [s for s, _ in rows.values()]
    overall = ("NO-GO" if "NO-GO" in statuses else
               "ALL-GO" if statuses and all(s == "GO" for s in statuses) else "WAIT")

    q.write_atomic(os.path.join(a.reports_dir, "scoreboard_latest.json"), json.dumps(
        {"overall": overall, "rows": {k: {"status": s, "reasons": r} for k, (s, r) in rows.items()},
         "window": stats}, indent=2))
    md = q.stats_markdown("Scoreboard: " + overall, stats)
    md += "\n".join("- %s: %s %s" % (k, s, "; ".join(r)) for k, (s, r) in rows.items()) + "\n"
    q.write_atomic(os.path.join(a.reports_dir, "scoreboard_latest.md"), md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
