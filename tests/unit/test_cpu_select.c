/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for sched/cpu_select.c, the placement policy.
 *
 * Two kinds of test. Scenarios on the fixture trees of tests/unit/fixtures/topology (their
 * layouts are in gen.sh there) pin down each rule of the preference order by hand. Then a
 * randomized comparison checks cpu_select() against a deliberately naive reference (CPU by
 * CPU loops, no bit tricks) on the fixtures and on bigger trees synthesised in a temporary
 * directory: several mask words, 1024 CPUs, 4-way SMT and an irregular sibling numbering
 * that forces the core-by-core path. Paths are relative to the repository root, where
 * `make unit` runs; GTHULHU_TOPO_FIXTURES overrides the fixture directory.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched/cpu_select.h"
#include "topology/topology.h"
#include "topology_fixture.h"

static void load_root(const char *root)
{
	char err[512];

	if (topology_load(&topo, root, err, sizeof(err)))
		fail_msg("loading %s: %s", root, err);
}

static void load(const char *name)
{
	load_root(fixture(name));
}

static struct cpumask M(const char *list) {
	struct cpumask m;

	if (cpumask_parse(&m, list))
		fail_msg("bad list in test: %s", list);
	return m;
}

/* cpu_select() with masks as cpulists; a NULL list passes a NULL mask. */
static int
sel(const char *allowed, const char *idle, const char *prio, int prev, bool is_prio)
{
	struct cpumask a, i, p;

	if (allowed)
		a = M(allowed);
	if (idle)
		i = M(idle);
	if (prio)
		p = M(prio);
	return cpu_select(&topo, allowed ? &a : NULL, idle ? &i : NULL, prio ? &p : NULL, prev,
			  is_prio);
}

/* ---- scenarios ---- */

/* smt-1socket: cores {0,4} {1,5} {2,6} {3,7}, an L2 per core, one LLC, one node. */
static void test_smt_full_core_first(void **state)
{
	(void)state;
	load("smt-1socket");
	/* prev 0 is idle but its sibling 4 is busy: the fully idle core {1,5} wins. */
	assert_int_equal(sel(NULL, "0-1,5", NULL, 0, false), 1);
	assert_int_equal(sel(NULL, "0-1,5", NULL, 0, true), 1);
	/* Only half-idle cores: prev itself. */
	assert_int_equal(sel(NULL, "0-1", NULL, 0, false), 0);
	/* prev's core fully idle: prev is kept. */
	assert_int_equal(sel(NULL, "0-7", NULL, 6, false), 6);
	assert_int_equal(sel(NULL, "2,6", NULL, 6, false), 6);
	/* prev busy but its sibling idle, and no fully idle core: the sibling (same core). */
	assert_int_equal(sel(NULL, "2,3", NULL, 6, false), 2);
}

static void test_smt_nearest_after_prev(void **state)
{
	(void)state;
	load("smt-1socket");
	/* Fully idle cores {0,4} and {2,6}; from prev 5 the next one up is 6. */
	assert_int_equal(sel(NULL, "0,2,4,6", NULL, 5, false), 6);
	/* From prev 7, wrapping around: 0. */
	assert_int_equal(sel(NULL, "0,2,4,6", NULL, 7, false), 0);
	assert_int_equal(sel(NULL, "0,2,4,6", NULL, 1, false), 2);
}

static void test_smt_restricted(void **state)
{
	(void)state;
	load("smt-1socket");
	/* allowed = {5}: never another CPU, even a better or closer one. */
	assert_int_equal(sel("5", "0-7", NULL, 0, false), 5);
	assert_int_equal(sel("5", "0-7", NULL, 4, true), 5);
	assert_int_equal(sel("5", "0-4,6-7", NULL, 5, false), -1);
	assert_int_equal(sel("5", "0-4,6-7", NULL, 5, true), -1);
	/* Allowed CPUs all busy: -1, however many others are idle. */
	assert_int_equal(sel("1,5", "0,2-4,6-7", NULL, 1, false), -1);
	/* Half-idle allowed CPU over a fully idle core that is not allowed. */
	assert_int_equal(sel("1-2", "0-2,4,6", NULL, 0, false), 2);
	assert_int_equal(sel("1,3", "0-1,3-4,7", NULL, 0, false), 3);
	/* An empty allowed mask fits nothing. */
	assert_int_equal(sel("", "0-7", NULL, 0, false), -1);
}

