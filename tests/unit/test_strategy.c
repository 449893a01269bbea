/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for strategy snapshots: pid/tid/regex/cgroup/cmdline matching over a fixture
 * /proc tree, the precedence rule, threads that vanish mid-scan, per-rule counters, and
 * the resolver's publish/lookup and rule changes. Kubernetes pods over
 * tests/unit/fixtures/proc-pods (see its README): label and namespace rules reach every
 * thread of a pod's processes and nothing else, with regexes too, under the precedence
 * rule; a pod that leaves the pod set drops out. The resolver: one dirty process is
 * re-read without a full scan, a pod table change wakes it, and it lists pod processes.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fixture_tree.h"
#include "k8s/pods.h"
#include "strategy/proc_table.h"
#include "strategy/strategy.h"

#define PROC "tests/unit/fixtures/proc"
#define PODS "tests/unit/fixtures/proc-pods"

#define UID_A "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_B "6a3c1e52-7a8b-4c1d-9e2f-0123456789ab"
#define UID_C "9f8e7d6c-5b4a-4392-8a7b-6c5d4e3f2a1b"
#define UID_D "c0ffee00-1234-4abc-8def-00000000000d"
#define UID_E "e1e1e1e1-0000-4000-8000-00000000000e"

/* Every thread of the pods fixture, with its process. */
static const int32_t pod_fixture_tids[][2] = {
    {1000, 1000}, {1100, 1100}, {1101, 1100}, {1200, 1200}, {1300, 1300},
    {1301, 1300}, {1302, 1300}, {1400, 1400}, {1500, 1500}, {1507, 1500},
    {1550, 1550}, {1600, 1600}, {1650, 1650},
};
#define NR_POD_FIXTURE_TIDS (sizeof(pod_fixture_tids) / sizeof(pod_fixture_tids[0]))

/* Generous: only a broken resolver ever waits this long. */
#define IDLE_WAIT_MS 20000

static char tmp[PATH_MAX];

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

