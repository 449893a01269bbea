// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/config: defaults, every key, the shipped example file, and every class
 * of bad input. A bad input must fail with "<file>:<line>: <key.path>: ..." and leave the
 * caller's struct exactly as it was, which each error case checks byte for byte.
 *
 * Fixture paths are found next to this source file (from __FILE__), so the test works when
 * run from the repository root, as `make unit` does, or with an absolute __FILE__.
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"

static char src_dir[PATH_MAX];
/* Two configs: about a megabyte each, too big for a test's stack. */
static struct gthulhu_config cfg, snap;
static char err[1024];

static const char *path_of(const char *rel)
{
	static char buf[PATH_MAX * 2];

	snprintf(buf, sizeof(buf), "%s%s", src_dir, rel);
	return buf;
}

static const char *fixture(const char *name)
{
	static char buf[PATH_MAX * 2];

	snprintf(buf, sizeof(buf), "%sfixtures/config/%s", src_dir, name);
	return buf;
}

static int load(const char *yaml)
{
	return config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err));
}

/* A non-default starting point, so "unchanged" cannot pass by accident. */
static void load_good(void)
{
	memset(&cfg, 0, sizeof(cfg));
	if (config_load_file(fixture("good.yaml"), &cfg, err, sizeof(err)) != 0)
		fail_msg("good.yaml: %s", err);
	memcpy(&snap, &cfg, sizeof(cfg));
}

static void expect_defaults(const struct gthulhu_config *c)
{
	assert_int_equal(c->slice_ns_default, 5000000);
	assert_int_equal(c->slice_ns_min, 500000);
	assert_int_equal(c->stall_timeout_ms, 1000);
	assert_int_equal(c->stats_interval_s, 5);
	assert_false(c->debug);
	assert_true(c->builtin_idle);
	assert_false(c->early_processing);
	assert_int_equal(c->nr_rules, 0);
}

/*
 * Load @yaml over a known config and check it fails with @prefix at the start of the
 * message, @what somewhere in it, and no change to the config.
 */
static void expect_error_at(const char *file_arg, const char *yaml, const char *prefix,
			    const char *what)
{
	char file[PATH_MAX * 2];
	int rc;

	/* @file_arg may be fixture()'s buffer, which load_good() reuses. */
	snprintf(file, sizeof(file), "%s", file_arg ? file_arg : "");
	load_good();
	err[0] = '\0';
	if (yaml)
		rc = config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err));
	else
		rc = config_load_file(file, &cfg, err, sizeof(err));
	if (rc != -1)
		fail_msg("expected failure for %s", yaml ? yaml : file);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", err, prefix);
	if (what && !strstr(err, what))
		fail_msg("message \"%s\" does not mention \"%s\"", err, what);
	if (memcmp(&cfg, &snap, sizeof(cfg)) != 0)
		fail_msg("config changed by a failed load of %s", yaml ? yaml : file);
}

static void expect_error(const char *yaml, const char *prefix, const char *what)
{
	expect_error_at(NULL, yaml, prefix, what);
}

static void expect_file_error(const char *name, int line, const char *key, const char *what)
{
	char prefix[PATH_MAX * 3];
	const char *path = fixture(name);

	snprintf(prefix, sizeof(prefix), "%s:%d: %s: ", path, line, key);
	expect_error_at(path, NULL, prefix, what);
}

/* ---- good input ------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
	static struct gthulhu_config a, b;

	memset(&a, 0xa5, sizeof(a));
	config_set_defaults(&a);
	expect_defaults(&a);
	/* Deterministic down to padding: callers may compare configs with memcmp(). */
	memset(&b, 0x5a, sizeof(b));
	config_set_defaults(&b);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_every_key(void **state)
{
	const struct strategy_rule *r = cfg.rules;

	load_good();
	assert_int_equal(cfg.slice_ns_default, 8000000);
	assert_int_equal(cfg.slice_ns_min, 250000);
	assert_int_equal(cfg.stall_timeout_ms, 2500);
	assert_int_equal(cfg.stats_interval_s, 0);
	assert_true(cfg.debug);
	assert_false(cfg.builtin_idle);
	assert_true(cfg.early_processing);
	assert_int_equal(cfg.nr_rules, 4);

	assert_int_equal(r[0].pid, 1234);
	assert_int_equal(r[0].tid, 0);
	assert_string_equal(r[0].command_regex, "");
	assert_int_equal(r[0].effect.priority, STRATEGY_PRIO_MAX);
	assert_int_equal(r[0].effect.execution_time_ns, 0);
	assert_int_equal(r[0].line, 12);

	assert_int_equal(r[1].pid, 0);
	assert_int_equal(r[1].tid, 1235);
	assert_int_equal(r[1].effect.priority, 0);
	assert_int_equal(r[1].effect.execution_time_ns, 2000000);
	assert_int_equal(r[1].line, 14);

	assert_string_equal(r[2].command_regex, "^nginx$");
	assert_int_equal(r[2].effect.priority, 7);
	assert_int_equal(r[2].effect.execution_time_ns, 0);
	assert_int_equal(r[2].line, 16);

	assert_int_equal(r[3].pid, 42);
	assert_int_equal(r[3].tid, 43);
	assert_string_equal(r[3].command_regex, "^(kworker|ksoftirqd)/[0-9]+$");
	assert_int_equal(r[3].effect.priority, 0);
	assert_int_equal(r[3].effect.execution_time_ns, 10000);
	assert_int_equal(r[3].line, 19);
}

