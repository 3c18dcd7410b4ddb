/* replay_rules.h - loading rules files for the command-line tools (replay, rules check/test).
 *
 * A thin layer over the rules loader (engine/rules.h): resolves the default rules file when no
 * file is named, loads the files in order, and prints every diagnostic as
 * "file:line:col: level: message" to a stream. The daemon has its own reload path; the tools
 * share this one so they report rules problems identically.
 */
#ifndef VANE_REPLAY_RULES_H
#define VANE_REPLAY_RULES_H

#include "../engine/engine.h"

#include <stddef.h>
#include <stdio.h>

/* The shipped default rules file: $VANE_DEFAULT_RULES when set, else
 * <datadir>/rules/default.yaml when it exists (an installed vane), else
 * <source tree>/rules/default.yaml. Writes the path into buf and returns buf. */
const char *vane_replay_rules_default_path(char *buf, size_t n);

/* Load paths[0..n) in order (n == 0: the default file). Diagnostics go to diag; warnings are
 * printed unless quiet. Returns the ruleset (owned by the caller, free with
 * vane_replay_rules_free), or NULL when any file has an error. *n_errors / *n_warnings
 * (optional, may be NULL) receive the counts. */
vane_ruleset_t *vane_replay_rules_load_counted(const char *const *paths, size_t n, FILE *diag,
                                               int quiet, int *n_errors, int *n_warnings);
vane_ruleset_t *vane_replay_rules_load(const char *const *paths, size_t n, FILE *diag, int quiet);
void vane_replay_rules_free(vane_ruleset_t *rs); /* NULL-safe */

#endif
