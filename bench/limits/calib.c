/* calib.c - a fixed calibration loop: the same integer and memory work every time.
 *
 * bench/run.sh runs it before each measurement. Its wall time on a quiet machine is stable
 * to a few percent; a slower run means the CPU was shared (other processes, a noisy
 * neighbour, frequency scaling), and the measurement that follows is marked noisy.
 *
 *   limit_calib [--iters N]      prints {"calib_ms": wall, "calib_cpu_ms": cpu, ...}
 */
#include "bench_util.h"

int main(int argc, char **argv)
{
    long long iters = bench_arg_ll(argc, argv, "--iters", 60000000);
    enum { TABLE = 1 << 16 }; /* 512 KiB: L2-resident, touches the cache like real work */
    static uint64_t table[TABLE];
    uint64_t s = 42, acc = 0;
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    for (long long i = 0; i < iters; i++) {
        uint64_t r = bench_rand(&s);
        uint64_t *slot = &table[r & (TABLE - 1)];
        *slot += r >> 7;
        acc ^= *slot;
    }
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    printf("{\"calib_ms\":%.3f,\"calib_cpu_ms\":%.3f,\"iters\":%lld,\"check\":%llu}\n",
           (double)(t1 - t0) / 1e6, (double)(c1 - c0) / 1e6, iters,
           (unsigned long long)(acc & 0xffff));
    return 0;
}
