/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for the task pool: order, capacity, replacement of stale records, and a long
 * random run checked against a simple model (the pid index must never drift).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(pops_in_policy_order, setup),
	    cmocka_unit_test_setup(full_pool_refuses_then_recovers, setup),
	    cmocka_unit_test_setup(stale_generation_is_dropped, setup),
	    cmocka_unit_test_setup(keys_wrap_around, setup),
	    cmocka_unit_test_setup(random_run_matches_model, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
