/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for strategy snapshots: pid/tid/regex/cgroup/cmdline matching over a fixture
 * /proc tree, the precedence rule, threads that vanish mid-scan, per-rule counters, and
 * the resolver's publish/lookup and rule changes.
 */
#include <errno.h>
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
	assert_int_equal(strategy_rule_specificity(&rules[3]), 5);
	assert_int_equal(strategy_rule_specificity(&rules[2]), 8);
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

static void cgroup_prefix_matches_whole_components(void **state)
{
	struct strategy_rule r = rule(0, 0, "", 7, 0);
	struct strategy_snapshot *s;
	struct strategy_effect e;

	snprintf(r.cgroup, sizeof(r.cgroup), "/system.slice/nginx.service");
	s = strategy_snapshot_build(&r, 1, PROC);
	assert_true(strategy_lookup(s, 100, 100, &e));
	assert_int_equal(e.priority, 7);
	assert_true(strategy_lookup(s, 101, 100, &e));
	/* "/system.slice/nginx.service-other" is a sibling, not a child. */
	assert_false(strategy_lookup(s, 400, 400, &e));
	assert_false(strategy_lookup(s, 200, 200, &e));
	/* No cgroup file: nothing to match. */
	assert_false(strategy_lookup(s, 300, 300, &e));
	strategy_snapshot_free(s);

	/* A trailing slash means the same; cgroup and regex must both match. */
	snprintf(r.cgroup, sizeof(r.cgroup), "/system.slice/");
	snprintf(r.command_regex, sizeof(r.command_regex), "worker");
	s = strategy_snapshot_build(&r, 1, PROC);
	assert_false(strategy_lookup(s, 100, 100, &e));
	assert_true(strategy_lookup(s, 101, 100, &e));
	assert_false(strategy_lookup(s, 400, 400, &e)); /* comm "nginx" */
	strategy_snapshot_free(s);
}

static void regex_on_cmdline_when_asked(void **state)
{
	struct strategy_rule r = rule(0, 0, "daemon off", 2, 0);
	struct strategy_snapshot *s;
	struct strategy_effect e;

	s = strategy_snapshot_build(&r, 1, PROC);
	assert_false(strategy_lookup(s, 100, 100, &e)); /* comm is just "nginx" */
	strategy_snapshot_free(s);

	r.match_cmdline = true;
	s = strategy_snapshot_build(&r, 1, PROC);
	assert_true(strategy_lookup(s, 100, 100, &e)); /* "nginx -g daemon off;" */
	assert_true(strategy_lookup(s, 101, 100, &e)); /* threads share the cmdline */
	assert_false(strategy_lookup(s, 400, 400, &e));
	strategy_snapshot_free(s);

	snprintf(r.command_regex, sizeof(r.command_regex), "^cyclictest -p 0$");
	s = strategy_snapshot_build(&r, 1, PROC);
	assert_true(strategy_lookup(s, 200, 200, &e));
	strategy_snapshot_free(s);
}

static void pod_rules_match_nothing_without_pod_metadata(void **state)
{
	struct strategy_rule r = rule(0, 0, "", 5, 0);
	struct strategy_snapshot *s;
	struct strategy_effect e;

	r.nr_namespaces = 1;
	snprintf(r.namespaces[0], sizeof(r.namespaces[0]), "default");
	s = strategy_snapshot_build(&r, 1, PROC);
	assert_non_null(s);
	for (int32_t pid = 100; pid <= 400; pid += 100)
		assert_false(strategy_lookup(s, pid, pid, &e));
	strategy_snapshot_free(s);
}

