/* hotset.h - vane_hotset_t: a direct-mapped set of unpacked values that grows with the stream.
 *
 * vane keeps most customers' states packed (zpack.h) and unpacks the ones being worked on into
 * a small set of full values: the daemon's cache (core/cache.h) and the replay tool's map
 * (cmd/replay_map.h) both do. This module is that set's bookkeeping, shared by the two:
 *   - lines of `words` 8-byte words each, a power of two of them; line i holds the value of one
 *     occupant, named by a non-zero tag the caller chooses (an entry pointer, a slot + 1), and
 *     placed by a key the caller chooses (a hash, a slot number): line = key & mask;
 *   - a clock that counts requests, so the caller can stamp a value when it leaves the set;
 *   - the sizing rule. A request for a value that is not in the set and left it fewer than
 *     max_lines requests ago is a "near miss": a larger set would have kept it. When a quarter
 *     of a window's requests (window = the set's size) are near misses, the set doubles, up to
 *     max_lines, every occupant moving to the line its key picks in the larger set. A stream of
 *     few customers with many events each grows it until they all fit; a stream spread over far
 *     more customers keeps it small, so each miss packs a state still in the CPU cache.
 * The set neither packs nor unpacks: the caller moves values in and out of lines (the line's
 * previous occupant first) and records occupants with vane_hotset_put / vane_hotset_clear.
 *
 * Allocation: only in init and when the set doubles (inside vane_hotset_request; the old and
 * new lines are held together briefly). Owned by the caller: vane_hotset_init /
 * vane_hotset_destroy. Single-threaded, no I/O.
 */
#ifndef VANE_HOTSET_H
#define VANE_HOTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vane_hotset {
    uint64_t *values;           /* owned: (mask + 1) lines of `words` words */
    uintptr_t *tags;            /* owned: line i's occupant, 0 = empty */
    uint64_t *keys;             /* owned: line i's occupant's key (valid when tags[i] != 0) */
    size_t words;               /* words per line */
    size_t mask;                /* lines - 1 */
    size_t max_lines;           /* the set doubles up to this many lines */
    uint32_t clock;             /* requests counted (wraps; only differences are used) */
    uint32_t window_left, near; /* requests left in this window, near misses in it */
    uint64_t grows;             /* doublings so far */
} vane_hotset_t;

/* An empty set of `lines` lines (rounded up to a power of two, at least 16) of `words` words
 * each, which may double up to max_lines (rounded up likewise; never below lines). Returns
 * VANE_OK or VANE_ENOMEM (then nothing is held; destroy is still safe). */
int vane_hotset_init(vane_hotset_t *hs, size_t words, size_t lines, size_t max_lines);
/* Free the lines. The set is empty afterwards; NULL-safe on a zeroed struct. */
void vane_hotset_destroy(vane_hotset_t *hs);

/* The line a key places its occupant in, at the set's current size. */
static inline size_t vane_hotset_line(const vane_hotset_t *hs, uint64_t key)
{
    return (size_t)key & hs->mask;
}
/* Line's value: `words` words, valid until the set next grows (vane_hotset_request). */
static inline uint64_t *vane_hotset_value(const vane_hotset_t *hs, size_t line)
{
    return hs->values + line * hs->words;
}
/* Line's occupant tag; 0 when empty. */
static inline uintptr_t vane_hotset_tag(const vane_hotset_t *hs, size_t line)
{
    return hs->tags[line];
}
/* Record that line now holds the value of tag (non-zero), placed by key. */
static inline void vane_hotset_put(vane_hotset_t *hs, size_t line, uintptr_t tag, uint64_t key)
{
    hs->tags[line] = tag;
    hs->keys[line] = key;
}
/* Record that line is empty (its value was packed away, or its owner is gone). */
static inline void vane_hotset_clear(vane_hotset_t *hs, size_t line)
{
    hs->tags[line] = 0;
}
static inline size_t vane_hotset_size(const vane_hotset_t *hs)
{
    return hs->mask + 1;
}

/* Count one request for a value: advances the clock, then applies the sizing rule. missed: the
 * value is not in the set and was in it before (it has a packing); left_at: the clock when it
 * last left (stamped by the caller from hs->clock as it packed the value). Returns true when the
 * set doubled: lines, and every occupant's line, have changed, so the caller recomputes the
 * line of its value. A doubling that cannot allocate leaves the set as it was. */
bool vane_hotset_request(vane_hotset_t *hs, bool missed, uint32_t left_at);

#endif
