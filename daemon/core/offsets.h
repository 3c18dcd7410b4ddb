/* offsets.h - per-partition progress: which offsets are safe to commit.
 *
 * Messages of a partition are consumed in offset order but can finish out of order: one
 * whose customer state is still loading from Redis waits while later ones (other customers)
 * are applied. The tracker answers "every message up to which offset has been applied?"
 * (vane_offsets_applied) so the daemon commits only what is really done:
 *
 *   vane_offsets_consumed(t, p, off)          every message, in consumption order
 *   h = vane_offsets_wait(t, p, off)          the message must wait (after consumed)
 *   vane_offsets_done(t, p, h)                the waiting message has been applied
 *
 * A partition's waiting offsets live in a ring that grows geometrically and never shrinks,
 * so the steady state allocates nothing. Pure bookkeeping, loop thread only.
 */
#ifndef VANE_OFFSETS_H
#define VANE_OFFSETS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vane_offsets vane_offsets_t;

vane_offsets_t *vane_offsets_new(void);
void vane_offsets_free(vane_offsets_t *t); /* NULL-safe */

/* Start tracking partition p (on assignment); forgets any earlier progress. 0 or VANE_ENOMEM. */
int vane_offsets_assign(vane_offsets_t *t, int32_t p);
/* Stop tracking partition p (on revocation). */
void vane_offsets_revoke(vane_offsets_t *t, int32_t p);
bool vane_offsets_assigned(const vane_offsets_t *t, int32_t p);

/* Record that the message at off was consumed. Offsets must increase per partition. */
void vane_offsets_consumed(vane_offsets_t *t, int32_t p, int64_t off);
/* Record that the message at off (already consumed) waits; returns a handle for done().
 * Returns -1 on allocation failure (the caller must then stop consuming). */
int64_t vane_offsets_wait(vane_offsets_t *t, int32_t p, int64_t off);
/* The waiting message with handle h has been applied. */
void vane_offsets_done(vane_offsets_t *t, int32_t p, int64_t h);

/* Same as done(), by offset (binary search over the waiting ring). */
void vane_offsets_done_offset(vane_offsets_t *t, int32_t p, int64_t off);

/* Highest offset o such that every consumed message <= o has been applied; -1 when none. */
int64_t vane_offsets_applied(const vane_offsets_t *t, int32_t p);
/* Number of messages of p still waiting. */
uint32_t vane_offsets_waiting(const vane_offsets_t *t, int32_t p);

/* Iterate assigned partitions: returns the next assigned partition id > after, or -1. */
int32_t vane_offsets_next(const vane_offsets_t *t, int32_t after);

#endif
