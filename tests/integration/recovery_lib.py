#!/usr/bin/env python3
"""recovery_lib.py - compare a disturbed vane run with an uninterrupted reference run.

Used by tests/integration/recovery_*.sh (issue 5: no lost or double-counted events). Every
subcommand prints what it checked on stderr and exits 0 (pass), 1 (a check failed) or 3 (not
there yet, for polling). Only the Python standard library is used: Redis is read with a small
RESP client, Kafka through files the shell wrote with `vane tail` / kcat.

  ids EVENTS.jsonl OUT             customer ids in order of first appearance, one per line
  dump URL PREFIX IDS OUT          raw state bytes of every customer (hex, JSON lines)
  positions-match REF.states RUN.states [--verbose]
                                   exit 0 when every customer's stored (partition, offset) in the
                                   run equals the reference's, 3 otherwise (--verbose prints the
                                   first differences)
  compare --ref DIR_PREFIX --run DIR_PREFIX --events EVENTS.jsonl [--allow-dup-alerts]
          [--ignore-state-fields a,b] [--no-raw] [--expect-events COUNTS.json]
                                   the checks of issue 5 (see compare()).

  corrupt EVENTS.jsonl OUTDIR FRACTION NOW_MS
                                   a stream with FRACTION bad messages (see cmd_corrupt)
  dlq-check OUTDIR DIRTY.dump DLQ.dump RUN.states EXPECT.json
                                   dead letters and positions of the corrupted stream

A run's files (written by the shell): <p>.states.jsonl (vane state get --json), <p>.raw.jsonl
(dump), <p>.alerts.jsonl (vane tail --json).
"""
import collections
import json
import socket
import sys

# --------------------------------------------------------------------------------------------
# A minimal RESP client: enough for pipelined GETs.
# --------------------------------------------------------------------------------------------


def parse_url(url):
    rest = url[len("redis://"):] if url.startswith("redis://") else url
    host, _, port = rest.rpartition(":")
    return host or "127.0.0.1", int(port.split("/")[0])


class Resp:
    def __init__(self, url, timeout=10.0):
        self.sock = socket.create_connection(parse_url(url), timeout=timeout)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, body = line[:1], line[1:]
        if kind == b"$":
            n = int(body)
            return None if n < 0 else self._exact(n)
        if kind in (b"+", b":"):
            return body
        if kind == b"-":
            raise RuntimeError("redis error: " + body.decode(errors="replace"))
        if kind == b"*":
            return [self.reply() for _ in range(int(body))]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def get_many(self, keys, chunk=500):
        out = []
        for i in range(0, len(keys), chunk):
            part = keys[i:i + chunk]
            req = b"".join(
                b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k) for k in part)
            self.sock.sendall(req)
            out.extend(self.reply() for _ in part)
        return out


def state_key(prefix, cid):
    return f"{prefix}:{{{cid}}}:s".encode()


def read_ids(path):
    return [l.strip() for l in open(path) if l.strip()]


def read_jsonl(path):
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def cmd_ids(events_path, out_path):
    seen = {}
    for line in open(events_path):
        cid = json.loads(line)["customer_id"]
        seen.setdefault(cid, None)
    with open(out_path, "w") as fh:
        fh.write("\n".join(seen) + "\n")
    return 0


def cmd_dump(url, prefix, ids_path, out_path):
    ids = read_ids(ids_path)
    vals = Resp(url).get_many([state_key(prefix, c) for c in ids])
    with open(out_path, "w") as fh:
        for cid, v in zip(ids, vals):
            fh.write(json.dumps({"customer_id": cid, "raw": v.hex() if v is not None else None}) +
                     "\n")
    missing = sum(1 for v in vals if v is None)
    print(f"dump: {len(ids) - missing} of {len(ids)} states read from {url} prefix {prefix}",
          file=sys.stderr)
    return 0


def cmd_positions_match(ref_states_path, run_states_path, verbose):
    """Compare (last_partition, last_offset) of every customer in two `vane state get --json`
    outputs. Exit 0 when all match, 3 when not (yet)."""
    ref = {s["customer_id"]: (s["last_partition"], s["last_offset"])
           for s in read_jsonl(ref_states_path)}
    try:
        run = {s["customer_id"]: (s["last_partition"], s["last_offset"])
               for s in read_jsonl(run_states_path)}
    except (OSError, ValueError):
        run = {}
    diff = [(c, ref[c], run.get(c)) for c in ref if run.get(c) != ref[c]]
    if verbose:
        print(f"positions: {len(ref) - len(diff)} of {len(ref)} customers at the reference's "
              f"position", file=sys.stderr)
        for c, want, got in diff[:10]:
            print(f"  {c}: reference {want}, run {got}", file=sys.stderr)
    return 0 if not diff else 3


