/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Task pool: heap + pid index (see task_pool.h). The pid index uses linear probing with
 * backward-shift deletion, so it never fills with tombstones however long the daemon runs.
 */
#include <string.h>

#include "sched/task_pool.h"

static uint32_t index_home(int32_t pid)
{
	/* Fibonacci hashing spreads consecutive pids over the table. */
	return ((uint32_t)pid * 2654435769u) >> (32 - 13);
}

_Static_assert(TASK_POOL_INDEX == 1 << 13, "index_home() assumes 8192 index slots");

static int32_t index_find(const struct task_pool *pool, int32_t pid)
{
	uint32_t i = index_home(pid);

	while (pool->index_pid[i]) {
		if (pool->index_pid[i] == pid)
			return (int32_t)i;
		i = (i + 1) & (TASK_POOL_INDEX - 1);
	}
	return -1;
}

static void index_insert(struct task_pool *pool, int32_t pid, uint16_t slot)
{
	uint32_t i = index_home(pid);

	while (pool->index_pid[i])
		i = (i + 1) & (TASK_POOL_INDEX - 1);
	pool->index_pid[i] = pid;
	pool->index_slot[i] = slot;
}

static void index_remove(struct task_pool *pool, uint32_t i)
{
	uint32_t j = i;

	pool->index_pid[i] = 0;
	for (;;) {
		uint32_t home;

		j = (j + 1) & (TASK_POOL_INDEX - 1);
		if (!pool->index_pid[j])
			return;
		home = index_home(pool->index_pid[j]);
		/* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			pool->index_pid[i] = pool->index_pid[j];
			pool->index_slot[i] = pool->index_slot[j];
			pool->index_pid[j] = 0;
			i = j;
		}
	}
}

static bool heap_less(const struct task_pool *pool, uint32_t a, uint32_t b)
{
	return policy_before(&pool->slots[pool->heap[a]], &pool->slots[pool->heap[b]]);
}

static void heap_swap(struct task_pool *pool, uint32_t a, uint32_t b)
{
	uint16_t sa = pool->heap[a], sb = pool->heap[b];

	pool->heap[a] = sb;
	pool->heap[b] = sa;
	pool->heap_pos[sb] = (uint16_t)a;
	pool->heap_pos[sa] = (uint16_t)b;
}

static void heap_up(struct task_pool *pool, uint32_t i)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!heap_less(pool, i, parent))
			return;
		heap_swap(pool, i, parent);
		i = parent;
	}
}

static void heap_down(struct task_pool *pool, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, best = i;

		if (l < pool->count && heap_less(pool, l, best))
			best = l;
		if (r < pool->count && heap_less(pool, r, best))
			best = r;
		if (best == i)
			return;
		heap_swap(pool, i, best);
		i = best;
	}
}

void task_pool_init(struct task_pool *pool)
{
	uint32_t i;

	memset(pool->index_pid, 0, sizeof(pool->index_pid));
	pool->count = 0;
	pool->nr_free = TASK_POOL_CAPACITY;
	for (i = 0; i < TASK_POOL_CAPACITY; i++)
		pool->free_slots[i] = (uint16_t)(TASK_POOL_CAPACITY - 1 - i);
}

enum task_pool_result task_pool_push(struct task_pool *pool, const struct policy_task *t)
{
	int32_t at = index_find(pool, t->pid);
	uint16_t slot;

	if (at >= 0) {
		slot = pool->index_slot[at];
		if ((int64_t)(t->enq_cnt - pool->slots[slot].enq_cnt) <= 0)
			return TASK_POOL_STALE;
		pool->slots[slot] = *t;
		heap_up(pool, pool->heap_pos[slot]);
		heap_down(pool, pool->heap_pos[slot]);
		return TASK_POOL_REPLACED;
	}
	if (!pool->nr_free)
		return TASK_POOL_FULL;

	slot = pool->free_slots[--pool->nr_free];
	pool->slots[slot] = *t;
	pool->heap[pool->count] = slot;
	pool->heap_pos[slot] = (uint16_t)pool->count;
	pool->count++;
	heap_up(pool, pool->count - 1);
	index_insert(pool, t->pid, slot);
	return TASK_POOL_ADDED;
}

const struct policy_task *task_pool_peek(const struct task_pool *pool)
{
	return pool->count ? &pool->slots[pool->heap[0]] : NULL;
}

bool task_pool_pop(struct task_pool *pool, struct policy_task *out)
{
	uint16_t slot;
	int32_t at;

	if (!pool->count)
		return false;
	slot = pool->heap[0];
	*out = pool->slots[slot];
	pool->count--;
	if (pool->count) {
		heap_swap(pool, 0, pool->count);
		heap_down(pool, 0);
	}
	at = index_find(pool, out->pid);
	if (at >= 0)
		index_remove(pool, (uint32_t)at);
	pool->free_slots[pool->nr_free++] = slot;
	return true;
}
