/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tasks user space holds between reading them from the kernel and dispatching them:
 * a binary heap in policy order over a preallocated array, with a pid index so that a
 * newer record for a task replaces its older, now stale, one instead of queuing twice.
 * No allocation after task_pool_init(); every operation is O(log n).
 */
#ifndef GTHULHU_TASK_POOL_H
#define GTHULHU_TASK_POOL_H

#include <stdint.h>

#include "sched/policy.h"

#define TASK_POOL_CAPACITY GTHULHU_RING_RECORDS
#define TASK_POOL_INDEX	   (TASK_POOL_CAPACITY * 2) /* pid index slots, a power of two */

struct task_pool {
	uint32_t count;
	uint32_t nr_free;
	uint16_t free_slots[TASK_POOL_CAPACITY];
	uint16_t heap[TASK_POOL_CAPACITY];     /* slot numbers in heap order */
	uint16_t heap_pos[TASK_POOL_CAPACITY]; /* slot -> position in heap[] */
	int32_t index_pid[TASK_POOL_INDEX];    /* 0 = empty */
	uint16_t index_slot[TASK_POOL_INDEX];
	struct policy_task slots[TASK_POOL_CAPACITY];
};

enum task_pool_result {
	TASK_POOL_ADDED,
	TASK_POOL_REPLACED, /* an older record of the same task was dropped */
	TASK_POOL_STALE,    /* the pool already holds a newer record: this one was dropped */
	TASK_POOL_FULL,
};

void task_pool_init(struct task_pool *pool);
enum task_pool_result task_pool_push(struct task_pool *pool, const struct policy_task *t);
/* Remove the task that must run first; false when empty. */
bool task_pool_pop(struct task_pool *pool, struct policy_task *out);
/* The task that would be popped next, or NULL. */
const struct policy_task *task_pool_peek(const struct task_pool *pool);

static inline uint32_t task_pool_count(const struct task_pool *pool)
{
	return pool->count;
}

#endif /* GTHULHU_TASK_POOL_H */