/* A failed assertion skips the test's own stop: never leave a resolver to the next test. */
static int teardown_resolver(void **state)
{
	strategy_resolver_events(false);
	strategy_resolver_stop();
	return 0;
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

/*
 * The generation BPF checks before it reuses a priority decision: every publish makes a
 * new one, the mirror sees it before set_rules returns, and stopping the resolver or the
 * mirror leaves nothing stale behind.
 */
static void resolver_mirrors_the_generation(void **state)
{
	struct strategy_rule r = rule(0, 0, "^cyclictest$", 20, 0);
	uint64_t mirror = 99, g1, g2;

	snprintf(r.id, sizeof(r.id), "a");
	assert_int_equal(strategy_resolver_start(&r, 1, PROC, 60000), 0);
	g1 = strategy_snapshot_generation(strategy_current());
	assert_true(g1 > 0);
	strategy_resolver_mirror_generation(&mirror);
	assert_int_equal(mirror, g1); /* written at once, not at the next publish */

	assert_int_equal(strategy_resolver_set_rules(&r, 1), 0);
	g2 = strategy_snapshot_generation(strategy_current());
	assert_true(g2 > g1);
	assert_int_equal(mirror, g2);

	strategy_resolver_mirror_generation(NULL);
	assert_int_equal(strategy_resolver_set_rules(NULL, 0), 0);
	assert_int_equal(mirror, g2); /* no longer written */
	strategy_resolver_mirror_generation(&mirror);
	assert_int_equal(mirror, strategy_snapshot_generation(strategy_current()));
	assert_true(mirror > g2);

	strategy_resolver_stop();
	assert_int_equal(mirror, 0); /* nothing published: BPF places no priority itself */
	strategy_resolver_mirror_generation(NULL);
	assert_int_equal(strategy_snapshot_generation(NULL), 0);
}

/*
 * The event source's gate: open exactly while a rule needs the process table (a pid rule
 * alone does not), opened before set_rules returns, closed when the resolver stops.
 */
static void resolver_mirrors_whether_events_are_wanted(void **state)
{
	struct strategy_rule by_pid = rule(300, 0, "", 4, 0);
	struct strategy_rule by_regex = rule(0, 0, "^cyclictest$", 20, 0);
	bool wanted = true;

	snprintf(by_pid.id, sizeof(by_pid.id), "p");
	snprintf(by_regex.id, sizeof(by_regex.id), "r");
	assert_int_equal(strategy_resolver_start(&by_pid, 1, PROC, 60000), 0);
	strategy_resolver_mirror_tracking(&wanted);
	assert_false(wanted); /* written at once */

	assert_int_equal(strategy_resolver_set_rules(&by_regex, 1), 0);
	assert_true(wanted);
	assert_int_equal(strategy_resolver_set_rules(&by_pid, 1), 0);
	assert_false(wanted);
	assert_int_equal(strategy_resolver_set_rules(&by_regex, 1), 0);
	assert_true(wanted);

	strategy_resolver_stop();
	assert_false(wanted);
	strategy_resolver_mirror_tracking(NULL);
	assert_int_equal(strategy_resolver_start(&by_regex, 1, PROC, 60000), 0);
	assert_false(wanted); /* no longer written */
	strategy_resolver_stop();
}

/* ---- pods ------------------------------------------------------------------------------ */

static struct strategy_rule label_rule(const char *key, const char *value, uint32_t prio)
{
	struct strategy_rule r = rule(0, 0, "", prio, 0);

	snprintf(r.selectors[0].key, sizeof(r.selectors[0].key), "%s", key);
	snprintf(r.selectors[0].value, sizeof(r.selectors[0].value), "%s", value);
	r.nr_selectors = 1;
	return r;
}

static struct strategy_rule ns_rule(const char *ns1, const char *ns2, uint32_t prio)
{
	struct strategy_rule r = rule(0, 0, "", prio, 0);

	snprintf(r.namespaces[0], sizeof(r.namespaces[0]), "%s", ns1);
	r.nr_namespaces = 1;
	if (ns2) {
		snprintf(r.namespaces[1], sizeof(r.namespaces[1]), "%s", ns2);
		r.nr_namespaces = 2;
	}
	return r;
}

static struct strategy_selector labels_a[] = {{"app", "nginx"}, {"tier", "frontend"}};
static struct strategy_selector labels_b[] = {{"app", "redis"}, {"tier", "backend"}};
static struct strategy_selector labels_c[] = {{"app", "api"}, {"tier", "backend"}};
static struct strategy_selector labels_d[] = {{"app", "java"}, {"tier", "backend"}};

static struct pod_meta pod(const char *uid, const char *name, const char *ns,
			   struct strategy_selector *labels)
{
	struct pod_meta m;

	memset(&m, 0, sizeof(m));
	snprintf(m.uid, sizeof(m.uid), "%s", uid);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.namespace, sizeof(m.namespace), "%s", ns);
	m.labels = labels;
	m.nr_labels = 2;
	return m;
}

/* Pods A to D of the fixture (E stays unknown); @skip_b leaves B out. */
static struct pod_table *fixture_pods(bool skip_b)
{
	struct pod_meta pods[] = {
	    pod(UID_A, "web-0", "web", labels_a),
	    pod(UID_C, "api-0", "web", labels_c),
	    pod(UID_D, "batch-0", "batch", labels_d),
	    pod(UID_B, "redis-0", "cache", labels_b),
	};
	struct pod_table *t = pod_table_new();

	assert_non_null(t);
	assert_int_equal(pod_table_replace(t, pods, skip_b ? 3 : 4), 0);
	return t;
}

