/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for the policy arithmetic: weighted vruntime, bounded sleep credit, deadline,
 * slice sizing, priority ordering and the decisions sent to the BPF half.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "sched/policy.h"

static const struct policy_config cfg = {.slice_max_ns = 5000000, .slice_min_ns = 500000};

static struct queued_task rec(int pid, uint64_t vtime, uint64_t ran, uint32_t weight,
			      uint64_t exec_runtime)
{
	struct queued_task r;

	memset(&r, 0, sizeof(r));
	r.pid = pid;
	r.tgid = pid;
	r.vtime = vtime;
	r.ran_ns = ran;
	r.weight = weight;
	r.exec_runtime = exec_runtime;
	r.enq_cnt = 1;
	return r;
}

static void charge_scales_by_weight(void **state)
{
	assert_int_equal(policy_charge(1000, 1000, 100), 2000); /* nice 0 */
	assert_int_equal(policy_charge(1000, 1000, 200), 1500); /* twice the weight: half */
	assert_int_equal(policy_charge(0, 1000, 50), 2000);	/* half the weight: double */
	assert_int_equal(policy_charge(7, 1000, 0), 1007);	/* weight 0 treated as 100 */
}

static void sleep_credit_is_one_max_slice(void **state)
{
	uint64_t min = 100000000;

	/* A long sleeper comes back at most one max slice behind. */
	assert_int_equal(policy_clamp_sleep_credit(0, min, 5000000), min - 5000000);
	assert_int_equal(policy_clamp_sleep_credit(min - 6000000, min, 5000000), min - 5000000);
	/* A task within the credit keeps its own vruntime. */
	assert_int_equal(policy_clamp_sleep_credit(min - 1000, min, 5000000), min - 1000);
	assert_int_equal(policy_clamp_sleep_credit(min + 1000, min, 5000000), min + 1000);
	/* Early on, the floor does not underflow. */
	assert_int_equal(policy_clamp_sleep_credit(0, 1000, 5000000), 0);
	/* Wrap-around: a vruntime just past 2^64 counts as ahead, not behind. */
	assert_int_equal(policy_clamp_sleep_credit(5, UINT64_MAX - 10, 1), 5);
}

static void deadline_caps_exec_runtime(void **state)
{
	assert_int_equal(policy_deadline(1000, 200, 5000000), 1200);
	assert_int_equal(policy_deadline(1000, UINT64_MAX / 4, 5000000), 1000 + 100 * 5000000ull);
}

static void slice_shrinks_with_load(void **state)
{
	assert_int_equal(policy_slice(&cfg, 0), 5000000);
	assert_int_equal(policy_slice(&cfg, 1), 2500000);
	assert_int_equal(policy_slice(&cfg, 4), 1000000);
	assert_int_equal(policy_slice(&cfg, 1000), 500000); /* never below the minimum */
}

static void account_orders_sleepers_first(void **state)
{
	struct policy_state st = {.min_vruntime = 50000000};
	struct queued_task hog = rec(1, 50000000, 5000000, 100, 40000000);
	struct queued_task sleeper = rec(2, 50000000, 100000, 100, 100000);
	struct policy_task a, b;

	policy_account(&cfg, &st, &hog, NULL, &a);
	policy_account(&cfg, &st, &sleeper, NULL, &b);
	assert_int_equal(a.vtime, 55000000);
	assert_int_equal(a.key, 55000000 + 40000000);
	assert_true(policy_before(&b, &a));
	assert_false(policy_before(&a, &b));
}

static void priority_beats_every_normal_task(void **state)
{
	struct policy_state st = {.min_vruntime = 0};
	struct strategy_effect low = {.priority = 1}, high = {.priority = STRATEGY_PRIO_MAX};
	struct queued_task r1 = rec(1, 0, 0, 100, 0), r2 = rec(2, 0, 0, 100, 0);
	struct queued_task r3 = rec(3, 0, 999999999, 1, 999999999);
	struct policy_task normal, p_low, p_high;

	policy_account(&cfg, &st, &r1, NULL, &normal);
	policy_account(&cfg, &st, &r3, &low, &p_low); /* a heavy task, but priority 1 */
	policy_account(&cfg, &st, &r2, &high, &p_high);
	assert_true(policy_before(&p_low, &normal));
	assert_true(policy_before(&p_high, &p_low));
	assert_false(policy_before(&normal, &p_low));
}

