/* test_metrics_docs.c - docs/metrics.md is generated from vane's metric set
 * (vane_metrics_std_init); fail when the committed file differs.
 *
 * Regenerate: VANE_UPDATE_DOCS=1 ./test_metrics_docs (in the build directory), then commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_metrics_md(FILE *out)
{
    vane_metrics_t *reg = vane_metrics_new();
    assert_non_null(reg);
    vane_metrics_std_t std;
    assert_int_equal(vane_metrics_std_init(reg, &std, "VERSION", "COMMIT", 0), VANE_OK);
    int rc = vane_metrics_write_markdown(reg, out);
    vane_metrics_free(reg);
    return rc;
}

typedef int (*writer_fn)(FILE *out);

/* noinline: gcc 12 at -O2 otherwise mistakes the returned buffer for a pointer to the local
 * that open_memstream updates (-Wdangling-pointer). */
__attribute__((noinline)) static char *generate(writer_fn fn, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    assert_int_equal(fn(f), VANE_OK);
    fclose(f);
    return text;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        size_t r = fread(text + *len, 1, 4096, f);
        *len += r;
        if (r == 0)
            break;
    }
    text[*len] = '\0';
    fclose(f);
    return text;
}

/* Compare the committed file with the generated text, or rewrite it under VANE_UPDATE_DOCS. */
static void check_generated(const char *rel, writer_fn fn)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", VANE_SOURCE_DIR, rel);
    size_t glen, flen = 0;
    char *gen = generate(fn, &glen);
    const char *update = getenv("VANE_UPDATE_DOCS");
    if (update && *update && strcmp(update, "0") != 0) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(gen, 1, glen, f), glen);
        assert_int_equal(fclose(f), 0);
        fprintf(stderr, "rewrote %s\n", path);
    }
    char *committed = slurp(path, &flen);
    if (!committed)
        fail_msg("%s is missing: run VANE_UPDATE_DOCS=1 %s", path, "test_metrics_docs");
    if (flen != glen || memcmp(committed, gen, glen) != 0) {
        size_t i = 0;
        while (i < flen && i < glen && committed[i] == gen[i])
            i++;
        size_t line = 1;
        for (size_t j = 0; j < i; j++)
            line += gen[j] == '\n';
        fail_msg("%s differs from the option table (first difference at line %zu); "
                 "regenerate with VANE_UPDATE_DOCS=1 ./test_metrics_docs and commit",
                 path, line);
    }
    free(committed);
    free(gen);
}

static void test_metrics_md_up_to_date(void **state)
{
    (void)state;
    check_generated("docs/metrics.md", write_metrics_md);
}

/* Every metric the deployment assets use must exist: the alert rules and the dashboard are
 * checked against the generated reference by tests/integration/ops_deploy_assets.sh. Here:
 * each family appears once in the reference. */
static void test_each_metric_documented_once(void **state)
{
    (void)state;
    size_t len;
    char *md = generate(write_metrics_md, &len);
    static const char *const names[] = {"vane_events_consumed_total", "vane_alerts_total",
                                        "vane_consumer_lag", "vane_build_info", NULL};
    for (int i = 0; names[i]; i++) {
        char want[128];
        snprintf(want, sizeof want, "| `%s` |", names[i]);
        char *first = strstr(md, want);
        assert_non_null(first);
        assert_null(strstr(first + 1, want));
    }
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_metric_documented_once),
        cmocka_unit_test(test_metrics_md_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
