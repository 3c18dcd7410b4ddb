#!/usr/bin/env bash
# Smoke test of the benchmark harness (issue 6): `bench/run.sh --quick` must run end to end and
# write a well-formed REPORT.md and results.json. It never asserts a speed: a vane scenario that
# cannot run yet must appear as "not run: <reason>", and that is a pass.
#
# Under ctest it reuses the test build (VANE_BUILD_DIR, --no-build) so it does not compile a
# second tree; run by hand it builds Release like bench/run.sh always does.
set -euo pipefail
src=${VANE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

args=(--quick --out "$out")
if [[ -n "${VANE_BUILD_DIR:-}" ]]; then
    args+=(--build-dir "$VANE_BUILD_DIR" --no-build)
fi
# ASan's leak checker would report librdkafka's and the mock's exit-time state in limit_*;
# the harness is under test here, not the programs' shutdown.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0
start=$(date +%s)
if ! bash "$src/bench/run.sh" "${args[@]}" >"$out/run.out" 2>&1; then
    echo "bench/run.sh --quick failed:" >&2
    tail -40 "$out/run.out" >&2
    exit 1
fi
elapsed=$(($(date +%s) - start))
echo "bench/run.sh --quick took ${elapsed}s"

SRC=$src python3 - "$out" <<'PY'
import json, os, re, sys
out = sys.argv[1]
fail = []
def check(cond, msg):
    if not cond:
        fail.append(msg)

r = json.load(open(os.path.join(out, "results.json")))
m = r.get("machine", {})
for k in ("cpus", "model", "kernel", "libraries", "git_commit"):
    check(m.get(k), "results.json machine.%s missing" % k)
check(m.get("libraries", {}).get("rdkafka"), "librdkafka version missing")
check(r.get("quick") is True, "results.json does not say quick")
sc = r.get("scenarios", {})
for name in ("throughput_json", "engine", "decode", "latency", "redis", "memory"):
    check(name in sc, "scenario %s missing from results.json" % name)
    st = sc.get(name, {}).get("status")
    check(st in ("ok", "not run"), "scenario %s status %r (%s)" % (name, st, sc.get(name, {}).get("reason")))
    if st == "not run":
        check(sc[name].get("reason"), "scenario %s not run without a reason" % name)
# The denominators must have run: they need nothing of vane's.
tj = sc.get("throughput_json", {})
reps = tj.get("reps", [])
check(len(reps) >= 2, "throughput_json has %d repetitions" % len(reps))
for rep in reps:
    raw = rep.get("raw", {})
    check(raw.get("msgs") == r["params"]["events"], "raw consumer got %s of %s messages" % (raw.get("msgs"), r["params"]["events"]))
    check(raw.get("rate", 0) > 0, "raw consume rate missing")
    env = raw.get("env", {})
    check(isinstance(env.get("calib_ms"), (int, float)) and env["calib_ms"] > 0, "no calibration figure")
    check("other_cpu_cores" in env, "no other-CPU figure")
    # CPU by thread: librdkafka's threads did the fetching on both sides.
    check(raw.get("threads", {}).get("rdk_cpu_s", 0) > 0, "raw consumer's librdkafka CPU missing")
    if "vane" in rep:
        check(rep.get("ratio", 0) > 0, "vane ran but no ratio")
        vt = rep["vane"].get("threads", {})
        check(vt.get("rdk_cpu_s", 0) > 0 and vt.get("own_cpu_s", 0) > 0, "vane's CPU by thread missing")
for case in ("uniform", "cache_resident", "zipf"):
    c = sc.get("engine", {}).get("cases", {}).get(case, {})
    check(all(rep["floor"]["ns_per_event"] > 0 for rep in c.get("reps", [])) and c.get("reps"), "state floor %s missing" % case)
for fmt in ("json", "protobuf"):
    c = sc.get("decode", {}).get("formats", {}).get(fmt, {})
    check(c.get("reps") and all(rep["decode"]["floor_ns"] > 0 for rep in c["reps"]), "decode floor %s missing" % fmt)
lat = sc.get("latency", {}).get("loads", {}).get("200/s", {})
check(lat.get("reps") and all(rep["relay"]["received"] > 0 for rep in lat["reps"]), "relay latency missing")
check(sc.get("redis", {}).get("reps") and all(rep["floor"]["cmds_per_s"] > 0 for rep in sc["redis"]["reps"]), "redis floor missing")

rep = open(os.path.join(out, "REPORT.md")).read()
check(rep.startswith("# vane benchmark report"), "REPORT.md title")
for h in ("## Headline", "## Throughput", "## Engine alone", "## Decode in memory", "## Event -> alert latency", "## Redis cost", "## Memory", "## Measurement conditions", "## Plots"):
    check(h in rep, "REPORT.md lacks %s" % h)
# Headline: one row per goal, every row a value with a verdict or "not run: reason".
head = rep.split("## Headline", 1)[1].split("\n## ", 1)[0]
rows = [l for l in head.splitlines() if l.startswith("| ") and not l.startswith("| #")]
check(len(rows) >= 15, "headline has %d rows" % len(rows))
for l in rows:
    cells = [c.strip() for c in l.strip("|").split("|")]
    check(len(cells) == 5, "headline row has %d cells: %s" % (len(cells), l))
    v = cells[-1]
    check(re.match(r"^(meets target|meets must|\*\*misses must\*\*|reported|not run: .+|error: .+)", v), "headline verdict %r" % v)
# Every table row has as many cells as its header.
lines = rep.splitlines()
for i, l in enumerate(lines):
    if l.startswith("|---"):
        n = l.count("|")
        j = i + 1
        while j < len(lines) and lines[j].startswith("|"):
            check(lines[j].count("|") == n, "table row cells differ from header: %s" % lines[j][:100])
            j += 1
if any("vane" in x for x in reps):
    check("| stream | rep | raw own ns/msg |" in rep, "CPU by thread table missing")
for png in re.findall(r"!\[[^]]*\]\(([^)]+)\)", rep):
    p = os.path.join(out, png)
    check(os.path.exists(p) and open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "plot %s is not a PNG" % png)

# report.py on scenario 6 figures only a full run makes: a high load below 50% of max (its share
# named in the headline, the relay's capacity search shown) and an older run's "50% of max".
import copy, shutil, subprocess, tempfile
def render(latency):
    d = tempfile.mkdtemp()
    try:
        x = copy.deepcopy(r)
        x["scenarios"]["latency"] = latency
        json.dump(x, open(os.path.join(d, "results.json"), "w"))
        subprocess.run([sys.executable, os.path.join(os.environ["SRC"], "bench", "report.py"), d],
                       check=True, stdout=subprocess.DEVNULL)
        return open(os.path.join(d, "REPORT.md")).read()
    finally:
        shutil.rmtree(d)
def lat_rep(p99v, p99r):
    x = {"counted": 100, "sent": 100, "received": 100, "p50_ms": 18.0, "p999_ms": 40.0}
    return {"rep": 1, "vane": dict(x, p99_ms=p99v), "relay": dict(x, p99_ms=p99r),
            "p99_ratio": p99v / p99r, "p50_ratio": 1.0, "p999_ratio": 1.0, "p50_diff_ms": 0.0}
lat200 = {"rate": 200, "reps": [lat_rep(25.0, 25.0)]}
new = render({"status": "ok", "loads": {"200/s": lat200, "high load": {
    "rate": 3593, "fraction": 0.03, "max_rate": 119767, "reps": [lat_rep(34.2, 32.9)]}},
    "alert_max": {"events": 300000, "rate": 119767.0, "reps": [{"rep": 1, "vane": {"rate": 119767.0}}]},
    "capacity_search": [
        {"fraction": 0.03, "rate": 3593, "kept_up": True, "sent": 9, "received": 9,
         "achieved_rate": 3593.0, "p50_ms": 18.2, "p99_ms": 33.1},
        {"fraction": 0.045, "rate": 5389, "kept_up": False, "sent": 9, "received": 9,
         "achieved_rate": 5389.0, "p50_ms": 23.3, "p99_ms": 1012.0}]})
row = [l for l in new.splitlines() if l.startswith("| 6 | latency p99 at high load")]
check(row and "1.04 [1.04..1.04]" in row[0] and "measured at 3% of max" in row[0],
      "high-load headline row: %s" % row)
check("| 4.5% | 5389 | no |" in new, "capacity search table missing")
check("high load: 3% of max (3593/s)" in new, "latency table does not name the share")
old = render({"status": "ok", "loads": {"200/s": lat200, "50% of max": {
    "rate": 150000, "reps": [lat_rep(60.0, 30.0)]}}})
row = [l for l in old.splitlines() if l.startswith("| 6 | latency p99 at high load")]
check(row and "| 2 [2..2] |" in row[0] and "measured at" not in row[0],
      "older run's 50%% of max row: %s" % row)

if fail:
    print("bench_quick: %d problem(s):" % len(fail))
    for f in fail:
        print("  - " + f)
    sys.exit(1)
print("bench_quick: report and results well-formed (%d headline rows)" % len(rows))
PY
