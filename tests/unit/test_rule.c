// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/strategy/rule.c: the checks every strategy passes whatever its
 * source. Each bad-input class is rejected with "<field>: <what>" naming the JSON field;
 * each limit is tested on both sides (the last good value and the first bad one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "strategy/strategy.h"

static char err[512];

/* A valid rule: pid 42, priority 5. Tests change one thing at a time. */
static struct strategy_rule base_rule(void)
{
	struct strategy_rule r;

	memset(&r, 0, sizeof(r));
	r.pid = 42;
	r.effect.priority = 5;
	return r;
}

static void expect_valid(const struct strategy_rule *r)
{
	err[0] = '\0';
	if (strategy_rule_validate(r, err, sizeof(err)) != 0)
		fail_msg("expected valid, got: %s", err);
}

/* Invalid, and the message starts with @prefix and contains @part. */
static void expect_invalid(const struct strategy_rule *r, const char *prefix, const char *part)
{
	err[0] = '\0';
	assert_int_equal(strategy_rule_validate(r, err, sizeof(err)), -1);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, part))
		fail_msg("message '%s' should start with '%s' and contain '%s'", err, prefix, part);
}

static void expect_regex_ok(const char *re)
{
	err[0] = '\0';
	if (strategy_regex_check(re, err, sizeof(err)) != 0)
		fail_msg("regex '%s' should pass, got: %s", re, err);
}

static void expect_regex_bad(const char *re, const char *part)
{
	err[0] = '\0';
	if (strategy_regex_check(re, err, sizeof(err)) != -1)
		fail_msg("regex '%s' should be rejected", re);
	if (!strstr(err, part))
		fail_msg("regex '%s': message '%s' should contain '%s'", re, err, part);
}

static void test_needs_scan_and_pods(void **state)
{
	struct strategy_rule r = base_rule();

	assert_false(strategy_rule_needs_scan(&r));
	assert_false(strategy_rule_needs_pods(&r));
	strcpy(r.command_regex, "x");
	assert_true(strategy_rule_needs_scan(&r));
	assert_false(strategy_rule_needs_pods(&r));

	r = base_rule();
	strcpy(r.cgroup, "/system.slice");
	assert_true(strategy_rule_needs_scan(&r));
	assert_false(strategy_rule_needs_pods(&r));

	r = base_rule();
	r.nr_selectors = 1;
	assert_true(strategy_rule_needs_scan(&r));
	assert_true(strategy_rule_needs_pods(&r));

	r = base_rule();
	r.nr_namespaces = 1;
	assert_true(strategy_rule_needs_scan(&r));
	assert_true(strategy_rule_needs_pods(&r));

	r = base_rule();
	r.tid = 7;
	assert_false(strategy_rule_needs_scan(&r));
}

static void test_id_valid(void **state)
{
	char id[STRATEGY_ID_MAX + 8];

	assert_true(strategy_id_valid("web"));
	assert_true(strategy_id_valid("A-z_0.9"));
	assert_true(strategy_id_valid("s-1"));
	assert_false(strategy_id_valid(""));
	assert_false(strategy_id_valid("has space"));
	assert_false(strategy_id_valid("a/b"));
	assert_false(strategy_id_valid("quote\""));
	assert_false(strategy_id_valid("caf\xc3\xa9"));
	assert_false(strategy_id_valid("new\nline"));

	memset(id, 'a', sizeof(id));
	id[63] = '\0';
	assert_true(strategy_id_valid(id)); /* 63 bytes: the longest */
	id[63] = 'a';
	id[64] = '\0';
	assert_false(strategy_id_valid(id)); /* 64 bytes */
}

