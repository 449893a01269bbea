/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stats thread (see stats.h): logs every interval and on request (SIGUSR1, relayed by
 * the scheduling loop through an eventfd so the loop never writes logs itself). It only reads: BPF
 * counters through the skeleton's mapped .bss, loop figures through sched_loop_stats(). It never
 * touches the loop's data.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bpf_skel.h"
#include "counters.h"
#include "log/log.h"
#include "stats.h"
#include "thread.h"

static struct {
	pthread_t thread;
	bool running;
	int wake_fd; /* eventfd: a dump request (1) or stop (2) */
	volatile bool stop;
	const struct loader *ld;
	const struct sched_loop *loop;
	unsigned int interval_s; /* atomic: the API changes it */
	bool interval_changed;	 /* atomic: a wake-up that is not a dump request */
} stats = {.wake_fd = -1};

void stats_log(const struct loader *ld, const struct sched_loop *l)
{
	const struct gthulhu_counters *c = &ld->skel->bss->counters;
	struct loop_stats ls;
	struct log_rec *r;
	char key[32];
	size_t k;
	int i;

	r = log_begin(LOG_INFO, "stats");
	for (k = 0; k < nr_counter_descs; k++)
		log_u64(r, counter_descs[k].name, counter_read(c, &counter_descs[k]));
	log_i64(r, "kfunc_api", ld->skel->bss->kfunc_api_in_use);
	if (l) {
		sched_loop_stats(l, &ls);
		log_u64(r, "loop_batches", ls.batches);
		log_u64(r, "loop_records", ls.records);
		log_u64(r, "loop_decisions", ls.decisions);
		log_u64(r, "loop_replaced", ls.replaced);
		log_u64(r, "loop_held_full", ls.held_full);
		log_u64(r, "loop_max_batch", ls.max_batch);
		for (i = 0; i < LOOP_LATENCY_BUCKETS; i++) {
			if (!ls.latency_hist[i])
				continue;
			snprintf(key, sizeof(key), "loop_latency_lt_%uus", 1u << i);
			log_u64(r, key, ls.latency_hist[i]);
		}
	}
	log_end(r);
}

static void *stats_main(void *arg)
{
	struct pollfd pfd = {.fd = stats.wake_fd, .events = POLLIN};

	while (!stats.stop) {
		unsigned int s = __atomic_load_n(&stats.interval_s, __ATOMIC_RELAXED);
		uint64_t v;
		int n = poll(&pfd, 1, s ? (int)s * 1000 : -1);

		if (n > 0 && read(stats.wake_fd, &v, sizeof(v)) < 0)
			continue;
		if (stats.stop)
			break;
		/* A new interval starts counting now; it is not a request for a record. */
		if (n > 0 && __atomic_exchange_n(&stats.interval_changed, false, __ATOMIC_ACQ_REL))
			continue;
		stats_log(stats.ld, stats.loop);
	}
	return NULL;
}

int stats_start(const struct loader *ld, const struct sched_loop *l, unsigned int interval_s)
{
	int err;

	stats.ld = ld;
	stats.loop = l;
	stats.interval_s = interval_s;
	stats.stop = false;
	stats.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stats.wake_fd < 0)
		return -errno;
	err = thread_start(&stats.thread, "gt-stats", stats_main, NULL);
	if (err) {
		close(stats.wake_fd);
		stats.wake_fd = -1;
		return -err;
	}
	stats.running = true;
	return 0;
}

void stats_request_dump(void)
{
	uint64_t one = 1;

	/* Non-blocking: the scheduling loop calls this. A full counter means one is due. */
	if (stats.wake_fd >= 0 && write(stats.wake_fd, &one, sizeof(one)) < 0)
		return;
}

void stats_set_interval(unsigned int interval_s)
{
	uint64_t one = 1;

	__atomic_store_n(&stats.interval_s, interval_s, __ATOMIC_RELAXED);
	__atomic_store_n(&stats.interval_changed, true, __ATOMIC_RELEASE);
	if (stats.wake_fd >= 0 && write(stats.wake_fd, &one, sizeof(one)) < 0)
		return;
}

void stats_stop(void)
{
	if (!stats.running)
		return;
	stats.stop = true;
	stats_request_dump();
	pthread_join(stats.thread, NULL);
	close(stats.wake_fd);
	stats.wake_fd = -1;
	stats.running = false;
}