static void test_smt_no_idle(void **state)
{
	(void)state;
	load("smt-1socket");
	assert_int_equal(sel(NULL, "", NULL, 3, false), -1);
	assert_int_equal(sel(NULL, "", "0-7", 3, true), -1);
	assert_int_equal(sel(NULL, NULL, NULL, 3, false), -1);
	assert_int_equal(sel("0-7", "", NULL, -1, false), -1);
}

static void test_smt_prio_sibling(void **state)
{
	(void)state;
	load("smt-1socket");
	/*
	 * CPU 4 runs a priority task, CPU 5 a normal one. Idle: 0 (sibling of 4) and 1
	 * (sibling of 5). A normal task avoids 0 even though it is prev_cpu.
	 */
	assert_int_equal(sel(NULL, "0-1", "4", 0, false), 1);
	/* A priority task does not care: prev first. */
	assert_int_equal(sel(NULL, "0-1", "4", 0, true), 0);
	/* Nothing else idle: the normal task takes the priority task's sibling. */
	assert_int_equal(sel(NULL, "0", "4", 0, false), 0);
	assert_int_equal(sel(NULL, "0,2", "4,6", 1, false), 2);
	/* ...also when the other idle CPUs are not allowed. */
	assert_int_equal(sel("0", "0-1", "4", 1, false), 0);
	/* A fully idle core beats both for either kind of task. */
	assert_int_equal(sel(NULL, "0-1,3,7", "4", 0, false), 3);
	assert_int_equal(sel(NULL, "0-1,3,7", "4", 0, true), 3);
	/* Normal task, no fully idle core: a half-idle CPU next to a normal task wins. */
	assert_int_equal(sel(NULL, "0,1,2", "4,6", 0, false), 1);
	/* An empty or absent prio_busy mask changes nothing. */
	assert_int_equal(sel(NULL, "0-1", "", 0, false), 0);
	assert_int_equal(sel(NULL, "0-1", NULL, 0, false), 0);
}

static void test_smt_bad_prev(void **state)
{
	(void)state;
	load("smt-1socket");
	/* No usable prev_cpu: start from the first allowed CPU. */
	assert_int_equal(sel(NULL, "0-7", NULL, -1, false), 0);
	assert_int_equal(sel(NULL, "0-7", NULL, -5, false), 0);
	assert_int_equal(sel(NULL, "0-7", NULL, 8, false), 0);
	assert_int_equal(sel(NULL, "0-7", NULL, 1 << 30, false), 0);
	assert_int_equal(sel("3,6-7", "0-7", NULL, -1, false), 3);
	/* Half-idle first allowed CPU: still the fully idle core. */
	assert_int_equal(sel("3,6-7", "2-3,6", NULL, -1, false), 6);
	/*
	 * prev_cpu online but no longer allowed: the search still starts from it, its
	 * cache being warm. prev 4, allowed {1,2,5,6}: next after 4 is 5.
	 */
	assert_int_equal(sel("1-2,5-6", "0-7", NULL, 4, false), 5);
}

/*
 * cpu_select() answers "prev_cpu, its whole core idle" before building any mask: the
 * shortcut must give what the search would, and must not fire when any of its conditions
 * fails.
 */
