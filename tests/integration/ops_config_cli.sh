#!/usr/bin/env bash
# `vane run --check-config` end to end (issue 7, configuration): the real binary, a YAML
# file, VANE_* environment variables and flags together.
#   - precedence default < file < environment < flag, each value printed with its source;
#   - secrets (redis.password, a password in redis.url, SASL pass-through) never printed;
#   - the printed configuration loads back as a file and prints the same values;
#   - exit codes: 0 valid, 1 bad file value (message names file:line and key), 2 bad flag
#     (message and usage).
source "$(dirname "$0")/lib.sh"
vt_init ops_config_cli
RULES="$VANE_SOURCE_DIR/rules/default.yaml"

cat >"$VT_DIR/vane.yaml" <<'YAML'
kafka:
  brokers: file-broker:9092
  group: file-group
  batch_size: 200
  common:
    security.protocol: SASL_SSL
    sasl.password: file-sasl-secret
redis:
  url: redis://:url-secret@redis-host:6380/2
engine:
  max_future: 90s
YAML
out="$VT_DIR/out.txt"
VANE_KAFKA_GROUP=env-group VANE_KAFKA_BATCH_SIZE=300 VANE_REDIS_PASSWORD=env-redis-secret \
    "$VANE_BIN" run --config "$VT_DIR/vane.yaml" --rules "$RULES" --batch-size-not-a-flag 2>/dev/null &&
    vt_fail "an unknown flag was accepted"
VANE_KAFKA_GROUP=env-group VANE_KAFKA_BATCH_SIZE=300 VANE_REDIS_PASSWORD=env-redis-secret \
    "$VANE_BIN" run --config "$VT_DIR/vane.yaml" --rules "$RULES" --kafka.batch_size 400 \
    --check-config >"$out" 2>"$VT_DIR/err.txt" || vt_fail "check-config failed: $(cat "$VT_DIR/err.txt")"

expect() { grep -qxF "$1" "$out" || vt_fail "missing line: $1 (got: $(grep "^${1%%:*}:" "$out"))"; }
expect 'kafka.brokers: "file-broker:9092"  # file'
expect 'kafka.group: "env-group"  # environment'
expect 'kafka.batch_size: 400  # command line'
expect 'kafka.input_topic: "bank.events"  # default'
expect 'engine.max_future: 1m30s  # file'
expect 'redis.password: "********"  # environment'
expect 'redis.url: "redis://:****@redis-host:6380/2"  # file'
expect 'kafka.common.sasl.password: "********"  # pass-through'
expect 'kafka.common.security.protocol: "SASL_SSL"  # pass-through'
for secret in file-sasl-secret url-secret env-redis-secret; do
    ! grep -q "$secret" "$out" || vt_fail "secret '$secret' printed by --check-config"
done

# the output is itself a configuration file: loading it prints the same values
grep -v -e '^redis.password' -e '^redis.url' -e 'sasl.password' "$out" >"$VT_DIR/again.yaml"
"$VANE_BIN" run --config "$VT_DIR/again.yaml" --check-config >"$VT_DIR/out2.txt" 2>&1 ||
    vt_fail "printed configuration does not load: $(cat "$VT_DIR/out2.txt")"
diff <(grep -v -e '^#' -e '^redis.password' -e '^redis.url' -e 'sasl.password' "$out" | sed 's/  # .*//') \
    <(grep -v -e '^#' -e '^redis.password' -e '^redis.url' -e 'sasl.password' "$VT_DIR/out2.txt" | sed 's/  # .*//') \
    >"$VT_DIR/diff.txt" || vt_fail "reloaded configuration differs: $(cat "$VT_DIR/diff.txt")"

# exit codes and messages
printf 'kafka:\n  batch_size: 200\n  linger_ms: soon\n' >"$VT_DIR/bad.yaml"
rc=0
"$VANE_BIN" run --config "$VT_DIR/bad.yaml" --rules "$RULES" --check-config >"$VT_DIR/bad.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || vt_fail "bad file value: exit $rc, want 1"
grep -q "bad.yaml:3: kafka.linger_ms: 'soon' is not an integer" "$VT_DIR/bad.out" ||
    vt_fail "bad file value message: $(cat "$VT_DIR/bad.out")"
rc=0
"$VANE_BIN" run --rules "$RULES" --engine.max_future=soon --check-config >"$VT_DIR/flag.out" 2>&1 || rc=$?
[[ $rc -eq 2 ]] || vt_fail "bad flag value: exit $rc, want 2"
grep -q "engine.max_future: 'soon' is not a duration" "$VT_DIR/flag.out" ||
    vt_fail "bad flag message: $(cat "$VT_DIR/flag.out")"
grep -q '^usage: vane run' "$VT_DIR/flag.out" || vt_fail "no usage after a bad flag"
rc=0
VANE_SHUTDOWN_GRACE=forever "$VANE_BIN" run --rules "$RULES" --check-config >"$VT_DIR/env.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || vt_fail "bad environment value: exit $rc, want 1"
grep -q "environment VANE_SHUTDOWN_GRACE: shutdown.grace: 'forever' is not a duration" \
    "$VT_DIR/env.out" || vt_fail "bad environment message: $(cat "$VT_DIR/env.out")"

# --check-config asks librdkafka about pass-through properties (naming them, never the value)
rc=0
"$VANE_BIN" run --rules "$RULES" --kafka.consumer.bogus.prop=hush --check-config \
    >"$VT_DIR/prop.out" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || vt_fail "unknown librdkafka property: exit $rc, want 1"
grep -q "kafka.consumer.bogus.prop: No such configuration property" "$VT_DIR/prop.out" ||
    vt_fail "unknown librdkafka property message: $(cat "$VT_DIR/prop.out")"
! grep -q hush "$VT_DIR/prop.out" || vt_fail "the property's value was printed"

vt_pass "precedence with sources, secrets masked, output reloadable, exit codes 0/1/2 with places; pass-through properties checked"