static void test_example_file(void **state)
{
	static struct gthulhu_config def;
	char *text = NULL, *explain = NULL, *line, *save = NULL;
	size_t tlen = 0, elen = 0;
	FILE *f;

	/* The example documents the defaults: loading it must change nothing. */
	load_good();
	if (config_load_file(path_of("../../config/gthulhu.example.yaml"), &cfg, err,
			     sizeof(err)) != 0)
		fail_msg("example: %s", err);
	config_set_defaults(&def);
	assert_memory_equal(&cfg, &def, sizeof(cfg));

	/* And it mentions every key config_explain() knows about. */
	f = fopen(path_of("../../config/gthulhu.example.yaml"), "r");
	assert_non_null(f);
	assert_int_equal(getdelim(&text, &tlen, '\0', f) > 0, 1);
	fclose(f);
	f = open_memstream(&explain, &elen);
	assert_non_null(f);
	config_explain(f);
	fclose(f);
	for (line = strtok_r(explain, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[128];
		const char *leaf;

		/* Key names start in column 0 and contain no spaces. */
		if (line[0] == ' ' || strchr(line, ' '))
			continue;
		leaf = strrchr(line, '.');
		leaf = leaf ? leaf + 1 : line;
		snprintf(want, sizeof(want), "%s:", leaf);
		if (!strstr(text, want))
			fail_msg("example does not show %s", line);
	}
	free(text);
	free(explain);
}

static void test_explain(void **state)
{
	static const char *const keys[] = {
	    "scheduler.slice_ns_default\n",
	    "scheduler.slice_ns_min\n",
	    "scheduler.stall_timeout_ms\n",
	    "stats.interval_s\n",
	    "debug\n",
	    "builtin_idle\n",
	    "early_processing\n",
	    "strategies\n",
	    "strategies[].pid\n",
	    "strategies[].tid\n",
	    "strategies[].command_regex\n",
	    "strategies[].priority\n",
	    "strategies[].execution_time\n",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	config_explain(f);
	fclose(f);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(text, keys[i]))
			fail_msg("--explain misses %s", keys[i]);
	/* Defaults and ranges come from the parser's own table. */
	assert_non_null(strstr(text, "scheduler.slice_ns_default\n"
				     "    type:    unsigned integer, nanoseconds\n"
				     "    default: 5000000\n"
				     "    range:   [10000, 1000000000]"));
	assert_non_null(strstr(text, "    default: 1000\n    range:   [20, 10000]\n"));
	assert_non_null(strstr(text, "builtin_idle\n    type:    boolean (true or false)\n"
				     "    default: true\n"));
	assert_non_null(strstr(text, "range:   0 or [10000, 1000000000]"));
	assert_non_null(strstr(text, "yes/no/on/off are rejected"));
	free(text);
}

static void test_empty_inputs(void **state)
{
	static const char *const blanks[] = {"",      "\n\n", "# only a comment\n",
					     "---\n", "~\n",  "---\n# c\n...\n"};

	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
		load_good();
		if (load(blanks[i]))
			fail_msg("\"%s\": %s", blanks[i], err);
		expect_defaults(&cfg);
	}
	load_good();
	assert_int_equal(config_load_file(fixture("empty.yaml"), &cfg, err, sizeof(err)), 0);
	expect_defaults(&cfg);
	load_good();
	assert_int_equal(config_load_file(fixture("comments_only.yaml"), &cfg, err, sizeof(err)),
			 0);
	expect_defaults(&cfg);
}

static void test_missing_keys_keep_defaults(void **state)
{
	/* A reload replaces everything: keys not in the file go back to their defaults. */
	load_good();
	assert_int_equal(load("scheduler:\n  stall_timeout_ms: 20\nstats:\n"), 0);
	assert_int_equal(cfg.stall_timeout_ms, 20);
	assert_int_equal(cfg.slice_ns_default, 5000000);
	assert_int_equal(cfg.slice_ns_min, 500000);
	assert_int_equal(cfg.stats_interval_s, 5);
	assert_true(cfg.builtin_idle);
	assert_int_equal(cfg.nr_rules, 0);

	/* Empty sections and an empty list are fine too. */
	assert_int_equal(load("scheduler:\nstats: {}\nstrategies: []\n"), 0);
	expect_defaults(&cfg);
	assert_int_equal(load("strategies:\n"), 0);
	expect_defaults(&cfg);
}

