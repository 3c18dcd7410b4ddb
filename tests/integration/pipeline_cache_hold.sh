#!/usr/bin/env bash
# The cache limit holds under load. States that cannot be evicted (dirty, being written,
# loading) used to pile up past redis.cache_max_customers while a write-back was in flight,
# without bound. vane now stops taking batches once the cache passes 120% of its limit plus
# 1,000 entries, writes back at once, and goes on when evictions bring it back down.
#
# 60,000 events of ~12,000 customers are queued before vane starts, with a 50-state cache,
# write-backs every 2 s (redis.flush_interval_ms, and redis.pipeline_max high enough that the
# dirty count never triggers one sooner) and batches of 20 messages. Without the hold the cache
# grows by thousands of states between write-backs. Checks:
#   - every sampled cache size (the progress line, each second) stays within 1,000 + 60 + one
#     batch, and vane_cache_holds_total counted holds;
#   - every event is applied and written: each customer's stored state has exactly its events.
source "$(dirname "$0")/lib.sh"
vt_init pipeline_cache_hold

vt_start_redis
vt_start_broker
"$VANE_BIN" gen --seed 11 --customers 12000 --events 60000 --out "$VT_DIR/events.jsonl" \
    >"$VT_DIR/gen-file.log" 2>&1 || vt_fail "vane gen to file failed"
EVENTS=$(wc -l <"$VT_DIR/events.jsonl")
NCUST=$(python3 -c 'import json,sys; print(len({json.loads(l)["customer_id"] for l in open(sys.argv[1])}))' "$VT_DIR/events.jsonl")
((NCUST > 6000)) || vt_fail "the stream has only $NCUST customers: the hold would not be tested"
"$VANE_BIN" gen --raw-in "$VT_DIR/events.jsonl" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen-kafka.log" 2>&1 || vt_fail "producing the stream failed"
vt_log "$EVENTS events of $NCUST customers queued"

vt_start_vane vane --group hold --log-level debug --http 127.0.0.1:0 \
    --redis.cache_max_customers 50 --redis.flush_interval_ms 2000 --redis.pipeline_max 100000 \
    --kafka.batch_size 20
vt_wait_until 20 "the HTTP endpoint" grep -q 'serving .*(port [0-9]*)' "$VT_DIR/vane.log"
HTTP_PORT=$(grep -o 'serving .*(port [0-9]*)' "$VT_DIR/vane.log" | head -n 1 | grep -o 'port [0-9]*' | cut -d' ' -f2)
last_progress() { grep -o 'progress: consumed=.*' "$VT_DIR/vane.log" | tail -n 1; }
all_written() { [[ "$(last_progress)" =~ consumed=$EVENTS\ .*dirty=0\ waiting=0 ]]; }
vt_wait_until 180 "vane to apply and write all $EVENTS events" all_written
holds=$(curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" | awk '$1 == "vane_cache_holds_total" {print $2}')
vt_stop vane TERM
[[ $VT_RC -eq 0 ]] || vt_fail "vane run exited $VT_RC on SIGTERM"
LIMIT=$((1000 + 60 + 20))
peak=$(grep -o 'progress: .*cached=[0-9]*' "$VT_DIR/vane.log" | grep -o 'cached=[0-9]*' | cut -d= -f2 | sort -n | tail -n 1)
samples=$(grep -c 'progress: ' "$VT_DIR/vane.log")
((peak <= LIMIT)) || vt_fail "the cache held $peak states (limit 50: at most $LIMIT expected)"
[[ "$holds" =~ ^[0-9]+$ ]] && ((holds > 0)) || vt_fail "vane_cache_holds_total is '$holds': no hold counted"

vt_check_events_applied "$VT_DIR/events.jsonl"
vt_pass "$EVENTS events of $NCUST customers through a 50-state cache: $holds holds, at most $peak states cached in $samples samples; every state has exactly its events"
