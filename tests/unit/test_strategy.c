/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for strategy snapshots: pid/tid/regex matching over a fixture /proc tree,
 * the precedence rule, threads that vanish mid-scan, and the resolver's publish/lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "strategy/strategy.h"

#define PROC "tests/unit/fixtures/proc"

static struct strategy_rule rule(int32_t pid, int32_t tid, const char *regex, uint32_t prio,
				 uint64_t slice)
{
	struct strategy_rule r;

	memset(&r, 0, sizeof(r));
	r.pid = pid;
	r.tid = tid;
	snprintf(r.command_regex, sizeof(r.command_regex), "%s", regex);
	r.effect.priority = prio;
	r.effect.execution_time_ns = slice;
	return r;
}

static void no_rules_no_effect(void **state)
{
	struct strategy_snapshot *s = strategy_snapshot_build(NULL, 0, PROC);
	struct strategy_effect e;

	assert_non_null(s);
	assert_false(strategy_lookup(s, 100, 100, &e));
	assert_false(strategy_lookup(NULL, 100, 100, &e));
	strategy_snapshot_free(s);
}

static void pid_rule_covers_every_thread_even_new_ones(void **state)
{
	struct strategy_rule r = rule(200, 0, "", 20, 0);
	struct strategy_snapshot *s = strategy_snapshot_build(&r, 1, PROC);
	struct strategy_effect e;

	assert_true(strategy_lookup(s, 200, 200, &e));
	assert_int_equal(e.priority, 20);
	assert_true(strategy_lookup(s, 201, 200, &e));
	/* A thread created after the snapshot: matched through its process. */
	assert_true(strategy_lookup(s, 999, 200, &e));
	assert_false(strategy_lookup(s, 300, 300, &e));
	strategy_snapshot_free(s);
}

static void tid_rule_covers_one_thread(void **state)
{
	struct strategy_rule r = rule(0, 101, "", 0, 3000000);
	struct strategy_snapshot *s = strategy_snapshot_build(&r, 1, PROC);
	struct strategy_effect e;

	assert_true(strategy_lookup(s, 101, 100, &e));
	assert_int_equal(e.execution_time_ns, 3000000);
	assert_false(strategy_lookup(s, 100, 100, &e));
	strategy_snapshot_free(s);
}

static void regex_matches_comm_of_every_thread(void **state)
{
	struct strategy_rule r = rule(0, 0, "^nginx", 3, 0);
	struct strategy_snapshot *s = strategy_snapshot_build(&r, 1, PROC);
	struct strategy_effect e;

	assert_true(strategy_lookup(s, 100, 100, &e));
	assert_true(strategy_lookup(s, 101, 100, &e)); /* "nginx-worker" */
	assert_true(strategy_lookup(s, 400, 400, &e));
	assert_false(strategy_lookup(s, 300, 300, &e));
	assert_false(strategy_lookup(s, 200, 200, &e));
	assert_int_equal(strategy_snapshot_entries(s), 3);
	strategy_snapshot_free(s);
}

static void most_specific_rule_wins(void **state)
{
	struct strategy_rule rules[] = {
	    rule(0, 0, "nginx", 1, 0),	   /* regex: specificity 1 */
	    rule(100, 0, "", 2, 0),	   /* pid: 2 */
	    rule(0, 101, "", 3, 0),	   /* tid: 4 */
	    rule(400, 0, "^nginx$", 4, 0), /* pid + regex: 3 */
	    rule(0, 0, "nginx", 5, 0),	   /* same as the first, later: loses the tie */
	};
	struct strategy_snapshot *s = strategy_snapshot_build(rules, 5, PROC);
	struct strategy_effect e;

	assert_true(strategy_lookup(s, 100, 100, &e));
	assert_int_equal(e.priority, 2); /* pid beats regex */
	assert_true(strategy_lookup(s, 101, 100, &e));
	assert_int_equal(e.priority, 3); /* tid beats pid */
	assert_true(strategy_lookup(s, 400, 400, &e));
	assert_int_equal(e.priority, 4); /* pid+regex beats regex alone */
	strategy_snapshot_free(s);

	/* Equal specificity: the earlier rule wins, whatever the order of the others. */
	s = strategy_snapshot_build(&rules[4], 1, PROC);
	assert_true(strategy_lookup(s, 400, 400, &e));
	assert_int_equal(e.priority, 5);
	strategy_snapshot_free(s);
	assert_int_equal(strategy_rule_specificity(&rules[0]), 1);
	assert_int_equal(strategy_rule_specificity(&rules[3]), 3);
}

static void missing_proc_root_is_empty_not_fatal(void **state)
{
	struct strategy_rule r = rule(0, 0, "x", 1, 0);
	struct strategy_snapshot *s = strategy_snapshot_build(&r, 1, "/nonexistent/proc");
	struct strategy_effect e;

	assert_non_null(s);
	assert_false(strategy_lookup(s, 1, 1, &e));
	strategy_snapshot_free(s);
}

static void resolver_publishes_a_snapshot(void **state)
{
	struct strategy_rule r = rule(0, 0, "^cyclictest$", 20, 0);
	struct strategy_effect e;

	assert_int_equal(strategy_resolver_start(&r, 1, PROC, 10), 0);
	assert_true(strategy_lookup(strategy_current(), 201, 200, &e));
	assert_int_equal(e.priority, 20);
	strategy_resolver_stop();
	assert_null(strategy_current());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(no_rules_no_effect),
	    cmocka_unit_test(pid_rule_covers_every_thread_even_new_ones),
	    cmocka_unit_test(tid_rule_covers_one_thread),
	    cmocka_unit_test(regex_matches_comm_of_every_thread),
	    cmocka_unit_test(most_specific_rule_wins),
	    cmocka_unit_test(missing_proc_root_is_empty_not_fatal),
	    cmocka_unit_test(resolver_publishes_a_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
