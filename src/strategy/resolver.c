/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The strategy resolver thread: rebuilds the snapshot and swaps it in with RCU (liburcu's
 * QSBR flavour: readers pay nothing; the scheduling loop reports quiescent states once per
 * batch and goes offline while it sleeps). The old snapshot is freed only after
 * synchronize_rcu(), when the loop can no longer hold it.
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
	pthread_t thread;
	bool running;
	volatile bool stop;
	struct strategy_rule *rules;
	size_t n;
	char proc_root[256];
	unsigned int interval_ms;
} resolver;

const struct strategy_snapshot *strategy_current(void)
{
	return rcu_dereference(current_snapshot);
}

static void publish(struct strategy_snapshot *snap)
{
	struct strategy_snapshot *old = rcu_xchg_pointer(&current_snapshot, snap);

	if (old) {
		synchronize_rcu();
		strategy_snapshot_free(old);
	}
}

static bool needs_rescan(const struct strategy_rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rules[i].command_regex[0])
			return true;
	return false;
}

static void *resolver_main(void *arg)
{
	struct timespec delay = {
	    .tv_sec = resolver.interval_ms / 1000,
	    .tv_nsec = (long)(resolver.interval_ms % 1000) * 1000000L,
	};

	while (!resolver.stop) {
		struct strategy_snapshot *snap;

		nanosleep(&delay, NULL);
		if (resolver.stop)
			break;
		snap = strategy_snapshot_build(resolver.rules, resolver.n, resolver.proc_root);
		if (!snap) {
			log_msg(LOG_WARN, "strategy resolver: out of memory, keeping old snapshot");
			continue;
		}
		publish(snap);
	}
	return NULL;
}

int strategy_resolver_start(const struct strategy_rule *rules, size_t n, const char *proc_root,
			    unsigned int interval_ms)
{
	struct strategy_snapshot *snap;
	pthread_attr_t attr;
	int err;

	resolver.rules = calloc(n ? n : 1, sizeof(*rules));
	if (!resolver.rules)
		return -ENOMEM;
	memcpy(resolver.rules, rules, n * sizeof(*rules));
	resolver.n = n;
	snprintf(resolver.proc_root, sizeof(resolver.proc_root), "%s", proc_root);
	resolver.interval_ms = interval_ms ? interval_ms : 100;
	resolver.stop = false;

	snap = strategy_snapshot_build(rules, n, proc_root);
	if (!snap)
		return -ENOMEM;
	publish(snap);

	/* Only regex rules change as processes come and go; the rest is fixed. */
	if (!needs_rescan(rules, n))
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&resolver.thread, &attr, resolver_main, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	resolver.running = true;
	return 0;
}

void strategy_resolver_stop(void)
{
	if (resolver.running) {
		resolver.stop = true;
		pthread_join(resolver.thread, NULL);
		resolver.running = false;
	}
	publish(NULL);
	free(resolver.rules);
	resolver.rules = NULL;
}
