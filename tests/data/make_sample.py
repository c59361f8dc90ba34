#!/usr/bin/python3
"""Generates tests/data/sample_stream.jsonl: a healthy recorded trade.intent stream.

About 600 entries for xgb, lgbm, nhits and patchtst around a cutover at 2026-01-10T05:43:15Z
(260 before, 340 after; one exactly at the cutover millisecond), in QSC's JSONL recording form
({"id": "<ms>-<seq>", "fields": {...}} a line). Both payload forms appear (model_breakdown in
the payload, and the older separate model_breakdown field), plus a few entries of another
event_type (skipped, not rejected) and floats as Python's json.dumps writes them.

The stream must PASS the quality gate as docs/design.md defines it, so this script computes the
gate's figures itself (numpy's definitions, in pure Python) and refuses to write a sample that
would not pass with margin. Deterministic: the same seed gives the same bytes.

Usage: /usr/bin/python3 tests/data/make_sample.py [--out PATH] [--check]
  --check  regenerate in memory and exit 1 if the committed file differs.
"""
import argparse
import calendar
import json
import math
import os
import random
import sys
import time

SEED = 20260110
CUTOVER_MS = calendar.timegm(time.strptime("2026-01-10T05:43:15", "%Y-%m-%dT%H:%M:%S")) * 1000
BEFORE, AFTER = 260, 340
MODELS = [("xgb", "xgboost"), ("lgbm", "lightgbm"), ("nhits", "nhits"), ("patchtst", "patchtst")]
# Per model: probability of following the market signal, and confidence centre.
FOLLOW = {"xgb": 0.74, "lgbm": 0.70, "nhits": 0.68, "patchtst": 0.72}
CONF_MU = {"xgb": 0.68, "lgbm": 0.64, "nhits": 0.60, "patchtst": 0.66}
SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
ACTIONS = ["BUY", "SELL", "HOLD"]


def vote(rng, model, signal):
    if rng.random() < FOLLOW[model]:
        return signal, True
    if signal == "HOLD":
        return rng.choice(["BUY", "SELL"]), False
    # Dissent on a directional signal is mostly caution, rarely the opposite call.
    return ("HOLD" if rng.random() < 0.85 else ("SELL" if signal == "BUY" else "BUY")), False


def confidence(rng, model, followed):
    c = rng.gauss(CONF_MU[model] + (0.06 if followed else -0.06), 0.11)
    c = min(0.99, max(0.05, c))
    # Engines round differently; json.dumps then writes Python's shortest repr.
    return round(c, rng.choice([2, 3, 4, 6, 17]))


def make_events(rng):
    events = []
    t = CUTOVER_MS
    before_times = []
    for _ in range(BEFORE):
        t -= rng.randint(1500, 9000)
        before_times.append(t)
    times = sorted(before_times) + [CUTOVER_MS]
    t = CUTOVER_MS
    for _ in range(AFTER - 1):
        t += rng.randint(1500, 9000)
        times.append(t)
    last_ms, seq = None, 0
    for i, ms in enumerate(times):
        if rng.random() < 0.03 and last_ms is not None:
            ms = last_ms  # two decisions in one millisecond: the sequence part tells them apart
        seq = seq + 1 if ms == last_ms else 0
        last_ms = ms
        signal = rng.choices(ACTIONS, weights=[0.36, 0.30, 0.34])[0]
        breakdown = {}
        for name, model_string in MODELS:
            action, followed = vote(rng, name, signal)
            pred = {"action": action, "confidence": confidence(rng, name, followed),
                    "model": model_string}
            if name == "patchtst":
                pred["shadow"] = False
            breakdown[name] = pred
        events.append({"ms": ms, "seq": seq, "breakdown": breakdown,
                       "symbol": rng.choice(SYMBOLS), "legacy": rng.random() < 0.25})
    # A couple of floats in forms json.dumps writes that a naive reader might trip on.
    events[BEFORE + 5]["breakdown"]["lgbm"]["confidence"] = 0.1 + 0.2  # 0.30000000000000004
    events[BEFORE + 9]["breakdown"]["nhits"]["confidence"] = 1.0
    events[BEFORE + 13]["breakdown"]["xgb"]["confidence"] = 5e-05
    return events


