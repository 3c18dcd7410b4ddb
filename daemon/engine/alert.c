#include "alert.h"

#include "../util/err.h"

#include <string.h>
#include <strings.h>

static const char *const kind_names[VANE_ALERT__COUNT] = {
    "UNSPECIFIED",        "PREFERENCE_SHIFT", "REDEMPTION_SURGE",
    "CANCELLATION_SURGE", "OUTFLOW_SURGE",    "DORMANCY",
    "DECLINE_RISK",       "DETRACTOR",        "CUSTOM",
};
static const char *const severity_names[VANE_SEV__COUNT] = {
    "UNSPECIFIED", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL",
};
static const char *const stage_names[VANE_STAGE__COUNT] = {
    "UNSPECIFIED", "ESTABLISHING", "STRENGTHENING", "TRUST", "DECLINE",
};

static int parse_in(const char *const *names, int count, const char *s, size_t len)
{
    for (int i = 1; i < count; i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], s, len) == 0)
            return i;
    }
    return -1;
}

const char *vane_alert_kind_name(vane_alert_kind_t v)
{
    return (v > 0 && v < VANE_ALERT__COUNT) ? kind_names[v] : kind_names[0];
}
const char *vane_severity_name(vane_severity_t v)
{
    return (v > 0 && v < VANE_SEV__COUNT) ? severity_names[v] : severity_names[0];
}
const char *vane_stage_name(vane_stage_t v)
{
    return (v > 0 && v < VANE_STAGE__COUNT) ? stage_names[v] : stage_names[0];
}
int vane_alert_kind_parse(const char *s, size_t len)
{
    return parse_in(kind_names, VANE_ALERT__COUNT, s, len);
}
int vane_severity_parse(const char *s, size_t len)
{
    return parse_in(severity_names, VANE_SEV__COUNT, s, len);
}
int vane_stage_parse(const char *s, size_t len)
{
    return parse_in(stage_names, VANE_STAGE__COUNT, s, len);
}

int vane_alert_add_feature(vane_alert_t *a, const char *name, double value)
{
    if (a->n_features >= VANE_ALERT_MAX_FEATURES)
        return VANE_ETOOBIG;
    vane_alert_feature_t *f = &a->features[a->n_features++];
    vane_str_copy(f->name, sizeof f->name, vane_str_c(name));
    f->value = value;
    return VANE_OK;
}

int vane_alert_add_event_id(vane_alert_t *a, vane_str_t id)
{
    if (a->n_event_ids >= VANE_ALERT_MAX_EVENT_IDS)
        return VANE_ETOOBIG;
    vane_str_copy(a->event_ids[a->n_event_ids++], VANE_ID_MAX + 1, id);
    return VANE_OK;
}

const vane_alert_feature_t *vane_alert_feature(const vane_alert_t *a, const char *name)
{
    for (uint32_t i = 0; i < a->n_features; i++) {
        if (strcmp(a->features[i].name, name) == 0)
            return &a->features[i];
    }
    return NULL;
}
