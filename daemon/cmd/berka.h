/* berka.h - the Berka (PKDD'99) bank's tables as vane events (`vane import berka DIR`).
 *
 * Reads DIR/account.asc, disp.asc, loan.asc, card.asc and the transactions (DIR/trans.asc when
 * present, else DIR/trans.partial.asc) and hands one vane_event_t per real fact to a callback,
 * in no particular order (the caller sorts by event time). The mapping, documented in
 * docs/real-data.md:
 *
 *   customer_id   "B<client_id>" of the account's OWNER (disp.asc; one owner per account)
 *   Profile       at the account's creation date: since_ms = creation, segment "mass",
 *                 tier "branch", manager_id "district-<district_id>"
 *   trans row     one Transaction, category DEMAND_DEPOSIT, product_id "ACC<account_id>",
 *                 currency CZK, amount_minor = amount x 100, balance_after_minor = balance x 100
 *     PRIJEM VKLAD                          DEPOSIT (channel BRANCH)
 *     PRIJEM PREVOD Z UCTU                  TRANSFER_IN, counterparty_bank = bank
 *     k_symbol UROK                         INTEREST
 *     k_symbol SLUZBY / SANKC. UROK         FEE
 *     VYDAJ|VYBER VYBER                     WITHDRAWAL (channel BRANCH: cash)
 *     VYDAJ VYBER KARTOU                    WITHDRAWAL (channel ATM: card)
 *     VYDAJ PREVOD NA UCET + SIPO|POJISTNE|UVER|LEASING   PAYMENT, counterparty_bank = bank
 *     VYDAJ PREVOD NA UCET otherwise        TRANSFER_OUT, counterparty_bank = bank
 *     VYDAJ VYBER + SIPO                    PAYMENT (household payment in cash)
 *   loan.asc      PURCHASE of category LOAN (amount = loan amount) at the grant date
 *   card.asc      PURCHASE of category CREDIT_CARD (amount 0) at the issue date
 * Day-resolution dates become event times: midnight UTC + 09:00 + one minute per earlier row
 * of the same account and day (file order), so an account's rows keep their order.
 *
 * Facts after the last transaction date are left out unless opts.all_dates (the partial table
 * ends on 1994-03-31; loans of 1997 would otherwise arrive after every history ended).
 * Pure apart from reading the files; allocates only for the tables' lookup arrays.
 */
#ifndef VANE_BERKA_H
#define VANE_BERKA_H

#include "../engine/event.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct vane_berka_opts {
    bool all_dates;       /* keep loans/cards/profiles after the last transaction date */
    int64_t max_accounts; /* stop after this many distinct accounts with transactions (0 = all) */
} vane_berka_opts_t;

typedef struct vane_berka_stats {
    uint64_t accounts;          /* rows of account.asc */
    uint64_t accounts_with_txn; /* accounts that have at least one transaction */
    uint64_t trans_rows;        /* transaction rows read */
    uint64_t trans_skipped;     /* rows that could not be mapped (reported) */
    uint64_t by_kind[VANE_TXN__COUNT];
    uint64_t profiles, loans, cards;
    int64_t first_ms, last_ms; /* transaction time range */
    char trans_file[600];      /* which transactions file was read */
} vane_berka_stats_t;

/* Called once per event; ev and its strings are valid only during the call. A negative return
 * stops the import and is returned by vane_berka_import. */
typedef int (*vane_berka_emit_fn)(void *ud, const vane_event_t *ev);

/* Convert DIR's tables. Problems (missing file, bad row) are reported to diag as
 * "file:line: message". Returns 0, VANE_EIO (a required file is missing or unreadable),
 * VANE_ENOMEM, or the emitter's negative code. */
int vane_berka_import(const char *dir, const vane_berka_opts_t *opts, vane_berka_emit_fn emit,
                      void *ud, vane_berka_stats_t *stats, FILE *diag);

#endif
