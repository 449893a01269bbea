/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduling loop: one thread that sleeps in epoll until the kernel sends tasks, drains
 * them in a batch into the task pool, decides order, slice and CPU for each, and sends the
 * decisions back. It owns the pool and never allocates, locks or does blocking I/O.
 */
#ifndef GTHULHU_LOOP_H
#define GTHULHU_LOOP_H

#include <stdint.h>

#include "loader.h"
#include "sched/policy.h"
#include "sched/task_pool.h"
#include "topology/topology.h"

#define LOOP_LATENCY_BUCKETS 16 /* log2 microseconds: <1us, <2us, ... , >=16ms */

/* The loop's own figures: written by the loop with relaxed atomics, read by stats. */
struct loop_stats {
	uint64_t batches;
	uint64_t records;   /* records read from the kernel */
	uint64_t decisions; /* decisions sent back */
	uint64_t replaced;  /* records that replaced an older one of the same task */
	uint64_t held_full; /* rounds that left tasks held because the answer ring was full */
	uint64_t max_batch;
	uint64_t latency_hist[LOOP_LATENCY_BUCKETS]; /* wake-up to last decision of a batch */
};

enum loop_result {
	LOOP_SIGNAL_EXIT, /* SIGINT or SIGTERM */
	LOOP_KERNEL_EXIT, /* the kernel ended the scheduler */
	LOOP_ERROR,
};

struct sched_loop;

/* Allocate and lock everything the loop will need; NULL on failure (logged). */
struct sched_loop *sched_loop_new(struct loader *ld, const struct topology *topo,
				  const struct policy_config *pcfg, int signal_fd);
void sched_loop_free(struct sched_loop *l);

/*
 * Runs until a signal or the kernel ends it. SIGHUP calls @on_reload on this thread: it
 * must only hand the request on (e.g. write an eventfd), never do the work.
 */
enum loop_result sched_loop_run(struct sched_loop *l, void (*on_reload)(struct sched_loop *l));

/* Safe from any thread while the loop runs. */
void sched_loop_stats(const struct sched_loop *l, struct loop_stats *out);
/*
 * New policy knobs, from any thread (callers serialise among themselves); the loop takes
 * them at its next batch, without waiting for the caller.
 */
void sched_loop_request_policy(struct sched_loop *l, const struct policy_config *pcfg);

#endif /* GTHULHU_LOOP_H */
