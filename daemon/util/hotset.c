#include "hotset.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

/* Lines for n occupants, all empty; false when out of memory (nothing then held). */
static bool alloc_lines(size_t words, size_t n, uint64_t **values, uintptr_t **tags,
                        uint64_t **keys)
{
    *values = malloc(n * words * sizeof **values);
    *tags = calloc(n, sizeof **tags);
    *keys = malloc(n * sizeof **keys);
    if (*values && *tags && *keys)
        return true;
    free(*values);
    free(*tags);
    free(*keys);
    return false;
}

int vane_hotset_init(vane_hotset_t *hs, size_t words, size_t lines, size_t max_lines)
{
    memset(hs, 0, sizeof *hs);
    size_t n = pow2_at_least(lines);
    if (!alloc_lines(words, n, &hs->values, &hs->tags, &hs->keys)) {
        memset(hs, 0, sizeof *hs);
        return VANE_ENOMEM;
    }
    hs->words = words;
    hs->mask = n - 1;
    hs->max_lines = pow2_at_least(max_lines);
    if (hs->max_lines < n)
        hs->max_lines = n;
    hs->window_left = (uint32_t)n;
    return VANE_OK;
}

void vane_hotset_destroy(vane_hotset_t *hs)
{
    free(hs->values);
    free(hs->tags);
    free(hs->keys);
    memset(hs, 0, sizeof *hs);
}

/* Double the set; each occupant moves to the line its key picks in the larger set (two
 * occupants never collide: keys equal modulo the old size go to the same or the upper half). */
static bool grow(vane_hotset_t *hs)
{
    size_t n = (hs->mask + 1) * 2;
    uint64_t *values, *keys;
    uintptr_t *tags;
    if (!alloc_lines(hs->words, n, &values, &tags, &keys))
        return false;
    size_t bytes = hs->words * sizeof *values;
    for (size_t i = 0; i <= hs->mask; i++) {
        if (!hs->tags[i])
            continue;
        size_t j = (size_t)hs->keys[i] & (n - 1);
        memcpy(values + j * hs->words, hs->values + i * hs->words, bytes);
        tags[j] = hs->tags[i];
        keys[j] = hs->keys[i];
    }
    free(hs->values);
    free(hs->tags);
    free(hs->keys);
    hs->values = values;
    hs->tags = tags;
    hs->keys = keys;
    hs->mask = n - 1;
    hs->grows++;
    return true;
}

bool vane_hotset_request(vane_hotset_t *hs, bool missed, uint32_t left_at)
{
    hs->clock++;
    hs->near += missed && hs->clock - left_at < hs->max_lines;
    if (--hs->window_left > 0)
        return false;
    size_t size = hs->mask + 1;
    bool grew = hs->near >= size / 4 && size < hs->max_lines && grow(hs);
    hs->window_left = (uint32_t)(hs->mask + 1);
    hs->near = 0;
    return grew;
}