static struct proc_table *fixture_table(const char *root, const struct strategy_rule *rules,
					size_t n)
{
	struct proc_table *t = proc_table_new(root, 0);

	assert_non_null(t);
	proc_table_set_wants(t, strategy_rules_wants(rules, n) | PROC_WANT_POD);
	assert_int_equal(proc_table_scan(t), 0);
	return t;
}

static struct strategy_snapshot *build_with_pods(const struct strategy_rule *rules, size_t n,
						 bool skip_b)
{
	struct pod_table *pt = fixture_pods(skip_b);
	const struct pod_set *set = pod_table_acquire(pt);
	struct proc_table *t = fixture_table(PODS, rules, n);
	struct strategy_snapshot *s = strategy_snapshot_build_from(rules, n, t, set);

	assert_non_null(s);
	proc_table_free(t);
	pod_set_release(set);
	pod_table_free(pt);
	return s;
}

/* Exactly the threads in @want (0-terminated) are covered by @s, with priority @prio. */
static void covers_exactly(const struct strategy_snapshot *s, const int32_t *want, uint32_t prio)
{
	for (size_t i = 0; i < NR_POD_FIXTURE_TIDS; i++) {
		int32_t tid = pod_fixture_tids[i][0], tgid = pod_fixture_tids[i][1];
		struct strategy_effect e;
		bool wanted = false;

		for (const int32_t *w = want; *w && !wanted; w++)
			wanted = *w == tid;
		if (strategy_lookup(s, tid, tgid, &e) != wanted)
			fail_msg("thread %d: covered %s, expected %s", tid, wanted ? "no" : "yes",
				 wanted ? "yes" : "no");
		if (wanted)
			assert_int_equal(e.priority, prio);
	}
}

static void label_rule_reaches_every_thread_of_the_pod(void **state)
{
	struct strategy_rule r = label_rule("app", "redis", 9);
	struct strategy_snapshot *s = build_with_pods(&r, 1, false);
	struct strategy_rule_stats st;

	covers_exactly(s, (const int32_t[]){1300, 1301, 1302, 0}, 9);
	assert_int_equal(strategy_snapshot_rule_stats(s, &st, 1), 1);
	assert_int_equal(st.threads, 3);
	strategy_snapshot_free(s);

	/* A label every backend pod has: B, C and D, whatever their cgroup layout. */
	r = label_rule("tier", "backend", 4);
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){1300, 1301, 1302, 1400, 1500, 1507, 0}, 4);
	strategy_snapshot_free(s);

	/* A label no pod has; and E, a pod the pod set does not know, matches nothing. */
	r = label_rule("app", "sleep", 4);
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){0}, 0);
	strategy_snapshot_free(s);
}

static void namespace_rule_reaches_its_pods(void **state)
{
	struct strategy_rule r = ns_rule("web", NULL, 6);
	struct strategy_snapshot *s = build_with_pods(&r, 1, false);

	/* Pod A (nginx and its pause) and pod C. */
	covers_exactly(s, (const int32_t[]){1100, 1101, 1200, 1400, 0}, 6);
	strategy_snapshot_free(s);

	r = ns_rule("cache", "batch", 2); /* any of them */
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){1300, 1301, 1302, 1500, 1507, 0}, 2);
	strategy_snapshot_free(s);

	/* Labels and namespaces together: both must hold. */
	r = label_rule("tier", "backend", 3);
	snprintf(r.namespaces[0], sizeof(r.namespaces[0]), "web");
	r.nr_namespaces = 1;
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){1400, 0}, 3);
	strategy_snapshot_free(s);
}

static void label_rule_with_a_regex(void **state)
{
	struct strategy_rule r = label_rule("tier", "backend", 8);
	struct strategy_snapshot *s;

	/* Threads of backend pods named bio_*: comm is per thread. */
	snprintf(r.command_regex, sizeof(r.command_regex), "^bio_");
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){1301, 1302, 0}, 8);
	strategy_snapshot_free(s);

	/* On the command line: per process, so every thread of it. */
	snprintf(r.command_regex, sizeof(r.command_regex), "-jar batch");
	r.match_cmdline = true;
	s = build_with_pods(&r, 1, false);
	covers_exactly(s, (const int32_t[]){1500, 1507, 0}, 8);
	strategy_snapshot_free(s);
}

