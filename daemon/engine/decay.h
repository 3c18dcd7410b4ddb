/* decay.h - exponentially decayed category distributions (the customer's product "mix").
 *
 * A mix holds one weight per product category, all decaying with one half-life: a weight w
 * recorded at time t counts w * 2^-((now - t) / half_life) at time now. Adding at time t first
 * decays the whole mix to t (so the stored weights are "as of updated_ms"). An out-of-order
 * addition (t < updated_ms) is added pre-decayed instead, so order does not change the result.
 * Huge gaps underflow to 0 cleanly (exp2 of a very negative number), never to NaN.
 *
 * Two mixes per customer (short and long horizon) make the preference-shift signal: the
 * Jensen-Shannon divergence (base 2, so in [0, 1]) between the short mix (recent interest) and
 * the background (long minus short: the established preference without the recent burst).
 * Pure value code; weights are floats (7 significant digits are plenty for shares).
 */
#ifndef VANE_DECAY_H
#define VANE_DECAY_H

#include "event.h"

#include <stdint.h>

typedef struct vane_decay {
    int64_t updated_ms;       /* time the weights are expressed at; 0 = empty */
    float w[VANE_CAT__COUNT]; /* index = vane_category_t; [0] unused (unknown category) */
} vane_decay_t;

/* Add weight to category cat at time t_ms. Unknown categories (0 or out of range) are ignored. */
void vane_decay_add(vane_decay_t *m, int64_t t_ms, int cat, double weight, int64_t half_life_ms);
/* Total weight as of time at_ms (decayed forward; never increased backward). */
double vane_decay_total(const vane_decay_t *m, int64_t at_ms, int64_t half_life_ms);
/* Share of category cat in [0,1]; 0 when the mix is empty. */
double vane_decay_share(const vane_decay_t *m, int cat);
/* Category with the largest weight, or 0 when empty. Ties go to the lower category number. */
int vane_decay_dominant(const vane_decay_t *m);
/* Category whose share grew most from long to short (share_short - share_long > 0), or 0. */
int vane_decay_emerging(const vane_decay_t *shortm, const vane_decay_t *longm);
/* The history before the recent activity: out[c] = max(0, longm[c] - shortm[c]). Both mixes
 * receive the same additions, so a recent event weighs about the same in each and cancels out,
 * while an old one has decayed away from the short mix and stays. Requires both mixes to be
 * expressed at the same updated_ms (the engine always updates them together); otherwise out is
 * a copy of longm. */
void vane_decay_background(const vane_decay_t *shortm, const vane_decay_t *longm,
                           vane_decay_t *out);
/* Jensen-Shannon divergence (base 2) of the normalised mixes, in [0,1]; 0 if either is empty. */
double vane_decay_jsd(const vane_decay_t *a, const vane_decay_t *b);

#endif
