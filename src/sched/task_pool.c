/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Task pool: heap + pid index (see task_pool.h). The pid index uses linear probing with
 * backward-shift deletion, so it never fills with tombstones however long the daemon runs.
 *
 * The sifts move a hole instead of swapping pairs: the entry being placed is held aside and
 * each step copies one entry. The entries end up exactly where the textbook swap-based
 * sifts would put them, ties included, so the pool pops tasks in the same order as it
 * always has (test_task_pool runs both side by side). That holds as long as the order is
 * transitive, which it is for keys less than 2^63 apart: deadlines and timestamps in ns.
 */
#include <stddef.h>
#include <string.h>

#include "sched/task_pool.h"

/*
 * Tasks are copied without their cpumask unless restricted: everything before allowed,
 * which must therefore stay the last member of policy_task.
 */
#define TASK_HEAD_BYTES offsetof(struct policy_task, allowed)
_Static_assert(offsetof(struct policy_task, allowed) + sizeof(struct cpumask) ==
		   sizeof(struct policy_task),
	       "policy_task.allowed must be the last member (task_pool copies the rest)");

static void task_copy(struct policy_task *dst, const struct policy_task *src)
{
	memcpy(dst, src, TASK_HEAD_BYTES);
	if (src->restricted)
		dst->allowed = src->allowed;
}

static uint32_t index_home(int32_t pid)
{
	/* Fibonacci hashing spreads consecutive pids over the table. */
	return ((uint32_t)pid * 2654435769u) >> (32 - 13);
}

_Static_assert(TASK_POOL_INDEX == 1 << 13, "index_home() assumes 8192 index slots");

/*
 * The cell holding pid (true), or the empty cell where its probe ends (false), which is
 * where a new pid goes: a push probes once, whether it replaces or adds.
 */
static bool index_find(const struct task_pool *pool, int32_t pid, uint32_t *cell)
{
	uint32_t i = index_home(pid);

	while (pool->index[i].pid) {
		if (pool->index[i].pid == pid) {
			*cell = i;
			return true;
		}
		i = (i + 1) & (TASK_POOL_INDEX - 1);
	}
	*cell = i;
	return false;
}

static void index_remove(struct task_pool *pool, uint32_t i)
{
	uint32_t j = i;

	pool->index[i].pid = 0;
	for (;;) {
		uint32_t home;

		j = (j + 1) & (TASK_POOL_INDEX - 1);
		if (!pool->index[j].pid)
			return;
		home = index_home(pool->index[j].pid);
		/* Move j back into the hole at i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			pool->index[i] = pool->index[j];
			pool->index[j].pid = 0;
			i = j;
		}
	}
}

/*
 * policy_before() on heap entries: the same two fields, the same rule (a higher level
 * first, then the earlier key, compared so that keys may wrap). Inline here, on values
 * rather than pointers so the sifts keep them in registers, because this is the innermost
 * loop of every sift; test_task_pool checks the pool's order against policy_before().
 */
static inline bool runs_before(uint32_t a_level, uint64_t a_key, uint32_t b_level, uint64_t b_key)
{
	/*
	 * a runs before b when (b_level - a_level) * 2^64 + (int64_t)(a_key - b_key) < 0: a
	 * higher level wins whatever the keys, equal levels compare the keys. The top 64 bits
	 * of that sum are b_level - a_level minus the key difference's sign bit, so it takes
	 * a few subtractions and no branch, which the CPU would mispredict half the time.
	 */
	return (int64_t)b_level - (int64_t)a_level - (int64_t)((a_key - b_key) >> 63) < 0;
}

static inline void heap_put(struct task_pool *pool, uint32_t i, const struct task_pool_entry *e)
{
	pool->heap[i] = *e;
	pool->heap_pos[e->slot] = (uint16_t)i;
}

/* Place e at hole i or above it: parents that e must run before move down. */
static void heap_up(struct task_pool *pool, uint32_t i, struct task_pool_entry e)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		const struct task_pool_entry *p = &pool->heap[parent];

		if (!runs_before(e.prio_level, e.key, p->prio_level, p->key))
			break;
		heap_put(pool, i, p);
		i = parent;
	}
	heap_put(pool, i, &e);
}

