/* redis.c - the Redis floor: pipelined SETs of vane's state size through one connection.
 *
 *   limit_redis (--socket PATH | --host H --port P) [--count 200000] [--size 256]
 *               [--pipeline 1000] [--keys 100000]
 *
 * One hiredis (synchronous) connection; appends --pipeline SET commands, then reads their
 * replies, repeated until --count commands. Keys are "bench:{C%07d}:s" over --keys
 * customers (vane's key shape), values --size bytes. Measures wall time and this client's
 * CPU per command, the denominator of vane's client CPU per Redis command.
 * Prints {"commands","seconds","cmds_per_s","client_cpu_ns_per_cmd","size","pipeline"}.
 */
#include "bench_util.h"

#include <hiredis/hiredis.h>

int main(int argc, char **argv)
{
    const char *sock = bench_arg(argc, argv, "--socket", NULL);
    const char *host = bench_arg(argc, argv, "--host", "127.0.0.1");
    int port = (int)bench_arg_ll(argc, argv, "--port", 6379);
    long long count = bench_arg_ll(argc, argv, "--count", 200000);
    long long size = bench_arg_ll(argc, argv, "--size", 256);
    long long pipeline = bench_arg_ll(argc, argv, "--pipeline", 1000);
    long long keys = bench_arg_ll(argc, argv, "--keys", 100000);
    if (size < 1 || pipeline < 1 || keys < 1)
        bench_die("bad arguments");

    redisContext *c = sock ? redisConnectUnix(sock) : redisConnect(host, port);
    if (!c || c->err)
        bench_die("redis connect: %s", c ? c->errstr : "no memory");
    char *val = malloc((size_t)size);
    if (!val)
        bench_die("out of memory");
    for (long long i = 0; i < size; i++)
        val[i] = (char)('a' + i % 26);

    long long done = 0, errors = 0;
    uint64_t rng = 7;
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    while (done < count) {
        long long n = count - done < pipeline ? count - done : pipeline;
        for (long long i = 0; i < n; i++) {
            char key[40];
            int kl = snprintf(key, sizeof(key), "bench:{C%07llu}:s",
                              (unsigned long long)(bench_rand(&rng) % (uint64_t)keys));
            val[0] = (char)('a' + (done + i) % 26); /* not the same bytes every time */
            redisAppendCommand(c, "SET %b %b", key, (size_t)kl, val, (size_t)size);
        }
        for (long long i = 0; i < n; i++) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK)
                bench_die("redis: %s", c->errstr);
            redisReply *rep = r;
            if (rep->type == REDIS_REPLY_ERROR)
                errors++;
            freeReplyObject(rep);
        }
        done += n;
    }
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    double secs = (double)(t1 - t0) / 1e9;
    printf("{\"commands\":%lld,\"errors\":%lld,\"seconds\":%.4f,\"cmds_per_s\":%.1f,"
           "\"client_cpu_ns_per_cmd\":%.1f,\"size\":%lld,\"pipeline\":%lld}\n",
           done, errors, secs, (double)done / secs, (double)(c1 - c0) / (double)done, size,
           pipeline);
    redisFree(c);
    free(val);
    return errors ? 1 : 0;
}