static void test_smt_prev_core_free(void **state)
{
	(void)state;
	load("smt-1socket");
	/* prev 4 and its sibling 0 idle: prev, although 0 comes first in the core. */
	assert_int_equal(sel(NULL, "0,4", NULL, 4, false), 4);
	assert_int_equal(sel(NULL, "0-7", "", 4, false), 4);
	assert_int_equal(sel("0-7", "0-7", NULL, 7, true), 7);
	/* prev idle but not allowed: the allowed CPU of its core. */
	assert_int_equal(sel("0", "0,4", NULL, 4, false), 0);
	/* prev idle, its sibling busy: a fully idle core elsewhere. */
	assert_int_equal(sel(NULL, "1-2,6", NULL, 1, false), 2);
	/*
	 * Overlapping masks (a racy snapshot): sibling 0 idle and running a priority task.
	 * A normal task leaves prev for 0, whose own sibling (prev) runs no priority task;
	 * a priority task keeps prev.
	 */
	assert_int_equal(sel(NULL, "0,4", "0", 4, false), 0);
	assert_int_equal(sel(NULL, "0,4", "0", 4, true), 4);
	/* prev_cpu values no CPU has: as if there were none. */
	assert_int_equal(sel(NULL, "0-7", NULL, INT_MIN, false), 0);
	assert_int_equal(sel(NULL, "0-7", NULL, INT_MAX, false), 0);
	assert_int_equal(sel("5-7", "0-7", NULL, GTHULHU_MAX_CPUS, false), 5);
}

/* llc-2: no SMT, LLCs 0-3 and 4-7. */
static void test_llc_order(void **state)
{
	(void)state;
	load("llc-2");
	assert_int_equal(sel(NULL, "2,5", NULL, 1, false), 2);
	/* Same LLC wraps around (3 -> 0) before leaving it for 5. */
	assert_int_equal(sel(NULL, "0,5", NULL, 3, false), 0);
	assert_int_equal(sel(NULL, "5", NULL, 3, false), 5);
	assert_int_equal(sel(NULL, "1,6", NULL, 7, false), 6);
	/* Without SMT every idle CPU is a fully idle core, and prio_busy never applies. */
	assert_int_equal(sel(NULL, "1,6", "0-5,7", 7, false), 6);
}

/* numa-2: cores {0,4} {1,5} | {2,6} {3,7}; L2 per core; LLC = node. */
static void test_numa_order(void **state)
{
	(void)state;
	load("numa-2");
	/* A fully idle core on the other node beats a half-idle CPU on prev's node. */
	assert_int_equal(sel(NULL, "2,5-6", NULL, 0, false), 2);
	/* No fully idle core: same node (5), not the other (3). */
	assert_int_equal(sel(NULL, "3,5", NULL, 0, false), 5);
	/* Fully idle cores on both nodes: prev's node. */
	assert_int_equal(sel(NULL, "1-2,5-6", NULL, 0, false), 1);
	assert_int_equal(sel(NULL, "1-2,5-6", NULL, 7, false), 2);
	assert_int_equal(sel(NULL, "3", NULL, 0, false), 3);
}

/*
 * deep: core k = {k, k+16}; L2 j = cores 2j, 2j+1; LLC m = cores 4m..4m+3; node n = cores
 * 8n..8n+7. Every level is distinct, so each step of the order shows.
 */
static void test_deep_order_full_cores(void **state)
{
	(void)state;
	load("deep");
	/* Core 0 (prev) half idle (16); fully idle cores 1 (L2), 2 (LLC), 5 (node), 8. */
	assert_int_equal(sel(NULL, "1-2,5,8,16-18,21,24", NULL, 0, false), 1);
	assert_int_equal(sel(NULL, "2,5,8,16,18,21,24", NULL, 0, false), 2);
	assert_int_equal(sel(NULL, "5,8,16,21,24", NULL, 0, false), 5);
	assert_int_equal(sel(NULL, "8,16,24", NULL, 0, false), 8);
	/* Within a domain, nearest after prev by number: prev 3, L2 {2,3,18,19}: 18. */
	assert_int_equal(sel(NULL, "2,18", NULL, 3, false), 18);
	assert_int_equal(sel(NULL, "2,18", NULL, 19, false), 2);
}

