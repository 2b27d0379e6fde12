/* The two callgrind client requests bench/inproc.py makes (through ctypes) around the requests it counts:
 * counters zeroed and instrumentation on; then off, and the counts so far written out under `label`.
 * Outside valgrind each request is a few no-op instructions. Built by bench/instructions.py with
 * gcc -shared -fPIC against valgrind's header (Debian: package valgrind). */
#include <valgrind/callgrind.h>

void count_from_here(void)
{
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void dump_counts(const char *label)
{
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_DUMP_STATS_AT(label);
}
