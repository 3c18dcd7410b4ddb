/* timer_heap.h - vane_timer_heap_t: at most one due time per customer slot, earliest first.
 *
 * `vane replay` arms each customer's absence timers (dormancy, follow-up) at the engine's
 * next_due and fires them, in (due, slot) order, as the watermark passes. Slots are the replay
 * map's dense customer numbers (0, 1, 2, ...).
 *
 * An indexed binary min-heap with lazy later-due updates: every slot has a wanted due time
 * and at most one heap entry whose key is never later than it. An earlier due moves the entry
 * up at once; a later one (the common case: activity pushes dormancy back) or a disarm only
 * records the wanted time, and the entry is moved down or dropped when it reaches the top
 * (vane_timer_heap_peek). So an update costs O(1) unless the due time moves earlier, and the
 * firing order is exactly that of an eager heap. The heap never holds more entries than slots.
 *
 * Memory: 40 bytes per reserved slot, grown by vane_timer_heap_reserve (doubling); nothing
 * else allocates. Owned by the caller: new / free. Single-threaded. Pure code.
 */
#ifndef VANE_TIMER_HEAP_H
#define VANE_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VANE_TIMER_NONE INT64_MAX /* due time of a disarmed slot */

typedef struct vane_timer_heap vane_timer_heap_t;

/* An empty heap (no slots reserved). NULL when out of memory. */
vane_timer_heap_t *vane_timer_heap_new(void);
void vane_timer_heap_free(vane_timer_heap_t *h); /* NULL-safe */

/* Make room for slots [0, slots). Returns 0 or VANE_ENOMEM (the heap is unchanged). */
int vane_timer_heap_reserve(vane_timer_heap_t *h, size_t slots);

/* Arm slot (< the reserved count) at due, replacing its previous due time; VANE_TIMER_NONE
 * disarms it. Never allocates. */
void vane_timer_heap_set(vane_timer_heap_t *h, uint32_t slot, int64_t due);
/* The slot's current due time (VANE_TIMER_NONE when disarmed). */
int64_t vane_timer_heap_due(const vane_timer_heap_t *h, uint32_t slot);

/* The earliest armed slot if it is due at or before until: returns true and sets *slot (and
 * *due when not NULL); it stays armed until vane_timer_heap_pop. */
bool vane_timer_heap_peek(vane_timer_heap_t *h, int64_t until, uint32_t *slot, int64_t *due);
/* Disarm the slot the last successful peek returned (nothing else may change in between). */
void vane_timer_heap_pop(vane_timer_heap_t *h);

/* Start loading slot's record (a hint, for a slot about to be set). */
void vane_timer_heap_prefetch(const vane_timer_heap_t *h, uint32_t slot);

/* Entries in the heap (armed slots plus not yet dropped stale ones). */
size_t vane_timer_heap_len(const vane_timer_heap_t *h);

#endif