static void test_deep_order_idle_cpus(void **state)
{
	(void)state;
	load("deep");
	/* prev 0 busy, only half-idle cores: its sibling, then L2, LLC, node, anywhere. */
	assert_int_equal(sel(NULL, "16-18,21,24", NULL, 0, false), 16);
	assert_int_equal(sel(NULL, "17-18,21,24", NULL, 0, false), 17);
	assert_int_equal(sel(NULL, "18,21,24", NULL, 0, false), 18);
	assert_int_equal(sel(NULL, "21,24", NULL, 0, false), 21);
	assert_int_equal(sel(NULL, "24", NULL, 0, false), 24);
	/* Normal task: the L2 neighbour next to a priority task is passed over for the LLC. */
	assert_int_equal(sel(NULL, "17-18,21,24", "1", 0, false), 18);
	assert_int_equal(sel(NULL, "17-18,21,24", "1", 0, true), 17);
}

/* no-cache: cores {0,1} {2,3} from core_cpus_list; L2 = core, LLC = node = all. */
static void test_no_cache(void **state)
{
	(void)state;
	load("no-cache");
	assert_int_equal(sel(NULL, "1-3", NULL, 0, false), 2);
	assert_int_equal(sel(NULL, "1,3", NULL, 0, false), 1);
	assert_int_equal(sel(NULL, "3", NULL, 0, false), 3);
}

/* offline-cpu: cores {0,1} {2,(3)}, CPU 3 offline. */
static void test_offline(void **state)
{
	(void)state;
	load("offline-cpu");
	/* idle and allowed say 3 may be used: it is offline, so never. */
	assert_int_equal(sel("3", "0-3", NULL, 3, false), -1);
	assert_int_equal(sel("3", "0-3", NULL, 3, true), -1);
	assert_int_equal(sel(NULL, "3", NULL, 2, false), -1);
	/* prev 3 is offline: start from the first allowed CPU. */
	assert_int_equal(sel(NULL, "0-3", NULL, 3, false), 0);
	assert_int_equal(sel("2-3", "0-3", NULL, 3, false), 2);
	/* Core {2} counts as fully idle: its only other thread is offline. */
	assert_int_equal(sel(NULL, "1-3", NULL, 0, false), 2);
	for (int prev = -1; prev < 5; prev++)
		assert_int_not_equal(sel(NULL, "0-3", "0-3", prev, false), 3);
}

/* The machine the tests run on: whatever its shape, a CPU comes out. */
static void test_real_sys(void **state)
{
	struct cpumask idle;
	int cpu;

	(void)state;
	if (access("/sys/devices/system/cpu/possible", R_OK))
		fail_msg("/sys/devices/system/cpu/possible is not readable: this test needs a "
			 "Linux host with sysfs mounted");
	load_root("/");
	idle = topo.online;
	cpu = cpu_select(&topo, NULL, &idle, NULL, 0, false);
	assert_true(cpumask_test(&topo.online, cpu));
	/* Taking CPUs one by one hands each out exactly once, then -1. */
	for (int n = cpumask_weight(&topo.online); n > 0; n--) {
		cpu = cpu_select(&topo, &topo.online, &idle, NULL, -1, false);
		assert_true(cpumask_test(&idle, cpu));
		cpumask_clear(&idle, cpu);
	}
	assert_int_equal(cpu_select(&topo, &topo.online, &idle, NULL, -1, false), -1);
}

static void test_build_masks(void **state)
{
	struct gthulhu_cpu_state st[130] = {0};
	struct cpumask idle, prio;
	char buf[256];

	(void)state;
	st[0].idle = 1;
	st[1].prio_level = 5;
	st[2].idle = 1;
	st[2].prio_level = 3; /* idle now; the level is left over from before */
	st[64].idle = 1;
	st[127].prio_level = 20;
	st[129].idle = 1; /* beyond nr_cpus: not read */
	memset(&idle, 0xff, sizeof(idle));
	memset(&prio, 0xff, sizeof(prio));
	cpu_select_build_masks(st, 128, &idle, &prio);
	cpumask_format(&idle, buf, sizeof(buf));
	assert_string_equal(buf, "0,2,64");
	cpumask_format(&prio, buf, sizeof(buf));
	assert_string_equal(buf, "1,127");
}

