/* window.c - the per-customer ring of tracked events (see window.h for the error bound). */
#include "window.h"

#include "event.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool vane_window_match(const vane_window_entry_t *e, unsigned cls)
{
    if (e->cls == cls)
        return true;
    return cls == VANE_WCLS_OUTFLOW && (e->flags & VANE_WFLAG_OUTFLOW);
}

static bool in_window(const vane_window_entry_t *e, int64_t anchor_ms, int64_t dur_ms)
{
    /* (anchor - dur, anchor], written without overflow for huge durations. */
    if (e->time_ms > anchor_ms)
        return false;
    return (uint64_t)anchor_ms - (uint64_t)e->time_ms < (uint64_t)dur_ms;
}

void vane_window_add(vane_window_t *w, const vane_window_entry_t *e, int64_t horizon_ms)
{
    int64_t newest = w->n ? w->e[w->n - 1].time_ms : e->time_ms;
    if (e->time_ms > newest)
        newest = e->time_ms;
    /* Prune entries that no window can reach any more. */
    unsigned drop = 0;
    while (drop < w->n && (uint64_t)newest - (uint64_t)w->e[drop].time_ms >= (uint64_t)horizon_ms)
        drop++;
    if (drop) {
        memmove(&w->e[0], &w->e[drop], (w->n - drop) * sizeof w->e[0]);
        w->n = (uint8_t)(w->n - drop);
    }
    if ((uint64_t)newest - (uint64_t)e->time_ms >= (uint64_t)horizon_ms)
        return; /* already beyond every window */
    if (w->n == VANE_WINDOW_CAP) {
        /* Evict the oldest entry of the most frequent class, so a flood of one class (say
         * logins) cannot push out the rarer ones (redemptions) that other rules count. */
        unsigned counts[VANE_WCLS__COUNT] = {0};
        unsigned top = e->cls < VANE_WCLS__COUNT ? e->cls : 0;
        for (unsigned i = 0; i < w->n; i++)
            if (w->e[i].cls < VANE_WCLS__COUNT)
                counts[w->e[i].cls]++;
        if (top < VANE_WCLS__COUNT)
            counts[top]++; /* the newcomer competes too */
        for (unsigned c = 0; c < VANE_WCLS__COUNT; c++)
            if (counts[c] > counts[top])
                top = c;
        w->evicted++;
        unsigned victim = 0;
        while (victim < w->n && w->e[victim].cls != top)
            victim++;
        if (victim == w->n || (e->cls == top && e->time_ms < w->e[victim].time_ms))
            return; /* the newcomer is the oldest of the top class */
        memmove(&w->e[victim], &w->e[victim + 1], (w->n - victim - 1) * sizeof w->e[0]);
        w->n--;
    }
    /* Stable insert after entries with the same time (arrival order breaks ties). */
    unsigned pos = w->n;
    while (pos > 0 && w->e[pos - 1].time_ms > e->time_ms)
        pos--;
    memmove(&w->e[pos + 1], &w->e[pos], (w->n - pos) * sizeof w->e[0]);
    w->e[pos] = *e;
    w->n++;
}

uint32_t vane_window_count(const vane_window_t *w, unsigned cls, int64_t anchor_ms, int64_t dur_ms)
{
    uint32_t c = 0;
    for (unsigned i = 0; i < w->n; i++)
        if (vane_window_match(&w->e[i], cls) && in_window(&w->e[i], anchor_ms, dur_ms))
            c++;
    return c;
}

double vane_window_sum(const vane_window_t *w, unsigned cls, int64_t anchor_ms, int64_t dur_ms)
{
    double s = 0;
    for (unsigned i = 0; i < w->n; i++)
        if (vane_window_match(&w->e[i], cls) && in_window(&w->e[i], anchor_ms, dur_ms))
            s += (double)w->e[i].amount_minor;
    return s;
}

uint32_t vane_window_distinct(const vane_window_t *w, unsigned cls, int64_t anchor_ms,
                              int64_t dur_ms)
{
    uint32_t c = 0;
    for (unsigned i = 0; i < w->n; i++) {
        if (!vane_window_match(&w->e[i], cls) || !in_window(&w->e[i], anchor_ms, dur_ms))
            continue;
        bool seen = false;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = vane_window_match(&w->e[j], cls) && in_window(&w->e[j], anchor_ms, dur_ms) &&
                   w->e[j].tag == w->e[i].tag;
        if (!seen)
            c++;
    }
    return c;
}

int vane_window_class_parse(const char *s, size_t len)
{
    if (len == 7 && strncasecmp(s, "outflow", 7) == 0)
        return VANE_WCLS_OUTFLOW;
    if (len == 5 && strncasecmp(s, "login", 5) == 0)
        return VANE_WCLS_LOGIN;
    if (len == 12 && strncasecmp(s, "login.failed", 12) == 0)
        return VANE_WCLS_LOGIN_FAILED;
    if (len > 4 && strncasecmp(s, "txn.", 4) == 0) {
        int k = vane_txn_kind_parse(s + 4, len - 4);
        return k > 0 ? VANE_WCLS_TXN_BASE + k : -1;
    }
    if (len > 4 && strncasecmp(s, "eng.", 4) == 0) {
        int k = vane_eng_kind_parse(s + 4, len - 4);
        return k > 0 ? VANE_WCLS_ENG_BASE + k : -1;
    }
    return -1;
}

const char *vane_window_class_name(unsigned cls, char *buf, size_t cap)
{
    if (cls == VANE_WCLS_OUTFLOW)
        snprintf(buf, cap, "outflow");
    else if (cls == VANE_WCLS_LOGIN)
        snprintf(buf, cap, "login");
    else if (cls == VANE_WCLS_LOGIN_FAILED)
        snprintf(buf, cap, "login.failed");
    else if (cls > VANE_WCLS_ENG_BASE && cls < VANE_WCLS_ENG_BASE + VANE_ENG__COUNT)
        snprintf(buf, cap, "eng.%s",
                 vane_eng_kind_name((vane_eng_kind_t)(cls - VANE_WCLS_ENG_BASE)));
    else if (cls > VANE_WCLS_TXN_BASE && cls < VANE_WCLS_TXN_BASE + VANE_TXN__COUNT)
        snprintf(buf, cap, "txn.%s", vane_txn_kind_name((vane_txn_kind_t)cls));
    else
        snprintf(buf, cap, "?%u", cls);
    return buf;
}
