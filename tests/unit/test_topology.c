/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for topology/cpumask.h and topology/topology.c.
 *
 * The loader is pointed at the fake sysfs trees in tests/unit/fixtures/topology (see gen.sh
 * there for their layouts), so the expected masks are known exactly; one test also loads
 * the real /sys, to catch anything the fixtures do not imitate. Paths are relative to the
 * repository root, where `make unit` runs the tests; GTHULHU_TOPO_FIXTURES overrides them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "topology/cpumask.h"
#include "topology/topology.h"
#include "topology_fixture.h"

static void load_ok(const char *name)
{
	char err[512];

	if (topology_load(&topo, fixture(name), err, sizeof(err)))
		fail_msg("loading %s: %s", name, err);
}

/* Load a broken tree: must fail, with a message naming want_in_msg. */
static void load_fails(const char *name, const char *want_in_msg)
{
	char err[512];

	assert_int_equal(topology_load(&topo, fixture(name), err, sizeof(err)), -1);
	if (!strstr(err, want_in_msg))
		fail_msg("%s: message \"%s\" does not mention \"%s\"", name, err, want_in_msg);
}

static void check_mask(const struct cpumask *m, const char *want)
{
	char buf[4096];

	assert_non_null(m);
	cpumask_format(m, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

#define check_level(level, cpu, want) check_mask(topology_mask(&topo, level, cpu), want)

/*
 * What every loaded topology must satisfy whatever the fixture: each online CPU is in
 * each of its domains, domains hold only online CPUs, the word spans cover the masks, and
 * offline CPUs have no domain.
 */
static void check_invariants(void)
{
	for (int cpu = 0; cpu < GTHULHU_MAX_CPUS; cpu++) {
		for (int level = 0; level < TOPO_NR_LEVELS; level++) {
			const struct topo_domain *d = topology_domain(&topo, level, cpu);

			if (!cpumask_test(&topo.online, cpu)) {
				assert_null(d);
				continue;
			}
			assert_non_null(d);
			assert_true(cpumask_test(&d->mask, cpu));
			assert_true(cpumask_subset(&d->mask, &topo.online));
			assert_int_equal(d->lo_word, cpumask_first(&d->mask) / 64);
			assert_int_equal(d->hi_word, cpumask_last(&d->mask) / 64);
		}
	}
	assert_true(cpumask_subset(&topo.online, &topo.possible));
	assert_int_equal(topo.nr_cpus, cpumask_last(&topo.possible) + 1);
	assert_int_equal(topo.nr_words, (topo.nr_cpus + 63) / 64);
}

/* For fixtures whose levels nest, as on real hardware: core <= L2 <= LLC <= node. */
static void check_nested(void)
{
	int cpu;

	for (cpu = cpumask_first(&topo.online); cpu >= 0; cpu = cpumask_next(&topo.online, cpu)) {
		for (int level = 1; level < TOPO_NR_LEVELS; level++)
			assert_true(cpumask_subset(topology_mask(&topo, level - 1, cpu),
						   topology_mask(&topo, level, cpu)));
	}
}

static void test_cpumask_basic(void **state)
{
	struct cpumask a, b, c;

	(void)state;
	cpumask_zero(&a);
	assert_true(cpumask_empty(&a));
	assert_int_equal(cpumask_first(&a), -1);
	assert_int_equal(cpumask_last(&a), -1);
	assert_int_equal(cpumask_next_wrap(&a, 3), -1);

	cpumask_set(&a, 0);
	cpumask_set(&a, 63);
	cpumask_set(&a, 64);
	cpumask_set(&a, 1023);
	/* Out-of-range CPUs are ignored rather than written past the array. */
	cpumask_set(&a, -1);
	cpumask_set(&a, 1024);
	assert_int_equal(cpumask_weight(&a), 4);
	assert_false(cpumask_test(&a, -1));
	assert_false(cpumask_test(&a, 1024));
	assert_true(cpumask_test(&a, 63));
	assert_int_equal(cpumask_first(&a), 0);
	assert_int_equal(cpumask_last(&a), 1023);
	assert_int_equal(cpumask_next(&a, -1), 0);
	assert_int_equal(cpumask_next(&a, 0), 63);
	assert_int_equal(cpumask_next(&a, 63), 64);
	assert_int_equal(cpumask_next(&a, 64), 1023);
	assert_int_equal(cpumask_next(&a, 1023), -1);
	assert_int_equal(cpumask_next_wrap(&a, 64), 1023);
	assert_int_equal(cpumask_next_wrap(&a, 1023), 0);
	assert_int_equal(cpumask_next_wrap(&a, 5000), 0);
	cpumask_clear(&a, 0);
	assert_int_equal(cpumask_next_wrap(&a, 1023), 63);
	/* The only member comes back to itself. */
	cpumask_zero(&b);
	cpumask_set(&b, 7);
	assert_int_equal(cpumask_next_wrap(&b, 7), 7);

	cpumask_zero(&b);
	cpumask_set_range(&b, 60, 70);
	cpumask_and(&c, &a, &b);
	check_mask(&c, "63-64");
	cpumask_or(&c, &a, &b);
	check_mask(&c, "60-70,1023");
	cpumask_andnot(&c, &b, &a);
	check_mask(&c, "60-62,65-70");
	assert_true(cpumask_intersects(&a, &b));
	assert_false(cpumask_subset(&b, &a));
	cpumask_and(&c, &a, &b);
	assert_true(cpumask_subset(&c, &a));
	assert_false(cpumask_equal(&a, &b));
	c = a;
	assert_true(cpumask_equal(&a, &c));
}

static void test_cpumask_parse(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"0-3,8,10-11", "0-3,8,10-11"},
	    {"0-3,8,10-11\n", "0-3,8,10-11"},
	    {"", ""},
	    {"\n", ""},
	    {"5", "5"},
	    {"3,1,2", "1-3"},
	    {"1023", "1023"},
	    {"0-1023", "0-1023"},
	    {"0,2,4,6", "0,2,4,6"},
	    {"4-4", "4"},
	};
	static const char *const junk[] = {
	    "a", "1-", "-1", "3-1", "1,,2", "1,", ",1", "1 2", "0x1", "+1", " 1", "1-2-3", "1\n2",
	};
	struct cpumask m;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (cpumask_parse(&m, good[i].in))
			fail_msg("\"%s\" should parse", good[i].in);
		check_mask(&m, good[i].out);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		if (cpumask_parse(&m, junk[i]) != -EINVAL)
			fail_msg("\"%s\" should be rejected as junk", junk[i]);
		assert_true(cpumask_empty(&m));
	}
	assert_int_equal(cpumask_parse(&m, "1024"), -ERANGE);
	assert_int_equal(cpumask_parse(&m, "0-2047"), -ERANGE);
	assert_int_equal(cpumask_parse(&m, "0,99999999999999999999"), -ERANGE);
	assert_true(cpumask_empty(&m));
}

