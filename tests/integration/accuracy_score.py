#!/usr/bin/env python3
"""Score `vane replay` alerts against `vane gen` ground truth (used by accuracy_gen.sh).

Usage: accuracy_score.py TRUTH.csv ALERTS.jsonl [--min-recall 0.95] [--max-false-per-1000 2]
                         [--markdown]

Definitions (per alert kind K; customers are the unit, since one planted behaviour should
produce one alert):
  planted(K)   customers the generator planted with K
  detected     a planted(K) customer with an alert of kind K whose event_time_ms >= onset_ms
  recall       detected / planted(K)
  precision    customers alerted with K that were planted with K / all customers alerted with K
  false/1000   alerts of kind K on CONTROL customers (no planted behaviour) per 1,000 controls
  cross        customers planted with another kind that got a K alert (reported, not failed:
               a DECLINE_RISK customer who redeems may rightly get REDEMPTION_SURGE too)
  early        planted(K) customers whose first K alert came before the onset (counted as not
               detected, listed)
  delay        event time from onset to the first K alert at or after it; median and p90
Thresholds (the issue's acceptance criteria): every kind's recall >= --min-recall, and all
false alerts on controls together <= --max-false-per-1000 per 1,000 controls (also shown per
kind). Exit 0 when met, 1 otherwise with the reasons, 2 on bad input.
"""
import argparse
import csv
import json
import statistics
import sys

KINDS = ["PREFERENCE_SHIFT", "REDEMPTION_SURGE", "CANCELLATION_SURGE", "OUTFLOW_SURGE",
         "DORMANCY", "DECLINE_RISK", "DETRACTOR"]


def fmt_delay(ms):
    if ms is None:
        return "-"
    s = ms / 1000.0
    if s < 120:
        return "%.0f s" % s
    if s < 7200:
        return "%.1f min" % (s / 60)
    if s < 172800:
        return "%.1f h" % (s / 3600)
    return "%.1f d" % (s / 86400)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("alerts")
    ap.add_argument("--min-recall", type=float, default=0.95)
    ap.add_argument("--max-false-per-1000", type=float, default=2.0)
    ap.add_argument("--markdown", action="store_true", help="table only, markdown")
    a = ap.parse_args()

    truth = {}
    with open(a.truth, newline="") as f:
        for row in csv.DictReader(f):
            truth[row["customer_id"]] = (row["kind"], int(row["onset_ms"] or 0))
    if not truth:
        print("accuracy: empty truth file", file=sys.stderr)
        return 2
    controls = sum(1 for k, _ in truth.values() if k == "control")
    planted = {k: [c for c, (tk, _) in truth.items() if tk == k] for k in KINDS}

    # per kind: customer -> sorted alert times
    alerted = {k: {} for k in KINDS}
    other_kinds = {}
    n_alerts = 0
    with open(a.alerts) as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                al = json.loads(line)
            except ValueError as e:
                print("accuracy: %s:%d: not JSON: %s" % (a.alerts, ln, e), file=sys.stderr)
                return 2
            n_alerts += 1
            k = al.get("kind", "")
            cid = al.get("customer_id", "")
            t = int(al.get("event_time_ms", 0))
            if k not in alerted:
                other_kinds[k] = other_kinds.get(k, 0) + 1
                continue
            alerted[k].setdefault(cid, []).append(t)

    rows = []
    failures = []
    total_false = 0
    for k in KINDS:
        pos = planted[k]
        delays = []
        early = []
        for c in pos:
            times = sorted(alerted[k].get(c, []))
            onset = truth[c][1]
            after = [t for t in times if t >= onset]
            if after:
                delays.append(after[0] - onset)
            elif times:
                early.append(c)
        tp = len(delays)
        recall = tp / len(pos) if pos else float("nan")
        cust_alerted = alerted[k]
        true_cust = sum(1 for c in cust_alerted if truth.get(c, ("", 0))[0] == k)
        precision = true_cust / len(cust_alerted) if cust_alerted else float("nan")
        false_alerts = sum(len(ts) for c, ts in cust_alerted.items()
                           if truth.get(c, ("control", 0))[0] == "control")
        cross = sum(1 for c in cust_alerted
                    if truth.get(c, ("control", 0))[0] not in ("control", k))
        unknown = sum(1 for c in cust_alerted if c not in truth)
        total_false += false_alerts
        fp1000 = false_alerts * 1000.0 / controls if controls else float("nan")
        med = statistics.median(delays) if delays else None
        p90 = sorted(delays)[int(0.9 * (len(delays) - 1))] if delays else None
        rows.append((k, len(pos), tp, recall, precision, false_alerts, fp1000, cross, med, p90,
                     early, unknown))
        if not pos:
            failures.append("%s: no customer planted with it (generator?)" % k)
        elif recall < a.min_recall:
            missed = [c for c in pos if not any(t >= truth[c][1] for t in cust_alerted.get(c, []))]
            failures.append("%s: recall %.3f < %.2f (%d of %d missed; e.g. %s%s)" % (
                k, recall, a.min_recall, len(pos) - tp, len(pos), ", ".join(missed[:5]),
                "; %d alerted before onset: %s" % (len(early), ", ".join(early[:3]))
                if early else ""))
    total_fp1000 = total_false * 1000.0 / controls if controls else float("nan")
    if total_fp1000 > a.max_false_per_1000:
        failures.append("false alerts on controls: %d = %.2f per 1,000 controls > %.2f" % (
            total_false, total_fp1000, a.max_false_per_1000))

    print("| kind | planted | detected | recall | precision | false alerts / 1,000 controls "
          "| cross-kind | median delay | p90 delay |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (k, npos, tp, rec, prec, fa, fp, cross, med, p90, early, unknown) in rows:
        print("| %s | %d | %d | %.3f | %s | %.2f (%d) | %d | %s | %s |" % (
            k, npos, tp, rec, "-" if prec != prec else "%.3f" % prec, fp, fa, cross,
            fmt_delay(med), fmt_delay(p90)))
    print("| **all** | %d | %d | | | **%.2f** (%d) | | | |" % (
        sum(r[1] for r in rows), sum(r[2] for r in rows), total_fp1000, total_false))
    if not a.markdown:
        print()
        print("customers %d (controls %d), alerts %d%s" % (
            len(truth), controls, n_alerts,
            "; other kinds: " + ", ".join("%s %d" % kv for kv in sorted(other_kinds.items()))
            if other_kinds else ""))
        if failures:
            print("FAIL:")
            for f_ in failures:
                print("  " + f_)
        else:
            print("PASS: every kind's recall >= %.2f, false alerts on controls %.2f <= %.2f "
                  "per 1,000" % (a.min_recall, total_fp1000, a.max_false_per_1000))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
