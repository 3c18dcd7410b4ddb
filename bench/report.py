#!/usr/bin/env python3
"""bench/report.py OUT - turn OUT/results.json into OUT/REPORT.md and PNG plots (gnuplot).

Every ratio is computed per repetition from that repetition's own denominator; tables show
median [min..max] over the repetitions. A repetition is marked noisy (*) when other processes
used more than 0.25 cores while it ran or the calibration loop before it was more than 15 %
slower than the run's fastest; noisy repetitions stay in the figures and are counted.
Re-runnable on its own (python3 bench/report.py OUT). Exit 0 when the report was written.
"""
import json
import os
import shutil
import subprocess
import sys

NOISY_OTHER_CORES = 0.25
NOISY_CALIB = 1.15

# (scenario, what, key path to per-rep ratio, must, target, direction, note)
# direction ">=" means higher is better.
GOALS = [
    ("1", "throughput JSON: vane ev/s / raw consume msg/s", ("throughput_json", "ratio"),
     0.25, 0.35, ">="),
    ("1", "throughput protobuf: vane / raw consume", ("throughput_protobuf", "ratio"),
     0.25, 0.35, ">="),
    ("1", "throughput, 3 brokers: vane / raw consume", ("throughput_3brokers", "ratio"),
     0.25, 0.35, ">="),
    ("1", "2 instances, one group: vane x2 / raw consume", ("throughput_3brokers", "ratio2"),
     None, None, ">="),
    ("1", "scaling 2 instances / 1 instance", ("throughput_3brokers", "scaling"), None, None,
     ">="),
    ("1", "vane gen stream: vane / raw consume", ("throughput_gen", "ratio"), 0.25, 0.35, ">="),
    ("2", "fetch stalls: defaults / big pre-fetch queue", ("fetch_stalls", "ratio"), 0.95, 0.95,
     ">="),
    ("3", "CPU per event: vane / raw consumer (JSON)", ("throughput_json", "cpu_ratio"), 3.0, 2.5,
     "<="),
    ("3", "CPU per event: vane / raw consumer (protobuf)", ("throughput_protobuf", "cpu_ratio"),
     3.0, 2.5, "<="),
    ("3", "CPU per event: vane / raw consumer (vane gen stream)", ("throughput_gen", "cpu_ratio"),
     None, None, "<="),
    ("4", "engine ns/event / state floor, 1 M uniform", ("engine", "uniform", "ratio"), 4.0, 3.0,
     "<="),
    ("4", "engine / state floor, cache-resident", ("engine", "cache_resident", "ratio"), None,
     None, "<="),
    ("4", "engine / state floor, Zipf", ("engine", "zipf", "ratio"), None, None, "<="),
    ("5", "decode JSON: vane ns / jsmn ns", ("decode", "json", "ratio"), 1.5, 1.5, "<="),
    ("5", "decode protobuf: vane ns / protobuf-c unpack ns", ("decode", "protobuf", "ratio"), 1.2,
     1.2, "<="),
    ("6", "latency p99 at 200/s: vane / relay", ("latency", "200/s", "p99_ratio"), 1.5, 1.5,
     "<="),
    ("6", "latency p50 at 200/s: vane - relay (ms)", ("latency", "200/s", "p50_diff_ms"), 1.0, 1.0,
     "<="),
    ("6", "latency p99 at high load (share of max: latency section): vane / relay",
     ("latency", "high load", "p99_ratio"), 3.0, 3.0, "<="),
    ("7", "Redis write commands / state SETs (dirtied customers per flush)",
     ("memory", "writes_per_state_written"), 1.05, 1.05, "<="),
    ("7", "Redis write commands per flush round trip", ("memory", "commands_per_roundtrip"), 100,
     100, ">="),
    ("7", "Redis reads per event after warm-up", ("memory", "phase_b", "reads_per_event"), 0.01,
     0.01, "<="),
    ("7", "vane client CPU per Redis command / floor", ("redis", "client_cpu_ratio"), 1.5, 1.5,
     "<="),
    ("8", "RSS bytes per cached customer", ("memory", "rss_bytes_per_cached_customer"), None,
     None, "<="),
    ("8", "persisted state bytes per customer (median)", ("memory", "state_bytes_median"), None,
     None, "<="),
    ("8", "RSS growth over the 10-minute soak (%)", ("memory", "soak", "growth_pct"), None, None,
     "<="),
    ("9", "start-up: first event / consumer group join", ("throughput_json", "startup_ratio"),
     1.2, 1.2, "<="),
]


