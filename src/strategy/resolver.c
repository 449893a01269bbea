/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The strategy resolver: owns the published snapshot. It rebuilds it when the rules change
 * (on the caller's thread: the API's or the reload's, never the loop's) and, while some
 * rule needs the process table, every interval on its own thread, so new processes and
 * threads, exec and comm changes are covered within one interval.
 *
 * Publishing uses liburcu's QSBR flavour: readers pay nothing; the scheduling loop reports
 * quiescent states once per batch and goes offline while it sleeps. The old snapshot is
 * freed only after synchronize_rcu(), when the loop can no longer hold it. One mutex
 * serialises the writers (and the stats readers); the loop never takes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "log/log.h"
#include "strategy/strategy.h"

static struct strategy_snapshot *current_snapshot;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stop;
	struct strategy_rule *rules; /* STRATEGY_MAX_RULES slots */
	size_t n;
	char proc_root[256];
	unsigned int interval_ms;
} resolver = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

const struct strategy_snapshot *strategy_current(void)
{
	return rcu_dereference(current_snapshot);
}

/* With resolver.lock held. */
static void publish(struct strategy_snapshot *snap)
{
	struct strategy_snapshot *old = rcu_dereference(current_snapshot);

	/* Counts made under the old snapshot until the swap may be lost: figures only. */
	strategy_snapshot_inherit_counts(snap, old);
	old = rcu_xchg_pointer(&current_snapshot, snap);
	if (old) {
		synchronize_rcu();
		strategy_snapshot_free(old);
	}
}

/* With resolver.lock held. */
static int rebuild(void)
{
	struct strategy_snapshot *snap =
	    strategy_snapshot_build(resolver.rules, resolver.n, resolver.proc_root);

	if (!snap)
		return -ENOMEM;
	publish(snap);
	return 0;
}

static bool needs_rescan(void)
{
	for (size_t i = 0; i < resolver.n; i++)
		if (strategy_rule_needs_scan(&resolver.rules[i]))
			return true;
	return false;
}

static void deadline_after(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *resolver_main(void *arg)
{
	struct timespec until;

	pthread_mutex_lock(&resolver.lock);
	while (!resolver.stop) {
		/* Nothing changes by itself unless some rule looks at the process table. */
		if (!needs_rescan()) {
			pthread_cond_wait(&resolver.wake, &resolver.lock);
			continue;
		}
		deadline_after(&until, resolver.interval_ms);
		if (pthread_cond_timedwait(&resolver.wake, &resolver.lock, &until) != ETIMEDOUT)
			continue;
		if (rebuild())
			log_msg(LOG_WARN, "strategy resolver: out of memory, keeping old snapshot");
	}
	pthread_mutex_unlock(&resolver.lock);
	return NULL;
}

int strategy_resolver_start(const struct strategy_rule *rules, size_t n, const char *proc_root,
			    unsigned int interval_ms)
{
	pthread_condattr_t cattr;
	pthread_attr_t attr;
	int err;

	if (n > STRATEGY_MAX_RULES)
		return -E2BIG;
	resolver.rules = calloc(STRATEGY_MAX_RULES, sizeof(*resolver.rules));
	if (!resolver.rules)
		return -ENOMEM;
	/* Timed waits on the monotonic clock: a wall-clock jump must not stall rescans. */
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&resolver.wake);
	pthread_cond_init(&resolver.wake, &cattr);
	pthread_condattr_destroy(&cattr);

	pthread_mutex_lock(&resolver.lock);
	if (n)
		memcpy(resolver.rules, rules, n * sizeof(*rules));
	resolver.n = n;
	snprintf(resolver.proc_root, sizeof(resolver.proc_root), "%s", proc_root);
	resolver.interval_ms = interval_ms ? interval_ms : 100;
	resolver.stop = false;
	err = rebuild();
	pthread_mutex_unlock(&resolver.lock);
	if (err)
		goto fail;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = -pthread_create(&resolver.thread, &attr, resolver_main, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		goto fail;
	resolver.running = true;
	return 0;
fail:
	free(resolver.rules);
	resolver.rules = NULL;
	return err;
}

int strategy_resolver_set_rules(const struct strategy_rule *rules, size_t n)
{
	int err;

	if (n > STRATEGY_MAX_RULES)
		return -E2BIG;
	pthread_mutex_lock(&resolver.lock);
	if (!resolver.rules) {
		pthread_mutex_unlock(&resolver.lock);
		return -ESRCH;
	}
	if (n)
		memcpy(resolver.rules, rules, n * sizeof(*rules));
	resolver.n = n;
	err = rebuild();
	/* The thread may need to start (or stop) its periodic rescans. */
	pthread_cond_signal(&resolver.wake);
	pthread_mutex_unlock(&resolver.lock);
	return err;
}

size_t strategy_resolver_stats(struct strategy_rule_stats *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&resolver.lock);
	/* Snapshots are freed only under this lock, so this one stays valid. */
	n = strategy_snapshot_rule_stats(rcu_dereference(current_snapshot), out, max);
	pthread_mutex_unlock(&resolver.lock);
	return n;
}

size_t strategy_resolver_pids(struct strategy_pid *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&resolver.lock);
	n = strategy_snapshot_pids(rcu_dereference(current_snapshot), out, max);
	pthread_mutex_unlock(&resolver.lock);
	return n;
}

void strategy_resolver_stop(void)
{
	pthread_mutex_lock(&resolver.lock);
	resolver.stop = true;
	pthread_cond_signal(&resolver.wake);
	pthread_mutex_unlock(&resolver.lock);
	if (resolver.running) {
		pthread_join(resolver.thread, NULL);
		resolver.running = false;
	}
	pthread_mutex_lock(&resolver.lock);
	publish(NULL);
	free(resolver.rules);
	resolver.rules = NULL;
	resolver.n = 0;
	pthread_mutex_unlock(&resolver.lock);
}
