/* reply.h - hiredis reply objects without an allocation per common reply.
 *
 * hiredis builds every reply as heap objects (a redisReply, plus a copy of its string) and
 * frees them after the callback: two allocations and two frees per command. vane's write-back
 * sends hundreds of thousands of SETs a second whose replies are all "+OK", and its state loads
 * get a nil or one string each. vane_reply_functions() returns hiredis reply-object functions
 * that build the same redisReply structures, except that:
 *   - a top-level "+OK" status and a top-level nil are shared read-only objects;
 *   - a top-level string, status or error reply reuses one object per thread whose buffer only
 *     grows (hiredis hands a reply to its callback and frees it before it builds the next, so
 *     one is enough; should a second be built meanwhile, it is allocated as usual).
 * Everything else (integers, arrays and their elements) is allocated as hiredis would, so
 * callbacks see ordinary redisReply objects either way and freeReplyObject() rules apply
 * to elements. A callback must not keep a reply (or its str) past its return, which hiredis
 * already requires.
 *
 * Install on a context before its first reply: `ac->c.reader->fn = vane_reply_functions();`.
 * The reusable string is per thread, the "+OK" and nil objects are shared read-only; the
 * functions may serve any number of readers.
 */
#ifndef VANE_REPLY_H
#define VANE_REPLY_H

#include <hiredis/read.h>

redisReplyObjectFunctions *vane_reply_functions(void);

#endif