static void equal_priority_keeps_arrival_order(void **state)
{
	struct policy_state st = {0};
	struct strategy_effect e = {.priority = 5};
	struct queued_task r1 = rec(1, 0, 0, 100, 0), r2 = rec(2, 0, 0, 100, 0);
	struct dispatched_task d1, d2;
	struct policy_task first, second;

	/* Order is by enqueue time, not by when user space read the record. */
	r1.enq_ts = 2000;
	r2.enq_ts = 1000;
	policy_account(&cfg, &st, &r1, &e, &second);
	policy_account(&cfg, &st, &r2, &e, &first);
	assert_true(policy_before(&first, &second));
	/* ... and the BPF queue sees the same order, below the level bits. */
	policy_decide(&cfg, &st, &first, GTHULHU_CPU_ANY, 0, &d1);
	policy_decide(&cfg, &st, &second, GTHULHU_CPU_ANY, 0, &d2);
	assert_true(d1.deadline < d2.deadline);
	assert_int_equal(d1.deadline & 0xffff, 1000);
	assert_int_equal(d1.deadline >> GTHULHU_PRIO_KEY_SHIFT, GTHULHU_PRIO_MAX - 5);
}

static void decide_fills_the_answer(void **state)
{
	struct policy_state st = {.min_vruntime = 0};
	struct strategy_effect custom = {.priority = 0, .execution_time_ns = 2000000};
	struct strategy_effect prio = {.priority = 20};
	struct queued_task r = rec(9, 0, 1000, 100, 0);
	struct dispatched_task d;
	struct policy_task t;

	r.enq_cnt = 42;
	policy_account(&cfg, &st, &r, NULL, &t);
	policy_decide(&cfg, &st, &t, 3, 4, &d);
	assert_int_equal(d.pid, 9);
	assert_int_equal(d.cpu, 3);
	assert_int_equal(d.enq_cnt, 42);
	assert_int_equal(d.slice_ns, 1000000); /* 5 ms / (4 + 1) */
	assert_int_equal(d.flags, 0);
	assert_int_equal(d.deadline, t.key);
	assert_int_equal(st.min_vruntime, t.vtime); /* the clock advanced */

	policy_account(&cfg, &st, &r, &custom, &t);
	policy_decide(&cfg, &st, &t, GTHULHU_CPU_ANY, 100, &d);
	assert_int_equal(d.slice_ns, 2000000); /* the strategy's own slice wins */
	assert_int_equal(d.cpu, GTHULHU_CPU_ANY);

	policy_account(&cfg, &st, &r, &prio, &t);
	policy_decide(&cfg, &st, &t, GTHULHU_CPU_ANY, 0, &d);
	assert_int_equal(d.flags, GTHULHU_DF_PRIORITY | GTHULHU_DF_PREEMPT);
	assert_int_equal(d.prio_level, 20);
	assert_int_equal(d.deadline >> 56, 0); /* level 20 sorts first in the BPF queue */
}

static void restricted_mask_is_carried(void **state)
{
	struct policy_state st = {0};
	struct queued_task r = rec(1, 0, 0, 100, 0);
	struct policy_task t;

	r.flags = GTHULHU_QF_RESTRICTED;
	r.cpumask[0] = 1ull << 5;
	policy_account(&cfg, &st, &r, NULL, &t);
	assert_true(t.restricted);
	assert_true(cpumask_test(&t.allowed, 5));
	assert_false(cpumask_test(&t.allowed, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(charge_scales_by_weight),
	    cmocka_unit_test(sleep_credit_is_one_max_slice),
	    cmocka_unit_test(deadline_caps_exec_runtime),
	    cmocka_unit_test(slice_shrinks_with_load),
	    cmocka_unit_test(account_orders_sleepers_first),
	    cmocka_unit_test(priority_beats_every_normal_task),
	    cmocka_unit_test(equal_priority_keeps_arrival_order),
	    cmocka_unit_test(decide_fills_the_answer),
	    cmocka_unit_test(restricted_mask_is_carried),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
