/* baseline.h - EWMA baselines of a customer's usual activity.
 *
 * A rate baseline counts events per period (day, week) and folds each finished period into an
 * exponentially weighted moving average: avg = alpha * count + (1 - alpha) * avg; k empty
 * periods in between fold as zeros (avg *= (1 - alpha)^k). The first finished period seeds the
 * average. An event older than the current period (out of order) is counted in the current one
 * (documented approximation, off by at most one period of attribution).
 *
 * A gap baseline is the EWMA of the time between consecutive activity events ("usual gap").
 * Pure value code.
 */
#ifndef VANE_BASELINE_H
#define VANE_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vane_rate {
    float avg;       /* EWMA of events per finished period */
    uint32_t cur;    /* events in the current period */
    int32_t period;  /* index of the current period (time / period_ms); 0 with seeded=0 */
    uint8_t seeded;  /* 1 once a period has been folded */
    uint8_t started; /* 1 once an event was counted */
    uint8_t pad[2];
} vane_rate_t;

typedef struct vane_gap {
    int64_t last_ms; /* time of the latest activity event; 0 = none */
    float avg_ms;    /* EWMA of gaps, ms; 0 until two events were seen */
    uint32_t n;      /* gaps folded (saturates) */
} vane_gap_t;

/* Count one event at t_ms. */
void vane_rate_add(vane_rate_t *r, int64_t t_ms, int64_t period_ms, double alpha);
/* The average as of t_ms: folds (without storing) the periods finished by then. */
double vane_rate_avg(const vane_rate_t *r, int64_t t_ms, int64_t period_ms, double alpha);

/* Record an activity event at t_ms (older than last_ms: ignored for the gap). */
void vane_gap_add(vane_gap_t *g, int64_t t_ms, double alpha);

#endif
