/* fuzz_codec_alert.c - libFuzzer harness for the alert decoders (`vane tail`, golden tests).
 *
 * The first byte picks the format (even: JSON, odd: protobuf), the rest is the message.
 * Decoding must never crash; a decoded alert must survive encode -> decode in both formats
 * unchanged (NaN compares equal to NaN: JSON carries every non-finite value as null). */
#include "engine/codec.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int same_double(double a, double b, vane_format_t fmt)
{
    if (fmt == VANE_FORMAT_JSON && isinf(a))
        return isnan(b); /* encoded as null */
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static int alert_eq(const vane_alert_t *a, const vane_alert_t *b, vane_format_t fmt)
{
    if (strcmp(a->alert_id, b->alert_id) || strcmp(a->rule_id, b->rule_id) || a->kind != b->kind ||
        a->severity != b->severity || strcmp(a->customer_id, b->customer_id) ||
        !same_double(a->score, b->score, fmt) || a->stage != b->stage ||
        a->from_category != b->from_category || a->to_category != b->to_category ||
        a->event_time_ms != b->event_time_ms || a->detected_at_ms != b->detected_at_ms ||
        a->n_event_ids != b->n_event_ids || a->n_features != b->n_features ||
        strcmp(a->summary, b->summary) || strcmp(a->segment, b->segment) ||
        strcmp(a->route, b->route) || strcmp(a->manager_id, b->manager_id))
        return 0;
    for (uint32_t i = 0; i < a->n_event_ids; i++) {
        if (strcmp(a->event_ids[i], b->event_ids[i]))
            return 0;
    }
    for (uint32_t i = 0; i < a->n_features; i++) {
        if (strcmp(a->features[i].name, b->features[i].name) ||
            !same_double(a->features[i].value, b->features[i].value, fmt))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    vane_format_t fmt = data[0] % 2 ? VANE_FORMAT_PROTOBUF : VANE_FORMAT_JSON;
    static vane_alert_t a, back; /* ~3 KB each: keep them off the stack */
    vane_decode_error_t err;
    if (vane_codec_decode_alert(data + 1, size - 1, fmt, &a, &err)) {
        CHECK(err.reason > VANE_REJECT_NONE && err.reason < VANE_REJECT__COUNT);
        return 0;
    }
    static vane_buf_t out;
    vane_format_t both[] = {VANE_FORMAT_JSON, VANE_FORMAT_PROTOBUF};
    for (int i = 0; i < 2; i++) {
        vane_buf_reset(&out);
        CHECK(vane_codec_encode_alert(&a, both[i], &out) == 0);
        int rc = vane_codec_decode_alert(out.data, out.len, both[i], &back, &err);
        if (rc) {
            fprintf(stderr, "re-decode (%s): %s (%s): %s\n", vane_format_name(both[i]),
                    vane_reject_name(err.reason), err.field, err.msg);
            abort();
        }
        CHECK(alert_eq(&a, &back, both[i]));
    }
    return 0;
}
