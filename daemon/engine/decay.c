/* decay.c - decayed category mixes and their Jensen-Shannon divergence (see decay.h). */
#include "decay.h"

#include <math.h>

static double factor(int64_t dt_ms, int64_t half_life_ms)
{
    if (dt_ms <= 0)
        return 1.0;
    if (half_life_ms <= 0)
        return 0.0;
    return exp2(-(double)dt_ms / (double)half_life_ms);
}

void vane_decay_add(vane_decay_t *m, int64_t t_ms, int cat, double weight, int64_t half_life_ms)
{
    if (cat <= 0 || cat >= VANE_CAT__COUNT || !(weight > 0))
        return;
    if (m->updated_ms == 0 || t_ms >= m->updated_ms) {
        double f = m->updated_ms == 0 ? 1.0 : factor(t_ms - m->updated_ms, half_life_ms);
        if (f != 1.0)
            for (int c = 1; c < VANE_CAT__COUNT; c++)
                m->w[c] = (float)(m->w[c] * f);
        m->updated_ms = t_ms;
        m->w[cat] = (float)(m->w[cat] + weight);
    } else {
        m->w[cat] = (float)(m->w[cat] + weight * factor(m->updated_ms - t_ms, half_life_ms));
    }
}

static double raw_total(const vane_decay_t *m)
{
    double t = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++)
        t += m->w[c];
    return t;
}

double vane_decay_total(const vane_decay_t *m, int64_t at_ms, int64_t half_life_ms)
{
    if (m->updated_ms == 0)
        return 0;
    return raw_total(m) * factor(at_ms - m->updated_ms, half_life_ms);
}

double vane_decay_share(const vane_decay_t *m, int cat)
{
    double t = raw_total(m);
    if (cat <= 0 || cat >= VANE_CAT__COUNT || !(t > 0))
        return 0;
    return m->w[cat] / t;
}

int vane_decay_dominant(const vane_decay_t *m)
{
    int best = 0;
    float bw = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++)
        if (m->w[c] > bw) {
            bw = m->w[c];
            best = c;
        }
    return best;
}

int vane_decay_emerging(const vane_decay_t *shortm, const vane_decay_t *longm)
{
    double ts = raw_total(shortm), tl = raw_total(longm);
    if (!(ts > 0))
        return 0;
    int best = 0;
    double bd = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++) {
        double d = shortm->w[c] / ts - (tl > 0 ? longm->w[c] / tl : 0);
        if (d > bd + 1e-12) {
            bd = d;
            best = c;
        }
    }
    return best;
}

void vane_decay_background(const vane_decay_t *shortm, const vane_decay_t *longm, vane_decay_t *out)
{
    *out = *longm;
    if (shortm->updated_ms != longm->updated_ms)
        return;
    for (int c = 1; c < VANE_CAT__COUNT; c++) {
        float d = longm->w[c] - shortm->w[c];
        out->w[c] = d > 0 ? d : 0;
    }
}

double vane_decay_jsd(const vane_decay_t *a, const vane_decay_t *b)
{
    double ta = raw_total(a), tb = raw_total(b);
    if (!(ta > 0) || !(tb > 0))
        return 0;
    double js = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++) {
        double p = a->w[c] / ta, q = b->w[c] / tb, mm = (p + q) / 2;
        if (p > 0)
            js += 0.5 * p * log2(p / mm);
        if (q > 0)
            js += 0.5 * q * log2(q / mm);
    }
    if (js < 0)
        js = 0;
    if (js > 1)
        js = 1;
    return js;
}