static void test_regex_good(void **state)
{
	expect_regex_ok("^nginx");
	expect_regex_ok("^(nginx|php-fpm)[0-9]*$");
	expect_regex_ok("a{255}");
	expect_regex_ok("a{0,255}");
	expect_regex_ok("(a?)*");    /* '?' does not repeat */
	expect_regex_ok("(a|b)*");   /* no inner repetition */
	expect_regex_ok("(a+)?");    /* the outer '?' does not repeat */
	expect_regex_ok("(ab)+c+");  /* repetitions side by side */
	expect_regex_ok("[(]+[)]*"); /* brackets are not groups */
	expect_regex_ok("[]a]+");    /* ']' first in a bracket is a member */
	expect_regex_ok("[[:alpha:]_]+");
	expect_regex_ok("\\(a+\\)+"); /* escaped parentheses are characters */
	expect_regex_ok("((((a))))"); /* 4 deep: the limit */
	expect_regex_ok("()()()()()()()()()()()()()()()()"); /* 16 groups: the limit */
	expect_regex_ok("caf\xc3\xa9");
}

static void test_regex_syntax(void **state)
{
	expect_regex_bad("", "empty");
	expect_regex_bad("(", "does not compile");
	expect_regex_bad("[a", "does not compile");
	expect_regex_bad("a\\", "does not compile");
	expect_regex_bad("a{2,1}", "does not compile");
	expect_regex_bad("a{x}", "does not compile");
	expect_regex_bad("*a", "does not compile");
	expect_regex_bad("bad\xff", "UTF-8");
	expect_regex_bad("\xc0\xaf", "UTF-8"); /* overlong '/' */
}

static void test_regex_too_long(void **state)
{
	char re[STRATEGY_REGEX_MAX + 1];

	memset(re, 'a', sizeof(re));
	re[STRATEGY_REGEX_MAX - 1] = '\0';
	expect_regex_ok(re); /* 255 bytes */
	re[STRATEGY_REGEX_MAX - 1] = 'a';
	re[STRATEGY_REGEX_MAX] = '\0';
	expect_regex_bad(re, "longer than 255 bytes");
}

static void test_regex_backreference(void **state)
{
	expect_regex_bad("(a)\\1", "back-reference");
	expect_regex_bad("(a)(b)(c)(d)(e)(f)(g)(h)(i)\\9", "back-reference");
	expect_regex_ok("[\\1]"); /* inside brackets a backslash is a character */
}

static void test_regex_repetition_count(void **state)
{
	expect_regex_bad("a{256}", "repetition count above 255");
	expect_regex_bad("a{1000}", "repetition count above 255");
	expect_regex_bad("a{,1000}", "repetition count above 255");
	expect_regex_bad("a{1000,}", "repetition count above 255");
	expect_regex_bad("a{1,99999999999999999999}", "repetition count above 255");
}

static void test_regex_nested_quantifiers(void **state)
{
	expect_regex_bad("(a+)+", "repeated again");
	expect_regex_bad("(a*)*", "repeated again");
	expect_regex_bad("(a+)*b", "repeated again");
	expect_regex_bad("((a|b+)c)*", "repeated again");
	expect_regex_bad("(ab+){2,5}", "repeated again");
	expect_regex_bad("(a+){,}", "repeated again"); /* glibc reads {,} as {0,} */
	expect_regex_bad("a+*", "repeated again");
	expect_regex_bad("(a{2}){3}", "repeated again");
}

static void test_regex_groups(void **state)
{
	expect_regex_bad("()()()()()()()()()()()()()()()()()", "more than 16 groups");
	expect_regex_bad("(((((a)))))", "nested more than 4 deep");
}

static void test_regex_expansion(void **state)
{
	/* Each fine alone; together 1275 atoms once written out. */
	expect_regex_bad("a{255}b{255}c{255}d{255}e{255}", "more than 1024 atoms");
	expect_regex_ok("a{255}b{255}c{255}d{255}");
	expect_regex_bad("(abcde){255}", "more than 1024 atoms");
}

static void test_validate_minimal(void **state)
{
	struct strategy_rule r = base_rule();

	expect_valid(&r);
	r.pid = 0;
	r.tid = 9;
	expect_valid(&r);
	r.effect.priority = 0;
	r.effect.execution_time_ns = 2000000;
	expect_valid(&r);
}