static void pod_gone_from_the_pod_set_drops_out(void **state)
{
	struct strategy_rule r = label_rule("tier", "backend", 5);
	struct strategy_snapshot *s = build_with_pods(&r, 1, false);

	covers_exactly(s, (const int32_t[]){1300, 1301, 1302, 1400, 1500, 1507, 0}, 5);
	strategy_snapshot_free(s);
	/* Pod B deleted: its processes are still there, but no pod rule may reach them. */
	s = build_with_pods(&r, 1, true);
	covers_exactly(s, (const int32_t[]){1400, 1500, 1507, 0}, 5);
	strategy_snapshot_free(s);

	/* No pod metadata at all: nothing. */
	struct proc_table *t = fixture_table(PODS, &r, 1);

	s = strategy_snapshot_build_from(&r, 1, t, NULL);
	covers_exactly(s, (const int32_t[]){0}, 0);
	strategy_snapshot_free(s);
	proc_table_free(t);
}

static void pid_and_tid_rules_beat_pod_rules(void **state)
{
	struct strategy_rule rules[] = {
	    label_rule("app", "redis", 20), /* specificity 1 */
	    rule(1300, 0, "", 3, 0),	    /* pid: 4 */
	    rule(0, 1302, "", 5, 0),	    /* tid: 8 */
	    label_rule("app", "java", 11),  rule(1500, 0, "", 12, 0),
	};
	struct strategy_snapshot *s;
	struct strategy_effect e;

	/* pid + label (5) beats pid alone. */
	rules[3].pid = 1500;
	s = build_with_pods(rules, 5, false);
	assert_true(strategy_lookup(s, 1300, 1300, &e));
	assert_int_equal(e.priority, 3);
	assert_true(strategy_lookup(s, 1301, 1300, &e));
	assert_int_equal(e.priority, 3);
	assert_true(strategy_lookup(s, 1302, 1300, &e));
	assert_int_equal(e.priority, 5);
	assert_true(strategy_lookup(s, 1507, 1500, &e));
	assert_int_equal(e.priority, 11);
	strategy_snapshot_free(s);
}

/* ---- a private copy of the pods fixture, for tests that change it ---------------------- */

static int setup_copy(void **state)
{
	return tree_make(tmp, sizeof(tmp), "gthulhu-st") || tree_copy(PODS, tmp) ? -1 : 0;
}

static int teardown_copy(void **state)
{
	return tree_remove(tmp);
}

static int teardown_resolver_and_copy(void **state)
{
	teardown_resolver(state);
	return teardown_copy(state);
}

static void put(const char *rel, const char *text)
{
	assert_int_equal(tree_write(tmp, rel, text, strlen(text)), 0);
}

static void mkdir_in(const char *rel)
{
	assert_int_equal(tree_mkdir(tmp, rel), 0);
}

/*
 * Process @pid, with one thread, now called @comm: its stat and its thread's comm (an
 * exec or a rename).
 */
static void rename_process(int32_t pid, const char *comm)
{
	char rel[64], text[256];

	snprintf(rel, sizeof(rel), "%d/task/%d/comm", pid, pid);
	snprintf(text, sizeof(text), "%s\n", comm);
	put(rel, text);
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	snprintf(text, sizeof(text),
		 "%d (%s) S 1000 %d %d 0 -1 4194560 1 0 0 0 1 2 0 0 20 0 1 0 %d 1000 10 0\n", pid,
		 comm, pid, pid, pid);
	put(rel, text);
}

