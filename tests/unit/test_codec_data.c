/* test_codec_data.c - the malformed inputs kept in tests/unit/data/codec/.
 *
 * Each file names its own expectation: <reason>__<what>.<json|pb>, where <reason> is the
 * metric label of the reject (vane_reject_name: "json_syntax", "not_utf8", ...) or "any"
 * (random bytes: any outcome but a crash). The extension picks the format. Decoded with a
 * 4096-byte decoder, so too_large__* files only need to exceed that. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "util/err.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *len = n > 0 ? fread(*data, 1, (size_t)n, f) : 0;
    fclose(f);
    return 0;
}

static void test_data_files(void **state)
{
    (void)state;
    const char *dir = VANE_TEST_DATA "/codec";
    DIR *d = opendir(dir);
    assert_non_null(d);
    vane_decoder_t *dec = vane_decoder_new(4096);
    int files = 0, seen[VANE_REJECT__COUNT] = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.')
            continue;
        const char *sep = strstr(name, "__");
        const char *ext = strrchr(name, '.');
        if (!sep || !ext)
            fail_msg("%s: expected <reason>__<what>.<json|pb>", name);
        vane_format_t fmt = VANE_FORMAT_JSON;
        if (strcmp(ext, ".json") == 0)
            fmt = VANE_FORMAT_JSON;
        else if (strcmp(ext, ".pb") == 0)
            fmt = VANE_FORMAT_PROTOBUF;
        else
            fail_msg("%s: unknown extension", name);
        int want = -1; /* any */
        if (!(sep - name == 3 && strncmp(name, "any", 3) == 0)) {
            for (int r = 1; r < VANE_REJECT__COUNT; r++) {
                const char *label = vane_reject_name((vane_reject_t)r);
                if (strlen(label) == (size_t)(sep - name) &&
                    strncmp(name, label, strlen(label)) == 0)
                    want = r;
            }
            if (want < 0)
                fail_msg("%s: no reject reason is called %.*s", name, (int)(sep - name), name);
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(read_file(path, &data, &len), 0);
        vane_event_t ev;
        vane_decode_error_t err;
        int rc = vane_decoder_decode(dec, data, len, fmt, &ev, &err);
        free(data);
        files++;
        if (want < 0) {
            assert_true(rc == 0 || (rc < 0 && err.reason != VANE_REJECT_NONE));
            continue;
        }
        if (rc == 0)
            fail_msg("%s: decoded, expected %s", name, vane_reject_name((vane_reject_t)want));
        if ((int)err.reason != want)
            fail_msg("%s: got %s (%s): %s", name, vane_reject_name(err.reason), err.field, err.msg);
        seen[want]++;
    }
    closedir(d);
    vane_decoder_free(dec);
    assert_true(files >= 40);
    /* every reason the decoder itself can give has at least one file */
    vane_reject_t decoder_reasons[] = {
        VANE_REJECT_TOO_LARGE,    VANE_REJECT_EMPTY,        VANE_REJECT_JSON_SYNTAX,
        VANE_REJECT_JSON_TYPE,    VANE_REJECT_PB_MALFORMED, VANE_REJECT_MISSING_FIELD,
        VANE_REJECT_UNKNOWN_ENUM, VANE_REJECT_BAD_VALUE,    VANE_REJECT_NOT_UTF8,
        VANE_REJECT_TOO_LONG,
    };
    for (size_t i = 0; i < sizeof decoder_reasons / sizeof decoder_reasons[0]; i++) {
        if (!seen[decoder_reasons[i]])
            fail_msg("no data file for %s", vane_reject_name(decoder_reasons[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_data_files)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