static void rule_counters_follow_ids(void **state)
{
	struct strategy_rule rules[] = {rule(200, 0, "", 20, 0), rule(0, 0, "^nginx$", 3, 0)};
	struct strategy_snapshot *s, *t;
	struct strategy_rule_stats st[4];
	struct strategy_effect e;

	snprintf(rules[0].id, sizeof(rules[0].id), "probe");
	snprintf(rules[1].id, sizeof(rules[1].id), "web");
	s = strategy_snapshot_build(rules, 2, PROC);
	assert_true(strategy_lookup(s, 201, 200, &e));
	assert_int_equal(e.rule, 0);
	strategy_snapshot_count(s, &e);
	strategy_snapshot_count(s, &e);
	assert_true(strategy_lookup(s, 400, 400, &e));
	assert_int_equal(e.rule, 1);
	strategy_snapshot_count(s, &e);

	assert_int_equal(strategy_snapshot_rule_stats(s, st, 4), 2);
	assert_string_equal(st[0].id, "probe");
	assert_int_equal(st[0].threads, 2); /* 200 and 201 */
	assert_int_equal(st[0].decisions, 2);
	assert_string_equal(st[1].id, "web");
	assert_int_equal(st[1].threads, 2); /* 100 and 400 */
	assert_int_equal(st[1].decisions, 1);

	/* A rebuild with the rules swapped keeps each id's count. */
	struct strategy_rule swapped[] = {rules[1], rules[0]};

	t = strategy_snapshot_build(swapped, 2, PROC);
	strategy_snapshot_inherit_counts(t, s);
	assert_int_equal(strategy_snapshot_rule_stats(t, st, 4), 2);
	assert_string_equal(st[0].id, "web");
	assert_int_equal(st[0].decisions, 1);
	assert_int_equal(st[1].decisions, 2);
	strategy_snapshot_free(s);
	strategy_snapshot_free(t);
}

static void rules_resolve_to_processes(void **state)
{
	struct strategy_rule rules[] = {rule(0, 0, "nginx", 3, 0), rule(300, 0, "", 4, 0),
					rule(0, 201, "", 5, 0)};
	struct strategy_snapshot *s = strategy_snapshot_build(rules, 3, PROC);
	struct strategy_pid p[8];

	/* nginx: 100 (two threads, listed once) and 400; pid 300; tid 201 as itself. */
	assert_int_equal(strategy_snapshot_pids(s, p, 8), 4);
	assert_int_equal(p[0].rule, 0);
	assert_int_equal(p[0].pid, 100);
	assert_int_equal(p[1].pid, 400);
	assert_int_equal(p[2].rule, 1);
	assert_int_equal(p[2].pid, 300);
	assert_int_equal(p[2].effect.priority, 4);
	assert_int_equal(p[3].rule, 2);
	assert_int_equal(p[3].pid, 201);
	assert_int_equal(strategy_snapshot_pids(s, p, 2), 2);
	assert_int_equal(strategy_snapshot_pids(NULL, p, 8), 0);
	strategy_snapshot_free(s);
}

static void resolver_applies_new_rules_at_once(void **state)
{
	struct strategy_rule r = rule(0, 0, "^cyclictest$", 20, 0);
	struct strategy_rule_stats st[2];
	struct strategy_effect e;

	snprintf(r.id, sizeof(r.id), "a");
	/* A long interval: only set_rules can explain a change. */
	assert_int_equal(strategy_resolver_start(&r, 1, PROC, 60000), 0);
	assert_true(strategy_lookup(strategy_current(), 200, 200, &e));
	assert_false(strategy_lookup(strategy_current(), 300, 300, &e));

	r = rule(300, 0, "", 4, 0);
	snprintf(r.id, sizeof(r.id), "b");
	assert_int_equal(strategy_resolver_set_rules(&r, 1), 0);
	assert_false(strategy_lookup(strategy_current(), 200, 200, &e));
	assert_true(strategy_lookup(strategy_current(), 300, 300, &e));
	assert_int_equal(e.priority, 4);
	assert_int_equal(strategy_resolver_stats(st, 2), 1);
	assert_string_equal(st[0].id, "b");
	assert_int_equal(st[0].threads, 1);

	assert_int_equal(strategy_resolver_set_rules(NULL, 0), 0);
	assert_false(strategy_lookup(strategy_current(), 300, 300, &e));
	strategy_resolver_stop();
	assert_int_equal(strategy_resolver_set_rules(&r, 1), -ESRCH);
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
	    cmocka_unit_test(cgroup_prefix_matches_whole_components),
	    cmocka_unit_test(regex_on_cmdline_when_asked),
	    cmocka_unit_test(pod_rules_match_nothing_without_pod_metadata),
	    cmocka_unit_test(rule_counters_follow_ids),
	    cmocka_unit_test(rules_resolve_to_processes),
	    cmocka_unit_test(resolver_applies_new_rules_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