def to_entry(e):
    votes = [p["action"] for p in e["breakdown"].values()]
    side = max(ACTIONS, key=votes.count)
    conf = sum(p["confidence"] for p in e["breakdown"].values()) / len(votes)
    payload = {"symbol": e["symbol"], "side": side, "confidence": conf}
    if e["legacy"]:
        fields = {"event_type": "trade.intent", "payload": json.dumps(payload),
                  "model_breakdown": json.dumps(e["breakdown"])}
    else:
        payload["model_breakdown"] = e["breakdown"]
        fields = {"event_type": "trade.intent", "payload": json.dumps(payload)}
    return {"id": "%d-%d" % (e["ms"], e["seq"]), "fields": fields}


def percentile(sorted_values, q):
    """numpy.percentile with the default linear interpolation."""
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def gate_figures(events):
    """Per-model figures and ensemble figures, as docs/design.md defines them."""
    figures = {}
    for name, _ in MODELS:
        actions = [e["breakdown"][name]["action"] for e in events]
        confs = sorted(e["breakdown"][name]["confidence"] for e in events)
        mean = sum(confs) / len(confs)
        std = math.sqrt(sum((c - mean) ** 2 for c in confs) / len(confs))
        figures[name] = {
            "shares": {a: 100.0 * actions.count(a) / len(actions) for a in ACTIONS},
            "std": std, "p10_p90": percentile(confs, 90) - percentile(confs, 10)}
    agreement, hard = [], 0
    for e in events:
        votes = [p["action"] for p in e["breakdown"].values()]
        agreement.append(100.0 * max(votes.count(a) for a in ACTIONS) / len(votes))
        hard += "BUY" in votes and "SELL" in votes
    return figures, sum(agreement) / len(agreement), 100.0 * hard / len(events)


def check(events):
    post = [e for e in events if e["ms"] >= CUTOVER_MS]
    problems = []
    if len(post) < 300:
        problems.append("only %d post-cutover events" % len(post))
    for label, window in (("post-cutover", post), ("whole stream", events)):
        figures, agreement, hard = gate_figures(window)
        for name, f in figures.items():
            # Margins inside docs/design.md's thresholds, so the sample is healthy, not borderline.
            if max(f["shares"].values()) > 65:
                problems.append("%s %s: action share %.1f%%" % (label, name, max(f["shares"].values())))
            if f["std"] < 0.07:
                problems.append("%s %s: conf_std %.4f" % (label, name, f["std"]))
            if f["p10_p90"] < 0.16:
                problems.append("%s %s: p10_p90 %.4f" % (label, name, f["p10_p90"]))
        if not 58 <= agreement <= 77:
            problems.append("%s: agreement %.1f%%" % (label, agreement))
        if hard >= 17:
            problems.append("%s: hard disagree %.1f%%" % (label, hard))
    return problems


def render(rng):
    events = make_events(rng)
    problems = check(events)
    if problems:
        sys.exit("make_sample.py: the generated stream would not be healthy:\n  " +
                 "\n  ".join(problems))
    entries = [to_entry(e) for e in events]
    # Two entries of another event type: read and skipped, never counted as rejected.
    for k, pos in enumerate((BEFORE + 40, BEFORE + 200)):
        ms = events[pos]["ms"] + 1
        entries.insert(pos + 1 + k, {"id": "%d-0" % ms, "fields": {
            "event_type": "trade.executed",
            "payload": json.dumps({"symbol": "BTCUSDT", "side": "BUY", "qty": 0.01})}})
    lines = [json.dumps(e, separators=(",", ":")) for e in entries]
    figures, agreement, hard = gate_figures([e for e in events if e["ms"] >= CUTOVER_MS])
    return "\n".join(lines) + "\n", figures, agreement, hard, len(events)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(here, "sample_stream.jsonl"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text, figures, agreement, hard, n = render(random.Random(SEED))
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            if f.read() != text:
                sys.exit("%s differs from what make_sample.py generates" % args.out)
        print("sample matches its generator")
        return
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %s: %d trade.intent events, cutover %d" % (args.out, n, CUTOVER_MS))
    for name, f in figures.items():
        print("  %-8s BUY %.1f%% SELL %.1f%% HOLD %.1f%%  std %.4f  p10_p90 %.4f" % (
            name, f["shares"]["BUY"], f["shares"]["SELL"], f["shares"]["HOLD"], f["std"],
            f["p10_p90"]))
    print("  agreement %.1f%%  hard disagree %.1f%%" % (agreement, hard))


if __name__ == "__main__":
    main()
