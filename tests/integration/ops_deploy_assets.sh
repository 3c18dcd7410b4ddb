#!/usr/bin/env bash
# Deployment assets (issue 7, item 5) are checked by the tools that consume them:
#   - deploy/systemd/vane.service: `systemd-analyze verify` (skipped with a message when absent);
#   - deploy/prometheus: `promtool check config`, `promtool check rules`, and the alert unit
#     tests (`promtool test rules vane-alerts.test.yml`): each alert fires for a failing
#     instance and not for a healthy one;
#   - every metric named by an alert rule or a Grafana panel exists in docs/metrics.md (which a
#     unit test keeps equal to the registry);
#   - deploy/grafana/vane-dashboard.json: valid JSON, every panel has a datasource, a position
#     and at least one non-empty expr, ids unique;
#   - deploy/kubernetes: every manifest parses; selectors, ports, probe ports, the Prometheus
#     annotation and the grace periods agree with each other and with the ConfigMap's vane.yaml,
#     which `vane run --check-config` accepts;
#   - deploy/vane.example.yaml passes `vane run --check-config`; a broken copy is refused with
#     file:line.
source "$(dirname "$0")/lib.sh"
vt_init ops_deploy_assets
D="$VANE_SOURCE_DIR/deploy"
RULES="$VANE_SOURCE_DIR/rules/default.yaml"

# --- systemd ---------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify checks that ExecStart exists: point the copy at the binary under test
    sed "s#/usr/bin/vane#$VANE_BIN#g" "$D/systemd/vane.service" >"$VT_DIR/vane.service"
    out=$(systemd-analyze verify "$VT_DIR/vane.service" 2>&1) ||
        vt_fail "systemd-analyze verify failed: $out"
    [[ -z "$out" ]] || vt_fail "systemd-analyze verify warned: $out"
    vt_log "systemd unit verified"
else
    vt_log "SKIP systemd unit check: systemd-analyze is not installed"
fi

# --- Prometheus ------------------------------------------------------------------------------
command -v promtool >/dev/null 2>&1 || vt_fail "promtool not installed (Debian package prometheus)"
(cd "$D/prometheus" && promtool check config prometheus.yml) >"$VT_DIR/promtool.log" 2>&1 ||
    vt_fail "promtool check config: $(cat "$VT_DIR/promtool.log")"
promtool check rules "$D/prometheus/vane-alerts.yml" >>"$VT_DIR/promtool.log" 2>&1 ||
    vt_fail "promtool check rules: $(cat "$VT_DIR/promtool.log")"
(cd "$D/prometheus" && promtool test rules vane-alerts.test.yml) >>"$VT_DIR/promtool.log" 2>&1 ||
    vt_fail "alert rule unit tests failed: $(cat "$VT_DIR/promtool.log")"
vt_log "prometheus config, rules and alert unit tests pass"

# --- metric names, Grafana, Kubernetes: one Python pass -------------------------------------
python3 - "$VANE_SOURCE_DIR" "$VT_DIR" <<'PY' || vt_fail "asset consistency checks failed (see above)"
import json, os, re, sys
root, tmp = sys.argv[1], sys.argv[2]
errors = []
def err(msg):
    errors.append(msg)
    print("ERROR:", msg, file=sys.stderr)

# the metric reference, generated from the registry
md = open(os.path.join(root, "docs/metrics.md")).read()
known = {}
for m in re.finditer(r"^\| `(vane_[a-z0-9_]+)` \| (\w+) \|", md, re.M):
    known[m.group(1)] = m.group(2)
if len(known) < 15:
    err(f"docs/metrics.md lists only {len(known)} metrics")

def metric_names(expr):
    names = set()
    for n in re.findall(r"\b(vane_[a-z0-9_]+)", expr):
        base = n
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and n[: -len(suf)] in known and known[n[: -len(suf)]] == "histogram":
                base = n[: -len(suf)]
        names.add(base)
    return names