static void test_limits_accepted(void **state)
{
	assert_int_equal(load("scheduler:\n  slice_ns_default: 1000000000\n"
			      "  slice_ns_min: 1000000000\n  stall_timeout_ms: 10000\n"
			      "stats:\n  interval_s: 86400\n"),
			 0);
	assert_int_equal(cfg.slice_ns_default, 1000000000);
	assert_int_equal(cfg.slice_ns_min, 1000000000);
	assert_int_equal(cfg.stall_timeout_ms, 10000);
	assert_int_equal(cfg.stats_interval_s, 86400);
	assert_int_equal(load("scheduler:\n  slice_ns_default: 10000\n  slice_ns_min: 10000\n"
			      "  stall_timeout_ms: 20\n"),
			 0);
	assert_int_equal(cfg.slice_ns_default, 10000);
	assert_int_equal(cfg.slice_ns_min, 10000);
	assert_int_equal(load("strategies:\n  - tid: 4194304\n    execution_time: 1000000000\n"),
			 0);
	assert_int_equal(cfg.rules[0].tid, 4194304);
	/* YAML 1.2's other spellings of the booleans, and flow style. */
	assert_int_equal(load("{debug: True, builtin_idle: FALSE, early_processing: TRUE}"), 0);
	assert_true(cfg.debug);
	assert_false(cfg.builtin_idle);
	assert_true(cfg.early_processing);
}

static void test_priority_forms(void **state)
{
	assert_int_equal(load("strategies:\n"
			      "  - pid: 1\n    priority: true\n"
			      "  - pid: 2\n    priority: false\n    execution_time: 20000\n"
			      "  - pid: 3\n    priority: 0\n    execution_time: 30000\n"
			      "  - pid: 4\n    priority: 1\n"
			      "  - pid: 5\n    priority: 20\n"
			      "  - pid: 6\n    priority: True\n"),
			 0);
	assert_int_equal(cfg.nr_rules, 6);
	assert_int_equal(cfg.rules[0].effect.priority, STRATEGY_PRIO_MAX);
	assert_int_equal(cfg.rules[1].effect.priority, STRATEGY_PRIO_NONE);
	assert_int_equal(cfg.rules[1].effect.execution_time_ns, 20000);
	assert_int_equal(cfg.rules[2].effect.priority, 0);
	assert_int_equal(cfg.rules[3].effect.priority, 1);
	assert_int_equal(cfg.rules[4].effect.priority, 20);
	assert_int_equal(cfg.rules[5].effect.priority, STRATEGY_PRIO_MAX);

	expect_error("strategies:\n  - pid: 1\n    priority: 21\n",
		     "t.yaml:3: strategies[0].priority: ", "got 21, must be in [0, 20]");
	expect_error("strategies:\n  - pid: 1\n    priority: high\n",
		     "t.yaml:3: strategies[0].priority: ",
		     "expected true, false or a level 0..20, got \"high\"");
	expect_error("strategies:\n  - pid: 1\n    priority: yes\n",
		     "t.yaml:3: strategies[0].priority: ", "yes/no/on/off are not accepted");
	expect_error("strategies:\n  - pid: 1\n    priority: \"true\"\n",
		     "t.yaml:3: strategies[0].priority: ", "got the string \"true\"");
	expect_error("strategies:\n  - pid: 1\n    priority: -1\n",
		     "t.yaml:3: strategies[0].priority: ", "negative");
}

static void test_regex(void **state)
{
	static const char *const bad[] = {"(", "[a-", "a{2,1}", "*x"};
	char yaml[512], want[512], why[256];
	char longest[STRATEGY_REGEX_MAX + 2];

	assert_int_equal(load("strategies:\n"
			      "  - command_regex: '^[[:alpha:]]+(-[0-9]+)?$'\n    priority: 2\n"
			      "  - command_regex: nginx\n    priority: 2\n"
			      "  - command_regex: \"a|b\"\n    priority: 2\n"),
			 0);
	assert_string_equal(cfg.rules[0].command_regex, "^[[:alpha:]]+(-[0-9]+)?$");
	assert_string_equal(cfg.rules[1].command_regex, "nginx");
	assert_string_equal(cfg.rules[2].command_regex, "a|b");

	/* Invalid ones carry regcomp's own explanation. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		regex_t re;
		int rc = regcomp(&re, bad[i], REG_EXTENDED | REG_NOSUB);

		if (rc == 0) { /* this libc accepts it: nothing to check */
			regfree(&re);
			continue;
		}
		regerror(rc, &re, why, sizeof(why));
		snprintf(yaml, sizeof(yaml),
			 "strategies:\n  - command_regex: '%s'\n    priority: 1\n", bad[i]);
		snprintf(want, sizeof(want), "invalid regular expression \"%s\": %s", bad[i], why);
		expect_error(yaml, "t.yaml:2: strategies[0].command_regex: ", want);
	}
	expect_file_error("bad_regex.yaml", 4, "strategies[1].command_regex",
			  "invalid regular expression \"[a-\"");

	/* Length: STRATEGY_REGEX_MAX - 1 bytes fit (with the NUL), one more does not. */
	memset(longest, 'a', STRATEGY_REGEX_MAX - 1);
	longest[STRATEGY_REGEX_MAX - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "strategies:\n  - command_regex: %s\n    priority: 1\n",
		 longest);
	assert_int_equal(load(yaml), 0);
	assert_string_equal(cfg.rules[0].command_regex, longest);
	strcat(longest, "a");
	snprintf(yaml, sizeof(yaml), "strategies:\n  - command_regex: %s\n    priority: 1\n",
		 longest);
	expect_error(yaml,
		     "t.yaml:2: strategies[0].command_regex: ", "256 bytes long, at most 255");

	expect_error("strategies:\n  - command_regex: \"\"\n    priority: 1\n",
		     "t.yaml:2: strategies[0].command_regex: ", "must not be empty");
	expect_error("strategies:\n  - command_regex:\n    priority: 1\n",
		     "t.yaml:2: strategies[0].command_regex: ", "got nothing");
	expect_error("strategies:\n  - command_regex: [a]\n    priority: 1\n",
		     "t.yaml:2: strategies[0].command_regex: ", "got a list");
	expect_error("strategies:\n  - command_regex: \"a\\0b\"\n    priority: 1\n",
		     "t.yaml:2: strategies[0].command_regex: ", "NUL");
}