def normalise_alert(a):
    a = dict(a)
    a.pop("detected_at_ms", None)  # wall clock at emission: differs between any two runs
    return a


def compare(args):
    """The checks of issue 5. Returns a list of error strings, and prints a summary."""
    ref_p, run_p = args["ref"], args["run"]
    ignore = set(args.get("ignore_state_fields") or [])
    errors = []
    events = read_jsonl(args["events"])
    sent = collections.Counter(e["customer_id"] for e in events)
    expect = sent
    if args.get("expect_events"):
        expect = collections.Counter(json.load(open(args["expect_events"])))

    # --- states ------------------------------------------------------------------------------
    ref_states = {s["customer_id"]: s for s in read_jsonl(f"{ref_p}.states.jsonl")}
    run_states = {s["customer_id"]: s for s in read_jsonl(f"{run_p}.states.jsonl")}
    n_equal = 0
    for cid in expect:
        r, s = ref_states.get(cid), run_states.get(cid)
        if r is None:
            errors.append(f"customer {cid}: no reference state")
            continue
        if s is None:
            errors.append(f"customer {cid}: no state in the run")
            continue
        if r.get("events_applied") != expect[cid]:
            errors.append(f"customer {cid}: the REFERENCE applied {r.get('events_applied')} "
                          f"events, {expect[cid]} were sent")
        if s.get("events_applied") != expect[cid]:
            errors.append(f"customer {cid}: the run applied {s.get('events_applied')} events, "
                          f"{expect[cid]} were sent (lost or double-counted)")
        keys = (set(r) | set(s)) - ignore
        diffs = [k for k in sorted(keys) if r.get(k) != s.get(k)]
        if diffs:
            errors.append(f"customer {cid}: state differs from the reference in " + ", ".join(
                f"{k} (reference {json.dumps(r.get(k))}, run {json.dumps(s.get(k))})"
                for k in diffs[:4]))
        else:
            n_equal += 1
    extra = set(run_states) - set(expect)
    if extra:
        errors.append(f"{len(extra)} unexpected customer(s) in the run, e.g. {sorted(extra)[:3]}")

    n_raw = 0
    if not args.get("no_raw"):
        ref_raw = {d["customer_id"]: d["raw"] for d in read_jsonl(f"{ref_p}.raw.jsonl")}
        run_raw = {d["customer_id"]: d["raw"] for d in read_jsonl(f"{run_p}.raw.jsonl")}
        for cid in expect:
            if ref_raw.get(cid) is None or run_raw.get(cid) is None:
                errors.append(f"customer {cid}: raw state missing (reference "
                              f"{ref_raw.get(cid) is not None}, run {run_raw.get(cid) is not None})")
            elif ref_raw[cid] != run_raw[cid]:
                errors.append(f"customer {cid}: stored state bytes differ from the reference "
                              f"({len(ref_raw[cid]) // 2} vs {len(run_raw[cid]) // 2} bytes)")
            else:
                n_raw += 1

    # --- alerts ------------------------------------------------------------------------------
    ref_alerts = read_jsonl(f"{ref_p}.alerts.jsonl")
    run_alerts = read_jsonl(f"{run_p}.alerts.jsonl")
    ref_by_id = {}
    for a in ref_alerts:
        if a["alert_id"] in ref_by_id:
            errors.append(f"the REFERENCE produced alert {a['alert_id']} twice")
        ref_by_id[a["alert_id"]] = normalise_alert(a)
    run_count = collections.Counter(a["alert_id"] for a in run_alerts)
    for aid in ref_by_id:
        if run_count[aid] == 0:
            a = ref_by_id[aid]
            errors.append(f"reference alert {aid} ({a.get('kind')} for {a.get('customer_id')}) "
                          f"missing from the run")
    for a in run_alerts:
        aid = a["alert_id"]
        if aid not in ref_by_id:
            errors.append(f"the run produced alert {aid} ({a.get('kind')} for "
                          f"{a.get('customer_id')}) that the reference did not")
            continue
        na = normalise_alert(a)
        if na != ref_by_id[aid]:
            diffs = [k for k in sorted(set(na) | set(ref_by_id[aid]))
                     if na.get(k) != ref_by_id[aid].get(k)]
            errors.append(f"alert {aid} differs from the reference's in {', '.join(diffs)}")
    dups = sum(n - 1 for n in run_count.values() if n > 1)
    if dups and not args.get("allow_dup_alerts"):
        errors.append(f"{dups} duplicate alert(s) in a run that should have none: "
                      + ", ".join(f"{k} x{n}" for k, n in run_count.items() if n > 1)[:300])
    if not ref_by_id:
        errors.append("the reference produced no alert at all: the alert check proves nothing")

    for e in errors[:40]:
        print("  " + e, file=sys.stderr)
    if len(errors) > 40:
        print(f"  ... and {len(errors) - 40} more", file=sys.stderr)
    summary = {
        "customers": len(expect), "events": sum(expect.values()),
        "states_equal": n_equal, "raw_equal": n_raw if not args.get("no_raw") else None,
        "ignored_fields": sorted(ignore), "reference_alerts": len(ref_by_id),
        "run_alerts": len(run_alerts), "duplicate_alerts": dups, "errors": len(errors),
    }
    print("compare: " + json.dumps(summary), file=sys.stderr)
    return errors



