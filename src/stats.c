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
#include "log/log.h"
#include "stats.h"

static struct {
	pthread_t thread;
	bool running;
	int wake_fd; /* eventfd: a dump request (1) or stop (2) */
	volatile bool stop;
	const struct loader *ld;
	const struct sched_loop *loop;
	unsigned int interval_s;
} stats = {.wake_fd = -1};

#define COUNTER(r, c, name) log_u64(r, #name, __atomic_load_n(&(c)->name, __ATOMIC_RELAXED))

void stats_log(const struct loader *ld, const struct sched_loop *l)
{
	const struct gthulhu_counters *c = &ld->skel->bss->counters;
	struct loop_stats ls;
	struct log_rec *r;
	char key[32];
	int i;

	r = log_begin(LOG_INFO, "stats");
	COUNTER(r, c, usersched_last_run_at);
	COUNTER(r, c, nr_queued);
	COUNTER(r, c, nr_scheduled);
	COUNTER(r, c, nr_running);
	COUNTER(r, c, nr_online_cpus);
	COUNTER(r, c, nr_user_dispatches);
	COUNTER(r, c, nr_kernel_dispatches);
	COUNTER(r, c, nr_cancel_dispatches);
	COUNTER(r, c, nr_bounce_dispatches);
	COUNTER(r, c, nr_failed_dispatches);
	COUNTER(r, c, nr_sched_congested);
	COUNTER(r, c, nr_prio_dispatches);
	COUNTER(r, c, nr_fallback_dispatches);
	COUNTER(r, c, nr_fallback_episodes);
	COUNTER(r, c, nr_retry_dispatches);
	COUNTER(r, c, nr_heartbeat_wakeups);
	COUNTER(r, c, nr_slice_refills);
	COUNTER(r, c, nr_reenqueued);
	COUNTER(r, c, nr_parked_rescued);
	COUNTER(r, c, nr_starvation_guards);
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
	int timeout_ms = stats.interval_s ? (int)stats.interval_s * 1000 : -1;

	while (!stats.stop) {
		uint64_t v;
		int n = poll(&pfd, 1, timeout_ms);

		if (n > 0 && read(stats.wake_fd, &v, sizeof(v)) < 0)
			continue;
		if (stats.stop)
			break;
		stats_log(stats.ld, stats.loop);
	}
	return NULL;
}

int stats_start(const struct loader *ld, const struct sched_loop *l, unsigned int interval_s)
{
	pthread_attr_t attr;
	int err;

	stats.ld = ld;
	stats.loop = l;
	stats.interval_s = interval_s;
	stats.stop = false;
	stats.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stats.wake_fd < 0)
		return -errno;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&stats.thread, &attr, stats_main, NULL);
	pthread_attr_destroy(&attr);
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
