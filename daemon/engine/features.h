/* features.h - the engine's per-customer feature block (part of vane_state_t).
 * PLACEHOLDER layout for the skeleton; the detection engine defines the real one. */
#ifndef VANE_FEATURES_H
#define VANE_FEATURES_H

#include <stdint.h>

typedef struct vane_features {
    int64_t max_event_time_ms;
    uint64_t events_applied;
} vane_features_t;

#endif
