/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wakeup_probe: wake-up latency of a normal (SCHED_OTHER, nice 0) task, for `make bench`.
 *
 * Sleeps to absolute deadlines every INTERVAL_US (clock_nanosleep, CLOCK_MONOTONIC) and
 * records how late each wake-up ran: the time from the deadline to the moment the task is
 * back on a CPU, i.e. timer slack + the scheduler's wake-up latency. (cyclictest measures
 * this only with --policy=other: with -p 0 alone rt-tests 2.4 runs SCHED_FIFO priority 2.)
 *
 * usage: wakeup_probe [-i INTERVAL_US (1000)] [-d SECONDS (10)] [-w WARMUP_SECONDS (1)]
 * Prints "key value" lines: policy, samples, p50_us, p90_us, p99_us, p999_us, max_us,
 * mean_us (latencies in microseconds, one decimal). Exit 0, or 1 on a usage error or
 * when the task is not SCHED_OTHER (the measurement would be meaningless).
 *
 * The command name (comm) is "wakeup_probe", which the bench's strategy matches with
 * command_regex "^wakeup_probe$".
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe_util.h"

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || !*s || *end || *out == 0 || *out > max ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: wakeup_probe [-i INTERVAL_US] [-d SECONDS] [-w WARMUP_SECONDS]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned long interval_us = 1000, duration_s = 10, warmup_s = 1;
	struct sched_param sp = {.sched_priority = 0};
	struct timespec next;
	uint64_t *lat, end_ns, warm_end_ns, sum = 0, step;
	size_t n = 0, cap;
	int opt;

	while ((opt = getopt(argc, argv, "i:d:w:")) != -1) {
		switch (opt) {
		case 'i':
			if (parse_uint(optarg, 1000000, &interval_us))
				usage();
			break;
		case 'd':
			if (parse_uint(optarg, 86400, &duration_s))
				usage();
			break;
		case 'w':
			if (parse_uint(optarg, 3600, &warmup_s))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* A normal task: whatever we inherited, run as SCHED_OTHER. */
	if (sched_setscheduler(0, SCHED_OTHER, &sp)) {
		perror("wakeup_probe: sched_setscheduler(SCHED_OTHER)");
		return 1;
	}
	if (sched_getscheduler(0) != SCHED_OTHER) {
		fprintf(stderr, "wakeup_probe: not SCHED_OTHER\n");
		return 1;
	}

	step = (uint64_t)interval_us * 1000;
	cap = (size_t)(duration_s * 1000000 / interval_us) + 16;
	lat = malloc(cap * sizeof(*lat));
	if (!lat) {
		perror("wakeup_probe: malloc");
		return 1;
	}
	memset(lat, 0, cap * sizeof(*lat)); /* touch every page before measuring */

	clock_gettime(CLOCK_MONOTONIC, &next);
	warm_end_ns = ts_ns(&next) + (uint64_t)warmup_s * 1000000000ull;
	end_ns = warm_end_ns + (uint64_t)duration_s * 1000000000ull;
	for (;;) {
		uint64_t deadline, woke;

		deadline = ts_ns(&next) + step;
		next.tv_sec = (time_t)(deadline / 1000000000ull);
		next.tv_nsec = (long)(deadline % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		woke = now_ns();
		if (woke >= end_ns)
			break;
		if (deadline >= warm_end_ns && n < cap) {
			lat[n] = woke - deadline;
			sum += lat[n];
			n++;
		}
		/* Late by more than an interval: skip the missed deadlines, so that every
		 * sample is one real wake-up, not a backlog of immediate returns. */
		if (woke > deadline + step) {
			uint64_t skip = (woke - deadline) / step;

			deadline += skip * step;
			next.tv_sec = (time_t)(deadline / 1000000000ull);
			next.tv_nsec = (long)(deadline % 1000000000ull);
		}
	}
	if (!n) {
		fprintf(stderr, "wakeup_probe: no samples\n");
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("policy SCHED_OTHER\n");
	printf("samples %zu\n", n);
	printf("p50_us %.1f\n", percentile(lat, n, 50) / 1000.0);
	printf("p90_us %.1f\n", percentile(lat, n, 90) / 1000.0);
	printf("p99_us %.1f\n", percentile(lat, n, 99) / 1000.0);
	printf("p999_us %.1f\n", percentile(lat, n, 99.9) / 1000.0);
	printf("max_us %.1f\n", lat[n - 1] / 1000.0);
	printf("mean_us %.1f\n", (double)sum / (double)n / 1000.0);
	free(lat);
	return 0;
}
