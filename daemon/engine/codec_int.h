/* codec_int.h - private glue between codec.c, codec_json.c and codec_pb.c. Not a public API:
 * nothing outside daemon/engine/codec*.c includes this file.
 *
 * codec.c owns the decoder object, format choice, reject bookkeeping and the one validation
 * function both formats share; codec_json.c and codec_pb.c own their format's scratch space
 * (created and freed through the functions below) and turn bytes into an unvalidated
 * vane_event_t, leaving the contract checks to vane_codec_validate_event().
 */
#ifndef VANE_CODEC_INT_H
#define VANE_CODEC_INT_H

#include "codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest JSON nesting accepted (objects and arrays together); deeper is JSON_SYNTAX. */
#define VANE_JSON_MAX_DEPTH 64
/* amount_minor above this is absurd (10^17 minor units), so it is rejected as BAD_VALUE. */
#define VANE_AMOUNT_MAX 100000000000000000LL

/* Fill *err (never NULL here) and return the VANE_E* code that goes with the reason.
 * field may be NULL. Used only on the reject path, so it may format freely. */
int vane__codec_reject(vane_decode_error_t *err, vane_reject_t reason, const char *field,
                       size_t offset, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The VANE_E* code a reject reason maps to (VANE_EPARSE, VANE_EMISSING, ...). */
int vane__codec_reject_code(vane_reject_t reason);

/* true when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool vane__utf8_valid(const char *s, size_t n);

/* JSON (codec_json.c). */
typedef struct vane_json_dec vane_json_dec_t;
vane_json_dec_t *vane__json_dec_new(size_t max_bytes);
void vane__json_dec_free(vane_json_dec_t *jd);
/* *strings_checked is set true when every string of *ev is a slice of s that the lexer has
 * already proven UTF-8 without control characters (no escapes in the message), so the
 * validation need not scan them again; false otherwise. */
int vane__json_decode_event(vane_json_dec_t *jd, const char *s, size_t n, vane_event_t *ev,
                            vane_decode_error_t *err, bool *strings_checked);
/* vane_codec_validate_event, skipping the UTF-8 and NUL scans of strings when strings_checked
 * (their length limits are still checked). */
int vane__codec_validate(const vane_event_t *ev, vane_decode_error_t *err, bool strings_checked);
int vane__json_encode_event(const vane_event_t *ev, vane_buf_t *out);
int vane__json_encode_alert(const vane_alert_t *a, vane_buf_t *out);
int vane__json_decode_alert(const char *s, size_t n, vane_alert_t *a, vane_decode_error_t *err);

/* Protobuf (codec_pb.c). */
typedef struct vane_pb_dec vane_pb_dec_t;
vane_pb_dec_t *vane__pb_dec_new(size_t max_bytes);
void vane__pb_dec_free(vane_pb_dec_t *pd);
int vane__pb_decode_event(vane_pb_dec_t *pd, const uint8_t *p, size_t n, vane_event_t *ev,
                          vane_decode_error_t *err);
/* The same through protobuf-c's generated unpack: the tests' oracle for the one above. */
int vane__pb_decode_event_reference(vane_pb_dec_t *pd, const uint8_t *p, size_t n, vane_event_t *ev,
                                    vane_decode_error_t *err);
int vane__pb_encode_event(const vane_event_t *ev, vane_buf_t *out);
int vane__pb_encode_alert(const vane_alert_t *a, vane_buf_t *out);
int vane__pb_decode_alert(const uint8_t *p, size_t n, vane_alert_t *a, vane_decode_error_t *err);

#endif