# --------------------------------------------------------------------------------------------
# Corrupted input (recovery_corrupt.sh)
# --------------------------------------------------------------------------------------------

# How each bad message is made from a real event, and the reject reason vane must give it.
# (name, expected vane-reject-reason); the "kcat" kinds are produced without content-type.
BAD_KINDS = [
    ("truncated", "json_syntax"),
    ("no_customer", "missing_field"),
    ("bad_channel", "unknown_enum"),
    ("negative_amount", "bad_value"),
    ("time_not_number", "json_type"),
    ("far_future", "bad_time"),
    ("not_utf8", "not_utf8"),
    ("long_customer", "field_too_long"),
]
KCAT_KINDS = [("garbage_protobuf", "protobuf_malformed"), ("key_mismatch", "key_mismatch")]


def make_bad(kind, line, e, n, now_ms):
    """Bytes of bad message n of `kind`, made from event e (its JSON line `line`)."""
    e = json.loads(line)
    e["event_id"] = f"{e['event_id']}-bad{n}"
    for k in ("txn", "login", "engagement", "profile"):
        e.pop(k, None)
    e["txn"] = {"kind": "DEPOSIT", "category": "DEMAND_DEPOSIT", "amount_minor": 100 + n,
                "currency": "CNY"}
    if kind == "truncated":
        full = json.dumps(e, separators=(",", ":")).encode()
        return full[:len(full) - 7]  # cut inside the txn object: "currency":"CNY"}} -> "curr
    if kind == "no_customer":
        del e["customer_id"]
    elif kind == "bad_channel":
        e["channel"] = "CARRIER_PIGEON"
    elif kind == "negative_amount":
        e["txn"]["amount_minor"] = -(100 + n)
    elif kind == "time_not_number":
        e["event_time_ms"] = [e["event_time_ms"]]
    elif kind == "far_future":
        e["event_time_ms"] = now_ms + 30 * 86400 * 1000
    elif kind == "not_utf8":
        e["txn"]["product_id"] = "@@NOTUTF8@@"
    elif kind == "long_customer":
        e["customer_id"] = e["customer_id"] + "X" * 100
    elif kind == "key_mismatch":
        pass  # a valid event; the shell produces it with another customer's key
    elif kind == "garbage_protobuf":
        rnd = (n * 2654435761) & 0xFFFFFFFF
        out = bytearray([0x0a, 0x7f])  # field 1, length 127, but far fewer bytes follow
        for _ in range(40):
            rnd = (rnd * 1103515245 + 12345) & 0x7FFFFFFF
            out.append(0x20 + (rnd >> 16) % 0x5e)  # printable, no newline or tab
        return bytes(out)
    b = json.dumps(e, separators=(",", ":")).encode()
    return b.replace(b"@@NOTUTF8@@", b"F-\xff\xfe-1")


