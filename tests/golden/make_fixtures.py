#!/usr/bin/env python3
"""Writes the tests/golden fixture directories (events.jsonl, expected.jsonl, README, options).

The fixtures are committed; this script is how they were made: python3 make_fixtures.py [OUTDIR]
(default: beside this script). Each case is one customer with a regular history (daily
logins, deposits or purchases every 5 days, product views every 9 days, two services) and then
the behaviour under test. Expected lines list only the fields that matter (see vane help rules).
"""
import json, os, sys

T0 = 1735689600000  # 2025-01-01T00:00:00Z
H = 3600 * 1000
D = 24 * H
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))


class Cust:
    def __init__(self, cid, segment="affluent"):
        self.cid, self.ev, self.n, self.segment = cid, [], 0, segment

    def add(self, t, payload, channel="MOBILE"):
        self.n += 1
        e = {"event_id": "%s-%03d" % (self.cid, self.n), "customer_id": self.cid,
             "event_time_ms": int(t), "channel": channel}
        e.update(payload)
        self.ev.append(e)
        return e

    def profile(self, t, since_days=900):
        self.add(t, {"profile": {"segment": self.segment, "since_ms": int(t - since_days * D),
                                 "manager_id": "M7", "tier": "line_management"}}, "BRANCH")

    def login(self, t):
        self.add(t, {"login": {"success": True, "device_id": "d-" + self.cid}})

    def txn(self, t, kind, cat, amount, balance, product=None, bank=None, channel="MOBILE"):
        x = {"kind": kind, "category": cat, "amount_minor": int(amount), "currency": "CNY",
             "balance_after_minor": int(balance)}
        if product:
            x["product_id"] = product
        if bank:
            x["counterparty_bank"] = bank
        return self.add(t, {"txn": x}, channel)

    def eng(self, t, kind, **kw):
        x = {"kind": kind}
        x.update(kw)
        return self.add(t, {"engagement": x})


