/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tasks user space holds between reading them from the kernel and dispatching them:
 * a binary heap in policy order over a preallocated array, with a pid index so that a
 * newer record for a task replaces its older, now stale, one instead of queuing twice.
 * No allocation after task_pool_init(); every operation is O(log n).
 *
 * The heap holds small entries (ordering key, level, slot number), not the tasks: a sift
 * through 4096 tasks compares and moves a dozen entries, and with the keys inline it reads
 * only those 16-byte entries, never the 184-byte tasks, which stay put in slots[]. A task's
 * cpumask (128 of those bytes) is copied in and out only when the task is restricted; for
 * the others it means nothing (see policy_task.restricted).
 */
#ifndef GTHULHU_TASK_POOL_H
#define GTHULHU_TASK_POOL_H

#include <stdint.h>

#include "sched/policy.h"

#define TASK_POOL_CAPACITY GTHULHU_RING_RECORDS
#define TASK_POOL_INDEX	   (TASK_POOL_CAPACITY * 2) /* pid index slots, a power of two */

/* One heap entry: what policy_before() compares, and where the task is. */
struct task_pool_entry {
	uint64_t key;	     /* policy_task.key */
	uint32_t prio_level; /* policy_task.prio_level */
	uint32_t slot;	     /* index into slots[] */
};

/* One pid index cell: pid 0 = empty (the kernel never queues pid 0, the idle task). */
struct task_pool_index {
	int32_t pid;
	uint32_t slot;
};

struct task_pool {
	/* First, so that with the pool 16-byte aligned no entry straddles two cache lines. */
	struct task_pool_entry heap[TASK_POOL_CAPACITY]; /* in heap order */
	uint32_t count;
	uint32_t nr_free;
	uint16_t free_slots[TASK_POOL_CAPACITY];
	uint16_t heap_pos[TASK_POOL_CAPACITY]; /* slot -> position in heap[] */
	struct task_pool_index index[TASK_POOL_INDEX];
	struct policy_task slots[TASK_POOL_CAPACITY]; /* allowed valid only if restricted */
};

enum task_pool_result {
	TASK_POOL_ADDED,
	TASK_POOL_REPLACED, /* an older record of the same task was dropped */
	TASK_POOL_STALE,    /* the pool already holds a newer record: this one was dropped */
	TASK_POOL_FULL,
};

void task_pool_init(struct task_pool *pool);
enum task_pool_result task_pool_push(struct task_pool *pool, const struct policy_task *t);
/*
 * Remove the task that must run first; false when empty. out->allowed is written only when
 * out->restricted (an unrestricted task's mask means nothing, see policy_task).
 */
bool task_pool_pop(struct task_pool *pool, struct policy_task *out);
/* The task that would be popped next, or NULL. */
const struct policy_task *task_pool_peek(const struct task_pool *pool);

static inline uint32_t task_pool_count(const struct task_pool *pool)
{
	return pool->count;
}

#endif /* GTHULHU_TASK_POOL_H */