def cmd_corrupt(events_path, outdir, fraction, now_ms):
    """Write OUTDIR/dirty.jsonl (every event, plus bad messages so that they make `fraction` of
    all messages, for `vane gen --raw-in`), OUTDIR/kcat/NNN.{key,val} (bad messages that need
    their own key or no content-type), and OUTDIR/bad.json describing every bad message."""
    import os
    lines = open(events_path, "rb").read().splitlines()
    events = [json.loads(l) for l in lines]
    n_bad = round(len(lines) * fraction / (1 - fraction))
    n_kcat = 20
    n_raw = n_bad - n_kcat
    every = len(lines) / n_raw
    bad = []
    os.makedirs(f"{outdir}/kcat", exist_ok=True)
    with open(f"{outdir}/dirty.jsonl", "wb") as out:
        k = 0
        next_at = every / 2
        for i, line in enumerate(lines):
            out.write(line + b"\n")
            while k < n_raw and i + 1 >= next_at:
                kind, reason = BAD_KINDS[k % len(BAD_KINDS)]
                payload = make_bad(kind, line.decode(), events[i], k, now_ms)
                assert b"\n" not in payload
                out.write(payload + b"\n")
                bad.append({"kind": kind, "reason": reason, "hex": payload.hex(), "via": "raw"})
                k += 1
                next_at += every
    for j in range(n_kcat):
        kind, reason = KCAT_KINDS[j % len(KCAT_KINDS)]
        i = (j * 7919) % len(lines)
        payload = make_bad(kind, lines[i].decode(), events[i], n_raw + j, now_ms)
        key = events[i]["customer_id"]
        if kind == "key_mismatch":
            key = events[(i + 1) % len(lines)]["customer_id"]
            if key == events[i]["customer_id"]:
                key += "Z"
        open(f"{outdir}/kcat/{j:03d}.val", "wb").write(payload)
        open(f"{outdir}/kcat/{j:03d}.key", "w").write(key)
        bad.append({"kind": kind, "reason": reason, "hex": payload.hex(), "via": "kcat",
                    "key": key})
    json.dump(bad, open(f"{outdir}/bad.json", "w"))
    print(f"corrupt: {len(lines)} good events, {len(bad)} bad messages "
          f"({100.0 * len(bad) / (len(lines) + len(bad)):.2f}% of {len(lines) + len(bad)})",
          file=sys.stderr)
    return 0


def read_kcat_dump(path, with_headers):
    """Messages dumped by kcat -f '%p %o %K %S\n%k%s\n' (+ '%h\n' when with_headers)."""
    data = open(path, "rb").read()
    out = []
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        p, o, klen, vlen = (int(x) for x in data[pos:nl].split())
        pos = nl + 1
        klen, vlen = max(klen, 0), max(vlen, 0)
        key = data[pos:pos + klen]
        pos += klen
        val = data[pos:pos + vlen]
        pos += vlen
        assert data[pos:pos + 1] == b"\n", f"kcat dump out of step at byte {pos}"
        pos += 1
        hdrs = {}
        if with_headers:
            nl = data.index(b"\n", pos)
            hdrs = parse_headers(data[pos:nl].decode(errors="replace"))
            pos = nl + 1
        out.append({"p": p, "o": o, "key": key, "val": val, "headers": hdrs})
    return out


HEADER_NAMES = ["content-type", "vane-reject-reason", "vane-reject-field", "vane-reject-message",
                "vane-source-topic", "vane-source-partition", "vane-source-offset"]


def parse_headers(text):
    """kcat's %h is "name=value,name=value"; values may hold commas, so split on known names."""
    import re
    pat = re.compile(r"(?:^|,)(" + "|".join(re.escape(n) for n in HEADER_NAMES) + r")=")
    ms = list(pat.finditer(text))
    out = {}
    for i, m in enumerate(ms):
        end = ms[i + 1].start() if i + 1 < len(ms) else len(text)
        out[m.group(1)] = text[m.end():end]
    return out


