#!/usr/bin/env bash
# recovery_group with the cooperative-sticky assignor (incremental rebalances: assign and
# unassign of some partitions while the others stay), the protocol vane supports besides the
# default eager one. Same checks as recovery_group. (It does not reproduce the stall fixed with
# it, a hand-over waiting as long as the kept partitions had input: here the stream is short.)
RC_ASSIGNOR=cooperative-sticky RECOVERY_GROUP_NAME=recovery_group_cooperative \
    exec bash "$(dirname "$0")/recovery_group.sh"
