/* window.h - exact sliding windows over event time, one small ring per customer.
 *
 * A customer's "tracked" events (the event classes the loaded rules count, sum or take the
 * distinct values of, plus the classes the decline-risk score reads) are kept, one entry each,
 * in a fixed ring of VANE_WINDOW_CAP entries sorted by event time. count/sum/distinct over
 * (anchor - dur, anchor] scan the ring: O(VANE_WINDOW_CAP), no allocation.
 *
 * Error bound: results are exact while at most VANE_WINDOW_CAP tracked events fall inside the
 * longest horizon. When the ring is full, the oldest entry of the most frequent class is evicted
 * (so a flood of one class cannot push out rarer ones), and that class's count/sum/distinct
 * become lower bounds (never over-counts); the other classes stay exact. A class always keeps
 * at least VANE_WINDOW_CAP / (number of classes present) of its newest entries, so thresholds
 * up to that still trip. Entries older than the horizon are pruned on every insert.
 *
 * The window is the half-open interval (anchor - dur, anchor]: an entry exactly dur old is
 * outside, one 1 ms younger is inside; entries later than the anchor (out-of-order arrivals)
 * are outside too.
 *
 * Pure value code: the ring lives inside vane_state_t; nothing is owned or allocated.
 */
#ifndef VANE_WINDOW_H
#define VANE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VANE_WINDOW_CAP 16
/* Event ids are kept up to this many bytes for alerts' event_ids (longer ids are truncated). */
#define VANE_WINDOW_ID_MAX 27

/* Window classes: stable numbers (persisted). 1..9 = txn kinds, 17..24 = 16 + engagement kind,
 * OUTFLOW = a TRANSFER_OUT to another institution (also counted as txn.TRANSFER_OUT),
 * LOGIN/LOGIN_FAILED = logins. */
enum {
    VANE_WCLS_TXN_BASE = 0,
    VANE_WCLS_ENG_BASE = 16,
    VANE_WCLS_OUTFLOW = 32,
    VANE_WCLS_LOGIN = 33,
    VANE_WCLS_LOGIN_FAILED = 34,
    VANE_WCLS__COUNT = 35
};

#define VANE_WFLAG_OUTFLOW 1u /* entry also belongs to VANE_WCLS_OUTFLOW */

typedef struct vane_window_entry {
    int64_t time_ms;                       /* event time */
    int64_t amount_minor;                  /* txn amount, 0 otherwise */
    uint16_t tag;                          /* low bits of a hash of product_id / service */
    uint8_t cls;                           /* primary window class */
    uint8_t flags;                         /* VANE_WFLAG_* */
    uint8_t category;                      /* vane_category_t */
    char event_id[VANE_WINDOW_ID_MAX + 1]; /* NUL-terminated, maybe truncated */
} vane_window_entry_t;

typedef struct vane_window {
    uint8_t n; /* entries in use, sorted by time_ms ascending */
    uint8_t pad[7];
    uint32_t evicted; /* entries dropped because the ring was full (lower-bound marker) */
    vane_window_entry_t e[VANE_WINDOW_CAP];
} vane_window_t;

/* true when entry e belongs to window class cls. */
bool vane_window_match(const vane_window_entry_t *e, unsigned cls);

/* Insert e in time order; first drops entries older than newest - horizon_ms, then, when
 * full, the oldest entry of the most frequent class (counted in evicted). When e itself is the
 * oldest of that class, e is dropped instead. */
void vane_window_add(vane_window_t *w, const vane_window_entry_t *e, int64_t horizon_ms);

/* Aggregates over entries of class cls with time in (anchor_ms - dur_ms, anchor_ms]. */
uint32_t vane_window_count(const vane_window_t *w, unsigned cls, int64_t anchor_ms, int64_t dur_ms);
double vane_window_sum(const vane_window_t *w, unsigned cls, int64_t anchor_ms, int64_t dur_ms);
uint32_t vane_window_distinct(const vane_window_t *w, unsigned cls, int64_t anchor_ms,
                              int64_t dur_ms);

/* Parse a class name ("txn.REDEMPTION", "eng.SERVICE_CANCEL", "outflow", "login",
 * "login.failed"), case-insensitive; returns the class or -1. */
int vane_window_class_parse(const char *s, size_t len);
/* Write the canonical name of cls into buf[cap]; returns buf. */
const char *vane_window_class_name(unsigned cls, char *buf, size_t cap);

#endif