/* ---- bad input -------------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
	expect_error("api:\n  url: x\n", "t.yaml:2: api.url: ",
		     "unknown key (expected one of: enabled, socket, listen, token_file, "
		     "loopback_no_auth, state_file)");
	expect_error("apis:\n  url: x\n", "t.yaml:1: apis: ",
		     "unknown key (expected one of: scheduler, stats, api, kubernetes, debug, "
		     "builtin_idle, early_processing, strategies)");
	expect_error("kubernetes:\n  node: x\n", "t.yaml:2: kubernetes.node: ",
		     "unknown key (expected one of: enabled, node_name, kubeconfig, strategies, "
		     "pod_metrics, cgroup_root)");
	expect_error("scheduler:\n  slice_ns_default: 5000000\n  slice: 1\n",
		     "t.yaml:3: scheduler.slice: ",
		     "unknown key (expected one of: slice_ns_default, slice_ns_min, "
		     "stall_timeout_ms)");
	expect_error("stats:\n  interval: 5\n",
		     "t.yaml:2: stats.interval: ", "expected one of: interval_s");
	expect_error("strategies:\n  - pid: 1\n    priority: 1\n    nice: -5\n",
		     "t.yaml:4: strategies[0].nice: ",
		     "unknown key (expected one of: pid, tid, command_regex, match_cmdline, "
		     "cgroup, selectors, namespaces, priority, execution_time)");
	/* A section name is not a key by itself, and a key is not a section. */
	expect_error("slice_ns_min: 500000\n", "t.yaml:1: slice_ns_min: ", "unknown key");
	expect_error("debug:\n  level: 1\n",
		     "t.yaml:2: debug: ", "expected true or false, got a map");
	expect_error("[a, b]: 1\n", "t.yaml:1: top level: ", "keys must be plain names");
	expect_error("\"sched\\u0001\": 1\n", "t.yaml:1: sched?: ", "unknown key");
	expect_file_error("bad_unknown_key.yaml", 4, "scheduler.slice_ns_max", "unknown key");
}

static void test_kubernetes_keys(void **state)
{
	struct gthulhu_config cfg;
	char err[512];
	const char *yaml = "kubernetes:\n"
			   "  enabled: true\n"
			   "  node_name: worker-1\n"
			   "  kubeconfig: /etc/kubernetes/kubelet.conf\n"
			   "  strategies: false\n"
			   "  pod_metrics: false\n"
			   "  cgroup_root: /host/sys/fs/cgroup\n";

	(void)state;
	config_set_defaults(&cfg);
	assert_false(cfg.k8s_enabled);
	assert_true(cfg.k8s_strategies);
	assert_true(cfg.k8s_pod_metrics);
	assert_string_equal(cfg.k8s_cgroup_root, "/sys/fs/cgroup");
	if (config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(cfg.k8s_enabled);
	assert_string_equal(cfg.k8s_node_name, "worker-1");
	assert_string_equal(cfg.k8s_kubeconfig, "/etc/kubernetes/kubelet.conf");
	assert_false(cfg.k8s_strategies);
	assert_false(cfg.k8s_pod_metrics);
	assert_string_equal(cfg.k8s_cgroup_root, "/host/sys/fs/cgroup");
	expect_error("kubernetes:\n  kubeconfig: kube.conf\n", "t.yaml", "kubernetes.kubeconfig");
	expect_error("kubernetes:\n  cgroup_root: sys\n", "t.yaml", "kubernetes.cgroup_root");
	expect_error("kubernetes:\n  enabled: 1\n",
		     "t.yaml:2: kubernetes.enabled: ", "expected true or false");
}

static void test_wrong_types(void **state)
{
	static const struct {
		const char *value, *what;
	} cases[] = {
	    {"abc", "expected an unsigned integer, got \"abc\""},
	    {"-5", "got \"-5\" (negative numbers are not allowed)"},
	    {"+5", "without a sign"},
	    {"5000000abc", "unexpected characters after the number"},
	    {"5_000_000", "underscores are not allowed"},
	    {"0x4c4b40", "only decimal numbers"},
	    {"05000000", "leading zeros are not allowed"},
	    {"5e6", "only whole numbers"},
	    {"5000000.0", "only whole numbers"},
	    {"\"5000000\"", "got the string \"5000000\" (write numbers without quotes)"},
	    {"'5000000'", "got the string \"5000000\""},
	    {"true", "got \"true\""},
	    {"{a: 1}", "got a map"},
	    {"[1, 2]", "got a list"},
	    {"", "got nothing (null)"},
	    {"~", "got nothing (null)"},
	    {"99999999999999999999999", "got 99999999999999999999999, must be in [10000, "
					"1000000000]"},
	    {"18446744073709551616", "must be in [10000, 1000000000]"},
	};
	char yaml[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "debug: true\nscheduler:\n  slice_ns_min: %s\n",
			 cases[i].value);
		expect_error(yaml, "t.yaml:3: scheduler.slice_ns_min: ", cases[i].what);
	}
	/* A comment after a number is not trailing junk. */
	assert_int_equal(load("scheduler:\n  slice_ns_min: 600000 # a comment\n"), 0);
	assert_int_equal(cfg.slice_ns_min, 600000);

	expect_error("debug: 1\n", "t.yaml:1: debug: ", "expected true or false, got \"1\"");
	expect_error(
	    "builtin_idle: yes\n", "t.yaml:1: builtin_idle: ",
	    "got \"yes\" (write true or false; YAML 1.1's yes/no/on/off are not accepted)");
	expect_error("early_processing: off\n", "t.yaml:1: early_processing: ", "yes/no/on/off");
	expect_error("debug: \"true\"\n", "t.yaml:1: debug: ", "got the string \"true\"");
	expect_error("debug:\n", "t.yaml:1: debug: ", "got nothing");
	expect_error("scheduler: 5\n", "t.yaml:1: scheduler: ", "expected a map, got \"5\"");
	expect_error("scheduler: [1]\n", "t.yaml:1: scheduler: ", "expected a map, got a list");
	expect_error("stats:\n  interval_s: five\n",
		     "t.yaml:2: stats.interval_s: ", "expected an unsigned integer");
	expect_error("strategies:\n  - pid: abc\n    priority: 1\n",
		     "t.yaml:2: strategies[0].pid: ", "expected a positive integer, got \"abc\"");
	expect_error("strategies:\n  - tid: -3\n    priority: 1\n",
		     "t.yaml:2: strategies[0].tid: ", "negative numbers are not allowed");
	expect_error("strategies:\n  - pid: 1\n    execution_time: 2ms\n",
		     "t.yaml:3: strategies[0].execution_time: ", "unexpected characters");
	expect_file_error("bad_type.yaml", 4, "scheduler.slice_ns_min",
			  "expected an unsigned integer, got \"abc\"");
}

