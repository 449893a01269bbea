/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wakeup_probe: wake-up latency of a normal (SCHED_OTHER, nice 0) task, for `make bench`.
 *
 * Sleeps to absolute deadlines every INTERVAL_US (clock_nanosleep, CLOCK_MONOTONIC) and
 * records how late each wake-up ran: the time from the deadline to the moment the task is
 * back on a CPU, i.e. timer slack + the scheduler's wake-up latency. (cyclictest measures
 * this only with --policy=other: with -p 0 alone rt-tests 2.4 runs SCHED_FIFO priority 2.)
 *
 * It also splits off the scheduler's own part: the time the task waited runnable on a run
 * queue for each wake-up, from the kernel's per-task run_delay (/proc/thread-self/schedstat,
 * which sched_info keeps for every scheduling class). Under QEMU TCG the first figure is
 * dominated by the emulator delivering the timer interrupt late to a busy vCPU; the run-
 * queue wait is what a scheduler can change.
 *
 * usage: wakeup_probe [-i INTERVAL_US (1000)] [-d SECONDS (10)] [-w WARMUP_SECONDS (1)]
 * Prints "key value" lines: policy, samples, p50_us, p90_us, p99_us, p999_us, max_us,
 * mean_us (latencies in microseconds, one decimal), then the same for the run-queue wait
 * with an rq_ prefix (rq_p50_us ...), or "rq_wait unavailable" when the kernel has no
 * schedstat (CONFIG_SCHED_INFO). Exit 0, or 1 on a usage error or when the task is not
 * SCHED_OTHER (the measurement would be meaningless).
 *
 * The command name (comm) is "wakeup_probe", which the bench's strategy matches with
 * command_regex "^wakeup_probe$".
 */
#include <errno.h>
#include <fcntl.h>
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

/* The run_delay field (ns waited on a run queue, in all) of @fd, a schedstat file. */
static int read_run_delay(int fd, uint64_t *out)
{
	char buf[96];
	unsigned long long run_ns, delay_ns;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &run_ns, &delay_ns) != 2)
		return -1;
	*out = delay_ns;
	return 0;
}

static void print_percentiles(const char *prefix, uint64_t *v, size_t n, uint64_t sum)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%sp50_us %.1f\n", prefix, percentile(v, n, 50) / 1000.0);
	printf("%sp90_us %.1f\n", prefix, percentile(v, n, 90) / 1000.0);
	printf("%sp99_us %.1f\n", prefix, percentile(v, n, 99) / 1000.0);
	printf("%sp999_us %.1f\n", prefix, percentile(v, n, 99.9) / 1000.0);
	printf("%smax_us %.1f\n", prefix, v[n - 1] / 1000.0);
	printf("%smean_us %.1f\n", prefix, (double)sum / (double)n / 1000.0);
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
	uint64_t *lat, *rq, end_ns, warm_end_ns, sum = 0, rq_sum = 0, step, delay = 0;
	size_t n = 0, cap;
	int opt, stat_fd;

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
	rq = malloc(cap * sizeof(*rq));
	if (!lat || !rq) {
		perror("wakeup_probe: malloc");
		return 1;
	}
	/* Touch every page before measuring. */
	memset(lat, 0, cap * sizeof(*lat));
	memset(rq, 0, cap * sizeof(*rq));
	stat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (stat_fd >= 0 && read_run_delay(stat_fd, &delay)) {
		close(stat_fd);
		stat_fd = -1;
	}

	clock_gettime(CLOCK_MONOTONIC, &next);
	warm_end_ns = ts_ns(&next) + (uint64_t)warmup_s * 1000000000ull;
	end_ns = warm_end_ns + (uint64_t)duration_s * 1000000000ull;
	for (;;) {
		uint64_t deadline, woke, waited;

		deadline = ts_ns(&next) + step;
		next.tv_sec = (time_t)(deadline / 1000000000ull);
		next.tv_nsec = (long)(deadline % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		woke = now_ns();
		if (woke >= end_ns)
			break;
		/* The run-queue wait of this wake-up (and any while it ran since the last read). */
		waited = delay;
		if (stat_fd >= 0 && read_run_delay(stat_fd, &delay)) {
			fprintf(stderr, "wakeup_probe: schedstat became unreadable\n");
			return 1;
		}
		waited = delay - waited;
		if (deadline >= warm_end_ns && n < cap) {
			lat[n] = woke - deadline;
			rq[n] = waited;
			sum += lat[n];
			rq_sum += waited;
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
	printf("policy SCHED_OTHER\n");
	printf("samples %zu\n", n);
	print_percentiles("", lat, n, sum);
	if (stat_fd >= 0)
		print_percentiles("rq_", rq, n, rq_sum);
	else
		printf("rq_wait unavailable\n");
	free(lat);
	free(rq);
	return 0;
}
