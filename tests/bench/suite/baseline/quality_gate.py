#!/usr/bin/python3
"""Benchmark baseline: the runbook's `python3 ops/model_safety/quality_gate.py --after TS`.

Reads the newest --window post-cutover events (and as many pre-cutover ones for the comparison)
from the Redis stream with redis-py, computes the per-model figures with numpy, applies the
gate's checks, writes reports/safety/quality_gate_<time>_post_cutover.md/.json, appends
gate_evaluated to the audit log. Exit 0 PASS, 2 FAIL.
"""

import argparse
import datetime
import json
import os
import sys

import qsc_baseline as q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--after", required=True)
    q.add_common_args(ap)
    ap.add_argument("--audit-log", default="logs/qsc_canary.jsonl")
    a = ap.parse_args()

    cutover = q.parse_ts(a.after)
    r = q.connect(a.redis_url)
    post, rejected, _ = q.read_events(r, a.stream, lo_ms=cutover, count=a.window)
    pre, _, _ = q.read_events(r, a.stream, hi_ms=cutover, count=a.window)
    stats = q.window_stats(post)
    pre_stats = q.window_stats(pre) if pre else None

    blockers = []
    if len(post) < a.min_events:
        blockers.append("too few post-cutover events: %d (< %d)" % (len(post), a.min_events))
    total = len(post) + rejected
    if total and rejected / total * 100.0 > 1.0:
        blockers.append("unreadable telemetry: %d of %d entries" % (rejected, total))
    for model, m in stats["models"].items():
        blockers += ["%s: %s" % (model, f) for f in q.model_failures(m)]
    passed = not blockers

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d_%H%M%S")
    base = os.path.join(a.reports_dir, "quality_gate_%s_post_cutover" % stamp)
    report = {"result": "PASS" if passed else "FAIL", "cutover_ms": cutover,
              "events_analysed": len(post), "post": stats, "pre": pre_stats,
              "blockers": blockers}
    q.write_atomic(base + ".json", json.dumps(report, indent=2))
    md = q.stats_markdown("Quality gate: " + report["result"], stats)
    if pre_stats:
        md += "\n" + q.stats_markdown("Pre-cutover", pre_stats)
    md += "\n".join("- ❌ " + b for b in blockers) + "\n"
    q.write_atomic(base + ".md", md)
    q.append_log(a.audit_log, "gate_evaluated", result=report["result"], cutover_ms=cutover,
                 events_analysed=len(post), blockers=blockers, report=base + ".md")

    print("Quality gate: %d post-cutover events analyzed" % len(post))
    if passed:
        print("✅ QUALITY GATE: PASS\n   Safe to proceed with canary activation")
        return 0
    print("❌ QUALITY GATE: FAIL (BLOCKER)\n   Violations detected = NO ACTIVATION")
    for b in blockers:
        print("   ❌ " + b)
    return 2


if __name__ == "__main__":
    sys.exit(main())
