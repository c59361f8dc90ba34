"""What the runbook's Python tools do, shared by quality_gate.py and scoreboard.py.

A benchmark baseline only, written from the runbook's description (docs/design.md): redis-py reads the stream,
json.loads parses each payload, numpy computes the statistics, and the result is written as a
Markdown + JSON report. It does the same work as `qsc gate` / `qsc scoreboard` over the same
Redis data so that the two can be timed against each other; it is not a product.
"""

import datetime
import json
import math
import os
import tempfile

import numpy as np
import redis

ACTIONS = ("BUY", "SELL", "HOLD")
THRESHOLDS = {
    "max_share_pct": 70.0,
    "max_hold_pct": 85.0,
    "min_conf_std": 0.05,
    "min_p10_p90": 0.12,
    "constant_std": 0.01,
    "constant_range": 0.001,
    "min_agreement_pct": 55.0,
    "max_agreement_pct": 80.0,
    "max_hard_disagree_pct": 20.0,
}


def add_common_args(ap):
    """The options every baseline script takes (the runbook's defaults)."""
    ap.add_argument("--redis-url", default=os.environ.get("QSC_REDIS_URL",
                                                          "redis://127.0.0.1:6379/0"))
    ap.add_argument("--stream", default="quantum:stream:trade.intent")
    ap.add_argument("--window", type=int, default=2000)
    ap.add_argument("--min-events", type=int, default=200)
    ap.add_argument("--reports-dir", default="reports/safety")


def connect(url):
    r = redis.Redis.from_url(url)
    r.ping()
    return r


def parse_ts(text):
    """ISO-8601 (2026-01-10T05:43:15Z) or systemd's 'Fri 2026-01-10 05:43:15 UTC' -> epoch ms."""
    text = text.strip()
    if text.endswith(" UTC"):
        text = text.split(" ", 1)[1][:-4].replace(" ", "T") + "+00:00"
    text = text.replace("Z", "+00:00")
    dt = datetime.datetime.fromisoformat(text)
    return int(dt.timestamp() * 1000)


def read_events(r, stream, lo_ms=None, hi_ms=None, count=2000):
    """The newest `count` trade.intent entries with lo_ms <= time < hi_ms (XREVRANGE)."""
    hi = "+" if hi_ms is None else "%d-18446744073709551615" % (hi_ms - 1)
    lo = "-" if lo_ms is None else "%d-0" % lo_ms
    entries = r.xrevrange(stream, max=hi, min=lo, count=count)
    entries.reverse()
    events, rejected, skipped = [], 0, 0
    for entry_id, fields in entries:
        f = {k.decode(): v.decode() for k, v in fields.items()}
        if f.get("event_type") != "trade.intent":
            skipped += 1
            continue
        try:
            payload = json.loads(f["payload"])  # accepts NaN / Infinity like json.dumps writes
            breakdown = payload.get("model_breakdown")
            if breakdown is None and "model_breakdown" in f:
                breakdown = json.loads(f["model_breakdown"])
            if not isinstance(breakdown, dict):
                raise ValueError("no model_breakdown")
        except (ValueError, KeyError, AttributeError):
            rejected += 1
            continue
        events.append((entry_id.decode(), breakdown))
    return events, rejected, skipped