/* Process @pid with one thread called @comm (a stat file, so it looks real). */
static void add_process(int32_t pid, const char *comm)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%d", pid);
	mkdir_in(rel);
	snprintf(rel, sizeof(rel), "%d/task", pid);
	mkdir_in(rel);
	snprintf(rel, sizeof(rel), "%d/task/%d", pid, pid);
	mkdir_in(rel);
	rename_process(pid, comm);
}

static void refresh_after_exec_without_a_full_scan(void **state)
{
	struct strategy_rule r = rule(0, 0, "^uvicorn$", 7, 0);
	struct proc_table *t = fixture_table(tmp, &r, 1);
	struct strategy_snapshot *s = strategy_snapshot_build_from(&r, 1, t, NULL);
	struct strategy_effect e;

	assert_false(strategy_lookup(s, 1400, 1400, &e));
	strategy_snapshot_free(s);
	/* 1400 exec'ed uvicorn; 2000, also uvicorn, appeared unannounced. */
	rename_process(1400, "uvicorn");
	add_process(2000, "uvicorn");
	assert_int_equal(proc_table_refresh(t, 1400, PROC_REFRESH_ALL), 1);
	s = strategy_snapshot_build_from(&r, 1, t, NULL);
	assert_true(strategy_lookup(s, 1400, 1400, &e));
	assert_int_equal(e.priority, 7);
	/* Only the dirty process was read: a full scan would have found 2000. */
	assert_false(strategy_lookup(s, 2000, 2000, &e));
	strategy_snapshot_free(s);
	proc_table_free(t);
}

static void matcher_reevaluates_only_what_changed(void **state)
{
	struct strategy_rule rules[] = {rule(0, 0, "^uvicorn$", 7, 0),
					label_rule("tier", "backend", 4)};
	struct pod_table *pt = fixture_pods(false);
	const struct pod_set *set = pod_table_acquire(pt);
	struct proc_table *t = fixture_table(tmp, rules, 2);
	struct strategy_matcher *m = strategy_matcher_new(rules, 2);
	struct strategy_matcher_stats st;
	struct strategy_snapshot *s;
	struct strategy_effect e;

	assert_non_null(m);
	s = strategy_matcher_build(m, t, set);
	strategy_matcher_stats(m, &st);
	assert_int_equal(st.evaluated, 9);
	assert_int_equal(st.reused, 0);
	assert_true(strategy_lookup(s, 1400, 1400, &e));
	assert_int_equal(e.priority, 4); /* pod C is a backend */
	strategy_snapshot_free(s);

	/* 1400 exec'ed uvicorn: only it is evaluated again, and the regex now wins. */
	rename_process(1400, "uvicorn");
	assert_int_equal(proc_table_refresh(t, 1400, PROC_REFRESH_ALL), 1);
	s = strategy_matcher_build(m, t, set);
	strategy_matcher_stats(m, &st);
	assert_int_equal(st.evaluated, 10);
	assert_int_equal(st.reused, 8);
	assert_true(strategy_lookup(s, 1400, 1400, &e));
	assert_int_equal(e.priority, 7);
	assert_true(strategy_lookup(s, 1301, 1300, &e));
	strategy_snapshot_free(s);

	/* A new pod set: every process is evaluated again, and pod B is gone. */
	pod_set_release(set);
	assert_int_equal(pod_table_remove(pt, UID_B), 0);
	set = pod_table_acquire(pt);
	s = strategy_matcher_build(m, t, set);
	strategy_matcher_stats(m, &st);
	assert_int_equal(st.evaluated, 19);
	assert_false(strategy_lookup(s, 1301, 1300, &e));
	assert_true(strategy_lookup(s, 1507, 1500, &e));
	strategy_snapshot_free(s);

	/* A process gone and one new: the memo follows. */
	proc_table_remove(t, 1500);
	add_process(2000, "uvicorn");
	assert_int_equal(proc_table_refresh(t, 2000, PROC_REFRESH_ALL), 1);
	s = strategy_matcher_build(m, t, set);
	strategy_matcher_stats(m, &st);
	assert_int_equal(st.evaluated, 20);
	assert_false(strategy_lookup(s, 1507, 1500, &e));
	assert_true(strategy_lookup(s, 2000, 2000, &e));
	strategy_snapshot_free(s);

	strategy_matcher_free(m);
	proc_table_free(t);
	pod_set_release(set);
	pod_table_free(pt);
}

