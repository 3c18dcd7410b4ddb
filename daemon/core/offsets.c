#include "offsets.h"

#include "util/err.h"

#include <stdlib.h>
#include <string.h>

typedef struct wait_slot {
    int64_t offset;
    bool done;
} wait_slot_t;

typedef struct part {
    bool assigned;
    int64_t consumed;  /* last consumed offset, -1 none */
    wait_slot_t *ring; /* owned; capacity is a power of two */
    uint64_t cap;
    uint64_t head; /* sequence number of the oldest waiting slot */
    uint64_t tail; /* sequence number of the next slot to hand out */
} part_t;

struct vane_offsets {
    part_t *parts; /* owned; indexed by partition id */
    int32_t nparts;
};

vane_offsets_t *vane_offsets_new(void)
{
    return calloc(1, sizeof(vane_offsets_t));
}

void vane_offsets_free(vane_offsets_t *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->nparts; i++)
        free(t->parts[i].ring);
    free(t->parts);
    free(t);
}

static part_t *get(const vane_offsets_t *t, int32_t p)
{
    return (p >= 0 && p < t->nparts && t->parts[p].assigned) ? &t->parts[p] : NULL;
}

int vane_offsets_assign(vane_offsets_t *t, int32_t p)
{
    if (p < 0)
        return VANE_EINVAL;
    if (p >= t->nparts) {
        int32_t n = p + 1;
        part_t *np = realloc(t->parts, (size_t)n * sizeof *np);
        if (!np)
            return VANE_ENOMEM;
        memset(np + t->nparts, 0, (size_t)(n - t->nparts) * sizeof *np);
        t->parts = np;
        t->nparts = n;
    }
    part_t *pt = &t->parts[p];
    pt->assigned = true;
    pt->consumed = -1;
    pt->head = pt->tail = 0;
    return VANE_OK;
}

void vane_offsets_revoke(vane_offsets_t *t, int32_t p)
{
    part_t *pt = get(t, p);
    if (pt) {
        pt->assigned = false;
        pt->head = pt->tail = 0;
    }
}

bool vane_offsets_assigned(const vane_offsets_t *t, int32_t p)
{
    return get(t, p) != NULL;
}

void vane_offsets_consumed(vane_offsets_t *t, int32_t p, int64_t off)
{
    part_t *pt = get(t, p);
    if (pt && off > pt->consumed)
        pt->consumed = off;
}

int64_t vane_offsets_wait(vane_offsets_t *t, int32_t p, int64_t off)
{
    part_t *pt = get(t, p);
    if (!pt)
        return -1;
    if (pt->tail - pt->head == pt->cap) {
        uint64_t ncap = pt->cap ? pt->cap * 2 : 64;
        wait_slot_t *nr = malloc(ncap * sizeof *nr);
        if (!nr)
            return -1;
        for (uint64_t s = pt->head; s < pt->tail; s++)
            nr[s & (ncap - 1)] = pt->ring[s & (pt->cap - 1)];
        free(pt->ring);
        pt->ring = nr;
        pt->cap = ncap;
    }
    uint64_t seq = pt->tail++;
    pt->ring[seq & (pt->cap - 1)] = (wait_slot_t){off, false};
    return (int64_t)seq;
}

void vane_offsets_done(vane_offsets_t *t, int32_t p, int64_t h)
{
    part_t *pt = get(t, p);
    if (!pt || h < 0 || (uint64_t)h < pt->head || (uint64_t)h >= pt->tail)
        return;
    pt->ring[(uint64_t)h & (pt->cap - 1)].done = true;
    while (pt->head < pt->tail && pt->ring[pt->head & (pt->cap - 1)].done)
        pt->head++;
}

void vane_offsets_done_offset(vane_offsets_t *t, int32_t p, int64_t off)
{
    part_t *pt = get(t, p);
    if (!pt)
        return;
    uint64_t lo = pt->head, hi = pt->tail; /* offsets increase with the sequence number */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (pt->ring[mid & (pt->cap - 1)].offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < pt->tail && pt->ring[lo & (pt->cap - 1)].offset == off)
        vane_offsets_done(t, p, (int64_t)lo);
}

int64_t vane_offsets_applied(const vane_offsets_t *t, int32_t p)
{
    const part_t *pt = get(t, p);
    if (!pt)
        return -1;
    if (pt->head < pt->tail)
        return pt->ring[pt->head & (pt->cap - 1)].offset - 1;
    return pt->consumed;
}

uint32_t vane_offsets_waiting(const vane_offsets_t *t, int32_t p)
{
    const part_t *pt = get(t, p);
    if (!pt)
        return 0;
    uint32_t n = 0;
    for (uint64_t s = pt->head; s < pt->tail; s++)
        n += !pt->ring[s & (pt->cap - 1)].done;
    return n;
}

int32_t vane_offsets_next(const vane_offsets_t *t, int32_t after)
{
    for (int32_t p = after < 0 ? 0 : after + 1; p < t->nparts; p++) {
        if (t->parts[p].assigned)
            return p;
    }
    return -1;
}