/* ---- randomized comparison with a naive reference ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static bool ref_core_idle(const struct cpumask *idle, int cpu)
{
	const struct cpumask *core = topology_mask(&topo, TOPO_CORE, cpu);

	for (int s = cpumask_first(core); s >= 0; s = cpumask_next(core, s)) {
		if (!cpumask_test(idle, s))
			return false;
	}
	return true;
}

static bool ref_near_prio(const struct cpumask *prio, int cpu)
{
	const struct cpumask *core = topology_mask(&topo, TOPO_CORE, cpu);

	for (int s = cpumask_first(core); s >= 0; s = cpumask_next(core, s)) {
		if (s != cpu && cpumask_test(prio, s))
			return true;
	}
	return false;
}

static int ref_walk(const bool *set, int anchor)
{
	int n = topo.nr_cpus;

	if (set[anchor])
		return anchor;
	for (int level = 0; level < TOPO_NR_LEVELS; level++) {
		const struct cpumask *dom = topology_mask(&topo, level, anchor);

		for (int k = 1; k <= n; k++) {
			int c = (anchor + k) % n;

			if (set[c] && cpumask_test(dom, c))
				return c;
		}
	}
	for (int k = 1; k <= n; k++)
		if (set[(anchor + k) % n])
			return (anchor + k) % n;
	return -1;
}

static int ref_select(const struct cpumask *allowed, const struct cpumask *idle,
		      const struct cpumask *prio, int prev, bool is_prio)
{
	static bool cand[GTHULHU_MAX_CPUS], set[GTHULHU_MAX_CPUS], full[GTHULHU_MAX_CPUS];
	/* nr_cpus never exceeds the limit; saying so keeps -Warray-bounds quiet. */
	int n = topo.nr_cpus < GTHULHU_MAX_CPUS ? topo.nr_cpus : GTHULHU_MAX_CPUS;
	int anchor = -1, nr_cand = 0, nr_near = 0, nr_full = 0;

	for (int c = 0; c < n; c++) {
		cand[c] = cpumask_test(&topo.online, c) && cpumask_test(idle, c) &&
			  (!allowed || cpumask_test(allowed, c));
		nr_cand += cand[c];
		if (cand[c] && !is_prio && prio && ref_near_prio(prio, c))
			nr_near++;
	}
	if (!nr_cand)
		return -1;
	if (prev >= 0 && prev < n && cpumask_test(&topo.online, prev))
		anchor = prev;
	for (int c = 0; c < n && anchor < 0; c++)
		if (cpumask_test(&topo.online, c) && (!allowed || cpumask_test(allowed, c)))
			anchor = c;
	for (int c = 0; c < n; c++) {
		bool near = cand[c] && !is_prio && prio && ref_near_prio(prio, c);

		/* Only near-prio CPUs are left: use them; otherwise skip them. */
		set[c] = cand[c] && (nr_near == nr_cand || !near);
		full[c] = set[c] && ref_core_idle(idle, c);
		nr_full += full[c];
	}
	return ref_walk(nr_full ? full : set, anchor);
}

static void random_mask(struct cpumask *m, int n, uint32_t pct)
{
	cpumask_zero(m);
	for (int c = 0; c < n; c++)
		if (rnd(100) < pct)
			cpumask_set(m, c);
}

static void compare_random(const char *what, int rounds)
{
	static const uint32_t pcts[] = {3, 20, 50, 80, 97};
	int n = topo.nr_cpus;

	for (int r = 0; r < rounds; r++) {
		struct cpumask allowed, idle, prio, cand;
		const struct cpumask *a = &allowed, *p = &prio;
		int prev = (int)rnd((uint32_t)n + 4) - 2;
		bool is_prio = rnd(4) == 0;
		int got, want;

		/* idle may name offline CPUs, as a racy BPF snapshot could. */
		random_mask(&idle, n, pcts[rnd(5)]);
		random_mask(&prio, n, pcts[rnd(5)]);
		/* Usually disjoint, as built from the BPF state; callers may pass overlaps. */
		if (rnd(4))
			cpumask_andnot(&prio, &prio, &idle);
		switch (rnd(4)) {
		case 0:
			a = NULL;
			break;
		case 1:
			cpumask_zero(&allowed);
			cpumask_set(&allowed, (int)rnd((uint32_t)n));
			break;
		default:
			random_mask(&allowed, n, pcts[rnd(5)]);
		}
		if (rnd(8) == 0)
			p = NULL;

		got = cpu_select(&topo, a, &idle, p, prev, is_prio);
		want = ref_select(a, &idle, p, prev, is_prio);
		if (got != want)
			fail_msg("%s round %d: prev %d prio %d: got %d, reference %d", what, r,
				 prev, is_prio, got, want);
		/* The hard rule, restated independently of the reference. */
		cpumask_and(&cand, &idle, &topo.online);
		if (a)
			cpumask_and(&cand, &cand, a);
		if (got >= 0)
			assert_true(cpumask_test(&cand, got));
		else
			assert_true(cpumask_empty(&cand));
	}
}