def history(c, days, cats, assets, logins_per_day=1, views=True):
    """A quiet, regular customer: profile, daily logins, a deposit every 5 days in its own
    categories, a view of a held category every 9 days, a subscribed service."""
    c.profile(T0)
    c.eng(T0 + 2 * H, "SERVICE_SUBSCRIBE", service="sms_alerts")
    c.eng(T0 + 3 * H, "SERVICE_SUBSCRIBE", service="e_statement")
    bal = assets
    for d in range(days):
        for k in range(logins_per_day):
            c.login(T0 + d * D + 9 * H + k * 5 * H + (d * 37 % 60) * 60000)
        if d % 5 == 2:
            cat = cats[(d // 5) % len(cats)]
            bal += 200000
            c.txn(T0 + d * D + 10 * H, "DEPOSIT" if cat == "DEMAND_DEPOSIT" else "PURCHASE", cat,
                  200000, bal, product=cat[:2] + "-1")
        if views and d % 9 == 4:
            c.eng(T0 + d * D + 11 * H, "PRODUCT_VIEW", category=cats[(d // 9) % len(cats)])
    return bal


def write(name, custs, why, expected, options=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    evs = sorted((e for c in custs for e in c.ev), key=lambda e: (e["event_time_ms"], e["event_id"]))
    with open(os.path.join(d, "events.jsonl"), "w") as f:
        for e in evs:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    with open(os.path.join(d, "expected.jsonl"), "w") as f:
        for x in expected:
            f.write(json.dumps(x, separators=(",", ":")) + "\n")
    with open(os.path.join(d, "README"), "w") as f:
        f.write(why + "\n")
    if options:
        with open(os.path.join(d, "options"), "w") as f:
            f.write(options)


def main():
    # ---- REDEMPTION_SURGE: 3 redemptions within 3 hours, 60% of assets -> HIGH, one alert
    c = Cust("C100")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "FUND", "BOND"], 96000000)
    t = T0 + 40 * D + 10 * H
    ids = []
    for k in range(4):
        bal -= 20000000
        ids.append(c.txn(t + k * H, "REDEMPTION", "FUND", 20000000, bal, product="FU-%d" % k)["event_id"])
    write("redemption_surge_basic", [c],
          "3 fund redemptions within 3 hours worth >= half the assets: one HIGH REDEMPTION_SURGE, "
          "and the 4th redemption inside the cooldown adds no second alert",
          [{"kind": "REDEMPTION_SURGE", "rule_id": "REDEMPTION_SURGE", "customer_id": "C100",
            "severity": "HIGH", "event_ids": ids[:3], "summary": "3 redemptions totalling",
            "features": {"count": 3, "share": ">= 0.5"}}])

    # ---- REDEMPTION_SURGE, MEDIUM: small redemptions
    c = Cust("C101")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "FUND"], 96000000)
    t = T0 + 40 * D + 10 * H
    for k in range(3):
        bal -= 1000000
        c.txn(t + k * 2 * H, "REDEMPTION", "FUND", 1000000, bal, product="FU-%d" % k)
    write("redemption_surge_small_medium", [c],
          "3 small redemptions within 4 hours: REDEMPTION_SURGE at MEDIUM (share of assets < 0.5)",
          [{"kind": "REDEMPTION_SURGE", "customer_id": "C101", "severity": "MEDIUM",
            "features": {"count": 3, "share": "< 0.5"}}])

    # ---- CANCELLATION_SURGE
    c = Cust("C200", "mass")
    history(c, 40, ["DEMAND_DEPOSIT", "TIME_DEPOSIT"], 20000000)
    t = T0 + 40 * D + 10 * H
    c.eng(t, "SERVICE_CANCEL", service="sms_alerts")
    c.eng(t + 20 * H, "CONTACT_REFUSED")
    c.eng(t + 40 * H, "SERVICE_CANCEL", service="e_statement")
    write("cancellation_surge_basic", [c],
          "two service cancellations and a refused contact within 2 days: CANCELLATION_SURGE MEDIUM",
          [{"kind": "CANCELLATION_SURGE", "customer_id": "C200", "severity": "MEDIUM",
            "features": {"cancellations": 3, "refused": 1, "closures": 0}}])

    c = Cust("C201", "mass")
    history(c, 40, ["DEMAND_DEPOSIT", "TIME_DEPOSIT"], 20000000)
    t = T0 + 40 * D + 10 * H
    c.eng(t, "SERVICE_CANCEL", service="sms_alerts")
    c.eng(t + 30 * H, "ACCOUNT_CLOSE", product_id="TD-1")
    write("cancellation_surge_account_close", [c],
          "a service cancellation then an account closure: two are enough when one closes an "
          "account, and the closure makes it HIGH",
          [{"kind": "CANCELLATION_SURGE", "customer_id": "C201", "severity": "HIGH",
            "features": {"cancellations": 2, "closures": 1}}])

    # ---- OUTFLOW_SURGE: 2 transfers to another bank, 70% of assets within 2 days -> HIGH
    c = Cust("C300")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "TIME_DEPOSIT"], 30000000)
    t = T0 + 40 * D + 10 * H
    out1 = bal * 35 // 100
    bal -= out1
    c.txn(t, "TRANSFER_OUT", "DEMAND_DEPOSIT", out1, bal, bank="OTHERBANK")
    bal2 = bal - out1
    c.txn(t + 30 * H, "TRANSFER_OUT", "DEMAND_DEPOSIT", out1, bal2, bank="OTHERBANK")
    write("outflow_surge_basic", [c],
          "two transfers to another bank moving 70% of the assets within 30 hours: OUTFLOW_SURGE "
          "(MEDIUM at the first, over 30%; escalated to HIGH at the second, over 60%)",
          [{"kind": "OUTFLOW_SURGE", "customer_id": "C300", "severity": "MEDIUM",
            "features": {"transfers": 1, "share": "0.3..0.6"}},
           {"kind": "OUTFLOW_SURGE", "customer_id": "C300", "severity": "HIGH",
            "features": {"transfers": 2, "share": ">= 0.6"}}])

    # ---- PREFERENCE_SHIFT: a deposit saver starts looking at and buying funds
    c = Cust("C400", "mass")
    bal = history(c, 60, ["TIME_DEPOSIT", "DEMAND_DEPOSIT"], 30000000)
    t = T0 + 60 * D + 10 * H
    for k in range(4):
        c.eng(t + k * 10 * H, "PRODUCT_VIEW", category="FUND", product_id="FU-9")
    bal -= 6000000
    c.txn(t + 48 * H, "PURCHASE", "FUND", 6000000, bal, product="FU-9")
    write("preference_shift_deposit_to_fund", [c],
          "a saver who only held deposits views a fund 4 times and buys it: PREFERENCE_SHIFT "
          "toward FUND (the marketing opportunity), one alert",
          [{"kind": "PREFERENCE_SHIFT", "customer_id": "C400", "severity": "LOW",
            "to_category": "FUND", "features": {"divergence": ">= 0.25"}}])

    # ---- DORMANCY: a daily user goes quiet; the timer fires once the watermark passes
    c = Cust("C500", "mass")
    history(c, 45, ["DEMAND_DEPOSIT"], 5000000)
    last = max(e["event_time_ms"] for e in c.ev)
    write("dormancy_quiet_stream", [c],
          "a customer who logged in daily for 45 days goes silent: DORMANCY once 14 days pass "
          "(the timer is driven by the watermark; options flush it to 40 days after the end)",
          [{"kind": "DORMANCY", "customer_id": "C500", "severity": "LOW",
            "event_time_ms": last + 14 * D, "features": {"quiet": ">= 1209600000"}}],
          options="# the recording ends when the customer goes quiet: let event time run on\n"
                  "flush_timers_until +40d\n")

    c = Cust("C501", "mass")
    history(c, 45, ["DEMAND_DEPOSIT"], 5000000)
    write("dormancy_not_yet", [c],
          "hard negative: the same daily user, but only 10 quiet days have passed at the end of "
          "the recording: no DORMANCY yet",
          [], options="flush_timers_until +10d\n")

    # ---- DETRACTOR
    c = Cust("C600")
    history(c, 30, ["DEMAND_DEPOSIT", "FUND"], 50000000)
    t = T0 + 30 * D + 10 * H
    c.eng(t, "SURVEY", score=3)
    for d in range(1, 4):
        c.login(t + d * D)
    write("detractor_no_contact_24h", [c],
          "a survey scored 3 alerts a supervisor at once (MEDIUM); nobody accepts contact within "
          "24 hours, so a HIGH follow-up comes 24h later",
          [{"kind": "DETRACTOR", "customer_id": "C600", "severity": "MEDIUM", "route": "supervisor",
            "event_time_ms": t, "features": {"score": 3}},
           {"kind": "DETRACTOR", "customer_id": "C600", "severity": "HIGH",
            "event_time_ms": t + 24 * H}])

    c = Cust("C601")
    history(c, 30, ["DEMAND_DEPOSIT", "FUND"], 50000000)
    t = T0 + 30 * D + 10 * H
    c.eng(t, "SURVEY", score=5)
    c.eng(t + 3 * H, "CONTACT_ACCEPTED")
    for d in range(1, 4):
        c.login(t + d * D)
    write("detractor_contacted_in_time", [c],
          "a survey scored 5, contact accepted 3 hours later: the immediate MEDIUM alert only, "
          "the 24h follow-up is cancelled",
          [{"kind": "DETRACTOR", "customer_id": "C601", "severity": "MEDIUM",
            "features": {"score": 5}}])

    # ---- DECLINE_RISK: redemptions spread out + cancellations + a detractor survey
    c = Cust("C700")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "FUND", "BOND"], 90000000)
    t = T0 + 40 * D + 10 * H
    c.eng(t, "COMPLAINT")
    c.eng(t + 1 * D, "SERVICE_CANCEL", service="sms_alerts")
    bal -= 15000000
    c.txn(t + 2 * D, "REDEMPTION", "FUND", 15000000, bal, product="FU-1")
    c.eng(t + 4 * D, "SURVEY", score=2)
    c.eng(t + 4 * D + 2 * H, "CONTACT_ACCEPTED")
    bal -= 15000000
    c.txn(t + 5 * D, "REDEMPTION", "BOND", 15000000, bal, product="BO-1")
    c.eng(t + 7 * D, "SERVICE_CANCEL", service="e_statement")
    bal -= 15000000
    c.txn(t + 9 * D, "REDEMPTION", "FUND", 15000000, bal, product="FU-2")
    write("decline_risk_combined", [c],
          "no single surge, but a complaint, cancellations, a detractor survey, redemptions days "
          "apart and logins that stop add up: DECLINE_RISK (plus the survey's own DETRACTOR alert)",
          [{"kind": "DETRACTOR", "customer_id": "C700", "severity": "MEDIUM"},
           {"kind": "DECLINE_RISK", "customer_id": "C700", "severity": "HIGH",
            "features": {"risk": ">= 0.6", "redemptions": ">= 2",
                         "engagement_drop": "> 0.5"}}])

    # ---- hard negatives
    c = Cust("C800")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "FUND"], 50000000)
    c.txn(T0 + 40 * D + 10 * H, "PURCHASE", "PRECIOUS_METAL", 45000000, bal, product="PM-1")
    write("negative_single_large_purchase", [c],
          "hard negative: one very large purchase of a never-used category is not a preference "
          "shift (not enough evidence) and nothing else", [])

    c = Cust("C801")
    bal = history(c, 40, ["DEMAND_DEPOSIT", "FUND"], 50000000)
    c.txn(T0 + 40 * D + 10 * H, "REDEMPTION", "FUND", 30000000, bal - 30000000, product="FU-1")
    write("negative_one_redemption", [c],
          "hard negative: a single redemption, even of 60% of the assets, is not a surge", [])

    c = Cust("C802", "mass")
    history(c, 40, ["DEMAND_DEPOSIT"], 5000000)
    c.eng(T0 + 40 * D + 10 * H, "SERVICE_CANCEL", service="sms_alerts")
    write("negative_one_service_cancel", [c],
          "hard negative: one service cancellation is not a cancellation surge", [])

    c = Cust("C803")
    history(c, 40, ["DEMAND_DEPOSIT", "FUND"], 50000000)
    c.eng(T0 + 35 * D + 10 * H, "SURVEY", score=10)
    c.eng(T0 + 38 * D + 10 * H, "SURVEY", score=9)
    c.eng(T0 + 39 * D + 10 * H, "SURVEY", score=7)
    write("negative_promoter_survey", [c],
          "hard negative: promoters (10, 9) and a passive (7) never trigger DETRACTOR, even with "
          "no contact afterwards", [], options="flush_timers_until +2d\n")

    c = Cust("C804")
    bal = history(c, 40, ["DEMAND_DEPOSIT"], 20000000)
    c.txn(T0 + 40 * D + 10 * H, "TRANSFER_OUT", "DEMAND_DEPOSIT", 1000000, bal - 1000000,
          bank="OTHERBANK")
    c.txn(T0 + 41 * D + 10 * H, "PAYMENT", "DEMAND_DEPOSIT", 3000000, bal - 4000000,
          bank="UTILITY")
    write("negative_small_transfer_out", [c],
          "hard negative: a 5% transfer to another bank and a bill payment are not an outflow surge",
          [])

    # A small account with a monthly standing order to another bank of ~10,000.00, 40-70% of the
    # balance each time: the first one is new behaviour and fires; the repeats are the
    # customer's habit (not twice its usual transfer out) and do not.
    c = Cust("C805", "mass")
    c.profile(T0)
    bal = 300000
    ids = []
    for d in range(100):
        c.login(T0 + d * D + 9 * H + (d * 37 % 60) * 60000)
        if d % 30 == 1:
            bal += 1200000
            c.txn(T0 + d * D + 7 * H, "DEPOSIT", "DEMAND_DEPOSIT", 1200000, bal, bank="EMPLOYER")
        if d % 30 == 3:
            bal -= 1000000
            ids.append(c.txn(T0 + d * D + 8 * H, "TRANSFER_OUT", "DEMAND_DEPOSIT", 1000000, bal,
                             bank="OTHERBANK")["event_id"])
    write("negative_standing_order", [c],
          "hard negative: a monthly standing order that moves most of a small balance to another "
          "bank alerts once, at its first occurrence (%s); the next ones (%s) are the habit"
          % (ids[0], ", ".join(ids[1:])),
          [{"kind": "OUTFLOW_SURGE", "customer_id": "C805", "event_ids": [ids[0]],
            "features": {"transfers": 1}}])


