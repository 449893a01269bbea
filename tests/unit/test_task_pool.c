/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for the task pool: order, capacity, replacement of stale records, a long
 * random run checked against a simple model (the pid index must never drift), tasks and
 * their cpumasks coming out as they went in, and the exact pop order (ties included) of a
 * textbook swap-based binary heap ordered by policy_before(), which the pool must match
 * whatever its own layout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sched/task_pool.h"

static struct task_pool pool;

static struct policy_task task(int pid, uint64_t key, uint64_t gen)
{
	struct policy_task t;

	memset(&t, 0, sizeof(t));
	t.pid = pid;
	t.key = key;
	t.enq_cnt = gen;
	return t;
}

static int setup(void **state)
{
	task_pool_init(&pool);
	return 0;
}

static void pops_in_policy_order(void **state)
{
	struct policy_task t = task(1, 30, 1), out;

	task_pool_push(&pool, &t);
	t = task(2, 10, 1);
	task_pool_push(&pool, &t);
	t = task(3, 20, 1);
	task_pool_push(&pool, &t);
	t = task(4, 99, 1);
	t.prio_level = 1;
	task_pool_push(&pool, &t);

	assert_int_equal(task_pool_count(&pool), 4);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 4); /* priority first, whatever its key */
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 2);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 3);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 1);
	assert_false(task_pool_pop(&pool, &out));
	assert_null(task_pool_peek(&pool));
}

static void full_pool_refuses_then_recovers(void **state)
{
	struct policy_task t, out;
	int i;

	for (i = 1; i <= TASK_POOL_CAPACITY; i++) {
		t = task(i, (uint64_t)i, 1);
		assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_ADDED);
	}
	t = task(TASK_POOL_CAPACITY + 1, 0, 1);
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_FULL);
	assert_int_equal(task_pool_count(&pool), TASK_POOL_CAPACITY);
	/* A newer record of a task already held still fits: it replaces the old one. */
	t = task(7, 0, 2);
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_REPLACED);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 7);
	assert_int_equal(out.enq_cnt, 2);
	t = task(TASK_POOL_CAPACITY + 1, 0, 1);
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_ADDED);
}

static void stale_generation_is_dropped(void **state)
{
	struct policy_task t = task(5, 10, 3), out;

	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_ADDED);
	t = task(5, 1, 2); /* an older record arriving late */
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_STALE);
	t = task(5, 1, 3); /* the same generation again */
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_STALE);
	assert_int_equal(task_pool_count(&pool), 1);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.key, 10);
	assert_int_equal(out.enq_cnt, 3);
}

static void keys_wrap_around(void **state)
{
	struct policy_task t = task(1, UINT64_MAX - 5, 1), out;

	task_pool_push(&pool, &t);
	t = task(2, 5, 1); /* 11 ns after the first, across the wrap */
	task_pool_push(&pool, &t);
	assert_true(task_pool_pop(&pool, &out));
	assert_int_equal(out.pid, 1);
}

/* Random pushes, replacements and pops against a brute-force model. */
static void random_run_matches_model(void **state)
{
	static uint64_t model_key[20000], model_gen[20000];
	static bool held[20000];
	struct policy_task t, out;
	unsigned int seed = 12345;
	int step, pid, held_count = 0;

	memset(held, 0, sizeof(held));
	memset(model_gen, 0, sizeof(model_gen));
	for (step = 0; step < 200000; step++) {
		int op = rand_r(&seed) % 3;

		pid = 1 + rand_r(&seed) % 19999;
		if (op < 2) {
			uint64_t gen = model_gen[pid] + 1 + (uint64_t)(rand_r(&seed) % 2);
			enum task_pool_result res;

			t = task(pid, (uint64_t)rand_r(&seed), gen);
			res = task_pool_push(&pool, &t);
			if (held[pid]) {
				assert_int_equal(res, TASK_POOL_REPLACED);
			} else if (held_count == TASK_POOL_CAPACITY) {
				assert_int_equal(res, TASK_POOL_FULL);
				continue;
			} else {
				assert_int_equal(res, TASK_POOL_ADDED);
				held[pid] = true;
				held_count++;
			}
			model_key[pid] = t.key;
			model_gen[pid] = gen;
		} else if (held_count) {
			int p, best = 0;

			assert_true(task_pool_pop(&pool, &out));
			for (p = 1; p < 20000; p++)
				if (held[p] &&
				    (!best || (int64_t)(model_key[p] - model_key[best]) < 0))
					best = p;
			assert_int_equal(out.key, model_key[best]);
			assert_int_equal(out.enq_cnt, model_gen[out.pid]);
			held[out.pid] = false;
			held_count--;
		}
		assert_int_equal(task_pool_count(&pool), held_count);
	}
}

