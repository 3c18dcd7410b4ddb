/* state.c - the state floor: update a small per-customer record in a hash table.
 *
 *   limit_state [--count N] [--customers C] [--zipf S] [--seed N] [--passes 1]
 *
 * The key sequence is the loader's (limit_load with the same --count/--customers/--zipf/
 * --seed produces the same customers in the same order), so this is the least any engine
 * must spend per event on that stream: find the customer's record (xxh3 of the id, open
 * addressing, linear probing, table at most half full) and update a 64-byte record (count,
 * sum, last event time, category mask), inserting it on first sight. Inputs are generated
 * before the clock starts. Prints {"events","customers_seen","ns_per_event","table_mb"}.
 */
#include "bench_util.h"

#include <xxhash.h>

typedef struct rec {
    char id[16];
    uint64_t hash;
    int64_t last_ms;
    int64_t sum;
    uint32_t count;
    uint32_t cats;
    uint64_t pad[2];
} rec_t;

typedef struct in_ev {
    char id[12];
    uint32_t cat;
    int64_t amount;
    int64_t time_ms;
} in_ev_t;

int main(int argc, char **argv)
{
    long long count = bench_arg_ll(argc, argv, "--count", 1500000);
    long long customers = bench_arg_ll(argc, argv, "--customers", 1000000);
    double zipf = bench_arg_d(argc, argv, "--zipf", 0);
    long long seed = bench_arg_ll(argc, argv, "--seed", 1);
    int passes = (int)bench_arg_ll(argc, argv, "--passes", 1);

    in_ev_t *evs = bench_big_alloc((size_t)count * sizeof(*evs));
    if (!evs)
        bench_die("out of memory");
    bench_gen_t g;
    bench_gen_init(&g, (uint64_t)seed, (uint64_t)customers, zipf);
    for (long long i = 0; i < count; i++) {
        bench_event_t e;
        bench_gen_next(&g, &e);
        memset(evs[i].id, 0, sizeof(evs[i].id));
        memcpy(evs[i].id, e.customer_id, strlen(e.customer_id) < 12 ? strlen(e.customer_id) : 11);
        evs[i].cat = (uint32_t)e.category;
        evs[i].amount = e.amount;
        evs[i].time_ms = e.time_ms;
    }
    size_t cap = 1024;
    while (cap < (size_t)customers * 2)
        cap <<= 1;
    rec_t *table = calloc(cap, sizeof(rec_t));
    if (!table)
        bench_die("out of memory");
    size_t seen = 0;
    int64_t t0 = bench_now_ns();
    for (int pass = 0; pass < passes; pass++) {
        for (long long i = 0; i < count; i++) {
            const in_ev_t *ev = &evs[i];
            size_t len = strnlen(ev->id, sizeof(ev->id));
            uint64_t h = XXH3_64bits(ev->id, len);
            size_t slot = (size_t)h & (cap - 1);
            rec_t *r;
            for (;;) {
                r = &table[slot];
                if (r->count == 0) {
                    memcpy(r->id, ev->id, len);
                    r->hash = h;
                    seen++;
                    break;
                }
                if (r->hash == h && memcmp(r->id, ev->id, len) == 0)
                    break;
                slot = (slot + 1) & (cap - 1);
            }
            r->count++;
            r->sum += ev->amount;
            r->cats |= 1u << ev->cat;
            if (ev->time_ms > r->last_ms)
                r->last_ms = ev->time_ms;
        }
    }
    int64_t t1 = bench_now_ns();
    double total = (double)count * passes;
    printf("{\"events\":%.0f,\"customers_seen\":%zu,\"ns_per_event\":%.2f,\"table_mb\":%.1f,"
           "\"customers\":%lld,\"zipf\":%g}\n",
           total, seen, (double)(t1 - t0) / total, (double)(cap * sizeof(rec_t)) / 1048576.0,
           customers, zipf);
    free(table);
    return 0;
}