static void test_random_fixtures(void **state)
{
	static const char *const names[] = {"smt-1socket", "llc-2",	  "numa-2",
					    "no-cache",	   "offline-cpu", "deep"};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		load(names[i]);
		compare_random(names[i], 20000);
	}
}

/*
 * A synthetic sysfs tree: CPU c belongs to core core(c), L2 l2(c), and so on (group ids);
 * the lists are built from those, so any layout can be written in a line or two.
 */
struct synth {
	const char *name;
	int nr_cpus;
	const char *online;
	int (*core)(int c), (*l2)(int c), (*llc)(int c), (*node)(int c);
	int want_shifts; /* expected topo.nr_smt_shifts */
};

static void put(const char *root, const char *rel, const char *text)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
	FILE *f = fopen(path, "w");

	if (!f) {
		fail_msg("create %s: %s", path, strerror(errno));
	} else {
		fprintf(f, "%s\n", text);
		fclose(f);
	}
}

static void group_list(const struct synth *s, int (*group)(int), int id, char *buf, size_t len)
{
	struct cpumask m;

	cpumask_zero(&m);
	for (int c = 0; c < s->nr_cpus; c++)
		if (group(c) == id)
			cpumask_set(&m, c);
	cpumask_format(&m, buf, len);
}

static void synth_write(const struct synth *s, const char *root)
{
	char rel[256], list[4096];
	bool node_done[GTHULHU_MAX_CPUS] = {false};

	snprintf(list, sizeof(list), "0-%d", s->nr_cpus - 1);
	put(root, "sys/devices/system/cpu/possible", list);
	put(root, "sys/devices/system/cpu/online", s->online ? s->online : list);
	for (int c = 0; c < s->nr_cpus; c++) {
		snprintf(rel, sizeof(rel),
			 "sys/devices/system/cpu/cpu%d/topology/"
			 "thread_siblings_list",
			 c);
		group_list(s, s->core, s->core(c), list, sizeof(list));
		put(root, rel, list);
		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index2/level", c);
		put(root, rel, "2");
		snprintf(rel, sizeof(rel),
			 "sys/devices/system/cpu/cpu%d/cache/index2/shared_cpu_list", c);
		group_list(s, s->l2, s->l2(c), list, sizeof(list));
		put(root, rel, list);
		snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%d/cache/index3/level", c);
		put(root, rel, "3");
		snprintf(rel, sizeof(rel),
			 "sys/devices/system/cpu/cpu%d/cache/index3/shared_cpu_list", c);
		group_list(s, s->llc, s->llc(c), list, sizeof(list));
		put(root, rel, list);
		if (!node_done[s->node(c)]) {
			node_done[s->node(c)] = true;
			snprintf(rel, sizeof(rel), "sys/devices/system/node/node%d/cpulist",
				 s->node(c));
			group_list(s, s->node, s->node(c), list, sizeof(list));
			put(root, rel, list);
		}
	}
}

/* 160 CPUs, 3 words: siblings c and c+80 (shift crosses a word and 16 bits). */
static int b160_core(int c)
{
	return c % 80;
}
static int b160_llc(int c)
{
	return c % 80 / 20;
}
static int b160_node(int c)
{
	return c % 80 / 40;
}