/*
 * Place e at hole i or below it: the child that runs first moves up while it runs before e.
 * The textbook sift compares e with the left child, then the right child with the winner;
 * comparing the two children first and then the first of them with e picks the same child
 * (ties to the left) and moves the same entries. It turns the unpredictable choice between
 * the children into arithmetic, and leaves one branch a level, taken only at the end.
 */
static void heap_down(struct task_pool *pool, uint32_t i, struct task_pool_entry e)
{
	struct task_pool_entry *h = pool->heap;
	uint32_t n = pool->count, c;

	/* Nodes with two children: all but the last parent of a heap with an even count. */
	while ((c = 2 * i + 1) + 1 < n) {
		const struct task_pool_entry *child = &h[c];
		uint32_t right = runs_before(child[1].prio_level, child[1].key, child[0].prio_level,
					     child[0].key);

		child += right;
		if (!runs_before(child->prio_level, child->key, e.prio_level, e.key))
			break;
		heap_put(pool, i, child);
		i = c + right;
	}
	/* The last parent of an even count has only a left child (c + 1 < n after a break). */
	if (c + 1 == n && runs_before(h[c].prio_level, h[c].key, e.prio_level, e.key)) {
		heap_put(pool, i, &h[c]);
		i = c;
	}
	heap_put(pool, i, &e);
}

void task_pool_init(struct task_pool *pool)
{
	uint32_t i;

	memset(pool->index, 0, sizeof(pool->index));
	pool->count = 0;
	pool->nr_free = TASK_POOL_CAPACITY;
	for (i = 0; i < TASK_POOL_CAPACITY; i++)
		pool->free_slots[i] = (uint16_t)(TASK_POOL_CAPACITY - 1 - i);
}

enum task_pool_result task_pool_push(struct task_pool *pool, const struct policy_task *t)
{
	struct task_pool_entry e = {.key = t->key, .prio_level = t->prio_level};
	uint32_t cell, pos;

	if (index_find(pool, t->pid, &cell)) {
		e.slot = pool->index[cell].slot;
		if ((int64_t)(t->enq_cnt - pool->slots[e.slot].enq_cnt) <= 0)
			return TASK_POOL_STALE;
		task_copy(&pool->slots[e.slot], t);
		/* Up, then down from wherever it settled, as the textbook update does. */
		pos = pool->heap_pos[e.slot];
		heap_up(pool, pos, e);
		pos = pool->heap_pos[e.slot];
		heap_down(pool, pos, e);
		return TASK_POOL_REPLACED;
	}
	if (!pool->nr_free)
		return TASK_POOL_FULL;

	e.slot = pool->free_slots[--pool->nr_free];
	task_copy(&pool->slots[e.slot], t);
	pool->index[cell].pid = t->pid;
	pool->index[cell].slot = e.slot;
	pool->count++;
	heap_up(pool, pool->count - 1, e);
	return TASK_POOL_ADDED;
}

const struct policy_task *task_pool_peek(const struct task_pool *pool)
{
	return pool->count ? &pool->slots[pool->heap[0].slot] : NULL;
}

bool task_pool_pop(struct task_pool *pool, struct policy_task *out)
{
	uint32_t slot, cell;

	if (!pool->count)
		return false;
	slot = pool->heap[0].slot;
	task_copy(out, &pool->slots[slot]);
	pool->count--;
	/* The last entry fills the root's hole and sinks to its place. */
	if (pool->count)
		heap_down(pool, 0, pool->heap[pool->count]);
	if (index_find(pool, out->pid, &cell))
		index_remove(pool, cell);
	pool->free_slots[pool->nr_free++] = (uint16_t)slot;
	return true;
}
