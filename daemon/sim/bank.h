/* bank.h - vane_bank_t: a deterministic synthetic retail bank, the model behind `vane gen`.
 *
 * A bank is a population of customers, each living a seeded life of profile, login,
 * transaction, product-view, service, survey and contact events. vane_bank_next() returns the
 * events of all customers merged in global event-time order (a min-heap of per-customer
 * next-event times; ties broken by customer index), so the stream is what a bank's event bus
 * would carry. Pure code: no I/O, no clock ("start_ms" is a parameter), no allocation after
 * vane_bank_new(). Same config (seed included) => the same events, byte for byte, in the same
 * order. Each customer has its own PRNG stream derived from (seed, index), so a customer's life
 * does not depend on how many other customers exist.
 *
 * Timeline (simulated time; the generator emits it as fast as it is asked to):
 *
 *   start_ms                      history end          onset window        world end
 *   |-- normal history: history_days --|-- 0..2 days --|-- tail_days --------|
 *   every customer's Profile arrives within the first 6 h; planted customers' onset is
 *   uniform in the onset window; everyone (except DORMANCY customers) keeps living normally
 *   to the world end, so the watermark passes every onset by >= tail_days (>= 31: DORMANCY
 *   needs 30 quiet days to be visible).
 *
 * Archetypes (mix: savers 35%, investors 25%, borrowers 20%, mixed 20%), per-day rates of the
 * Poisson processes (exponential gaps):
 *
 *   archetype  logins  txns  views  categories used (fixed for life)
 *   saver      0.8     0.6   0.3    DEMAND_DEPOSIT, TIME_DEPOSIT
 *   investor   1.5     1.0   0.8    DEMAND_DEPOSIT + 2..3 of FUND, WEALTH, BOND
 *   borrower   1.0     0.8   0.3    DEMAND_DEPOSIT, LOAN, CREDIT_CARD
 *   mixed      1.2     0.9   0.5    DEMAND_DEPOSIT, TIME_DEPOSIT + 1..2 of FUND, WEALTH,
 *                                   INSURANCE, CREDIT_CARD
 *   all: service subscribe 1 / 30 days (at most 4 services), survey 1 / 40 days (score 7..10),
 *   CONTACT_ACCEPTED 1 / 30 days.
 *
 * Initial in-bank assets are log-normal per archetype (medians: saver 150k, investor 600k,
 * borrower 30k, mixed 250k CNY); segment follows assets (mass < 500k <= affluent < 6M <=
 * private) and the routing tier follows the segment (branch, line_management,
 * senior_management). Every transaction carries balance_after_minor = total in-bank assets.
 *
 * Controls (customers without a planted behaviour) are kept clear of every planted pattern:
 *   - redemptions at least 4 days apart, each at most 40% of one holding;
 *   - transfers out to other banks at least 7 days apart, each at most 8% of assets;
 *   - at most one SERVICE_CANCEL in a lifetime; never CONTACT_REFUSED, ACCOUNT_CLOSE or
 *     COMPLAINT;
 *   - survey scores 7..10; logins keep their rate to the world end; categories never change.
 *
 * Planted behaviours (planted_fraction of customers, kinds assigned round-robin over the seven
 * kinds to a seeded shuffle of customers, so every kind is present once >= 7 are planted; each
 * kind is given a compatible archetype). Onset = the first planted event (or, for DORMANCY,
 * the moment activity stops):
 *   PREFERENCE_SHIFT   saver; 3..5 PRODUCT_VIEWs of one never-used category (FUND, WEALTH,
 *                      PRECIOUS_METAL or INSURANCE) over 1..3 days, then 1..2 PURCHASEs of it
 *                      of 10..30% of assets each. Truth detail: the new category.
 *   REDEMPTION_SURGE   investor; 3..6 REDEMPTIONs within 2..5 hours, each 60..100% of a
 *                      holding.
 *   CANCELLATION_SURGE any; 3..5 of SERVICE_CANCEL / CONTACT_REFUSED / ACCOUNT_CLOSE within
 *                      1..2 days (it subscribes to >= 2 services during the history).
 *   OUTFLOW_SURGE      any; 2..4 TRANSFER_OUTs to another bank within 1..3 days, together
 *                      50..90% of assets.
 *   DORMANCY           any; every activity stops at onset (logins were regular before).
 *   DECLINE_RISK       investor; from onset logins fall to 20% and transactions to 50% of
 *                      their rate; over ~10 days: a COMPLAINT, 2 SERVICE_CANCELs >= 3 days
 *                      apart, 2 REDEMPTIONs of 30..50% of a holding >= 2 days apart, one
 *                      CONTACT_REFUSED.
 *   DETRACTOR          any; one SURVEY with score 0..6 at onset and no CONTACT_ACCEPTED
 *                      afterwards.
 */