main()


def custom():
    c = Cust("C900", "mass")
    bal = history(c, 20, ["DEMAND_DEPOSIT"], 30000000)
    t = T0 + 20 * D + 10 * H
    c.txn(t, "WITHDRAWAL", "DEMAND_DEPOSIT", 2000000, bal - 2000000, channel="ATM")
    c.txn(t + 2 * H, "WITHDRAWAL", "DEMAND_DEPOSIT", 12000000, bal - 14000000, channel="BRANCH")
    write("custom_rule_local_file", [c],
          "a bank's own rule in DIR/rules.yaml (kind CUSTOM) is loaded instead of the shipped "
          "rules: only the large cash withdrawal fires",
          [{"kind": "CUSTOM", "rule_id": "LARGE_CASH_WITHDRAWAL", "customer_id": "C900",
            "severity": "INFO", "features": {"amount": 12000000}, "summary": "120000.00"}])
    with open(os.path.join(OUT, "custom_rule_local_file", "rules.yaml"), "w") as f:
        f.write("""# A local rule, as a bank would keep next to its fixtures.
- required_engine_version: 1

- rule: LARGE_CASH_WITHDRAWAL
  desc: A single cash withdrawal of 100,000.00 or more (an example of a bank's own rule).
  kind: CUSTOM
  severity: INFO
  on: [txn.WITHDRAWAL]
  condition: ev.amount >= 10000000
  features:
    amount: ev.amount
  summary: "cash withdrawal of {amount:money}"
  route: frontline
  tags: [local]
""")


custom()