/* Churn: whatever the memo kept or swept, its snapshot equals a fresh build's. */
static void matcher_agrees_with_a_fresh_build_under_churn(void **state)
{
	struct strategy_rule rules[] = {rule(0, 0, "^a", 3, 0), rule(0, 0, "^b[0-9]*$", 5, 0),
					rule(3007, 0, "", 9, 0), rule(0, 3011, "^c", 11, 0)};
	struct proc_table *t = proc_table_new(tmp, 0);
	struct strategy_matcher *m = strategy_matcher_new(rules, 4);
	static const char prefix[] = "abc";
	uint32_t rng = 12345;
	char comm[16];

	assert_non_null(t);
	assert_non_null(m);
	for (int32_t pid = 3000; pid < 3400; pid++) {
		snprintf(comm, sizeof(comm), "%c%d", prefix[pid % 3], pid % 17);
		add_process(pid, comm);
	}
	assert_int_equal(proc_table_scan(t), 0);
	for (int round = 0; round < 6; round++) {
		struct strategy_snapshot *a, *b;

		for (int k = 0; k < 60; k++) {
			int32_t pid =
			    3000 + (int32_t)((rng = rng * 1103515245u + 12345u) >> 8) % 400;

			if (k % 3 == 0) {
				proc_table_remove(t, pid);
			} else {
				snprintf(comm, sizeof(comm), "%c%d", prefix[(pid + round + k) % 3],
					 round);
				rename_process(pid, comm);
				assert_true(proc_table_refresh(t, pid, PROC_REFRESH_ALL) >= 0);
			}
		}
		for (int k = 0; k < 60; k++) {
			int32_t pid = 5000 + round * 60 + k;

			snprintf(comm, sizeof(comm), "%c%d", prefix[k % 3], k);
			add_process(pid, comm);
			assert_int_equal(proc_table_refresh(t, pid, PROC_REFRESH_ALL), 1);
		}
		a = strategy_matcher_build(m, t, NULL);
		b = strategy_snapshot_build_from(rules, 4, t, NULL);
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(strategy_snapshot_entries(a), strategy_snapshot_entries(b));
		for (int32_t pid = 3000; pid < 5000 + 6 * 60; pid++) {
			struct strategy_effect ea, eb;
			bool ha = strategy_lookup(a, pid, pid, &ea),
			     hb = strategy_lookup(b, pid, pid, &eb);

			assert_int_equal(ha, hb);
			if (ha)
				assert_int_equal(ea.priority, eb.priority);
		}
		strategy_snapshot_free(a);
		strategy_snapshot_free(b);
	}
	strategy_matcher_free(m);
	proc_table_free(t);
}

