/* Skeleton; the engine defines the real encoding. */
#include "state.h"

#include "../util/err.h"

#include <string.h>

void vane_state_init(vane_state_t *cs, vane_str_t customer_id)
{
    memset(cs, 0, sizeof *cs);
    vane_str_copy(cs->customer_id, sizeof cs->customer_id, customer_id);
    cs->last_partition = -1;
    cs->last_offset = -1;
}