def cell(x, limit=300):
    """Text safe inside one Markdown table cell."""
    s = " ".join(str(x).replace("|", "/").split())
    return s if len(s) <= limit else s[:limit - 3] + "..."


def med(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt(x, nd=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        if abs(x) >= 1000:
            return "{:,.0f}".format(x)
        if abs(x) >= 100:
            return "%.1f" % x
        return ("%%.%dg" % nd) % x
    return str(x)


def mmm(vals, nd=3):
    vals = [v for v in vals if isinstance(v, (int, float))]
    if not vals:
        return "-"
    return "%s [%s..%s]" % (fmt(med(vals), nd), fmt(min(vals), nd), fmt(max(vals), nd))


def lost_probe_messages(rep):
    """Why a latency repetition is no measurement, or None: a probe message that never came
    back means the load outran the path (the embedded broker keeps at most ~100,000 messages
    or 5 MB per partition and drops older ones), and the percentiles then describe a queue
    that grew for the whole run, not the latency. harness.py applies it as it measures, Report
    to the results of older runs."""
    for who in ("relay", "vane"):
        x = rep.get(who) or {}
        if x.get("sent") and x.get("received", 0) < x["sent"]:
            return ("invalid: the %s run got back %d of %d probe messages (this rate outruns the "
                    "path: the run queued, and the embedded broker keeps at most ~100,000 messages "
                    "or 5 MB per partition)" % (
                        who, x.get("received", 0), x["sent"]))
    return None


class Report:
    def __init__(self, out):
        self.out = out
        with open(os.path.join(out, "results.json")) as f:
            self.r = json.load(f)
        self.invalidate_lossy_latency()
        ms = [m for m in self.r.get("measurements", []) if m.get("calib_ms")]
        self.min_calib = min((m["calib_ms"] for m in ms), default=None)
        self.noisy_count = 0
        self.lines = []

    def invalidate_lossy_latency(self):
        """Latency repetitions that lost probe messages are no measurement (lost_probe_messages,
        which harness.py applies as it measures); results of older harness versions are judged
        the same way here."""
        la = (self.r.get("scenarios") or {}).get("latency") or {}
        loads = la.get("loads") or {}
        if "50% of max" in loads:  # older harness: the high load was always 50% of max
            loads["high load"] = loads.pop("50% of max")
            if isinstance(loads["high load"], dict) and "rate" in loads["high load"]:
                loads["high load"].setdefault("fraction", 0.5)
        for load in loads.values():
            for rep in load.get("reps", []) if isinstance(load, dict) else []:
                why = lost_probe_messages(rep)
                if why:
                    for k in ("p50_ratio", "p99_ratio", "p999_ratio", "p50_diff_ms"):
                        rep.pop(k, None)
                    rep["vane_error"] = why

    def latency_high_load(self, la):
        """How the high load was chosen: vane's maximum with an alert per event, and the relay's
        capacity search (harness.py relay_capacity)."""
        am = la.get("alert_max")
        if not am:
            return
        self.w()
        rates = [x["vane"]["rate"] for x in am.get("reps", []) if x.get("vane")]
        self.w("High load: vane's maximum rate on the probe's own stream (every event a detractor "
               "survey of a new customer, so one alert each; %s events from offset 0, first event "
               "to last alert acknowledged) was %s events/s (median %s)." % (
                   am.get("events"), mmm(rates), fmt(am.get("rate"))))
        tries = la.get("capacity_search") or []
        if tries:
            self.w("The relay -- the floor -- was then run at rising shares of it, each run as "
                   "long as a measurement and on a fresh broker, until it first fell behind; the "
                   "last share at which it kept up (every probe message back, the offered rate "
                   "achieved, p99 at most 5x its own at 200/s) is the high load measured:")
            self.w()
            self.w("| share of max | offered ev/s | kept up | achieved ev/s | back/sent | p50 ms | "
                   "p99 ms |")
            self.w("|---|---|---|---|---|---|---|")
            for t in tries:
                self.w("| %g%% | %s | %s | %s | %s/%s | %s | %s |" % (
                    t["fraction"] * 100, t["rate"], cell(t.get("error") or
                                                         ("yes" if t.get("kept_up") else "no")),
                    fmt(t.get("achieved_rate")), t.get("received"), t.get("sent"),
                    fmt(t.get("p50_ms")), fmt(t.get("p99_ms"))))

    # --- noise ------------------------------------------------------------------------
    def noisy(self, fig):
        env = fig.get("env") if isinstance(fig, dict) else None
        if not env:
            return False
        if env.get("other_cpu_cores", 0) > NOISY_OTHER_CORES:
            return True
        c = env.get("calib_ms")
        return bool(c and self.min_calib and c > NOISY_CALIB * self.min_calib)

    def rep_noisy(self, rep):
        return any(self.noisy(v) for v in rep.values() if isinstance(v, dict))

    # --- lookups ----------------------------------------------------------------------
    def scen(self, name):
        return self.r.get("scenarios", {}).get(name)

    def reps_for(self, path):
        s = self.scen(path[0])
        if not s:
            return None, "not run"
        if s.get("status") in ("not run", "error"):
            return None, "%s: %s" % (s["status"], s.get("reason", ""))
        if path[0] == "memory":  # one long run, not repetitions: a single value
            node = s
            for k in path[1:-1]:
                node = node.get(k) or {}
            if node.get("status") == "not run":
                return None, "not run: " + node.get("reason", "")
            v = node.get(path[-1])
            return ([{path[-1]: v}] if isinstance(v, (int, float)) else []), \
                (None if isinstance(v, (int, float)) else "not run: not measured in this run")
        if len(path) == 3:
            sub = s.get("cases", s.get("formats", s.get("loads", {}))).get(path[1])
            if not sub:
                return None, "not run"
            if sub.get("status") == "not run":
                return None, "not run: " + sub.get("reason", "")
            return sub.get("reps", []), None
        return s.get("reps", []), None

    def why_not(self, path):
        s = self.scen(path[0]) or {}
        for k in ("vane_status", "reason"):
            if s.get(k):
                return s[k]
        if b := self.r.get("vane_problem"):
            return "not run: " + b
        reps = s.get("reps") or []
        if len(path) == 3:
            sub = (s.get("cases") or s.get("formats") or s.get("loads") or {}).get(path[1])
            reps = (sub or {}).get("reps") or reps
        for rep in reps:
            if rep.get("vane_error"):
                err = rep["vane_error"]
                return err if err.startswith("invalid") else "not run: " + err
        return "not run: this run recorded no value for it (see its section below)"

    def load_share(self, path):
        """The share of vane's max of a latency load (None for other figures)."""
        if path[0] != "latency" or len(path) != 3:
            return None
        load = ((self.r.get("scenarios") or {}).get("latency") or {}).get("loads", {}).get(path[1])
        return load.get("fraction") if isinstance(load, dict) else None

    # --- output -----------------------------------------------------------------------
    def w(self, s=""):
        self.lines.append(s)

    def headline(self):
        rows = []
        for scen, what, path, must, target, d in GOALS:
            reps, err = self.reps_for(path)
            key = path[-1]
            vals = [rep[key] for rep in (reps or []) if isinstance(rep.get(key), (int, float))]
            noisy = sum(1 for rep in (reps or []) if key in rep and self.rep_noisy(rep))
            if not vals:
                reason = err or self.why_not(path)
                if reason.startswith("invalid: "):
                    reason = "**not measured**: " + reason[len("invalid: "):]
                elif not reason.startswith("not run") and not reason.startswith("error"):
                    reason = "not run: " + reason
                rows.append((scen, what, "-", goal_text(must, target, d), reason))
                continue
            m = med(vals)
            verdict = judge(m, must, target, d)
            if noisy:
                verdict += " (%d/%d reps noisy)" % (noisy, len(vals))
            share = self.load_share(path)
            if share is not None and share < 0.5:
                verdict += "; measured at %g%% of max, the most the relay kept up with here " \
                    "(goal: 50%%)" % (share * 100)
            rows.append((scen, what, mmm(vals), goal_text(must, target, d), verdict))
        return rows

    def write(self):
        r = self.r
        m = r.get("machine", {})
        self.w("# vane benchmark report")
        self.w()
        self.w("%s run, %s, commit `%s`%s, %s build. Total %s s." % (
            "Quick (smoke test: figures are not measurements)" if r.get("quick") else "Full",
            m.get("date_utc"), (m.get("git_commit") or "?")[:12],
            " (with uncommitted changes)" if m.get("git_dirty") else "", m.get("build_type"),
            r.get("total_s")))
        self.w()
        self.w("Machine: %s CPUs, %s, %s GB, kernel %s. Libraries: %s; %s." % (
            m.get("cpus"), m.get("model"), m.get("mem_gb"), m.get("kernel"),
            ", ".join("%s %s" % (k, v) for k, v in (m.get("libraries") or {}).items()),
            m.get("redis_server")))
        if m.get("allocators"):
            self.w()
            self.w("Allocator (malloc each program runs on): %s." % ", ".join(
                "%s %s" % (k, v) for k, v in m["allocators"].items()))
        self.w()
        self.w("Every ratio is computed per repetition against the same repetition's denominator; "
               "cells are median [min..max] over the repetitions. A repetition is noisy when "
               "other processes used > %.2f cores during it or the calibration loop before it "
               "ran > %d %% slower than the run's fastest (%s ms); noisy repetitions are kept and "
               "counted. Method: bench/README.md." % (
                   NOISY_OTHER_CORES, round((NOISY_CALIB - 1) * 100), fmt(self.min_calib)))
        self.w()
        self.w("## Headline")
        self.w()
        self.w("| # | measure | median [min..max] | goal (must / target) | verdict |")
        self.w("|---|---|---|---|---|")
        for row in self.headline():
            self.w("| %s |" % " | ".join(cell(c) for c in row))
        self.w()
        self.details()
        self.env_table()
        self.plots()
        with open(os.path.join(self.out, "REPORT.md"), "w") as f:
            f.write("\n".join(self.lines) + "\n")

    def details(self):
        sc = self.r.get("scenarios", {})
        self.w("## Throughput (scenarios 1, 3, 9)")
        self.w()
        self.w("vane ev/s runs to the last event applied; \"vane s applied / written\" gives the "
               "seconds to the last event applied and to every state written in Redis (the CPU "
               "figures are read at the latter).")
        self.w()
        self.w("| stream | rep | raw consume msg/s | vane ev/s | ratio | raw CPU ns/msg | "
               "vane CPU ns/ev | vane s applied / written | raw first msg ms | "
               "vane first event ms | noisy |")
        self.w("|---|---|---|---|---|---|---|---|---|---|---|")
        for name in ("throughput_json", "throughput_protobuf", "throughput_3brokers",
                     "throughput_gen"):
            s = sc.get(name)
            if not s or s.get("status") != "ok":
                self.w("| %s | - | %s | | | | | | | | |" % (
                    name, cell((s or {}).get("reason", "not run"))))
                continue
            for rep in s["reps"]:
                raw, v = rep.get("raw", {}), rep.get("vane", {})
                written = v.get("seconds_to_written")
                self.w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    name.replace("throughput_", ""), rep["rep"], fmt(raw.get("rate")),
                    fmt(v.get("rate")) if v else cell(rep.get("vane_error", "not run"), 80),
                    fmt(rep.get("ratio")), fmt(raw.get("cpu_ns_per_msg")),
                    fmt(v.get("cpu_ns_per_event")),
                    "%.2f / %.2f" % (v["seconds"], written) if v and written else "",
                    fmt(raw.get("first_msg_ms")),
                    fmt(v.get("first_event_ms")), "*" if self.rep_noisy(rep) else ""))
        for name in ("throughput_json", "throughput_protobuf", "throughput_3brokers"):
            d = (sc.get(name) or {}).get("dataset")
            if d:
                self.w()
                self.w("Dataset %s: %s events, %s B average, %s customers, loaded at %s ev/s." % (
                    name.replace("throughput_", ""), d.get("produced"), fmt(d.get("avg_bytes")),
                    d.get("customers"), fmt(d.get("rate"))))
        self.cpu_by_thread(sc)
        self.w()
        fs = sc.get("fetch_stalls")
        self.w("## Fetch stalls (scenario 2)")
        self.w()
        if fs and fs.get("status") == "ok":
            self.w("Big queue: queued.max.messages.kbytes=%s, queued.min.messages=%s." % (
                fs.get("big_queue_kbytes"), fs.get("big_queue_min_messages")))
            self.w()
            self.w("| rep | ran first | defaults ev/s | big queue ev/s | ratio | noisy |")
            self.w("|---|---|---|---|---|---|")
            for rep in fs["reps"]:
                first = (rep.get("order") or ["defaults"])[0].replace("_", " ")
                self.w("| %d | %s | %s | %s | %s | %s |" % (
                    rep["rep"], first, fmt(rep.get("defaults", {}).get("rate")),
                    fmt(rep.get("big_queue", {}).get("rate")), fmt(rep.get("ratio")),
                    "*" if self.rep_noisy(rep) else ""))
        else:
            self.w((fs or {}).get("reason", "not run"))
        self.w()
        self.w("## Engine alone (scenario 4)")
        self.w()
        en = sc.get("engine")
        if en and en.get("status") == "ok":
            if en.get("vane_status"):
                self.w("vane: " + en["vane_status"] + ".")
                self.w()
            self.w("vane = `vane replay`'s core (vane_replay_events: the batch entry point `vane replay` uses) over pre-decoded events with the "
                   "default rules, no I/O (bench/limits/engine.c); `vane replay` CLI = the whole "
                   "command, reading and decoding included (first repetition, for reference).")
            self.w()
            self.w("| case | customers | events | state floor ns/ev | vane ns/ev | ratio | "
                   "vane allocs/ev | `vane replay` CLI ns/ev |")
            self.w("|---|---|---|---|---|---|---|---|")
            for name, c in en["cases"].items():
                self.w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    name, c["customers"], c["events"],
                    mmm([rep["floor"]["ns_per_event"] for rep in c["reps"]]),
                    mmm([rep.get("vane", {}).get("ns_per_event") for rep in c["reps"]]),
                    mmm([rep.get("ratio") for rep in c["reps"]]),
                    mmm([rep.get("vane", {}).get("allocs_per_event") for rep in c["reps"]]),
                    mmm([rep.get("replay_cli", {}).get("ns_per_event") for rep in c["reps"]])))
        else:
            self.w((en or {}).get("reason", "not run"))
        self.w()
        self.w("## Decode in memory (scenario 5)")
        self.w()
        de = sc.get("decode")
        if de and de.get("status") == "ok":
            if de.get("vane_status"):
                self.w("vane: " + de["vane_status"] + ".")
                self.w()
            self.w("| format | floor | floor ns/ev | vane ns/ev | ratio | allocations/event |")
            self.w("|---|---|---|---|---|---|")
            for name, c in de["formats"].items():
                ds = [rep["decode"] for rep in c["reps"]]
                self.w("| %s | %s | %s | %s | %s | %s |" % (
                    name, ds[0].get("floor"), mmm([d.get("floor_ns") for d in ds]),
                    mmm([d.get("vane_ns") for d in ds]), mmm([d.get("ratio") for d in ds]),
                    mmm([d.get("allocs_per_event") for d in ds])))
        else:
            self.w((de or {}).get("reason", "not run"))
        self.w()
        self.w("## Event -> alert latency (scenario 6)")
        self.w()
        la = sc.get("latency")
        if la and la.get("status") == "ok":
            self.w("vane and the relay both use fetch.wait.max.ms=%s and linger.ms=%s (vane's "
                   "defaults); the probe's producer uses linger.ms=0 and its consumer "
                   "fetch.wait.max.ms=10." % (la.get("fetch_wait_max_ms"), la.get("linger_ms")))
            self.w()
            self.w("| load | who | p50 ms | p99 ms | p99.9 ms | received/sent | offered ev/s achieved |")
            self.w("|---|---|---|---|---|---|---|")
            for lname, l in la["loads"].items():
                if l.get("status") == "not run":
                    self.w("| %s | - | %s | | | | |" % (lname, cell(l.get("reason"))))
                    continue
                if "fraction" in l:
                    lname = "%s: %g%% of max" % (lname, l["fraction"] * 100)
                for who in ("relay", "vane"):
                    xs = [rep.get(who) for rep in l["reps"] if rep.get(who)]
                    if not xs:
                        err = next((rep.get("vane_error") or rep.get("relay_error")
                                    for rep in l["reps"]
                                    if rep.get("vane_error") or rep.get("relay_error")), None)
                        self.w("| %s (%s/s) | %s | %s | | | | |" % (
                            lname, l["rate"], who, cell(("not run: " + err) if err else
                                                        "not run: " +
                                                        (self.r.get("vane_problem") or "?"))))
                        continue
                    self.w("| %s (%s/s) | %s | %s | %s | %s | %s | %s |" % (
                        lname, l["rate"], who, mmm([x["p50_ms"] for x in xs]),
                        mmm([x["p99_ms"] for x in xs]), mmm([x["p999_ms"] for x in xs]),
                        "/".join(str(sum(x[k] for x in xs)) for k in ("received", "sent")),
                        mmm([x["achieved_rate"] for x in xs if "achieved_rate" in x]) or "-"))
            self.latency_high_load(la)
            for lname, l in la["loads"].items():
                bad = next((rep["vane_error"] for rep in l.get("reps", [])
                            if str(rep.get("vane_error", "")).startswith("invalid")), None)
                if bad:
                    self.w()
                    self.w("%s: no measurement, %s." % (lname, bad[len("invalid: "):]))
        else:
            self.w((la or {}).get("reason", "not run"))
        self.w()
        self.w("## Redis cost (scenario 7)")
        self.w()
        rd = sc.get("redis")
        if rd and rd.get("status") == "ok":
            fl = [rep["floor"] for rep in rd["reps"]]
            self.w("Redis floor (one hiredis connection, pipelines of 512 SETs of %s B): %s "
                   "commands/s, client CPU %s ns/command." % (
                       rd.get("state_size"), mmm([f["cmds_per_s"] for f in fl]),
                       mmm([f["client_cpu_ns_per_cmd"] for f in fl])))
            self.w()
            vs = [rep["vane"] for rep in rd["reps"] if rep.get("vane")]
            if vs:
                self.w("vane's client (daemon/io/state_store.c on a libuv loop: vane's hiredis "
                       "adapter, command backlog and callbacks; bench/limits/store.c), the same "
                       "SETs in batches of 512: %s commands/s, client CPU %s ns/command, %s of "
                       "the floor's." % (
                           mmm([v["cmds_per_s"] for v in vs]),
                           mmm([v["client_cpu_ns_per_cmd"] for v in vs]),
                           mmm([rep["client_cpu_ratio"] for rep in rd["reps"]
                                if "client_cpu_ratio" in rep])))
            else:
                self.w("vane's client: %s." % next(
                    (rep["vane_error"] for rep in rd["reps"] if rep.get("vane_error")),
                    "not run"))
            self.w()
            me = sc.get("memory") or {}
            if me.get("status") == "ok":
                pb = me.get("phase_b") or {}
                self.w("vane's side, from one instance over %s events on %s customers (phase A) "
                       "then %s more on the same customers (phase B, warm cache), Redis INFO "
                       "commandstats reset before each phase:" % (
                           me.get("events_a"), me.get("customers"), me.get("events_b")))
                self.w()
                self.w("| figure | value | goal |")
                self.w("|---|---|---|")
                sa = me.get("phase_a_commandstats") or {}
                self.w("| phase A: state SETs (one per dirtied customer per flush) | %s | |" % fmt(
                    sa.get("set")))
                self.w("| phase A: write commands / state SETs | %s | <= 1.05 |" % fmt(
                    me.get("writes_per_state_written")))
                self.w("| phase A: flushes (vane_redis_flush_seconds_count) | %s | |" % fmt(
                    me.get("flushes_a")))
                self.w("| phase A: write commands per flush (one pipelined round trip) | %s | "
                       ">= 100 |" % fmt(me.get("commands_per_roundtrip")))
                self.w("| states written in all (vane's final log line) | %s | |" % fmt(
                    (me.get("stopped") or {}).get("states_written")))
                self.w("| reads per event, phase B | %s | <= 0.01 |" % fmt(
                    pb.get("reads_per_event")))
                self.w("| commandstats phase A | %s | |" % cell(
                    ", ".join("%s=%s" % kv for kv in (me.get("phase_a_commandstats") or {}).items())))
                self.w("| commandstats phase B | %s | |" % cell(
                    ", ".join("%s=%s" % kv for kv in (pb.get("commandstats") or {}).items())))
            else:
                self.w("vane's side: %s." % (me.get("reason") or "not run"))
        else:
            self.w(cell((rd or {}).get("reason", "not run")))
        self.w()
        self.w("## Memory (scenario 8)")
        self.w()
        me = sc.get("memory")
        if me and me.get("status") == "ok":
            for k in ("rss_kb_start", "rss_kb", "cached_customers", "rss_bytes_per_cached_customer",
                      "redis_keys", "redis_used_memory", "state_bytes_median", "state_bytes_p99",
                      "state_bytes_sampled"):
                self.w("- %s: %s" % (k, fmt(me.get(k))))
            so = me.get("soak") or {}
            if so.get("status") == "ok":
                self.w("- soak: %s events/s for %s s on 20,000 cached customers: RSS %s -> %s KB "
                       "(%s %%), slope %s KB/min over the last 80 %%" % (
                           so.get("rate"), so.get("seconds"), fmt(so.get("rss_kb_first")),
                           fmt(so.get("rss_kb_last")), fmt(so.get("growth_pct")),
                           fmt(so.get("slope_kb_per_min"))))
                if so.get("events") is not None:
                    bad = so.get("rejected") or 0
                    self.w("- soak events: %s sent, %s applied, %s rejected%s" % (
                        fmt(so["events"]), fmt(so.get("applied")), fmt(bad),
                        " (**the soak did not measure the normal path**)"
                        if bad > 0.01 * so["events"] else ""))
                if so.get("cache_kb_first") is not None:
                    self.w("- soak, same window: packed states %s -> %s KB, cache memory %s -> %s "
                           "KB (vane_cache_packed_bytes, vane_cache_memory_bytes)" % (
                               fmt(so.get("packed_kb_first")), fmt(so.get("packed_kb_last")),
                               fmt(so.get("cache_kb_first")), fmt(so.get("cache_kb_last"))))
            else:
                self.w("- soak: %s" % so.get("reason", "not run"))
        else:
            self.w((me or {}).get("reason", "not run"))
        self.w()

    def cpu_by_thread(self, sc):
        """Scenario 3 split by thread: librdkafka's threads (rdk:*) and the program's own."""
        rows = []
        for name in ("throughput_json", "throughput_protobuf", "throughput_3brokers",
                     "throughput_gen"):
            for rep in (sc.get(name) or {}).get("reps", []):
                raw, v = rep.get("raw", {}), rep.get("vane", {})
                rt, vt = raw.get("threads"), v.get("threads")
                if not rt or not vt or not raw.get("msgs") or not v.get("events"):
                    continue

                def per(t, k, n, scale):
                    return fmt(t[k] * scale / n)
                rows.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                    name.replace("throughput_", ""), rep["rep"],
                    per(rt, "own_cpu_s", raw["msgs"], 1e9), per(rt, "rdk_cpu_s", raw["msgs"], 1e9),
                    per(vt, "own_cpu_s", v["events"], 1e9), per(vt, "rdk_cpu_s", v["events"], 1e9),
                    per(rt, "rdk_minflt", raw["msgs"], 1e3),
                    per(vt, "rdk_minflt", v["events"], 1e3)))
        if not rows:
            return
        self.w()
        self.w("CPU per event by thread, read at the end of each run from /proc (10 ms ticks): "
               "librdkafka's threads (rdk:*) and the program's own (vane's loop and worker "
               "threads; the raw consumer's main thread), with librdkafka's minor page faults. "
               "vane's librdkafka threads include its alert producer's (idle here).")
        self.w()
        self.w("| stream | rep | raw own ns/msg | raw librdkafka ns/msg | vane own ns/ev | "
               "vane librdkafka ns/ev | raw librdkafka faults/1k msg | "
               "vane librdkafka faults/1k ev |")
        self.w("|---|---|---|---|---|---|---|---|")
        for r in rows:
            self.w(r)

    def env_table(self):
        ms = self.r.get("measurements", [])
        self.w("## Measurement conditions")
        self.w()
        noisy = [m for m in ms if self.noisy({"env": m})]
        self.w("%d measurements, %d noisy. Calibration loop: %s ms (median [min..max]); other "
               "processes' CPU during measurements: %s cores." % (
                   len(ms), len(noisy), mmm([m.get("calib_ms") for m in ms]),
                   mmm([m.get("other_cpu_cores") for m in ms])))
        self.w()
        self.w("| measurement | quiet wait s | busy before (cores) | calib ms | other CPU (cores) "
               "| wall s | noisy |")
        self.w("|---|---|---|---|---|---|---|")
        for m in ms:
            self.w("| %s | %s | %s | %s | %s | %s | %s |" % (
                m["label"], m["quiet_wait_s"], m["busy_before_cores"], fmt(m.get("calib_ms")),
                m["other_cpu_cores"], m["wall_s"], "*" if self.noisy({"env": m}) else ""))
        self.w()

    # --- plots --------------------------------------------------------------------------
    def plots(self):
        self.w("## Plots")
        self.w()
        if not shutil.which("gnuplot"):
            self.w("gnuplot is not installed: no plots (bash deploy/install-deps.sh --bench).")
            return
        made = []
        sc = self.r.get("scenarios", {})
        # 1. throughput over time: cumulative messages/events of repetition 1.
        tj = sc.get("throughput_json") or {}
        series = []
        for rep in tj.get("reps", [])[:1]:
            if len(rep.get("raw", {}).get("series") or []) > 2:
                series.append(("raw consume", rep["raw"]["series"]))
            if len(rep.get("vane", {}).get("series") or []) > 2:
                series.append(("vane", rep["vane"]["series"]))
        if series:
            files = []
            for i, (name, pts) in enumerate(series):
                path = os.path.join(self.out, "tp-%d.dat" % i)
                with open(path, "w") as f:
                    prev = None
                    for t, n in pts:
                        if prev and t > prev[0]:
                            f.write("%f %f\n" % (t / 1000.0, (n - prev[1]) / ((t - prev[0]) /
                                                                           1000.0)))
                        prev = (t, n)
                files.append((path, name))
            plot = ", ".join("'%s' using 1:2 with lines title '%s'" % (p, n) for p, n in files)
            if self.gnuplot("throughput.png", "Throughput over time (JSON, rep 1)",
                            "seconds since first message", "messages/s", plot):
                made.append(("throughput.png", "Throughput over time"))
            for p, _ in files:
                os.unlink(p)
        # 2. latency CDF.
        la = sc.get("latency") or {}
        cdfs = []
        for lname, l in (la.get("loads") or {}).items():
            for rep in (l.get("reps") or [])[:1]:
                for who in ("relay", "vane"):
                    x = rep.get(who)
                    if x and x.get("lat_file") and os.path.exists(
                            os.path.join(self.out, x["lat_file"])):
                        cdfs.append(("%s %s" % (who, lname), os.path.join(self.out,
                                                                         x["lat_file"])))
        if cdfs:
            files = []
            for i, (name, src) in enumerate(cdfs):
                vals = []
                with open(src) as f:
                    for line in f:
                        try:
                            vals.append(float(line) / 1000.0)
                        except ValueError:
                            pass
                vals.sort()
                path = os.path.join(self.out, "cdf-%d.dat" % i)
                with open(path, "w") as f:
                    for j, v in enumerate(vals):
                        f.write("%f %f\n" % (v, (j + 1) / len(vals)))
                files.append((path, name))
            plot = ", ".join("'%s' using 1:2 with lines title '%s'" % (p, n) for p, n in files)
            if self.gnuplot("latency_cdf.png", "Event -> output latency CDF (rep 1)",
                            "latency ms (log)", "fraction", plot, logx=True):
                made.append(("latency_cdf.png", "Latency CDF"))
            for p, _ in files:
                os.unlink(p)
        # 3. ratios against their goals (ratio / must: below 1 is good for <=, above for >=).
        pts = []
        for scen, what, path, must, target, d in GOALS:
            if must is None or path[-1] == "p50_diff_ms":
                continue
            reps, err = self.reps_for(path)
            vals = [rep[path[-1]] for rep in (reps or []) if isinstance(rep.get(path[-1]),
                                                                       (int, float))]
            if vals:
                m = med(vals)
                score = (m / must) if d == ">=" else (must / m if m else 0)
                pts.append((scen + ": " + what.split(":")[0], score))
        path = os.path.join(self.out, "goals.dat")
        with open(path, "w") as f:
            for i, (name, score) in enumerate(pts):
                f.write('%d %f "%s"\n' % (i, score, name.replace('"', "'")))
        if pts:
            plot = ("'%s' using 1:2:xtic(3) with boxes fill solid 0.5 title 'median / must "
                    "(>= 1 meets the must)', 1 with lines dt 2 title 'must'" % path)
            if self.gnuplot("goals.png", "Ratios against their must goals", "", "goal score",
                            plot, boxes=True):
                made.append(("goals.png", "Ratios against goals"))
        else:
            self.w("No ratio has a value yet, so there is no goals plot.")
            self.w()
        os.unlink(path)
        for f, title in made:
            self.w("![%s](%s)" % (title, f))
            self.w()

    def gnuplot(self, png, title, xl, yl, plot, logx=False, boxes=False):
        script = ["set terminal pngcairo size 900,500" if has_cairo() else
                  "set terminal png size 900,500",
                  "set output '%s'" % os.path.join(self.out, png),
                  "set title '%s'" % title, "set xlabel '%s'" % xl, "set ylabel '%s'" % yl,
                  "set grid", "set key outside bottom center horizontal"]
        if logx:
            script.append("set logscale x")
        if boxes:
            script += ["set style fill solid 0.5", "set boxwidth 0.6", "set xtics rotate by -30",
                       "set yrange [0:*]", "set bmargin 8"]
        script.append("plot " + plot)
        try:
            p = subprocess.run(["gnuplot"], input="\n".join(script).encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if p.returncode != 0:
            sys.stderr.write("gnuplot %s: %s\n" % (png, p.stderr.decode()[-300:]))
        return p.returncode == 0 and os.path.exists(os.path.join(self.out, png))


_CAIRO = None


def has_cairo():
    global _CAIRO
    if _CAIRO is None:
        try:
            out = subprocess.run(["gnuplot", "-e", "set terminal"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=10).stdout.decode()
            _CAIRO = "pngcairo" in out
        except (OSError, subprocess.TimeoutExpired):
            _CAIRO = False
    return _CAIRO


def goal_text(must, target, d):
    if must is None:
        return "reported"
    if target is None or target == must:
        return "%s %s" % (d, fmt(must))
    return "%s %s / %s" % (d, fmt(must), fmt(target))


def judge(m, must, target, d):
    if must is None:
        return "reported"

    def ok(goal):
        return m >= goal if d == ">=" else m <= goal

    if target is not None and ok(target):
        return "meets target"
    if ok(must):
        return "meets must"
    return "**misses must**"


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: report.py OUT_DIR\n")
        return 2
    rep = Report(sys.argv[1])
    rep.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