/* A task with every field set from @seed; a restricted one gets a mask using all the words. */
static struct policy_task full_task(int pid, uint64_t seed, bool restricted)
{
	struct policy_task t;

	memset(&t, 0, sizeof(t));
	t.pid = pid;
	t.tgid = pid + 100000;
	t.prev_cpu = (int32_t)(seed % 1024);
	t.prio_level = (uint32_t)(seed % 3);
	t.enq_cnt = seed + 1;
	t.vtime = seed * 7919;
	t.key = seed * 104729;
	t.slice_ns = seed * 13;
	t.restricted = restricted;
	for (int w = 0; w < GTHULHU_CPUMASK_WORDS; w++)
		t.allowed.w[w] = restricted ? (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)w : 0;
	return t;
}

static void assert_same_task(const struct policy_task *got, const struct policy_task *want)
{
	assert_int_equal(got->pid, want->pid);
	assert_int_equal(got->tgid, want->tgid);
	assert_int_equal(got->prev_cpu, want->prev_cpu);
	assert_int_equal(got->prio_level, want->prio_level);
	assert_int_equal(got->enq_cnt, want->enq_cnt);
	assert_int_equal(got->vtime, want->vtime);
	assert_int_equal(got->key, want->key);
	assert_int_equal(got->slice_ns, want->slice_ns);
	assert_int_equal(got->restricted, want->restricted);
	if (want->restricted)
		assert_memory_equal(got->allowed.w, want->allowed.w, sizeof(want->allowed.w));
}

/*
 * The pool keeps a task's cpumask apart from its heap entry and copies it only for a
 * restricted task: with the pool full (every slot in use), every field and every mask word
 * must still come back, through peek and pop, after replacements that switch a task
 * between restricted and not.
 */
static void tasks_and_masks_survive(void **state)
{
	static struct policy_task want[TASK_POOL_CAPACITY];
	struct policy_task out, t;
	int i, n = TASK_POOL_CAPACITY;

	for (i = 0; i < n; i++) {
		want[i] = full_task(i + 1, (uint64_t)i * 31 % 1000, i % 3 == 0);
		assert_int_equal(task_pool_push(&pool, &want[i]), TASK_POOL_ADDED);
	}
	t = full_task(n + 1, 0, true);
	assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_FULL);
	/* Newer records: restricted ones become unrestricted and the other way round. */
	for (i = 0; i < n; i += 5) {
		t = full_task(i + 1, (uint64_t)i * 17 % 1000 + 1000, i % 3 != 0);
		t.enq_cnt = want[i].enq_cnt + 1;
		assert_int_equal(task_pool_push(&pool, &t), TASK_POOL_REPLACED);
		want[i] = t;
	}
	for (i = 0; i < n; i++) {
		const struct policy_task *next = task_pool_peek(&pool);
		int pid;

		assert_non_null(next);
		pid = next->pid;
		assert_same_task(next, &want[pid - 1]);
		memset(&out, 0xa5, sizeof(out));
		assert_true(task_pool_pop(&pool, &out));
		assert_int_equal(out.pid, pid);
		assert_same_task(&out, &want[pid - 1]);
		want[pid - 1].pid = 0; /* popped: a second pop of it fails the pid check above */
	}
	assert_false(task_pool_pop(&pool, &out));
}

/* ---- the textbook heap the pool must agree with ---- */

#define REF_PIDS 64

struct ref_heap {
	struct policy_task task[REF_PIDS + 1]; /* by pid */
	int heap[REF_PIDS];		       /* pids */
	int pos[REF_PIDS + 1];		       /* pid -> position, -1 when not held */
	int count;
};