static void test_cpumask_format(void **state)
{
	char buf[8];
	struct cpumask m;

	(void)state;
	cpumask_parse(&m, "0-3,8,10-11");
	/* Truncation still reports the full length and keeps the buffer terminated. */
	assert_int_equal(cpumask_format(&m, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "0-3,8,1");
	assert_int_equal(cpumask_format(&m, NULL, 0), 11);
}

static void test_smt_1socket(void **state)
{
	(void)state;
	load_ok("smt-1socket");
	check_invariants();
	check_nested();
	assert_int_equal(topo.nr_cpus, 8);
	assert_int_equal(topo.nr_words, 1);
	check_mask(&topo.online, "0-7");
	assert_int_equal(topo.fallbacks, 0);
	assert_int_equal(topo.nr_domains[TOPO_CORE], 4);
	assert_int_equal(topo.nr_domains[TOPO_L2], 4);
	assert_int_equal(topo.nr_domains[TOPO_LLC], 1);
	assert_int_equal(topo.nr_domains[TOPO_NODE], 1);
	check_level(TOPO_CORE, 0, "0,4");
	check_level(TOPO_CORE, 5, "1,5");
	check_level(TOPO_CORE, 6, "2,6");
	check_level(TOPO_L2, 3, "3,7");
	check_level(TOPO_LLC, 3, "0-7");
	check_level(TOPO_NODE, 7, "0-7");
	assert_int_equal(topology_domain(&topo, TOPO_NODE, 7)->node_id, 0);
	/* Siblings i and i+4: offsets +4 and -4. */
	assert_int_equal(topo.nr_smt_shifts, 2);
	assert_null(topology_mask(&topo, TOPO_CORE, 8));
	assert_null(topology_mask(&topo, TOPO_CORE, -1));
}

static void test_llc_2(void **state)
{
	(void)state;
	load_ok("llc-2");
	check_invariants();
	check_nested();
	assert_int_equal(topo.fallbacks, 0);
	assert_int_equal(topo.nr_domains[TOPO_CORE], 8);
	assert_int_equal(topo.nr_domains[TOPO_LLC], 2);
	check_level(TOPO_CORE, 2, "2");
	check_level(TOPO_L2, 2, "2");
	check_level(TOPO_LLC, 2, "0-3");
	check_level(TOPO_LLC, 5, "4-7");
	check_level(TOPO_NODE, 5, "0-7");
	assert_int_equal(topo.nr_smt_shifts, 0);
}

static void test_numa_2(void **state)
{
	(void)state;
	load_ok("numa-2");
	check_invariants();
	check_nested();
	assert_int_equal(topo.fallbacks, 0);
	check_level(TOPO_CORE, 0, "0,4");
	check_level(TOPO_L2, 1, "1,5");
	check_level(TOPO_LLC, 6, "2-3,6-7");
	check_level(TOPO_NODE, 0, "0-1,4-5");
	check_level(TOPO_NODE, 7, "2-3,6-7");
	/* The memory-only node2 has no CPU, so it is no domain. */
	assert_int_equal(topo.nr_domains[TOPO_NODE], 2);
	assert_int_equal(topology_domain(&topo, TOPO_NODE, 0)->node_id, 0);
	assert_int_equal(topology_domain(&topo, TOPO_NODE, 3)->node_id, 1);
	assert_int_equal(topo.nr_domains[TOPO_LLC], 2);
}

static void test_no_cache(void **state)
{
	(void)state;
	load_ok("no-cache");
	check_invariants();
	check_nested();
	/* core_cpus_list stands in for thread_siblings_list: not a fallback. */
	assert_int_equal(topo.fallbacks, TOPO_FB_L2 | TOPO_FB_LLC | TOPO_FB_NODE);
	check_level(TOPO_CORE, 1, "0-1");
	check_level(TOPO_CORE, 2, "2-3");
	check_level(TOPO_L2, 1, "0-1");
	check_level(TOPO_LLC, 1, "0-3");
	check_level(TOPO_NODE, 3, "0-3");
	assert_int_equal(topo.nr_domains[TOPO_NODE], 1);
	assert_int_equal(topology_domain(&topo, TOPO_NODE, 0)->node_id, -1);
}

static void test_no_online(void **state)
{
	(void)state;
	load_ok("no-online");
	check_invariants();
	check_nested();
	assert_int_equal(topo.fallbacks,
			 TOPO_FB_ONLINE | TOPO_FB_CORE | TOPO_FB_L2 | TOPO_FB_LLC | TOPO_FB_NODE);
	check_mask(&topo.online, "0-1");
	check_level(TOPO_CORE, 1, "1");
	check_level(TOPO_L2, 1, "1");
	check_level(TOPO_LLC, 1, "0-1");
	check_level(TOPO_NODE, 0, "0-1");
}

static void test_offline_cpu(void **state)
{
	(void)state;
	load_ok("offline-cpu");
	check_invariants();
	check_nested();
	assert_int_equal(topo.nr_cpus, 4);
	check_mask(&topo.possible, "0-3");
	check_mask(&topo.online, "0-2");
	/* sysfs still lists CPU 3 as a sibling and cache sharer; the loader drops it. */
	check_level(TOPO_CORE, 2, "2");
	check_level(TOPO_L2, 2, "2");
	check_level(TOPO_LLC, 0, "0-2");
	check_level(TOPO_NODE, 0, "0-2");
	assert_null(topology_mask(&topo, TOPO_CORE, 3));
	assert_null(topology_mask(&topo, TOPO_NODE, 3));
}

static void test_deep(void **state)
{
	(void)state;
	load_ok("deep");
	check_invariants();
	check_nested();
	assert_int_equal(topo.fallbacks, 0);
	assert_int_equal(topo.nr_domains[TOPO_CORE], 16);
	assert_int_equal(topo.nr_domains[TOPO_L2], 8);
	assert_int_equal(topo.nr_domains[TOPO_LLC], 4);
	assert_int_equal(topo.nr_domains[TOPO_NODE], 2);
	check_level(TOPO_CORE, 21, "5,21");
	check_level(TOPO_L2, 21, "4-5,20-21");
	check_level(TOPO_LLC, 21, "4-7,20-23");
	check_level(TOPO_NODE, 21, "0-7,16-23");
	check_level(TOPO_NODE, 9, "8-15,24-31");
}

static void test_bad_trees(void **state)
{
	char err[8];

	(void)state;
	load_fails("bad-no-possible", "/sys/devices/system/cpu/possible");
	load_fails("bad-junk-online", "/sys/devices/system/cpu/online");
	load_fails("bad-too-many", "GTHULHU_MAX_CPUS");
	load_fails("bad-too-many", "/sys/devices/system/cpu/possible");
	load_fails("bad-junk-siblings", "cpu1/topology/thread_siblings_list");
	load_fails("bad-junk-level", "cpu0/cache/index2/level");
	load_fails("does-not-exist", "possible");
	/* A short or absent message buffer is fine. */
	assert_int_equal(topology_load(&topo, fixture("bad-junk-online"), err, sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(topology_load(&topo, fixture("bad-junk-online"), NULL, 0), -1);
}

static void test_describe(void **state)
{
	char *text = NULL, *line, names[64];
	size_t len = 0;
	int lines = 0;
	FILE *out;

	(void)state;
	load_ok("numa-2");
	out = open_memstream(&text, &len);
	assert_non_null(out);
	topology_describe(&topo, out);
	fclose(out);
	/* A summary line, then one per domain: 4 cores, 4 L2s, 2 LLCs, 2 nodes. */
	for (line = text; (line = strchr(line, '\n')); line++)
		lines++;
	assert_int_equal(lines, 1 + 4 + 4 + 2 + 2);
	assert_non_null(strstr(text, "topology: core 0: 0,4\n"));
	assert_non_null(strstr(text, "topology: llc 1: 2-3,6-7\n"));
	assert_non_null(strstr(text, "topology: node 1: 2-3,6-7 (node1)\n"));
	assert_null(strstr(text, "fallback"));
	free(text);
	topology_fallback_names(&topo, names, sizeof(names));
	assert_string_equal(names, "");

	load_ok("no-cache");
	out = open_memstream(&text, &len);
	topology_describe(&topo, out);
	fclose(out);
	assert_non_null(strstr(text, "fallback: no L2 info"));
	assert_non_null(strstr(text, "fallback: no NUMA node info"));
	free(text);
	/* The daemon's start-up log names them briefly, in a bounded buffer. */
	topology_fallback_names(&topo, names, sizeof(names));
	assert_string_equal(names, "l2,llc,node");
	topology_fallback_names(&topo, names, 5);
	assert_string_equal(names, "l2,l");
}

/* The real machine: whatever it looks like, it must load and satisfy the invariants. */
static void test_real_sys(void **state)
{
	char err[512];

	(void)state;
	if (access("/sys/devices/system/cpu/possible", R_OK))
		fail_msg("/sys/devices/system/cpu/possible is not readable: this test needs a "
			 "Linux host with sysfs mounted");
	if (topology_load(&topo, "/", err, sizeof(err)))
		fail_msg("loading /sys: %s", err);
	check_invariants();
	/* glibc counts online CPUs from the same file. */
	assert_int_equal(cpumask_weight(&topo.online), sysconf(_SC_NPROCESSORS_ONLN));
	/* "" and a trailing slash mean the same root. */
	assert_int_equal(topology_load(&topo, "", err, sizeof(err)), 0);
	assert_int_equal(topology_load(&topo, "//", err, sizeof(err)), 0);
	assert_int_equal(cpumask_weight(&topo.online), sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpumask_basic),  cmocka_unit_test(test_cpumask_parse),
	    cmocka_unit_test(test_cpumask_format), cmocka_unit_test(test_smt_1socket),
	    cmocka_unit_test(test_llc_2),	   cmocka_unit_test(test_numa_2),
	    cmocka_unit_test(test_no_cache),	   cmocka_unit_test(test_no_online),
	    cmocka_unit_test(test_offline_cpu),	   cmocka_unit_test(test_deep),
	    cmocka_unit_test(test_bad_trees),	   cmocka_unit_test(test_describe),
	    cmocka_unit_test(test_real_sys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