static void test_out_of_range(void **state)
{
	expect_error(
	    "scheduler:\n  slice_ns_default: 9999\n",
	    "t.yaml:2: scheduler.slice_ns_default: ", "got 9999, must be in [10000, 1000000000]");
	expect_error("scheduler:\n  slice_ns_default: 1000000001\n",
		     "t.yaml:2: scheduler.slice_ns_default: ", "must be in [10000, 1000000000]");
	expect_error("scheduler:\n  slice_ns_min: 0\n",
		     "t.yaml:2: scheduler.slice_ns_min: ", "got 0, must be in [10000, 1000000000]");
	expect_error("scheduler:\n  stall_timeout_ms: 10001\n",
		     "t.yaml:2: scheduler.stall_timeout_ms: ", "got 10001, must be in [20, 10000]");
	expect_error("stats:\n  interval_s: 86401\n",
		     "t.yaml:2: stats.interval_s: ", "got 86401, must be in [0, 86400]");
	/* Would wrap a uint32_t if the range were not checked on the 64-bit value. */
	expect_error("stats:\n  interval_s: 4294967301\n",
		     "t.yaml:2: stats.interval_s: ", "must be in [0, 86400]");
	expect_error("strategies:\n  - pid: 0\n    priority: 1\n",
		     "t.yaml:2: strategies[0].pid: ", "got 0, must be in [1, 4194304]");
	expect_error("strategies:\n  - tid: 4194305\n    priority: 1\n",
		     "t.yaml:2: strategies[0].tid: ", "must be in [1, 4194304]");
	expect_error("strategies:\n  - pid: 1\n    execution_time: 9999\n",
		     "t.yaml:3: strategies[0].execution_time: ",
		     "got 9999, must be 0 or [10000, 1000000000]");
	expect_file_error("bad_range.yaml", 2, "scheduler.stall_timeout_ms",
			  "got 10, must be in [20, 10000]");
}

static void test_cross_field(void **state)
{
	expect_error("scheduler:\n  slice_ns_min: 6000000\n", "t.yaml:2: scheduler.slice_ns_min: ",
		     "6000000 is larger than scheduler.slice_ns_default (5000000)");
	/* Only the default was written: blame it, not the key the user never saw. */
	expect_error("debug: true\nscheduler:\n  slice_ns_default: 100000\n",
		     "t.yaml:3: scheduler.slice_ns_default: ",
		     "100000 is smaller than scheduler.slice_ns_min (500000");
	expect_file_error("bad_cross.yaml", 3, "scheduler.slice_ns_min",
			  "2000000 is larger than scheduler.slice_ns_default (1000000)");
	/* Equal is fine. */
	assert_int_equal(load("scheduler:\n  slice_ns_default: 700000\n  slice_ns_min: 700000\n"),
			 0);
}

static void test_duplicates(void **state)
{
	expect_error("debug: true\ndebug: false\n",
		     "t.yaml:2: debug: ", "duplicate key (first set on line 1)");
	expect_error("scheduler:\n  slice_ns_min: 600000\n  slice_ns_min: 600000\n",
		     "t.yaml:3: scheduler.slice_ns_min: ", "duplicate key (first set on line 2)");
	expect_error("scheduler:\n  stall_timeout_ms: 30\nscheduler:\n  slice_ns_min: 600000\n",
		     "t.yaml:3: scheduler: ", "duplicate key (first set on line 1)");
	expect_error("strategies:\n  - pid: 1\n    priority: 1\n    pid: 2\n",
		     "t.yaml:4: strategies[0].pid: ", "duplicate key (first set on line 2)");
	expect_file_error("bad_duplicate.yaml", 5, "debug", "duplicate key (first set on line 1)");
}