#ifndef VANE_BANK_H
#define VANE_BANK_H

#include "engine/alert.h"
#include "engine/event.h"

#include <stddef.h>
#include <stdint.h>

#define VANE_BANK_DAY_MS (86400LL * 1000LL)

typedef enum vane_bank_archetype {
    VANE_BANK_SAVER = 0,
    VANE_BANK_INVESTOR = 1,
    VANE_BANK_BORROWER = 2,
    VANE_BANK_MIXED = 3,
    VANE_BANK_ARCHETYPE__COUNT
} vane_bank_archetype_t;

typedef struct vane_bank_config {
    uint64_t seed;           /* PRNG seed: same seed + same config = same events */
    uint32_t customers;      /* population, >= 1 */
    int64_t start_ms;        /* event time at which the simulation starts (epoch ms, > 0) */
    uint32_t history_days;   /* normal history before the onset window, >= 1 (default 60) */
    uint32_t tail_days;      /* simulated days after the onset window (default 35) */
    double planted_fraction; /* share of customers given a planted behaviour, 0..1 (0.2) */
} vane_bank_config_t;

/* Ground truth for one customer. kind is VANE_ALERT_UNSPECIFIED for a control. */
typedef struct vane_bank_truth {
    char customer_id[16];            /* "C0000042" */
    vane_bank_archetype_t archetype; /* */
    vane_alert_kind_t kind;          /* planted kind, or VANE_ALERT_UNSPECIFIED (control) */
    int64_t onset_ms;                /* first planted event / activity stop; 0 for controls */
    vane_category_t to_category;     /* PREFERENCE_SHIFT: the new category, else 0 */
} vane_bank_truth_t;

typedef struct vane_bank vane_bank_t;

/* Fill cfg with the defaults above (seed 1, 1000 customers, start_ms 0 = caller must set). */
void vane_bank_config_default(vane_bank_config_t *cfg);

/* Build the world: every customer, its life plan and planted script. Allocates everything the
 * bank will ever need. Returns NULL on a bad config or allocation failure, with a reason in
 * errbuf (may be NULL). Owned by the caller; free with vane_bank_free (NULL-safe). */
vane_bank_t *vane_bank_new(const vane_bank_config_t *cfg, char *errbuf, size_t errlen);
void vane_bank_free(vane_bank_t *bank);

/* The next event in global event-time order. Returns 0 and fills *ev, whose strings borrow
 * from the bank's scratch space and are valid until the next call on this bank; returns
 * VANE_ESTOPPED when every customer's life is over (and on every later call). */
int vane_bank_next(vane_bank_t *bank, vane_event_t *ev);

/* Number of customers, and the truth row of customer i (0 <= i < count). */
uint32_t vane_bank_customer_count(const vane_bank_t *bank);
void vane_bank_truth(const vane_bank_t *bank, uint32_t i, vane_bank_truth_t *out);

/* Event time of the world end: no event is at or after it. */
int64_t vane_bank_end_ms(const vane_bank_t *bank);

/* "saver" | "investor" | "borrower" | "mixed"; "unknown" when out of range. */
const char *vane_bank_archetype_name(vane_bank_archetype_t a);

#endif
