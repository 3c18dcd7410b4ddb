/* fuzz_codec.h - what both decoder harnesses check for every input (included once by each).
 *
 * Decoding must never crash (ASan/UBSan/libFuzzer catch that). When an input decodes, the
 * event must satisfy the contract, and it must survive re-encoding: encode in the same format
 * and in the other one, decode each with a fresh decoder, and get an equal event back. Any
 * violation aborts, which libFuzzer reports as a crash with the input saved. */
#ifndef VANE_FUZZ_CODEC_H
#define VANE_FUZZ_CODEC_H

#include "engine/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_BYTES (64 * 1024)

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int fuzz_str_eq(vane_str_t a, vane_str_t b)
{
    return vane_str_eq(a, b);
}

static int fuzz_event_eq(const vane_event_t *a, const vane_event_t *b)
{
    if (!fuzz_str_eq(a->event_id, b->event_id) || !fuzz_str_eq(a->customer_id, b->customer_id) ||
        a->event_time_ms != b->event_time_ms || a->channel != b->channel || a->type != b->type)
        return 0;
    switch (a->type) {
    case VANE_EVENT_TXN:
        return a->txn.kind == b->txn.kind && a->txn.category == b->txn.category &&
               fuzz_str_eq(a->txn.product_id, b->txn.product_id) &&
               a->txn.amount_minor == b->txn.amount_minor &&
               fuzz_str_eq(a->txn.currency, b->txn.currency) &&
               a->txn.has_balance_after == b->txn.has_balance_after &&
               a->txn.balance_after_minor == b->txn.balance_after_minor &&
               fuzz_str_eq(a->txn.counterparty_bank, b->txn.counterparty_bank);
    case VANE_EVENT_LOGIN:
        return a->login.success == b->login.success &&
               fuzz_str_eq(a->login.device_id, b->login.device_id);
    case VANE_EVENT_ENGAGEMENT:
        return a->eng.kind == b->eng.kind && a->eng.category == b->eng.category &&
               fuzz_str_eq(a->eng.product_id, b->eng.product_id) &&
               fuzz_str_eq(a->eng.service, b->eng.service) &&
               a->eng.has_score == b->eng.has_score && a->eng.score == b->eng.score;
    case VANE_EVENT_PROFILE:
        return fuzz_str_eq(a->profile.segment, b->profile.segment) &&
               a->profile.since_ms == b->profile.since_ms &&
               fuzz_str_eq(a->profile.manager_id, b->profile.manager_id) &&
               fuzz_str_eq(a->profile.tier, b->profile.tier);
    case VANE_EVENT_NONE:
        break;
    }
    return 0;
}

/* Decoders and buffers live for the whole run: that is also how the daemon uses them. */
static vane_decoder_t *fuzz_dec, *fuzz_dec2;
static vane_buf_t fuzz_out;

static void fuzz_round_trip(const vane_event_t *ev, vane_format_t fmt)
{
    vane_buf_reset(&fuzz_out);
    FUZZ_CHECK(vane_codec_encode_event(ev, fmt, &fuzz_out) == 0);
    vane_event_t back;
    vane_decode_error_t err;
    int rc = vane_decoder_decode(fuzz_dec2, fuzz_out.data, fuzz_out.len, fmt, &back, &err);
    if (rc) {
        fprintf(stderr, "re-decode (%s) failed: %s (%s): %s\n%.*s\n", vane_format_name(fmt),
                vane_reject_name(err.reason), err.field, err.msg, (int)fuzz_out.len, fuzz_out.data);
        abort();
    }
    FUZZ_CHECK(fuzz_event_eq(ev, &back));
}

static int fuzz_one(const unsigned char *data, size_t size, vane_format_t fmt)
{
    if (!fuzz_dec) {
        fuzz_dec = vane_decoder_new(FUZZ_MAX_BYTES);
        fuzz_dec2 = vane_decoder_new(16 * FUZZ_MAX_BYTES); /* JSON re-encoding can be larger */
        FUZZ_CHECK(fuzz_dec && fuzz_dec2);
    }
    vane_event_t ev;
    vane_decode_error_t err;
    int rc = vane_decoder_decode(fuzz_dec, data, size, fmt, &ev, &err);
    if (rc) {
        FUZZ_CHECK(rc < 0);
        FUZZ_CHECK(err.reason > VANE_REJECT_NONE && err.reason < VANE_REJECT__COUNT);
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
        FUZZ_CHECK(memchr(err.field, '\0', sizeof err.field) != NULL);
        FUZZ_CHECK(strchr(err.msg, '\n') == NULL);
        return 0;
    }
    FUZZ_CHECK(vane_codec_validate_event(&ev, NULL) == 0);
    FUZZ_CHECK(ev.customer_id.len > 0 && ev.customer_id.len <= VANE_ID_MAX);
    FUZZ_CHECK(ev.event_time_ms > 0);
    FUZZ_CHECK(ev.type != VANE_EVENT_NONE);
    fuzz_round_trip(&ev, VANE_FORMAT_JSON);
    fuzz_round_trip(&ev, VANE_FORMAT_PROTOBUF);
    return 0;
}

#endif
