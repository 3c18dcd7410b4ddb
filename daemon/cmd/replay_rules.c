#include "replay_rules.h"

#include "../engine/rules.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef VANE_DATADIR
#define VANE_DATADIR "/usr/local/share/vane"
#endif
#ifndef VANE_SOURCE_DIR
#define VANE_SOURCE_DIR "."
#endif

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *vane_replay_rules_default_path(char *buf, size_t n)
{
    const char *env = getenv("VANE_DEFAULT_RULES");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return buf;
    }
    snprintf(buf, n, "%s/rules/default.yaml", VANE_DATADIR);
    if (is_file(buf))
        return buf;
    snprintf(buf, n, "%s/rules/default.yaml", VANE_SOURCE_DIR);
    return buf;
}

vane_ruleset_t *vane_replay_rules_load_counted(const char *const *paths, size_t n, FILE *diag,
                                               int quiet, int *n_errors, int *n_warnings)
{
    char def[512];
    const char *one[1];
    if (n == 0) {
        one[0] = vane_replay_rules_default_path(def, sizeof def);
        paths = one;
        n = 1;
    }
    vane_diags_t diags = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load(paths, n, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        const vane_diag_t *d = &diags.v[i];
        if (quiet && d->level != VANE_DIAG_ERROR)
            continue;
        const char *lvl = d->level == VANE_DIAG_ERROR     ? "error"
                          : d->level == VANE_DIAG_WARNING ? "warning"
                                                          : "info";
        fprintf(diag, "%s:%d:%d: %s: %s [%s]\n", d->file, d->line, d->col, lvl, d->msg, d->code);
    }
    if (!rs && diags.errors == 0)
        fprintf(diag, "%s: error: the rules could not be loaded (out of memory?)\n", paths[0]);
    if (n_errors)
        *n_errors = (int)diags.errors;
    if (n_warnings)
        *n_warnings = (int)diags.warnings;
    vane_diags_free(&diags);
    return rs;
}

vane_ruleset_t *vane_replay_rules_load(const char *const *paths, size_t n, FILE *diag, int quiet)
{
    return vane_replay_rules_load_counted(paths, n, diag, quiet, NULL, NULL);
}

void vane_replay_rules_free(vane_ruleset_t *rs)
{
    vane_ruleset_free(rs);
}