def cmd_dlq_check(outdir, dirty_dump, dlq_dump, run_states, expect_out):
    """Every bad message is in the DLQ exactly once with the right reason and source position;
    every customer's stored position is its last good message. Writes the good-event counts per
    customer to expect_out (for compare --expect-events)."""
    errors = []
    bad = json.load(open(f"{outdir}/bad.json"))
    bad_by_payload = collections.defaultdict(list)
    for b in bad:
        bad_by_payload[bytes.fromhex(b["hex"])].append(b)
    src = read_kcat_dump(dirty_dump, False)
    by_pos = {(m["p"], m["o"]): m for m in src}
    dlq = read_kcat_dump(dlq_dump, True)
    # Dead letters.
    seen = collections.Counter()
    reasons = collections.Counter()
    for m in dlq:
        h = m["headers"]
        b = bad_by_payload.get(m["val"])
        if not b:
            errors.append(f"dead letter at dlq[{m['p']}]@{m['o']} is not one of the bad messages: "
                          f"{m['val'][:60]!r} ({h.get('vane-reject-reason')})")
            continue
        seen[m["val"]] += 1
        want = b[0]["reason"]
        reasons[h.get("vane-reject-reason")] += 1
        if h.get("vane-reject-reason") != want:
            errors.append(f"{b[0]['kind']} message: reason {h.get('vane-reject-reason')!r}, want "
                          f"{want!r} ({h.get('vane-reject-message')})")
        if h.get("vane-source-topic") != "bank.events":
            errors.append(f"{b[0]['kind']} message: vane-source-topic {h.get('vane-source-topic')!r}")
        try:
            pos = (int(h.get("vane-source-partition")), int(h.get("vane-source-offset")))
        except (TypeError, ValueError):
            errors.append(f"{b[0]['kind']} message: bad source position headers {h}")
            continue
        orig = by_pos.get(pos)
        if orig is None or orig["val"] != m["val"]:
            errors.append(f"{b[0]['kind']} message: source position {pos} does not hold it")
        elif orig["key"] != m["key"]:
            errors.append(f"{b[0]['kind']} message: dead letter key {m['key']!r}, source key "
                          f"{orig['key']!r}")
        if not h.get("vane-reject-message"):
            errors.append(f"{b[0]['kind']} message: empty vane-reject-message")
    for payload, bs in bad_by_payload.items():
        if seen[payload] != len(bs):
            errors.append(f"{bs[0]['kind']} message {payload[:50]!r}: {seen[payload]} dead "
                          f"letter(s), want {len(bs)}")
    # The source topic holds exactly the bad messages and the good events.
    good = [m for m in src if m["val"] not in bad_by_payload]
    n_bad_src = len(src) - len(good)
    if n_bad_src != len(bad):
        errors.append(f"bank.events holds {n_bad_src} bad messages, {len(bad)} were produced")
    # Positions: every customer's state is at its last good message.
    last = {}
    counts = collections.Counter()
    for m in sorted(good, key=lambda m: (m["p"], m["o"])):
        cid = json.loads(m["val"])["customer_id"]
        last[cid] = (m["p"], m["o"])
        counts[cid] += 1
    states = {s["customer_id"]: s for s in read_jsonl(run_states)}
    wrong = [(c, last[c], (states[c]["last_partition"], states[c]["last_offset"]) if c in states
              else None) for c in last
             if c not in states or (states[c]["last_partition"], states[c]["last_offset"]) != last[c]]
    for c, want, got in wrong[:10]:
        errors.append(f"customer {c}: stored position {got}, its last good message is at {want}")
    if len(wrong) > 10:
        errors.append(f"... {len(wrong) - 10} more customers at the wrong position")
    json.dump(counts, open(expect_out, "w"))
    for e in errors[:40]:
        print("  " + e, file=sys.stderr)
    print("dlq-check: " + json.dumps({
        "bad_messages": len(bad), "dead_letters": len(dlq), "good_events": len(good),
        "reasons": dict(sorted(reasons.items())), "customers": len(last),
        "positions_ok": len(last) - len(wrong), "errors": len(errors)}), file=sys.stderr)
    return 1 if errors else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "ids" and len(argv) == 4:
        return cmd_ids(argv[2], argv[3])
    if cmd == "dump" and len(argv) == 6:
        return cmd_dump(*argv[2:6])
    if cmd == "positions-match" and len(argv) in (4, 5):
        return cmd_positions_match(argv[2], argv[3], len(argv) == 5 and argv[4] == "--verbose")
    if cmd == "corrupt" and len(argv) == 6:
        return cmd_corrupt(argv[2], argv[3], float(argv[4]), int(argv[5]))
    if cmd == "dlq-check" and len(argv) == 7:
        return cmd_dlq_check(*argv[2:7])
    if cmd == "compare":
        args = {}
        i = 2
        while i < len(argv):
            a = argv[i]
            if a in ("--ref", "--run", "--events", "--expect-events"):
                args[a[2:].replace("-", "_")] = argv[i + 1]
                i += 2
            elif a == "--ignore-state-fields":
                args["ignore_state_fields"] = [f for f in argv[i + 1].split(",") if f]
                i += 2
            elif a in ("--allow-dup-alerts", "--no-raw"):
                args[a[2:].replace("-", "_")] = True
                i += 1
            else:
                print(f"recovery_lib: unknown option {a}", file=sys.stderr)
                return 2
        return 1 if compare(args) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
