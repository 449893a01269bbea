/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Time and percentiles for the bench's guest probes (wakeup_probe, api_load). Header-only:
 * the probes are single files built by bench/run.sh with no project dependency and copied
 * into the VM.
 */
#ifndef GTHULHU_BENCH_PROBE_UTIL_H
#define GTHULHU_BENCH_PROBE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_ns(&ts);
}

/* For qsort() of uint64_t. */
static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile @p (0..100] of the sorted array @v of @n > 0 values. */
static inline uint64_t percentile(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

#endif /* GTHULHU_BENCH_PROBE_UTIL_H */
