/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stats thread (see stats.h). It only reads: BPF counters through the skeleton's mapped
 * .bss, loop figures through sched_loop_stats(). It never touches the loop's data.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "bpf_skel.h"
#include "log/log.h"
#include "stats.h"

static struct {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	const struct loader *ld;
	const struct sched_loop *loop;
	unsigned int interval_s;
} stats = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

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
	pthread_mutex_lock(&stats.lock);
	while (!stats.stop) {
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += stats.interval_s;
		while (!stats.stop &&
		       pthread_cond_timedwait(&stats.wake, &stats.lock, &deadline) != ETIMEDOUT)
			;
		if (stats.stop)
			break;
		pthread_mutex_unlock(&stats.lock);
		stats_log(stats.ld, stats.loop);
		pthread_mutex_lock(&stats.lock);
	}
	pthread_mutex_unlock(&stats.lock);
	return NULL;
}

int stats_start(const struct loader *ld, const struct sched_loop *l, unsigned int interval_s)
{
	pthread_attr_t attr;
	int err;

	if (!interval_s)
		return 0;
	stats.ld = ld;
	stats.loop = l;
	stats.interval_s = interval_s;
	stats.stop = false;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&stats.thread, &attr, stats_main, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	stats.running = true;
	return 0;
}

void stats_stop(void)
{
	if (!stats.running)
		return;
	pthread_mutex_lock(&stats.lock);
	stats.stop = true;
	pthread_cond_signal(&stats.wake);
	pthread_mutex_unlock(&stats.lock);
	pthread_join(stats.thread, NULL);
	stats.running = false;
}
