#include "timer_heap.h"

#include "../util/err.h"

#include <stdlib.h>

#define NOT_IN_HEAP UINT32_MAX

/* One heap entry: slot, ordered by key (its due time when placed; never later than the
 * slot's wanted time). */
typedef struct entry {
    int64_t key;
    uint32_t slot;
} entry_t;

/* Per slot: the wanted due time, and where its entry is with its key (mirrors heap[pos].key,
 * so an update that needs no heap work touches only this record). */
typedef struct slot_rec {
    int64_t want;
    int64_t key;
    uint32_t pos; /* NOT_IN_HEAP when the slot has no entry */
} slot_rec_t;

struct vane_timer_heap {
    entry_t *heap;
    size_t len;
    slot_rec_t *slots;
    size_t cap; /* slots reserved (and entries allocated) */
};

vane_timer_heap_t *vane_timer_heap_new(void)
{
    return calloc(1, sizeof(vane_timer_heap_t));
}

void vane_timer_heap_free(vane_timer_heap_t *h)
{
    if (!h)
        return;
    free(h->heap);
    free(h->slots);
    free(h);
}

int vane_timer_heap_reserve(vane_timer_heap_t *h, size_t slots)
{
    if (slots <= h->cap)
        return VANE_OK;
    if (slots > (size_t)NOT_IN_HEAP)
        return VANE_ENOMEM;
    size_t ncap = h->cap ? h->cap : 1024;
    while (ncap < slots)
        ncap *= 2;
    entry_t *nh = realloc(h->heap, ncap * sizeof *nh);
    if (!nh)
        return VANE_ENOMEM;
    h->heap = nh;
    slot_rec_t *ns = realloc(h->slots, ncap * sizeof *ns);
    if (!ns)
        return VANE_ENOMEM; /* heap grew, slots did not: cap unchanged, retried next time */
    for (size_t i = h->cap; i < ncap; i++)
        ns[i] = (slot_rec_t){VANE_TIMER_NONE, VANE_TIMER_NONE, NOT_IN_HEAP};
    h->slots = ns;
    h->cap = ncap;
    return VANE_OK;
}

/* Order: key, then slot (the customer's first-seen order), so timers due at the same time fire
 * in a defined order that does not depend on the heap's history. */
static bool less(entry_t a, entry_t b)
{
    return a.key < b.key || (a.key == b.key && a.slot < b.slot);
}

static void place(vane_timer_heap_t *h, size_t i, entry_t e)
{
    h->heap[i] = e;
    h->slots[e.slot].pos = (uint32_t)i;
    h->slots[e.slot].key = e.key;
}

static void sift_up(vane_timer_heap_t *h, size_t i)
{
    entry_t e = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(e, h->heap[parent]))
            break;
        place(h, i, h->heap[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(vane_timer_heap_t *h, size_t i)
{
    entry_t e = h->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && less(h->heap[c + 1], h->heap[c]))
            c++;
        if (!less(h->heap[c], e))
            break;
        place(h, i, h->heap[c]);
        i = c;
    }
    place(h, i, e);
}

static void remove_at(vane_timer_heap_t *h, size_t i)
{
    h->slots[h->heap[i].slot].pos = NOT_IN_HEAP;
    entry_t last = h->heap[--h->len];
    if (i == h->len)
        return;
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, h->slots[last.slot].pos);
}

void vane_timer_heap_set(vane_timer_heap_t *h, uint32_t slot, int64_t due)
{
    VANE_ASSERT(slot < h->cap);
    slot_rec_t *s = &h->slots[slot];
    s->want = due;
    if (due == VANE_TIMER_NONE)
        return; /* a stale entry, if any, is dropped when it reaches the top */
    if (s->pos == NOT_IN_HEAP) {
        size_t i = h->len++;
        h->heap[i] = (entry_t){due, slot};
        sift_up(h, i);
    } else if (due < s->key) {
        h->heap[s->pos].key = due;
        sift_up(h, s->pos);
    }
}

int64_t vane_timer_heap_due(const vane_timer_heap_t *h, uint32_t slot)
{
    return slot < h->cap ? h->slots[slot].want : VANE_TIMER_NONE;
}

bool vane_timer_heap_peek(vane_timer_heap_t *h, int64_t until, uint32_t *slot, int64_t *due)
{
    while (h->len > 0 && h->heap[0].key <= until) {
        entry_t *top = &h->heap[0];
        int64_t want = h->slots[top->slot].want;
        if (want == top->key) {
            *slot = top->slot;
            if (due)
                *due = want;
            return true;
        }
        /* Stale: its slot was disarmed or wants a later time. */
        if (want == VANE_TIMER_NONE) {
            remove_at(h, 0);
        } else {
            top->key = want;
            sift_down(h, 0);
        }
    }
    return false;
}

void vane_timer_heap_pop(vane_timer_heap_t *h)
{
    VANE_ASSERT(h->len > 0);
    uint32_t slot = h->heap[0].slot;
    remove_at(h, 0);
    h->slots[slot].want = VANE_TIMER_NONE;
}

void vane_timer_heap_prefetch(const vane_timer_heap_t *h, uint32_t slot)
{
    if (slot < h->cap)
        __builtin_prefetch(&h->slots[slot], 1);
}

size_t vane_timer_heap_len(const vane_timer_heap_t *h)
{
    return h->len;
}