static void resolver_refreshes_what_events_name(void **state)
{
	struct strategy_rule r = rule(0, 0, "^latecomer$", 20, 0);
	struct strategy_resolver_info before, after;
	struct strategy_effect e;

	snprintf(r.id, sizeof(r.id), "late");
	/* A long interval: without events, nothing would be seen for a minute. */
	assert_int_equal(strategy_resolver_start(&r, 1, tmp, 60000), 0);
	strategy_resolver_events(true);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	strategy_resolver_info(&before);
	assert_true(before.tracking);
	assert_true(before.events_active);
	assert_false(strategy_lookup(strategy_current(), 2100, 2100, &e));

	add_process(2100, "latecomer");
	add_process(2200, "latecomer"); /* no event: stays unseen */
	strategy_resolver_note(STRATEGY_EV_FORK, 2100, 2100);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_true(strategy_lookup(strategy_current(), 2100, 2100, &e));
	assert_int_equal(e.priority, 20);
	assert_false(strategy_lookup(strategy_current(), 2200, 2200, &e));
	strategy_resolver_info(&after);
	assert_int_equal(after.full_scans, before.full_scans);
	assert_int_equal(after.refreshes, before.refreshes + 1);
	assert_int_equal(after.events, before.events + 1);

	/* A new thread that renames itself, then the process exits. */
	mkdir_in("2100/task/2101");
	put("2100/task/2101/comm", "worker\n");
	put("2100/stat", "2100 (latecomer) S 1000 2100 2100 0 -1 4194560 1 0 0 0 1 2 0 0 20 0 2 0 "
			 "2100 1000 10 0\n");
	strategy_resolver_note(STRATEGY_EV_THREAD, 2101, 2100);
	strategy_resolver_note(STRATEGY_EV_RENAME, 2101, 2100);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_false(strategy_lookup(strategy_current(), 2101, 2100, &e));
	put("2100/task/2101/comm", "latecomer\n");
	strategy_resolver_note(STRATEGY_EV_RENAME, 2101, 2100);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_true(strategy_lookup(strategy_current(), 2101, 2100, &e));
	strategy_resolver_note(STRATEGY_EV_EXIT, 2100, 2100);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_false(strategy_lookup(strategy_current(), 2100, 2100, &e));
	assert_false(strategy_lookup(strategy_current(), 2101, 2100, &e));

	/* Lost events: everything is read again, 2200 included. */
	strategy_resolver_resync();
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_true(strategy_lookup(strategy_current(), 2200, 2200, &e));
	strategy_resolver_info(&after);
	assert_int_equal(after.full_scans, before.full_scans + 1);
	strategy_resolver_events(false);
	strategy_resolver_stop();
}

/* Without an event source, the table is kept by full rescans every interval, as before. */
static void resolver_rescans_without_events(void **state)
{
	struct strategy_rule r = rule(0, 0, "^latecomer$", 20, 0);
	struct strategy_resolver_info info;
	struct timespec nap = {0, 5000000};
	struct strategy_effect e;
	uint64_t scans;

	assert_int_equal(strategy_resolver_start(&r, 1, tmp, 20), 0);
	strategy_resolver_info(&info);
	assert_false(info.events_active);
	assert_false(strategy_lookup(strategy_current(), 2100, 2100, &e));
	add_process(2100, "latecomer");
	/* Two more scans: the second began after the process was there. */
	scans = info.full_scans + 2;
	for (int i = 0; i < IDLE_WAIT_MS / 5 && info.full_scans < scans; i++) {
		nanosleep(&nap, NULL);
		strategy_resolver_info(&info);
	}
	assert_true(info.full_scans >= scans);
	assert_true(strategy_lookup(strategy_current(), 2100, 2100, &e));
	assert_int_equal(info.refreshes, 0);
	strategy_resolver_stop();
}

static void resolver_wakes_on_pod_table_changes(void **state)
{
	struct strategy_rule r = label_rule("app", "redis", 20);
	struct pod_meta b = pod(UID_B, "redis-0", "cache", labels_b);
	struct pod_table *pt = pod_table_new();
	struct strategy_effect e;

	assert_non_null(pt);
	assert_int_equal(strategy_resolver_start(&r, 1, PODS, 60000), 0);
	assert_int_equal(strategy_resolver_set_pods(pt), 0);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_false(strategy_lookup(strategy_current(), 1301, 1300, &e));

	/* The Kubernetes client learns of pod B: no rule change, no scan, yet it is covered. */
	assert_int_equal(pod_table_upsert(pt, &b), 0);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_true(strategy_lookup(strategy_current(), 1301, 1300, &e));
	assert_int_equal(e.priority, 20);

	assert_int_equal(pod_table_remove(pt, UID_B), 0);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	assert_false(strategy_lookup(strategy_current(), 1301, 1300, &e));

	assert_int_equal(strategy_resolver_set_pods(NULL), 0);
	strategy_resolver_stop();
	pod_table_free(pt);
}