/* The maximum, 1024 CPUs: siblings c and c+512, L2 per 2 cores, LLC per 16, node per 128. */
static int b1024_core(int c)
{
	return c % 512;
}
static int b1024_l2(int c)
{
	return c % 512 / 2;
}
static int b1024_llc(int c)
{
	return c % 512 / 16;
}
static int b1024_node(int c)
{
	return c % 512 / 128;
}

/* 4-way SMT with consecutive threads (cores of 4): six offsets, +-1..3. */
static int smt4_core(int c)
{
	return c / 4;
}
static int smt4_llc(int c)
{
	return c / 32;
}
static int smt4_node(int c)
{
	return c / 64;
}

/* Pairs {1,2} {3,4} ... {63,64}: cores straddle word boundaries, shifts of one bit. */
static int straddle_core(int c)
{
	return (c + 1) / 2;
}
static int straddle_llc(int c)
{
	return c / 40;
}

/* Sibling pairs at five different distances: too many offsets, the core-by-core path. */
static int irr_core(int c)
{
	static const int core[24] = {0, 0, 1, 2, 1, 3, 2, 4,  5, 3,  5,	 6,
				     4, 6, 7, 7, 8, 9, 9, 10, 8, 11, 10, 11};

	return core[c];
}
static int irr_llc(int c)
{
	return c / 12;
}
static int one(int c)
{
	(void)c;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Set while a synthetic tree exists, so the teardown removes it even after a failure. */
static char synth_dir[64];

static int remove_synth_dir(void **state)
{
	(void)state;
	if (synth_dir[0])
		nftw(synth_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	synth_dir[0] = '\0';
	return 0;
}

static void test_random_synthetic(void **state)
{
	static const struct synth synths[] = {
	    {"big-160", 160, NULL, b160_core, b160_core, b160_llc, b160_node, 2},
	    {"big-160-holes", 160, "0-70,72-150,152-159", b160_core, b160_core, b160_llc, b160_node,
	     2},
	    {"big-1024", 1024, NULL, b1024_core, b1024_l2, b1024_llc, b1024_node, 2},
	    {"straddle-130", 130, NULL, straddle_core, straddle_core, straddle_llc, one, 2},
	    {"smt4-128", 128, NULL, smt4_core, smt4_core, smt4_llc, smt4_node, 6},
	    {"irregular", 24, "0-22", irr_core, irr_core, irr_llc, one, -1},
	};
	char root[512];

	(void)state;
	strcpy(synth_dir, "/tmp/gthulhu-topo-XXXXXX");
	if (!mkdtemp(synth_dir)) {
		synth_dir[0] = '\0';
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	for (size_t i = 0; i < sizeof(synths) / sizeof(synths[0]); i++) {
		snprintf(root, sizeof(root), "%s/%s", synth_dir, synths[i].name);
		synth_write(&synths[i], root);
		load_root(root);
		assert_int_equal(topo.nr_cpus, synths[i].nr_cpus);
		assert_int_equal(topo.nr_smt_shifts, synths[i].want_shifts);
		compare_random(synths[i].name, synths[i].nr_cpus > 500 ? 3000 : 20000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smt_full_core_first),
	    cmocka_unit_test(test_smt_nearest_after_prev),
	    cmocka_unit_test(test_smt_restricted),
	    cmocka_unit_test(test_smt_no_idle),
	    cmocka_unit_test(test_smt_prio_sibling),
	    cmocka_unit_test(test_smt_bad_prev),
	    cmocka_unit_test(test_smt_prev_core_free),
	    cmocka_unit_test(test_llc_order),
	    cmocka_unit_test(test_numa_order),
	    cmocka_unit_test(test_deep_order_full_cores),
	    cmocka_unit_test(test_deep_order_idle_cpus),
	    cmocka_unit_test(test_no_cache),
	    cmocka_unit_test(test_offline),
	    cmocka_unit_test(test_real_sys),
	    cmocka_unit_test(test_build_masks),
	    cmocka_unit_test(test_random_fixtures),
	    cmocka_unit_test_teardown(test_random_synthetic, remove_synth_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
