/* test_config_docs.c - docs/configuration.md and deploy/vane.example.yaml are generated from the
 * option table; fail when the committed files differ from what the table generates now.
 *
 * Regenerate: VANE_UPDATE_DOCS=1 ./test_config_docs (in the build directory), then commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/config.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*writer_fn)(FILE *out);

static char *generate(writer_fn fn, size_t *len)
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
        fail_msg("%s is missing: run VANE_UPDATE_DOCS=1 %s", path, "test_config_docs");
    if (flen != glen || memcmp(committed, gen, glen) != 0) {
        size_t i = 0;
        while (i < flen && i < glen && committed[i] == gen[i])
            i++;
        size_t line = 1;
        for (size_t j = 0; j < i; j++)
            line += gen[j] == '\n';
        fail_msg("%s differs from the option table (first difference at line %zu); "
                 "regenerate with VANE_UPDATE_DOCS=1 ./test_config_docs and commit",
                 path, line);
    }
    free(committed);
    free(gen);
}

static void test_markdown_up_to_date(void **state)
{
    (void)state;
    check_generated("docs/configuration.md", vane_config_write_markdown);
}

static void test_example_up_to_date(void **state)
{
    (void)state;
    check_generated("deploy/vane.example.yaml", vane_config_write_example);
}

/* Every option is documented, with its environment name. */
static void test_markdown_mentions_every_option(void **state)
{
    (void)state;
    size_t len;
    char *md = generate(vane_config_write_markdown, &len);
    for (size_t i = 0; i < vane_config_nopts; i++) {
        char want[160];
        snprintf(want, sizeof want, "| `%s` |", vane_config_opts[i].name);
        assert_non_null(strstr(md, want));
    }
    assert_non_null(strstr(md, "`VANE_KAFKA_BROKERS`"));
    free(md);
}

/* The generated example is itself a valid configuration equal to the defaults, for every
 * option, in its nested form. */
static void test_example_loads_as_defaults(void **state)
{
    (void)state;
    size_t len;
    char *text = generate(vane_config_write_example, &len);
    char path[] = "/tmp/vane-test-example-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);

    vane_config_t def, ex;
    assert_int_equal(vane_config_init(&def), VANE_OK);
    assert_int_equal(vane_config_init(&ex), VANE_OK);
    char err[512] = "";
    int rc = vane_config_load_file(&ex, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, VANE_OK);
    for (size_t i = 0; i < vane_config_nopts; i++) {
        const vane_config_opt_t *o = &vane_config_opts[i];
        char a[1024], b[1024];
        vane_config_value_str(&def, o, false, a, sizeof a);
        vane_config_value_str(&ex, o, false, b, sizeof b);
        assert_string_equal(a, b);
        /* every option was set by the file, none left to its default */
        if (o->type != VANE_CONF_LIST)
            assert_int_equal(ex.src[i], VANE_CONFIG_SRC_FILE);
    }
    vane_config_free(&def);
    vane_config_free(&ex);
    unlink(path);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_mentions_every_option),
        cmocka_unit_test(test_example_loads_as_defaults),
        cmocka_unit_test(test_markdown_up_to_date),
        cmocka_unit_test(test_example_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