def check_expr(where, expr):
    names = metric_names(expr)
    if not names and "up" not in expr:
        err(f"{where}: expression names no vane metric: {expr!r}")
    for n in names:
        if n not in known:
            err(f"{where}: unknown metric {n} (not in docs/metrics.md)")

# alert rules
try:
    import yaml
except ImportError:
    yaml = None
    print("python3-yaml missing: YAML files are checked by promtool/vane only", file=sys.stderr)
if yaml:
    rules = yaml.safe_load(open(os.path.join(root, "deploy/prometheus/vane-alerts.yml")))
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    for r in alerts:
        check_expr(f"alert {r['alert']}", r["expr"])
    wanted = {"VaneConsumerLagGrowing", "VaneDecodeErrors", "VaneRedisDown", "VaneNoEvents", "VaneNotReady"}
    missing = wanted - {r["alert"] for r in alerts}
    if missing:
        err(f"alert rules missing: {sorted(missing)}")
    tested = yaml.safe_load(open(os.path.join(root, "deploy/prometheus/vane-alerts.test.yml")))
    covered = {t["alertname"] for case in tested["tests"] for t in case.get("alert_rule_test", [])
               if t.get("exp_alerts")}
    untested = {r["alert"] for r in alerts} - covered
    if untested:
        err(f"alerts without a firing unit test: {sorted(untested)}")

# Grafana
dash = json.load(open(os.path.join(root, "deploy/grafana/vane-dashboard.json")))
ids = set()
exprs = 0
for p in dash["panels"]:
    t = p.get("title", "?")
    if p.get("id") in ids:
        err(f"panel {t}: duplicate id {p.get('id')}")
    ids.add(p.get("id"))
    for k in ("gridPos", "datasource", "targets"):
        if k not in p:
            err(f"panel {t}: no {k}")
    for tg in p.get("targets", []):
        e = tg.get("expr", "").strip()
        if not e:
            err(f"panel {t}: empty expr")
            continue
        exprs += 1
        check_expr(f"panel {t}", e)
titles = " ".join(p["title"].lower() for p in dash["panels"])
for word in ("throughput", "lag", "latency", "alerts by kind"):
    if word not in titles:
        err(f"dashboard has no panel about {word}")
print(f"dashboard: {len(dash['panels'])} panels, {exprs} expressions checked", file=sys.stderr)