static void test_validate_id(void **state)
{
	struct strategy_rule r = base_rule();

	strcpy(r.id, "web-1");
	expect_valid(&r);
	strcpy(r.id, "no way");
	expect_invalid(&r, "id: ", "A-Z");
	memset(r.id, 'x', sizeof(r.id)); /* unterminated: must not be read past */
	expect_invalid(&r, "id: ", "1 to 63");
}

static void test_validate_pid_tid(void **state)
{
	struct strategy_rule r = base_rule();

	r.pid = 4194304;
	expect_valid(&r);
	r.pid = 4194305;
	expect_invalid(&r, "pid: ", "out of range");
	r.pid = -1;
	expect_invalid(&r, "pid: ", "out of range");
	r = base_rule();
	r.tid = -5;
	expect_invalid(&r, "tid: ", "out of range");
	r.tid = 4194305;
	expect_invalid(&r, "tid: ", "out of range");
}

static void test_validate_needs_matcher_and_effect(void **state)
{
	struct strategy_rule r = base_rule();

	r.pid = 0;
	expect_invalid(&r, "needs a matcher", "command_regex");
	r = base_rule();
	r.effect.priority = 0;
	expect_invalid(&r, "needs an effect", "priority");
}

static void test_validate_priority(void **state)
{
	struct strategy_rule r = base_rule();

	r.effect.priority = STRATEGY_PRIO_MAX;
	expect_valid(&r);
	r.effect.priority = STRATEGY_PRIO_MAX + 1;
	expect_invalid(&r, "priority: ", "21 is out of range");
	r.effect.priority = 0xffffffffu;
	expect_invalid(&r, "priority: ", "out of range");
}

static void test_validate_execution_time(void **state)
{
	struct strategy_rule r = base_rule();

	r.effect.execution_time_ns = 10000;
	expect_valid(&r);
	r.effect.execution_time_ns = 1000000000;
	expect_valid(&r);
	r.effect.execution_time_ns = 9999;
	expect_invalid(&r, "execution_time: ", "out of range");
	r.effect.execution_time_ns = 1;
	expect_invalid(&r, "execution_time: ", "out of range");
	r.effect.execution_time_ns = 1000000001;
	expect_invalid(&r, "execution_time: ", "out of range");
	r.effect.execution_time_ns = UINT64_MAX;
	expect_invalid(&r, "execution_time: ", "out of range");
}

static void test_validate_regex_and_cmdline(void **state)
{
	struct strategy_rule r = base_rule();

	r.match_cmdline = true;
	expect_invalid(&r, "match_cmdline: ", "needs command_regex");
	strcpy(r.command_regex, "^java .*-jar");
	expect_valid(&r);
	strcpy(r.command_regex, "(a+)+");
	expect_invalid(&r, "command_regex: ", "repeated again");
	strcpy(r.command_regex, "(x)\\1");
	expect_invalid(&r, "command_regex: ", "back-reference");
	memset(r.command_regex, 'a', sizeof(r.command_regex)); /* unterminated */
	expect_invalid(&r, "command_regex: ", "longer than");
}

static void test_validate_cgroup(void **state)
{
	struct strategy_rule r = base_rule();

	r.pid = 0;
	strcpy(r.cgroup, "/");
	expect_valid(&r);
	strcpy(r.cgroup, "/system.slice/nginx.service");
	expect_valid(&r);
	strcpy(r.cgroup, "/kubepods.slice/");
	expect_valid(&r);
	strcpy(r.cgroup, "/a/..b/c..");
	expect_valid(&r); /* dots inside names are fine */

	strcpy(r.cgroup, "system.slice");
	expect_invalid(&r, "cgroup: ", "absolute");
	strcpy(r.cgroup, "/a//b");
	expect_invalid(&r, "cgroup: ", "empty component");
	strcpy(r.cgroup, "/a/../b");
	expect_invalid(&r, "cgroup: ", "\"..\"");
	strcpy(r.cgroup, "/a/..");
	expect_invalid(&r, "cgroup: ", "\"..\"");
	strcpy(r.cgroup, "/a/./b");
	expect_invalid(&r, "cgroup: ", "\".\"");
	strcpy(r.cgroup, "/a\nb");
	expect_invalid(&r, "cgroup: ", "control character");
	strcpy(r.cgroup, "/a\xff");
	expect_invalid(&r, "cgroup: ", "UTF-8");
	memset(r.cgroup, 'a', sizeof(r.cgroup));
	r.cgroup[0] = '/';
	expect_invalid(&r, "cgroup: ", "longer than 511");
	r.cgroup[sizeof(r.cgroup) - 1] = '\0';
	expect_valid(&r); /* 511 bytes */
}