static void ref_swap(struct ref_heap *r, int a, int b)
{
	int pa = r->heap[a], pb = r->heap[b];

	r->heap[a] = pb;
	r->heap[b] = pa;
	r->pos[pb] = a;
	r->pos[pa] = b;
}

static bool ref_less(const struct ref_heap *r, int a, int b)
{
	return policy_before(&r->task[r->heap[a]], &r->task[r->heap[b]]);
}

static void ref_up(struct ref_heap *r, int i)
{
	while (i > 0 && ref_less(r, i, (i - 1) / 2)) {
		ref_swap(r, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void ref_down(struct ref_heap *r, int i)
{
	for (;;) {
		int l = 2 * i + 1, rr = l + 1, best = i;

		if (l < r->count && ref_less(r, l, best))
			best = l;
		if (rr < r->count && ref_less(r, rr, best))
			best = rr;
		if (best == i)
			return;
		ref_swap(r, i, best);
		i = best;
	}
}

static enum task_pool_result ref_push(struct ref_heap *r, const struct policy_task *t)
{
	int at = r->pos[t->pid];

	if (at >= 0) {
		if ((int64_t)(t->enq_cnt - r->task[t->pid].enq_cnt) <= 0)
			return TASK_POOL_STALE;
		r->task[t->pid] = *t;
		ref_up(r, at);
		ref_down(r, r->pos[t->pid]);
		return TASK_POOL_REPLACED;
	}
	r->task[t->pid] = *t;
	r->heap[r->count] = t->pid;
	r->pos[t->pid] = r->count++;
	ref_up(r, r->count - 1);
	return TASK_POOL_ADDED;
}

static int ref_pop(struct ref_heap *r)
{
	int pid = r->heap[0];

	r->count--;
	if (r->count) {
		ref_swap(r, 0, r->count);
		ref_down(r, 0);
	}
	r->pos[pid] = -1;
	return pid;
}

/*
 * Few pids, few levels and few distinct keys, so ties are everywhere: which of two equal
 * tasks runs first is decided by the heap's shape alone, and the pool must decide it as
 * the textbook heap does. Keys straddle the 64-bit wrap, and levels include extremes a
 * strategy never sets, so the pool's own comparison is checked against policy_before().
 */
static void pop_order_matches_textbook_heap(void **state)
{
	static const uint32_t levels[] = {0, 0, 0, 1, 7, 20, UINT32_MAX};
	static struct ref_heap ref;
	uint64_t gen[REF_PIDS + 1] = {0};
	unsigned int seed = 4242;
	struct policy_task t, out;

	memset(&ref, 0, sizeof(ref));
	for (int p = 0; p <= REF_PIDS; p++)
		ref.pos[p] = -1;
	for (int step = 0; step < 300000; step++) {
		int op = rand_r(&seed) % 8;

		if (op < 5 || !ref.count) {
			int pid = 1 + rand_r(&seed) % REF_PIDS;

			/* Now and then an old or repeated generation: STALE in both. */
			gen[pid] += (uint64_t)(rand_r(&seed) % 4) - 1;
			t = task(pid, UINT64_MAX - 4 + (uint64_t)(rand_r(&seed) % 10), gen[pid]);
			t.prio_level = levels[rand_r(&seed) % 7];
			t.restricted = rand_r(&seed) % 2;
			t.allowed.w[rand_r(&seed) % GTHULHU_CPUMASK_WORDS] = (uint64_t)step;
			assert_int_equal(task_pool_push(&pool, &t), ref_push(&ref, &t));
		} else {
			int pid = ref_pop(&ref);

			assert_true(task_pool_pop(&pool, &out));
			assert_int_equal(out.pid, pid);
			assert_same_task(&out, &ref.task[pid]);
		}
		assert_int_equal(task_pool_count(&pool), ref.count);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(pops_in_policy_order, setup),
	    cmocka_unit_test_setup(full_pool_refuses_then_recovers, setup),
	    cmocka_unit_test_setup(stale_generation_is_dropped, setup),
	    cmocka_unit_test_setup(keys_wrap_around, setup),
	    cmocka_unit_test_setup(random_run_matches_model, setup),
	    cmocka_unit_test_setup(tasks_and_masks_survive, setup),
	    cmocka_unit_test_setup(pop_order_matches_textbook_heap, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
