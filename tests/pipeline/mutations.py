#!/usr/bin/env python3
"""mutations.py - check that unit.test_pipeline_races can fail: disable, one at a time, each
line of daemon/core/pipeline.c a race test covers, rebuild the test and run it; every mutant
must make at least one test fail. Restores pipeline.c afterwards (also on error or Ctrl-C).
Not part of the suite (it rebuilds seven times); run it after changing pipeline.c's race
handling or the tests:

    python3 tests/pipeline/mutations.py [BUILD_DIR]     (default build-rel)
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "daemon", "core", "pipeline.c")

# name -> (text in pipeline.c, the mutant's text)
MUTANTS = {
    "a failed write is re-dirtied only while its partition is assigned": (
        "        if (vane_offsets_assigned(pl->offsets, e->partition)) {\n"
        "            e->state_changed = 1;",
        "        if (1) {\n            e->state_changed = 1;"),
    "the same for a failed timer-index write": (
        "            if (!vane_offsets_assigned(pl->offsets, e->partition))\n"
        "                continue; /* not ours any more (see on_state_written) */",
        "            if (0)\n                continue;"),
    "an entry of an earlier assignment is dropped (generation compare)": (
        "e->owner_gen != pl->gen[e->partition] && vane_cache_removable(e)",
        "0 && vane_cache_removable(e)"),
    "a loaded timer fires only while its partition is owned": (
        "        if (owned(pl, e->partition)) {\n            int64_t now = wall_ms();",
        "        if (owned(pl, e->partition) || 1) {\n            int64_t now = wall_ms();"),
    "a waiting event of a lost partition is not applied": (
        "vane_offsets_assigned(pl->offsets, m->partition) && !pl->revoke_lost &&",
        "vane_offsets_assigned(pl->offsets, m->partition) &&"),
    "a revoke waits for the loads of its partitions": (
        "        if (pl->revoking[p] && vane_offsets_waiting(pl->offsets, p) > 0)",
        "        if (0 && pl->revoking[p] && vane_offsets_waiting(pl->offsets, p) > 0)"),
    "every partition pauses during a revoke": (
        "pl->paused_writes || pl->revoke_pending || pl->state >= RUN_DRAINING;",
        "pl->paused_writes || pl->state >= RUN_DRAINING;"),
}


def run(build):
    r = subprocess.run(["cmake", "--build", build, "--target", "test_pipeline_races"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run([os.path.join(build, "tests", "test_pipeline_races")],
                       capture_output=True, text=True, timeout=300)
    failed = sorted({l.split()[-1] for l in r.stdout.splitlines()
                     if l.startswith("[  FAILED  ] test_")})
    return failed, ""


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-rel")
    orig = open(SRC).read()
    survived = 0
    try:
        for name, (text, mutant) in MUTANTS.items():
            if orig.count(text) != 1:
                print("?? %s: the line is not in pipeline.c any more; update this script" % name)
                survived += 1
                continue
            with open(SRC, "w") as f:
                f.write(orig.replace(text, mutant))
            failed, err = run(build)
            if failed is None:
                print("?? %s: the mutant did not build:\n%s" % (name, err))
                survived += 1
            elif not failed:
                print("SURVIVED %s" % name)
                survived += 1
            else:
                print("caught   %s: %s" % (name, ", ".join(failed)))
    finally:
        with open(SRC, "w") as f:
            f.write(orig)
    failed, err = run(build)
    if failed is None or failed:
        print("the unmutated test does not pass: %s%s" % (failed, err))
        return 1
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