static void add_selector(struct strategy_rule *r, const char *key, const char *value)
{
	snprintf(r->selectors[r->nr_selectors].key, STRATEGY_LABEL_KEY_MAX, "%s", key);
	snprintf(r->selectors[r->nr_selectors].value, STRATEGY_LABEL_VALUE_MAX, "%s", value);
	r->nr_selectors++;
}

static void test_validate_selectors_good(void **state)
{
	struct strategy_rule r = base_rule();
	char key[STRATEGY_LABEL_KEY_MAX];

	r.pid = 0;
	add_selector(&r, "app", "nginx");
	add_selector(&r, "app.kubernetes.io/name", "web_1.x-y");
	add_selector(&r, "tier", ""); /* an empty value is a value */
	expect_valid(&r);

	/* The longest key: 253-byte prefix, '/', 63-byte name. */
	memset(key, 0, sizeof(key));
	for (int i = 0; i < 253; i++)
		key[i] = (i % 64 == 63) ? '.' : 'a';
	key[253] = '/';
	memset(key + 254, 'N', 63);
	r.nr_selectors = 0;
	add_selector(&r, key, "v");
	expect_valid(&r);

	r.nr_selectors = 0;
	for (int i = 0; i < STRATEGY_SELECTORS_MAX; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i);
		add_selector(&r, k, "v");
	}
	expect_valid(&r);
}

static void test_validate_selectors_bad(void **state)
{
	struct strategy_rule r = base_rule();
	char long_name[80], long_prefix[300];

	add_selector(&r, "app", "x");
	add_selector(&r, "", "x");
	expect_invalid(&r, "selectors[1].key: ", "empty");

	r.nr_selectors = 1;
	add_selector(&r, "-app", "x");
	expect_invalid(&r, "selectors[1].key: ", "starting and ending");
	r.nr_selectors = 1;
	add_selector(&r, "app-", "x");
	expect_invalid(&r, "selectors[1].key: ", "starting and ending");
	r.nr_selectors = 1;
	add_selector(&r, "a b", "x");
	expect_invalid(&r, "selectors[1].key: ", "letters");
	r.nr_selectors = 1;
	add_selector(&r, "Example.COM/app", "x");
	expect_invalid(&r, "selectors[1].key: ", "DNS subdomain");
	r.nr_selectors = 1;
	add_selector(&r, "/app", "x");
	expect_invalid(&r, "selectors[1].key: ", "DNS subdomain");
	r.nr_selectors = 1;
	add_selector(&r, "example.com/", "x");
	expect_invalid(&r, "selectors[1].key: ", "name");
	r.nr_selectors = 1;
	add_selector(&r, "a..b/app", "x");
	expect_invalid(&r, "selectors[1].key: ", "DNS subdomain");
	r.nr_selectors = 1;
	add_selector(&r, "a/b/c", "x");
	expect_invalid(&r, "selectors[1].key: ", "name");

	memset(long_name, 'n', sizeof(long_name));
	long_name[64] = '\0';
	r.nr_selectors = 1;
	add_selector(&r, long_name, "x");
	expect_invalid(&r, "selectors[1].key: ", "longer than 63");

	memset(long_prefix, 'p', sizeof(long_prefix));
	strcpy(long_prefix + 254, "/app"); /* a 254-byte prefix */
	r.nr_selectors = 1;
	add_selector(&r, long_prefix, "x");
	expect_invalid(&r, "selectors[1].key: ", "at most 253");

	r.nr_selectors = 1;
	add_selector(&r, "ok", "-bad");
	expect_invalid(&r, "selectors[1].value: ", "starting and ending");
	r.nr_selectors = 1;
	add_selector(&r, "ok", "sp ace");
	expect_invalid(&r, "selectors[1].value: ", "letters");
	r.nr_selectors = 1;
	add_selector(&r, "ok", "v");
	memset(r.selectors[1].value, 'v', STRATEGY_LABEL_VALUE_MAX); /* 64, unterminated */
	expect_invalid(&r, "selectors[1].value: ", "longer than 63");

	r.nr_selectors = 1;
	add_selector(&r, "app", "y");
	expect_invalid(&r, "selectors[1].key: ", "also in selectors[0]");

	r.nr_selectors = STRATEGY_SELECTORS_MAX + 1;
	expect_invalid(&r, "selectors: ", "at most 8");
	r.nr_selectors = 0xffffffffu;
	expect_invalid(&r, "selectors: ", "at most 8");
}

