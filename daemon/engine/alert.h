/* alert.h - vane_alert_t: one detection, as the engine reports it (proto Alert).
 *
 * An alert is a self-contained value: every string is copied into fixed arrays, so an alert
 * outlives the event, the state and the ruleset that produced it and can be queued, encoded
 * or compared freely. Alerts are rare next to events, so the copies cost nothing that
 * matters; what matters is that producing one never allocates.
 *
 * The engine fills a caller-owned vane_alert_batch_t; it never allocates alerts.
 */
#ifndef VANE_ALERT_H
#define VANE_ALERT_H

#include "event.h"

#include <stdint.h>

typedef enum vane_alert_kind {
    VANE_ALERT_UNSPECIFIED = 0,
    VANE_ALERT_PREFERENCE_SHIFT = 1,
    VANE_ALERT_REDEMPTION_SURGE = 2,
    VANE_ALERT_CANCELLATION_SURGE = 3,
    VANE_ALERT_OUTFLOW_SURGE = 4,
    VANE_ALERT_DORMANCY = 5,
    VANE_ALERT_DECLINE_RISK = 6,
    VANE_ALERT_DETRACTOR = 7,
    VANE_ALERT_CUSTOM = 8,
    VANE_ALERT__COUNT
} vane_alert_kind_t;

typedef enum vane_severity {
    VANE_SEV_UNSPECIFIED = 0,
    VANE_SEV_INFO = 1,
    VANE_SEV_LOW = 2,
    VANE_SEV_MEDIUM = 3,
    VANE_SEV_HIGH = 4,
    VANE_SEV_CRITICAL = 5,
    VANE_SEV__COUNT
} vane_severity_t;

typedef enum vane_stage {
    VANE_STAGE_UNSPECIFIED = 0,
    VANE_STAGE_ESTABLISHING = 1,
    VANE_STAGE_STRENGTHENING = 2,
    VANE_STAGE_TRUST = 3,
    VANE_STAGE_DECLINE = 4,
    VANE_STAGE__COUNT
} vane_stage_t;

#define VANE_ALERT_MAX_FEATURES  16
#define VANE_ALERT_MAX_EVENT_IDS 16
#define VANE_FEATURE_NAME_MAX    40
#define VANE_SUMMARY_MAX         320
#define VANE_RULE_ID_MAX         64
#define VANE_TOPIC_MAX           128

typedef struct vane_alert_feature {
    char name[VANE_FEATURE_NAME_MAX]; /* NUL-terminated */
    double value;
} vane_alert_feature_t;

typedef struct vane_alert {
    char alert_id[48]; /* deterministic: same detection, same id */
    char rule_id[VANE_RULE_ID_MAX];
    vane_alert_kind_t kind;
    vane_severity_t severity;
    char customer_id[VANE_ID_MAX + 1];
    double score;
    vane_stage_t stage;
    vane_category_t from_category; /* PREFERENCE_SHIFT */
    vane_category_t to_category;   /* PREFERENCE_SHIFT */
    int64_t event_time_ms;         /* event time at detection */
    int64_t detected_at_ms;        /* wall clock when emitted; set by the emitter (0 = unset) */
    uint32_t n_event_ids;
    char event_ids[VANE_ALERT_MAX_EVENT_IDS][VANE_ID_MAX + 1];
    uint32_t n_features;
    vane_alert_feature_t features[VANE_ALERT_MAX_FEATURES];
    char summary[VANE_SUMMARY_MAX];
    char segment[VANE_SHORT_MAX + 1];
    char route[VANE_SHORT_MAX + 1];
    char manager_id[VANE_SHORT_MAX + 1];
    bool shadow;                /* from a mode: shadow rule: never to the alert topic */
    char topic[VANE_TOPIC_MAX]; /* per-rule/kind topic override; empty = default topic */
} vane_alert_t;

#define VANE_ALERT_BATCH_MAX 16

/* Alerts produced by one engine call. Caller-owned; the engine appends, never allocates. */
typedef struct vane_alert_batch {
    uint32_t count;
    uint32_t dropped; /* alerts that did not fit (counted, never silently lost) */
    vane_alert_t alerts[VANE_ALERT_BATCH_MAX];
} vane_alert_batch_t;

const char *vane_alert_kind_name(vane_alert_kind_t v);
const char *vane_severity_name(vane_severity_t v);
const char *vane_stage_name(vane_stage_t v);
int vane_alert_kind_parse(const char *s, size_t len); /* -1 when unknown */
int vane_severity_parse(const char *s, size_t len);   /* -1 when unknown */
int vane_stage_parse(const char *s, size_t len);      /* -1 when unknown */

/* Append a feature (name truncated to fit); returns 0, or VANE_ETOOBIG when full. */
int vane_alert_add_feature(vane_alert_t *a, const char *name, double value);
/* Append an event id; returns 0, or VANE_ETOOBIG when full. */
int vane_alert_add_event_id(vane_alert_t *a, vane_str_t id);
/* Look up a feature by name; returns NULL when absent. */
const vane_alert_feature_t *vane_alert_feature(const vane_alert_t *a, const char *name);

#endif
