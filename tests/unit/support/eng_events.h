/* eng_events.h - test helpers for the detection engine: event builders and rule loading.
 *
 * Builders return events by value whose strings borrow the arguments (pass literals or
 * buffers that outlive the event). eng_rules_* load a ruleset and fail the running cmocka
 * test (printing the diagnostics) when it does not load.
 */
#ifndef ENG_EVENTS_H
#define ENG_EVENTS_H

#include "engine/alert.h"
#include "engine/engine.h"
#include "engine/event.h"
#include "engine/rules.h"
#include "engine/state.h"

#include <stdint.h>

#define ENG_H  3600000LL
#define ENG_D  86400000LL
#define ENG_T0 1763800000000LL /* 2025-11-22, an arbitrary fixed epoch for tests */

vane_event_t eng_txn(const char *id, const char *cust, int64_t t, vane_txn_kind_t kind,
                     vane_category_t cat, int64_t amount);
/* A TRANSFER_OUT to another bank. */
vane_event_t eng_outflow(const char *id, const char *cust, int64_t t, int64_t amount,
                         int64_t balance_after);
vane_event_t eng_login(const char *id, const char *cust, int64_t t, bool success);
vane_event_t eng_eng(const char *id, const char *cust, int64_t t, vane_eng_kind_t kind,
                     vane_category_t cat);
vane_event_t eng_survey(const char *id, const char *cust, int64_t t, int score);
vane_event_t eng_profile(const char *id, const char *cust, int64_t t, const char *segment,
                         int64_t since_ms, const char *tier);

/* Load rules/default.yaml of the source tree. */
vane_ruleset_t *eng_rules_default(void);
/* Load rules from a string; fails the test on any error. */
vane_ruleset_t *eng_rules_string(const char *yaml);

/* Format a unique event id "<prefix>-<n>" into a static rotating pool (64 slots). */
const char *eng_id(const char *prefix, int n);

/* Count alerts of kind in batch. */
int eng_count_kind(const vane_alert_batch_t *b, vane_alert_kind_t kind);

#endif