static void resolver_lists_pod_processes(void **state)
{
	static const struct {
		int32_t pid;
		const char *uid, *comm, *cid;
	} want[] = {
	    {1100, UID_A, "nginx",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0001"},
	    {1200, UID_A, "pause", ""},
	    {1300, UID_B, "redis-server",
	     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0002"},
	    {1400, UID_C, "python3",
	     "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc0003"},
	    {1500, UID_D, "java",
	     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd0004"},
	    {1550, UID_E, "sleep",
	     "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee0005"},
	};
	struct pod_table *pt = fixture_pods(false);
	struct pod_process out[16];
	size_t n;

	/* No rule at all: tracking pods alone keeps the table. */
	assert_int_equal(strategy_resolver_start(NULL, 0, PODS, 60000), 0);
	assert_int_equal(strategy_resolver_pod_processes(out, 16), 0);
	assert_int_equal(strategy_resolver_set_pods(pt), 0);
	assert_true(strategy_resolver_idle_wait(IDLE_WAIT_MS));
	n = strategy_resolver_pod_processes(out, 16);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(out[i].pid, want[i].pid);
		assert_string_equal(out[i].pod_uid, want[i].uid);
		assert_string_equal(out[i].comm, want[i].comm);
		assert_string_equal(out[i].container_id, want[i].cid);
		assert_int_equal(out[i].ppid, 1000);
	}
	assert_int_equal(strategy_resolver_pod_processes(out, 2), 2);
	assert_int_equal(out[1].pid, 1200);
	assert_int_equal(strategy_resolver_set_pods(NULL), 0);
	strategy_resolver_stop();
	pod_table_free(pt);
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
	    cmocka_unit_test_teardown(resolver_publishes_a_snapshot, teardown_resolver),
	    cmocka_unit_test(cgroup_prefix_matches_whole_components),
	    cmocka_unit_test(regex_on_cmdline_when_asked),
	    cmocka_unit_test(pod_rules_match_nothing_without_pod_metadata),
	    cmocka_unit_test(rule_counters_follow_ids),
	    cmocka_unit_test(rules_resolve_to_processes),
	    cmocka_unit_test_teardown(resolver_applies_new_rules_at_once, teardown_resolver),
	    cmocka_unit_test_teardown(resolver_mirrors_the_generation, teardown_resolver),
	    cmocka_unit_test_teardown(resolver_mirrors_whether_events_are_wanted,
				      teardown_resolver),
	    cmocka_unit_test(label_rule_reaches_every_thread_of_the_pod),
	    cmocka_unit_test(namespace_rule_reaches_its_pods),
	    cmocka_unit_test(label_rule_with_a_regex),
	    cmocka_unit_test(pod_gone_from_the_pod_set_drops_out),
	    cmocka_unit_test(pid_and_tid_rules_beat_pod_rules),
	    cmocka_unit_test_setup_teardown(refresh_after_exec_without_a_full_scan, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(matcher_reevaluates_only_what_changed, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(matcher_agrees_with_a_fresh_build_under_churn,
					    setup_copy, teardown_copy),
	    cmocka_unit_test_setup_teardown(resolver_refreshes_what_events_name, setup_copy,
					    teardown_resolver_and_copy),
	    cmocka_unit_test_setup_teardown(resolver_rescans_without_events, setup_copy,
					    teardown_resolver_and_copy),
	    cmocka_unit_test_teardown(resolver_wakes_on_pod_table_changes, teardown_resolver),
	    cmocka_unit_test_teardown(resolver_lists_pod_processes, teardown_resolver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
