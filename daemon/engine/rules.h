/* rules.h - vane_ruleset_t: rule files loaded, validated and compiled once.
 *
 * Loading is staged like Falco's: read (libyaml) -> collect (lists, macros, settings, rules)
 * -> compile (expressions into a flat node array, summary templates, routes). Every problem is
 * a typed diagnostic with a code, file:line:col, message and level; a ruleset with at least one
 * error is never returned. Warnings (unknown key, unused macro/list, ...) do not stop loading.
 *
 * Ownership: vane_ruleset_load returns a ruleset owned by the caller (free with
 * vane_ruleset_free). It is immutable after loading: engines borrow it (const) and any number of
 * engines may share one. diags is caller-owned; entries are appended (free with
 * vane_diags_free). The rule file format is documented in rules/README.md.
 * Pure code apart from reading the named files.
 */
#ifndef VANE_RULES_H
#define VANE_RULES_H

#include "alert.h"
#include "event.h"
#include "state.h"

#include "../util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The rule-language version this engine implements (rules' required_engine_version). */
#define VANE_ENGINE_VERSION 1

typedef struct vane_ruleset vane_ruleset_t;

typedef enum vane_diag_level {
    VANE_DIAG_ERROR = 0,
    VANE_DIAG_WARNING = 1,
    VANE_DIAG_INFO = 2,
} vane_diag_level_t;

typedef struct vane_diag {
    vane_diag_level_t level;
    char code[32];  /* stable kebab-case name, e.g. "expr-syntax", "unknown-key" */
    char file[160]; /* file name as given (or the name passed to _load_string) */
    int line;       /* 1-based; 0 when not tied to a position */
    int col;        /* 1-based */
    char msg[240];
} vane_diag_t;

typedef struct vane_diags {
    vane_diag_t *v; /* owned; grown as needed */
    size_t n, cap;
    size_t errors, warnings;
} vane_diags_t;

#define VANE_DIAGS_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Print each diagnostic as "file:line:col: level: message [code]". */
void vane_diags_print(const vane_diags_t *diags, FILE *fp);
/* Release the entries; diags is empty and reusable afterwards. NULL-safe. */
void vane_diags_free(vane_diags_t *diags);
/* First diagnostic with this code, or NULL. */
const vane_diag_t *vane_diags_find(const vane_diags_t *diags, const char *code);

/* Load and compile the files in order (later files add rules, and replace or disable rules of
 * the same id). Returns the ruleset, or NULL when any error was reported to diags (diags may be
 * NULL to discard them). */
vane_ruleset_t *vane_ruleset_load(const char *const *paths, size_t npaths, vane_diags_t *diags);

/* Same, from one in-memory document named name (for tests and `vane rules check -`). */
vane_ruleset_t *vane_ruleset_load_string(const char *name, const char *text, size_t len,
                                         vane_diags_t *diags);

void vane_ruleset_free(vane_ruleset_t *rs); /* NULL-safe */

/* Number of rules (enabled or not) and the id of rule i (borrowed for rs's lifetime). */
size_t vane_ruleset_count(const vane_ruleset_t *rs);
const char *vane_ruleset_rule_id(const vane_ruleset_t *rs, size_t i);

/* Append a readable listing of the compiled ruleset (settings, each rule's compiled condition
 * as an S-expression, tracked window classes) to out. Used by `vane rules check --dump` and by
 * the compiler tests. Returns 0 or VANE_ENOMEM. */
int vane_ruleset_dump(const vane_ruleset_t *rs, vane_buf_t *out);

/* Evaluate the condition of rule rule_id against cs and ev (ev may be NULL, as in a timer) at
 * event time anchor_ms, without side effects. *out gets the value (1/0 for booleans).
 * Returns 0, or VANE_ENOTFOUND. For tests and `vane rules explain`. */
int vane_ruleset_eval(const vane_ruleset_t *rs, const char *rule_id, const vane_state_t *cs,
                      const vane_event_t *ev, int64_t anchor_ms, double *out);

/* The allowed lateness (ms) of the ruleset's settings. */
int64_t vane_ruleset_lateness(const vane_ruleset_t *rs);

#endif