# Kubernetes
if yaml:
    kdir = os.path.join(root, "deploy/kubernetes")
    objs = {}
    for f in sorted(os.listdir(kdir)):
        if not f.endswith(".yaml"):
            continue
        for d in yaml.safe_load_all(open(os.path.join(kdir, f))):
            if not d:
                continue
            for k in ("apiVersion", "kind"):
                if k not in d:
                    err(f"{f}: document without {k}")
            if d.get("kind") != "Kustomization" and not d.get("metadata", {}).get("name"):
                err(f"{f}: {d.get('kind')} without metadata.name")
            objs.setdefault(d["kind"], []).append((f, d))
    for kind in ("Deployment", "ConfigMap", "Service", "PodDisruptionBudget"):
        if kind not in objs:
            err(f"kubernetes: no {kind}")
    kust = objs["Kustomization"][0][1]
    for res in kust["resources"]:
        if not os.path.exists(os.path.join(kdir, res)):
            err(f"kustomization lists missing {res}")
    dep = objs["Deployment"][0][1]
    tmpl = dep["spec"]["template"]
    labels = tmpl["metadata"]["labels"]
    def selects(sel):
        return all(labels.get(k) == v for k, v in sel.items())
    if not selects(dep["spec"]["selector"]["matchLabels"]):
        err("Deployment selector does not match its pod labels")
    for f, pdb in objs["PodDisruptionBudget"]:
        if not selects(pdb["spec"]["selector"]["matchLabels"]):
            err(f"{f}: PDB selector does not match the pods")
    for f, svc in objs["Service"]:
        if not selects(svc["spec"]["selector"]):
            err(f"{f}: Service selector does not match the pods")
    cm = [d for f, d in objs["ConfigMap"] if "vane.yaml" in d.get("data", {})]
    if not cm:
        err("no ConfigMap carries vane.yaml")
    vane_yaml = cm[0]["data"]["vane.yaml"]
    open(os.path.join(tmp, "k8s-vane.yaml"), "w").write(vane_yaml)
    cfg = yaml.safe_load(vane_yaml)
    port = int(str(cfg["http"]["listen"]).rsplit(":", 1)[1])
    c = tmpl["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if ports.get("metrics") != port:
        err(f"container port metrics={ports.get('metrics')} but http.listen port is {port}")
    if str(cfg["http"]["listen"]).startswith("127."):
        err("http.listen on loopback: probes and Prometheus cannot reach it in a pod")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        pr = c.get(probe, {}).get("httpGet", {})
        if pr.get("port") not in ("metrics", port):
            err(f"{probe} port {pr.get('port')} is not the metrics port")
    if c["readinessProbe"]["httpGet"]["path"] != "/readyz" or c["livenessProbe"]["httpGet"]["path"] != "/healthz":
        err("probes must use /readyz (readiness) and /healthz (liveness)")
    ann = tmpl["metadata"].get("annotations", {})
    if ann.get("prometheus.io/port") != str(port):
        err(f"prometheus.io/port annotation {ann.get('prometheus.io/port')} != {port}")
    grace = cfg.get("shutdown", {}).get("grace", "10s")
    m = re.fullmatch(r"(\d+)s", str(grace))
    if not m:
        err(f"shutdown.grace {grace!r}: expected whole seconds in the example")
    elif tmpl["spec"]["terminationGracePeriodSeconds"] <= int(m.group(1)):
        err("terminationGracePeriodSeconds must exceed shutdown.grace")
    for svc_f, svc in objs["Service"]:
        for sp in svc["spec"]["ports"]:
            if sp.get("targetPort") not in ("metrics", port):
                err(f"{svc_f}: targetPort {sp.get('targetPort')} is not the metrics port")
    print(f"kubernetes: {sum(len(v) for v in objs.values())} objects checked", file=sys.stderr)

sys.exit(1 if errors else 0)
PY
vt_log "metric names, dashboard and manifests consistent"

# --- configurations accepted by vane itself --------------------------------------------------
check() { "$VANE_BIN" run --rules "$RULES" --check-config "$@"; }
check --config "$D/vane.example.yaml" >"$VT_DIR/example.out" 2>&1 ||
    vt_fail "vane rejects deploy/vane.example.yaml: $(cat "$VT_DIR/example.out")"
if [[ -s "$VT_DIR/k8s-vane.yaml" ]]; then
    check --config "$VT_DIR/k8s-vane.yaml" >"$VT_DIR/k8s.out" 2>&1 ||
        vt_fail "vane rejects the ConfigMap's vane.yaml: $(cat "$VT_DIR/k8s.out")"
    grep -q '^http.listen: "0.0.0.0:9464"  # file$' "$VT_DIR/k8s.out" ||
        vt_fail "check-config did not show http.listen from the ConfigMap: $(cat "$VT_DIR/k8s.out")"
fi
# and the check is real: a typo is refused with the file and line
sed 's/^  batch_size: 1000$/  batch_sise: 1000/' "$D/vane.example.yaml" >"$VT_DIR/typo.yaml"
grep -q batch_sise "$VT_DIR/typo.yaml" || vt_fail "could not plant the typo (example changed?)"
rc=0
check --config "$VT_DIR/typo.yaml" >"$VT_DIR/typo.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || vt_fail "check-config on a typo exited $rc, want 1: $(cat "$VT_DIR/typo.out")"
line=$(grep -n batch_sise "$VT_DIR/typo.yaml" | cut -d: -f1)
grep -q "typo.yaml:$line: unknown key 'kafka.batch_sise' (did you mean 'kafka.batch_size'?)" \
    "$VT_DIR/typo.out" || vt_fail "unexpected error text: $(cat "$VT_DIR/typo.out")"

vt_pass "systemd unit, Prometheus config/rules/alert tests, Grafana dashboard, Kubernetes manifests and example configs"