static void test_validate_namespaces(void **state)
{
	struct strategy_rule r = base_rule();

	r.pid = 0;
	strcpy(r.namespaces[0], "default");
	strcpy(r.namespaces[1], "kube-system");
	strcpy(r.namespaces[2], "a1");
	r.nr_namespaces = 3;
	expect_valid(&r);
	memset(r.namespaces[2], 'a', 63);
	r.namespaces[2][63] = '\0';
	expect_valid(&r); /* 63 bytes */

	memset(r.namespaces[2], 'a', STRATEGY_NAMESPACE_MAX); /* 64, unterminated */
	expect_invalid(&r, "namespaces[2]: ", "1 to 63");
	strcpy(r.namespaces[2], "");
	expect_invalid(&r, "namespaces[2]: ", "1 to 63");
	strcpy(r.namespaces[2], "Default");
	expect_invalid(&r, "namespaces[2]: ", "lowercase");
	strcpy(r.namespaces[2], "-x");
	expect_invalid(&r, "namespaces[2]: ", "starting and ending");
	strcpy(r.namespaces[2], "x-");
	expect_invalid(&r, "namespaces[2]: ", "starting and ending");
	strcpy(r.namespaces[2], "a.b");
	expect_invalid(&r, "namespaces[2]: ", "lowercase");
	strcpy(r.namespaces[2], "default");
	expect_invalid(&r, "namespaces[2]: ", "also in namespaces[0]");

	r.nr_namespaces = STRATEGY_NAMESPACES_MAX + 1;
	expect_invalid(&r, "namespaces: ", "at most 8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_needs_scan_and_pods),
	    cmocka_unit_test(test_id_valid),
	    cmocka_unit_test(test_regex_good),
	    cmocka_unit_test(test_regex_syntax),
	    cmocka_unit_test(test_regex_too_long),
	    cmocka_unit_test(test_regex_backreference),
	    cmocka_unit_test(test_regex_repetition_count),
	    cmocka_unit_test(test_regex_nested_quantifiers),
	    cmocka_unit_test(test_regex_groups),
	    cmocka_unit_test(test_regex_expansion),
	    cmocka_unit_test(test_validate_minimal),
	    cmocka_unit_test(test_validate_id),
	    cmocka_unit_test(test_validate_pid_tid),
	    cmocka_unit_test(test_validate_needs_matcher_and_effect),
	    cmocka_unit_test(test_validate_priority),
	    cmocka_unit_test(test_validate_execution_time),
	    cmocka_unit_test(test_validate_regex_and_cmdline),
	    cmocka_unit_test(test_validate_cgroup),
	    cmocka_unit_test(test_validate_selectors_good),
	    cmocka_unit_test(test_validate_selectors_bad),
	    cmocka_unit_test(test_validate_namespaces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