static void test_top_level(void **state)
{
	expect_error("- a\n- b\n", "t.yaml:1: top level: ", "expected a map, got a list");
	expect_error("hello\n", "t.yaml:1: top level: ", "expected a map, got \"hello\"");
	expect_error("42\n", "t.yaml:1: top level: ", "expected a map, got \"42\"");
	expect_error("debug: true\n---\ndebug: false\n",
		     "t.yaml:3: top level: ", "only one YAML document");
	expect_file_error("bad_toplevel.yaml", 2, "top level", "expected a map, got a list");
}

static void test_strategy_shape(void **state)
{
	expect_error("strategies: 5\n",
		     "t.yaml:1: strategies: ", "expected a list of strategies, got \"5\"");
	expect_error("strategies:\n  pid: 5\n",
		     "t.yaml:2: strategies: ", "expected a list of strategies, got a map");
	expect_error("strategies:\n  - pid: 1\n    priority: 1\n  - 5\n",
		     "t.yaml:4: strategies[1]: ", "expected a map with a matcher");
	expect_error("strategies:\n  -\n", "t.yaml:2: strategies[0]: ", "got nothing");
	expect_error("strategies:\n  - {}\n", "t.yaml:2: strategies[0]: ",
		     "needs a matcher: pid, tid, command_regex, cgroup");
	expect_error("strategies:\n  - priority: true\n    execution_time: 20000\n",
		     "t.yaml:2: strategies[0]: ", "needs a matcher");
	expect_error("strategies:\n  - pid: 7\n", "t.yaml:2: strategies[0]: ",
		     "needs an effect: priority above 0 or execution_time above 0");
	expect_error("strategies:\n  - pid: 7\n    priority: false\n    execution_time: 0\n",
		     "t.yaml:2: strategies[0]: ", "needs an effect");
	expect_file_error("bad_rule_no_effect.yaml", 4, "strategies[1]", "needs an effect");
}

static void test_too_many_strategies(void **state)
{
	size_t cap = (STRATEGY_MAX_RULES + 2) * 48 + 64, o;
	char *yaml = malloc(cap), prefix[64];

	assert_non_null(yaml);
	o = (size_t)snprintf(yaml, cap, "strategies:\n");
	for (int i = 0; i < STRATEGY_MAX_RULES; i++)
		o += (size_t)snprintf(yaml + o, cap - o, "  - {pid: %d, priority: 1}\n", i + 1);
	assert_int_equal(load(yaml), 0);
	assert_int_equal(cfg.nr_rules, STRATEGY_MAX_RULES);
	assert_int_equal(cfg.rules[STRATEGY_MAX_RULES - 1].pid, STRATEGY_MAX_RULES);
	assert_int_equal(cfg.rules[STRATEGY_MAX_RULES - 1].line, STRATEGY_MAX_RULES + 1);

	o += (size_t)snprintf(yaml + o, cap - o, "  - {pid: 9999, priority: 1}\n");
	snprintf(prefix, sizeof(prefix), "t.yaml:%d: strategies: ", STRATEGY_MAX_RULES + 2);
	expect_error(yaml, prefix, "257 entries, at most 256 are allowed");
	free(yaml);
}

static void test_syntax_errors(void **state)
{
	char prefix[PATH_MAX * 3];

	expect_error("scheduler: [1\n", "t.yaml:2: YAML syntax error: ", NULL);
	expect_error("a: b: c\n", "t.yaml:1: YAML syntax error: ", "mapping values");
	expect_error("debug: true\n\xff: 1\n", "t.yaml:2: invalid input: ", "UTF-8");
	snprintf(prefix, sizeof(prefix), "%s:3: YAML syntax error: ", fixture("bad_syntax.yaml"));
	expect_error_at(fixture("bad_syntax.yaml"), NULL, prefix, NULL);
}

