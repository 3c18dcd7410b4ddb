/* baseline.c - EWMA rate and gap baselines (see baseline.h). */
#include "baseline.h"

#include <math.h>

static int32_t period_of(int64_t t_ms, int64_t period_ms)
{
    if (t_ms < 0)
        t_ms = 0;
    return (int32_t)(t_ms / period_ms);
}

/* Fold the current period and (p - period - 1) empty ones into a copy of the average. */
static double folded(const vane_rate_t *r, int32_t p, double alpha, bool *seeded)
{
    double avg = r->avg;
    *seeded = r->seeded;
    if (!r->started || p <= r->period)
        return avg;
    if (!*seeded) {
        avg = r->cur;
        *seeded = true;
    } else {
        avg = alpha * r->cur + (1 - alpha) * avg;
    }
    int64_t empty = (int64_t)p - r->period - 1;
    if (empty > 0)
        avg *= pow(1 - alpha, (double)empty);
    return avg;
}

void vane_rate_add(vane_rate_t *r, int64_t t_ms, int64_t period_ms, double alpha)
{
    int32_t p = period_of(t_ms, period_ms);
    if (!r->started) {
        r->started = 1;
        r->period = p;
        r->cur = 1;
        return;
    }
    if (p > r->period) {
        bool seeded;
        r->avg = (float)folded(r, p, alpha, &seeded);
        r->seeded = seeded;
        r->period = p;
        r->cur = 0;
    }
    if (r->cur < UINT32_MAX)
        r->cur++;
}

double vane_rate_avg(const vane_rate_t *r, int64_t t_ms, int64_t period_ms, double alpha)
{
    bool seeded;
    double avg = folded(r, period_of(t_ms, period_ms), alpha, &seeded);
    if (!seeded)
        return r->started ? r->cur : 0; /* first period still open: what we have so far */
    return avg;
}

void vane_gap_add(vane_gap_t *g, int64_t t_ms, double alpha)
{
    if (g->last_ms == 0) {
        g->last_ms = t_ms;
        return;
    }
    if (t_ms <= g->last_ms)
        return;
    double gap = (double)(t_ms - g->last_ms);
    g->avg_ms = g->n == 0 ? (float)gap : (float)(alpha * gap + (1 - alpha) * g->avg_ms);
    if (g->n < UINT32_MAX)
        g->n++;
    g->last_ms = t_ms;
}