def read_confidence(value):
    """-> (confidence or None, status)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "not_a_number"
    if math.isnan(value):
        return None, "nan"
    if math.isinf(value):
        return None, "infinite"
    if value < 0:
        return None, "negative"
    if value > 1:
        return 1.0 / (1.0 + math.exp(-value)), "normalized"
    return float(value), "ok"


def is_inactive(pred):
    return bool(pred.get("shadow")) or bool(pred.get("inactive")) or "fallback" in str(
        pred.get("model", ""))


def window_stats(events):
    """Per-model figures (numpy) and the ensemble's agreement / hard disagree."""
    per_model = {}
    agreements, hard = [], 0
    for _, breakdown in events:
        votes = {"BUY": 0, "SELL": 0, "HOLD": 0}
        for model, pred in breakdown.items():
            if not isinstance(pred, dict):
                continue
            m = per_model.setdefault(model, {"actions": [], "conf": [], "status": {}, "inactive": 0})
            action = str(pred.get("action", "HOLD")).upper()
            m["actions"].append(action)
            conf, status = read_confidence(pred.get("confidence"))
            m["status"][status] = m["status"].get(status, 0) + 1
            if conf is not None:
                m["conf"].append(conf)
            if is_inactive(pred):
                m["inactive"] += 1
            elif action in votes:
                votes[action] += 1
        total = sum(votes.values())
        if total:
            agreements.append(max(votes.values()) / total * 100.0)
            if votes["BUY"] and votes["SELL"]:
                hard += 1
    models = {}
    for model in sorted(per_model):
        m = per_model[model]
        actions = np.array(m["actions"])
        n = len(actions)
        shares = {a: float(np.sum(actions == a)) / n * 100.0 for a in ACTIONS}
        conf = np.array(m["conf"], dtype=float)
        if conf.size:
            p10, p90 = np.percentile(conf, [10, 90])
            figures = {"conf_mean": float(np.mean(conf)), "conf_std": float(np.std(conf)),
                       "p10": float(p10), "p90": float(p90), "range": float(p90 - p10)}
        else:
            figures = {k: float("nan") for k in ("conf_mean", "conf_std", "p10", "p90", "range")}
        violations = sum(v for k, v in m["status"].items() if k not in ("ok", "normalized"))
        models[model] = dict(predictions=n, share_pct=shares, confidence_violations=violations,
                             normalized=m["status"].get("normalized", 0), inactive=m["inactive"],
                             **figures)
    ensemble = {
        "events": len(agreements),
        "agreement_pct": float(np.mean(agreements)) if agreements else float("nan"),
        "hard_disagree_pct": hard / len(agreements) * 100.0 if agreements else float("nan"),
    }
    return {"events": len(events), "models": models, "ensemble": ensemble}


def model_failures(m, t=THRESHOLDS):
    out = []
    dominant = max(ACTIONS, key=lambda a: m["share_pct"][a])
    if m["share_pct"][dominant] > t["max_share_pct"]:
        out.append("Action collapse: %s=%.1f%% (>%g%%)" % (dominant, m["share_pct"][dominant],
                                                         t["max_share_pct"]))
    if m["share_pct"]["HOLD"] > t["max_hold_pct"]:
        out.append("Dead zone: HOLD=%.1f%% (>%g%%)" % (m["share_pct"]["HOLD"], t["max_hold_pct"]))
    std, rng = m["conf_std"], m["range"]
    if not std >= t["min_conf_std"]:
        out.append("Flat predictions: conf_std=%.4f (<%g)" % (std, t["min_conf_std"]))
    if not rng >= t["min_p10_p90"]:
        out.append("Narrow range: p10_p90=%.4f (<%g)" % (rng, t["min_p10_p90"]))
    if not (std >= t["constant_std"] and rng >= t["constant_range"]):
        out.append("Constant output: std=%.4f (<%g)" % (std, t["constant_std"]))
    if m["confidence_violations"]:
        out.append("Confidence violations: %d" % m["confidence_violations"])
    return out


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_log(path, action, **fields):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    entry = {"timestamp": datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), "action": action}
    entry.update(fields)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def stats_markdown(title, stats):
    lines = ["# " + title, "", "| model | n | BUY % | SELL % | HOLD % | mean | std | P10 | P90 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for model, m in stats["models"].items():
        s = m["share_pct"]
        lines.append("| %s | %d | %.1f | %.1f | %.1f | %.4f | %.4f | %.4f | %.4f |" % (
            model, m["predictions"], s["BUY"], s["SELL"], s["HOLD"], m["conf_mean"], m["conf_std"],
            m["p10"], m["p90"]))
    e = stats["ensemble"]
    lines += ["", "Agreement: %.1f%%, hard disagree: %.1f%%" % (e["agreement_pct"],
                                                                 e["hard_disagree_pct"]), ""]
    return "\n".join(lines)