static void test_files(void **state)
{
	char want[PATH_MAX * 3], path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s", fixture("does-not-exist.yaml"));

	/* Missing file: the path and strerror(ENOENT). */
	snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOENT));
	load_good();
	assert_int_equal(config_load_file(path, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_memory_equal(&cfg, &snap, sizeof(cfg));

	/* A directory is not a config file. */
	snprintf(want, sizeof(want), "%s: cannot read: %s", src_dir, strerror(EISDIR));
	assert_int_equal(config_load_file(src_dir, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_memory_equal(&cfg, &snap, sizeof(cfg));
}

static void test_error_buffer(void **state)
{
	char small[16];

	/* A short buffer is truncated but terminated; no buffer at all is allowed. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(config_load_buffer("debug: 3", 8, "t.yaml", &cfg, small, sizeof(small)),
			 -1);
	assert_string_equal(small, "t.yaml:1: debug");
	assert_int_equal(config_load_buffer("debug: 3", 8, "t.yaml", &cfg, NULL, 0), -1);
	assert_int_equal(config_load_buffer("debug: 3", 8, NULL, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "<buffer>:1: debug: "));
	/* The length is honoured: the text after it is never read. */
	assert_int_equal(config_load_buffer("debug: trueXXX", 11, "t.yaml", &cfg, err, sizeof(err)),
			 0);
	assert_true(cfg.debug);
}

static void test_api_keys(void **state)
{
	assert_int_equal(load(""), 0);
	assert_true(cfg.api_enabled);
	assert_string_equal(cfg.api_socket, "/run/gthulhu/api.sock");
	assert_string_equal(cfg.api_listen, "");
	assert_string_equal(cfg.api_state_file, "/var/lib/gthulhu/strategies.json");
	assert_false(cfg.api_loopback_no_auth);

	assert_int_equal(load("api:\n  listen: 127.0.0.1:8080\n  token_file: /etc/t\n"), 0);
	assert_string_equal(cfg.api_listen, "127.0.0.1:8080");
	assert_int_equal(load("api:\n  listen: \"[::1]:0\"\n  loopback_no_auth: true\n"), 0);
	assert_int_equal(load("api:\n  socket: \"\"\n  state_file:\n"), 0);
	assert_string_equal(cfg.api_socket, "");
	assert_string_equal(cfg.api_state_file, "");

	expect_error("api:\n  listen: 0.0.0.0:80\n",
		     "t.yaml:2: api.listen: ", "needs api.token_file");
	expect_error(
	    "api:\n  listen: 10.0.0.1:80\n  loopback_no_auth: true\n",
	    "t.yaml:3: api.loopback_no_auth: ", "only allowed when api.listen is a loopback");
	expect_error("api:\n  listen: localhost:80\n  token_file: /t\n",
		     "t.yaml:2: api.listen: ", "literal address");
	expect_error("api:\n  listen: 127.0.0.1:99999\n  token_file: /t\n",
		     "t.yaml:2: api.listen: ", "HOST:PORT");
	expect_error("api:\n  listen: \"[::1]\"\n  token_file: /t\n",
		     "t.yaml:2: api.listen: ", "HOST:PORT");
	expect_error("api:\n  socket: run/api.sock\n", "t.yaml:2: api.socket: ", "absolute path");
	expect_error("api:\n  state_file: s.json\n", "t.yaml:2: api.state_file: ", "absolute");
	expect_error("api:\n  socket: [a]\n", "t.yaml:2: api.socket: ", "expected a string");
	expect_error("api:\n  enabled: yes\n", "t.yaml:2: api.enabled: ", "true or false");
}

static void test_new_matchers(void **state)
{
	assert_int_equal(load("strategies:\n"
			      "  - cgroup: /system.slice/nginx.service\n"
			      "    priority: 3\n"
			      "  - command_regex: \"java .*trade\"\n"
			      "    match_cmdline: true\n"
			      "    execution_time: 2000000\n"
			      "  - selectors:\n"
			      "      - key: app\n"
			      "        value: upf\n"
			      "      - key: example.com/tier\n"
			      "        value: \"\"\n"
			      "    namespaces: [free5gc, core]\n"
			      "    priority: true\n"),
			 0);
	assert_int_equal(cfg.nr_rules, 3);
	assert_string_equal(cfg.rules[0].cgroup, "/system.slice/nginx.service");
	assert_int_equal(cfg.rules[0].effect.priority, 3);
	assert_int_equal(cfg.rules[0].source, STRATEGY_SRC_CONFIG);
	assert_int_equal(cfg.rules[0].line, 2);
	assert_true(cfg.rules[1].match_cmdline);
	assert_int_equal(cfg.rules[2].nr_selectors, 2);
	assert_string_equal(cfg.rules[2].selectors[0].key, "app");
	assert_string_equal(cfg.rules[2].selectors[0].value, "upf");
	assert_string_equal(cfg.rules[2].selectors[1].key, "example.com/tier");
	assert_int_equal(cfg.rules[2].nr_namespaces, 2);
	assert_string_equal(cfg.rules[2].namespaces[1], "core");

	expect_error("strategies:\n  - cgroup: relative\n    priority: 1\n",
		     "t.yaml:2: strategies[0]: ", "cgroup");
	expect_error("strategies:\n  - pid: 5\n    match_cmdline: true\n    priority: 1\n",
		     "t.yaml:2: strategies[0]: ", "match_cmdline");
	expect_error("strategies:\n  - selectors: {app: x}\n    priority: 1\n",
		     "t.yaml:2: strategies[0].selectors: ", "expected a list");
	expect_error("strategies:\n  - selectors:\n      - value: x\n    priority: 1\n",
		     "t.yaml:3: strategies[0].selectors[0]: ", "needs a key");
	expect_error("strategies:\n  - selectors:\n      - key: a\n        colour: x\n"
		     "    priority: 1\n",
		     "t.yaml:4: strategies[0].selectors[0]: ", "unknown or repeated key");
	expect_error("strategies:\n  - selectors:\n      - key: \"-bad-\"\n    priority: 1\n",
		     "t.yaml:2: strategies[0]: ", "selectors[0].key");
	expect_error("strategies:\n  - namespaces: [Bad_NS]\n    priority: 1\n",
		     "t.yaml:2: strategies[0]: ", "namespaces[0]");
	expect_error("strategies:\n  - namespaces: [a, b, c, d, e, f, g, h, i]\n    priority: 1\n",
		     "t.yaml:2: strategies[0].namespaces: ", "at most 8");
	expect_error("strategies:\n  - command_regex: \"(a)\\\\1\"\n    priority: 1\n",
		     "t.yaml:2: strategies[0].command_regex: ", "back-reference");
}

static void test_live_knobs(void **state)
{
	struct config_value v[32];
	size_t n, i;
	bool seen_live = false, seen_string = false;

	config_set_defaults(&cfg);
	assert_true(config_key_is_live("scheduler.slice_ns_default"));
	assert_true(config_key_is_live("stats.interval_s"));
	assert_false(config_key_is_live("scheduler.stall_timeout_ms"));
	assert_false(config_key_is_live("api.listen"));

	n = config_values(&cfg, v, 32);
	assert_true(n >= 13);
	for (i = 0; i < n; i++) {
		assert_string_not_equal(v[i].path, "strategies");
		if (!strcmp(v[i].path, "scheduler.slice_ns_min")) {
			assert_int_equal(v[i].kind, CONFIG_NUMBER);
			assert_int_equal(v[i].number, 500000);
			seen_live = v[i].live;
		}
		if (!strcmp(v[i].path, "api.socket")) {
			assert_int_equal(v[i].kind, CONFIG_STRING);
			assert_string_equal(v[i].string, "/run/gthulhu/api.sock");
			seen_string = !v[i].live;
		}
	}
	assert_true(seen_live);
	assert_true(seen_string);

	assert_int_equal(
	    config_set_live(&cfg, "scheduler.slice_ns_default", 3000000, false, err, sizeof(err)),
	    0);
	assert_int_equal(cfg.slice_ns_default, 3000000);
	assert_int_equal(config_set_live(&cfg, "debug", 1, true, err, sizeof(err)), 0);
	assert_true(cfg.debug);
	assert_int_equal(config_set_live(&cfg, "debug", 1, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "true or false"));
	assert_int_equal(config_set_live(&cfg, "stats.interval_s", 1, true, err, sizeof(err)), -1);
	assert_int_equal(
	    config_set_live(&cfg, "scheduler.slice_ns_min", 5, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scheduler.slice_ns_min: got 5"));
	assert_int_equal(
	    config_set_live(&cfg, "scheduler.stall_timeout_ms", 100, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "restart"));
	assert_int_equal(config_set_live(&cfg, "nope", 1, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key"));
	assert_int_equal(config_set_live(&cfg, "strategies", 1, false, err, sizeof(err)), -1);

	/* One key at a time from another config: the rest stays. */
	config_set_defaults(&snap);
	snap.slice_ns_default = 7000000;
	snap.debug = false;
	snprintf(snap.api_socket, sizeof(snap.api_socket), "/tmp/x.sock");
	assert_int_equal(config_copy_key(&cfg, &snap, "scheduler.slice_ns_default"), 0);
	assert_int_equal(cfg.slice_ns_default, 7000000);
	assert_true(cfg.debug); /* not copied */
	assert_int_equal(config_copy_key(&cfg, &snap, "api.socket"), 0);
	assert_string_equal(cfg.api_socket, "/tmp/x.sock");
	assert_int_equal(config_copy_key(&cfg, &snap, "strategies"), -1);
	assert_int_equal(config_copy_key(&cfg, &snap, "nope"), -1);

	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
	cfg.slice_ns_min = cfg.slice_ns_default + 1;
	assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scheduler.slice_ns_min: "));
}

static void test_anchors(void **state)
{
	/* Aliases are plain YAML; they resolve to the anchored value. */
	assert_int_equal(load("strategies:\n"
			      "  - &r {pid: 10, priority: 4}\n"
			      "  - *r\n"),
			 0);
	assert_int_equal(cfg.nr_rules, 2);
	assert_int_equal(cfg.rules[1].pid, 10);
	assert_int_equal(cfg.rules[1].effect.priority, 4);
	/* Merge keys are not part of the schema. */
	expect_error("scheduler:\n  <<: {slice_ns_min: 600000}\n",
		     "t.yaml:2: scheduler.<<: ", "unknown key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_empty_inputs),
	    cmocka_unit_test(test_missing_keys_keep_defaults),
	    cmocka_unit_test(test_limits_accepted),
	    cmocka_unit_test(test_priority_forms),
	    cmocka_unit_test(test_regex),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_kubernetes_keys),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_cross_field),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_top_level),
	    cmocka_unit_test(test_strategy_shape),
	    cmocka_unit_test(test_too_many_strategies),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_error_buffer),
	    cmocka_unit_test(test_anchors),
	    cmocka_unit_test(test_api_keys),
	    cmocka_unit_test(test_new_matchers),
	    cmocka_unit_test(test_live_knobs),
	};
	const char *slash;

	/* "tests/unit/test_config.c" -> "tests/unit/", relative to where make runs us. */
	slash = strrchr(__FILE__, '/');
	if (slash)
		snprintf(src_dir, sizeof(src_dir), "%.*s", (int)(slash - __FILE__ + 1), __FILE__);
	else
		snprintf(src_dir, sizeof(src_dir), "./");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
