/* state.h - vane_state_t: everything vane remembers about one customer.
 *
 * A state is a fixed-size value (no pointers), so the daemon's cache can hold states in
 * slabs, copy them, and drop them without destructors. The engine reads and updates it;
 * the daemon persists it in Redis as the protobuf vane.v1.CustomerState
 * (proto/vane/v1/state.proto), whose `version` field lets the layout evolve: decode accepts
 * every version up to VANE_STATE_VERSION and refuses newer ones with VANE_EVERSION.
 *
 * Owned by whoever holds it (cache slot, stack); pure code: no I/O, no clock.
 */
#ifndef VANE_STATE_H
#define VANE_STATE_H

#include "event.h"

#include "../util/buf.h"

#include <stdint.h>

#define VANE_STATE_VERSION 1

/* The engine's part of the state is defined in features.h; the daemon only touches the
 * header fields documented here. */
#include "features.h"

typedef struct vane_state {
    char customer_id[VANE_ID_MAX + 1]; /* NUL-terminated */
    /* Position of the last applied event, for exactly-once replay skipping.
     * last_partition == -1 when no event has been applied from Kafka. */
    int32_t last_partition;
    int64_t last_offset;
    vane_features_t f; /* engine-owned: windows, baselines, profile, episodes, ... */
} vane_state_t;

/* Reset *cs to the empty state of customer_id (truncated to VANE_ID_MAX). */
void vane_state_init(vane_state_t *cs, vane_str_t customer_id);

/* Append the protobuf encoding of *cs to out. Returns 0 or VANE_ENOMEM. No allocation beyond
 * out's growth. */
int vane_state_encode(const vane_state_t *cs, vane_buf_t *out);
/* The same encoding through protobuf-c's pack: slower; the oracle the tests compare
 * vane_state_encode with (they must produce identical bytes). */
int vane__state_encode_reference(const vane_state_t *cs, vane_buf_t *out);

/* Decode bytes into *cs (fully overwritten). Returns 0, VANE_EPARSE (malformed),
 * VANE_EVERSION (written by a newer vane) or VANE_ERANGE (a value out of bounds). */
int vane_state_decode(vane_state_t *cs, const void *bytes, size_t len);

#endif
