// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/strategy/strategy_json.c: strategies as JSON (REST API bodies and the
 * store's state file). Every bad-input class must give the right status (the API turns it
 * into 400, 413 or 422) and a message naming the field; bounded parsing must stay fast on
 * hostile input (10 000 nested brackets, a 1 MiB document).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "strategy/strategy_json.h"

static char err[1024];
/* STRATEGY_MAX_RULES rules are ~1 MiB: not on a test's stack. */
static struct strategy_rule list[STRATEGY_MAX_RULES + 1];

/* Parse @text as one strategy; the status of whichever step failed. */
static enum strategy_json_status one(const char *text, struct strategy_rule *out)
{
	enum strategy_json_status st;
	json_t *doc;

	err[0] = '\0';
	doc = strategy_json_parse_text(text, strlen(text), &st, err, sizeof(err));
	if (!doc) {
		assert_int_not_equal(st, SJ_OK);
		return st;
	}
	assert_int_equal(st, SJ_OK);
	st = strategy_from_json(doc, out, err, sizeof(err));
	json_decref(doc);
	return st;
}

static void expect_one(const char *text, enum strategy_json_status want, const char *part)
{
	struct strategy_rule r;
	enum strategy_json_status got = one(text, &r);

	if (got != want || !strstr(err, part))
		fail_msg("%s: status %d (want %d), message '%s' (want '%s')", text, got, want, err,
			 part);
}

static void expect_ok(const char *text, struct strategy_rule *out)
{
	if (one(text, out) != SJ_OK)
		fail_msg("%s: %s", text, err);
}

/* Parse a {"strategies": [...]} document; *n is what strategies_from_json() said. */
static enum strategy_json_status many(const char *text, size_t max, bool allow_empty, size_t *n)
{
	enum strategy_json_status st;
	json_t *doc;

	err[0] = '\0';
	*n = 12345;
	doc = strategy_json_parse_text(text, strlen(text), &st, err, sizeof(err));
	if (!doc) {
		*n = 0;
		return st;
	}
	st = strategies_from_json(doc, list, max, n, allow_empty, err, sizeof(err));
	json_decref(doc);
	return st;
}

static void expect_many(const char *text, bool allow_empty, enum strategy_json_status want,
			const char *part)
{
	size_t n;
	enum strategy_json_status got = many(text, STRATEGY_MAX_RULES, allow_empty, &n);

	if (got != want || !strstr(err, part))
		fail_msg("%s: status %d (want %d), message '%s' (want '%s')", text, got, want, err,
			 part);
	if (want != SJ_OK)
		assert_int_equal(n, 0);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- one strategy: good input ----------------------------------------------------------- */

static void test_full_object(void **state)
{
	struct strategy_rule r;

	expect_ok("{\"id\": \"web\", \"priority\": 7, \"execution_time\": 2000000, \"pid\": 10,"
		  " \"tid\": 11, \"command_regex\": \"^nginx\", \"match_cmdline\": true,"
		  " \"cgroup\": \"/system.slice\", \"selectors\": [{\"key\": \"app\", \"value\":"
		  " \"web\"}, {\"key\": \"tier\", \"value\": \"\"}], \"namespaces\": [\"default\","
		  " \"prod\"], \"source\": \"api\"}",
		  &r);
	assert_string_equal(r.id, "web");
	assert_int_equal(r.effect.priority, 7);
	assert_int_equal(r.effect.execution_time_ns, 2000000);
	assert_int_equal(r.pid, 10);
	assert_int_equal(r.tid, 11);
	assert_string_equal(r.command_regex, "^nginx");
	assert_true(r.match_cmdline);
	assert_string_equal(r.cgroup, "/system.slice");
	assert_int_equal(r.nr_selectors, 2);
	assert_string_equal(r.selectors[0].key, "app");
	assert_string_equal(r.selectors[0].value, "web");
	assert_string_equal(r.selectors[1].key, "tier");
	assert_string_equal(r.selectors[1].value, "");
	assert_int_equal(r.nr_namespaces, 2);
	assert_string_equal(r.namespaces[1], "prod");
	assert_int_equal(r.source, STRATEGY_SRC_CONFIG); /* "source" is ignored */
	assert_int_equal(r.line, 0);
}

static void test_priority_values(void **state)
{
	struct strategy_rule r;

	expect_ok("{\"pid\": 1, \"priority\": true}", &r);
	assert_int_equal(r.effect.priority, STRATEGY_PRIO_MAX);
	expect_ok("{\"pid\": 1, \"priority\": false, \"execution_time\": 10000}", &r);
	assert_int_equal(r.effect.priority, 0);
	expect_ok("{\"pid\": 1, \"priority\": 0, \"execution_time\": 10000}", &r);
	assert_int_equal(r.effect.priority, 0);
	expect_ok("{\"pid\": 1, \"priority\": 20}", &r);
	assert_int_equal(r.effect.priority, 20);
	expect_ok("{\"pid\": 1, \"priority\": 1}", &r);
	assert_int_equal(r.effect.priority, 1);

	expect_one("{\"pid\": 1, \"priority\": 21}", SJ_INVALID, "priority: 21 is out of range");
	expect_one("{\"pid\": 1, \"priority\": -1}", SJ_INVALID, "priority: -1 is out of range");
	expect_one("{\"pid\": 1, \"priority\": 5.0}", SJ_INVALID, "priority: expected true");
	expect_one("{\"pid\": 1, \"priority\": 1e1}", SJ_INVALID, "priority: expected true");
	expect_one("{\"pid\": 1, \"priority\": \"5\"}", SJ_INVALID, "got a string");
	expect_one("{\"pid\": 1, \"priority\": null}", SJ_INVALID, "got null");
	expect_one("{\"pid\": 1, \"priority\": [5]}", SJ_INVALID, "got an array");
	/* false and nothing else: no effect */
	expect_one("{\"pid\": 1, \"priority\": false}", SJ_INVALID, "needs an effect");
}

static void test_pid_zero_is_unset(void **state)
{
	struct strategy_rule r;

	/* The original's clients send "pid": 0 for "any". */
	expect_ok("{\"pid\": 0, \"tid\": 5, \"priority\": true}", &r);
	assert_int_equal(r.pid, 0);
	assert_int_equal(r.tid, 5);
	expect_ok("{\"pid\": 4194304, \"priority\": true}", &r);
	expect_one("{\"pid\": 0, \"priority\": true}", SJ_INVALID, "needs a matcher");
}

/* ---- one strategy: bad input ------------------------------------------------------------ */

static void test_wrong_types(void **state)
{
	expect_one("{\"pid\": \"1\", \"priority\": true}", SJ_INVALID,
		   "pid: expected an integer, got a string");
	expect_one("{\"pid\": 1.5, \"priority\": true}", SJ_INVALID,
		   "pid: expected an integer, got a number");
	expect_one("{\"pid\": true, \"priority\": true}", SJ_INVALID,
		   "pid: expected an integer, got a boolean");
	expect_one("{\"tid\": {}, \"priority\": true}", SJ_INVALID, "tid: expected an integer");
	expect_one("{\"pid\": 1, \"execution_time\": \"5ms\"}", SJ_INVALID,
		   "execution_time: expected an integer");
	expect_one("{\"pid\": 1, \"execution_time\": 20000.0}", SJ_INVALID,
		   "execution_time: expected an integer");
	expect_one("{\"command_regex\": 5, \"priority\": true}", SJ_INVALID,
		   "command_regex: expected a string, got an integer");
	expect_one("{\"command_regex\": \"x\", \"match_cmdline\": 1, \"priority\": true}",
		   SJ_INVALID, "match_cmdline: expected true or false");
	expect_one("{\"cgroup\": [\"/a\"], \"priority\": true}", SJ_INVALID,
		   "cgroup: expected a string, got an array");
	expect_one("{\"id\": 7, \"pid\": 1, \"priority\": true}", SJ_INVALID,
		   "id: expected a string");
	expect_one("{\"selectors\": {\"app\": \"x\"}, \"priority\": true}", SJ_INVALID,
		   "selectors: expected an array");
	expect_one("{\"selectors\": [\"app=x\"], \"priority\": true}", SJ_INVALID,
		   "selectors[0]: expected an object");
	expect_one("{\"selectors\": [{\"key\": 1, \"value\": \"x\"}], \"priority\": true}",
		   SJ_INVALID, "selectors[0].key: expected a string");
	expect_one("{\"selectors\": [{\"key\": \"a\", \"value\": null}], \"priority\": true}",
		   SJ_INVALID, "selectors[0].value: expected a string, got null");
	expect_one("{\"namespaces\": \"default\", \"priority\": true}", SJ_INVALID,
		   "namespaces: expected an array");
	expect_one("{\"namespaces\": [\"a\", 2], \"priority\": true}", SJ_INVALID,
		   "namespaces[1]: expected a string");
	expect_one("{\"pid\": 1, \"priority\": true, \"source\": 1}", SJ_INVALID,
		   "source: expected a string");
}

static void test_out_of_range_numbers(void **state)
{
	expect_one("{\"pid\": -1, \"priority\": true}", SJ_INVALID, "pid: -1 is out of range");
	expect_one("{\"tid\": -7, \"priority\": true}", SJ_INVALID, "tid: -7 is out of range");
	expect_one("{\"pid\": 4194305, \"priority\": true}", SJ_INVALID, "pid: 4194305 is out");
	expect_one("{\"pid\": 9223372036854775807, \"priority\": true}", SJ_INVALID,
		   "pid: 9223372036854775807 is out of range");
	expect_one("{\"pid\": 1, \"execution_time\": -1}", SJ_INVALID,
		   "execution_time: -1 is negative");
	expect_one("{\"pid\": 1, \"execution_time\": 9999}", SJ_INVALID,
		   "execution_time: 9999 ns is out of range");
	expect_one("{\"pid\": 1, \"execution_time\": 1000000001}", SJ_INVALID,
		   "execution_time: 1000000001 ns is out of range");
	expect_one("{\"pid\": 1, \"execution_time\": 9223372036854775807}", SJ_INVALID,
		   "execution_time: 9223372036854775807 ns is out of range");
	/* Beyond 64 bits jansson itself refuses the number. */
	expect_one("{\"pid\": 99999999999999999999, \"priority\": true}", SJ_SYNTAX, "too big");
}

static void test_unknown_and_duplicate_keys(void **state)
{
	expect_one("{\"pdi\": 1, \"priority\": true}", SJ_INVALID,
		   "unknown key 'pdi' (expected one of: id, priority, execution_time, pid");
	expect_one("{\"pid\": 1, \"priority\": true, \"Priority\": 3}", SJ_INVALID,
		   "unknown key 'Priority'");
	expect_one("{\"pid\": 1, \"pid\": 2, \"priority\": true}", SJ_SYNTAX, "duplicate");
	expect_one("{\"selectors\": [{\"key\": \"a\", \"value\": \"b\", \"op\": \"In\"}],"
		   " \"priority\": true}",
		   SJ_INVALID, "selectors[0]: unknown key 'op' (expected: key, value)");
	expect_one("{\"selectors\": [{\"key\": \"a\"}], \"priority\": true}", SJ_INVALID,
		   "selectors[0].value: missing");
	expect_one("{\"selectors\": [{\"value\": \"a\"}], \"priority\": true}", SJ_INVALID,
		   "selectors[0].key: missing");
	expect_one("{\"pid\": 1, \"priority\": true, \"source\": \"kubectl\"}", SJ_INVALID,
		   "source: expected \"config\"");
}

static void test_nul_in_strings(void **state)
{
	struct strategy_rule r;
	json_t *obj;

	/* In text: jansson refuses \u0000 unless asked to allow it. */
	expect_one("{\"command_regex\": \"ng\\u0000inx\", \"priority\": true}", SJ_SYNTAX, "NUL");
	/* Built in code: the length and strlen() disagree. */
	obj = json_object();
	json_object_set_new(obj, "command_regex", json_stringn("ng\0inx", 6));
	json_object_set_new(obj, "priority", json_true());
	assert_int_equal(strategy_from_json(obj, &r, err, sizeof(err)), SJ_INVALID);
	assert_non_null(strstr(err, "command_regex: contains a NUL character"));
	json_decref(obj);

	obj = json_pack("{s:[{s:s,s:s%}],s:b}", "selectors", "key", "app", "value", "a\0b",
			(size_t)3, "priority", 1);
	assert_non_null(obj);
	assert_int_equal(strategy_from_json(obj, &r, err, sizeof(err)), SJ_INVALID);
	assert_non_null(strstr(err, "selectors[0].value: contains a NUL"));
	json_decref(obj);
}

/* {"<key>": "<n times c>", <rest>} */
static char *doc_with_long(const char *key, size_t n, char first, char c, const char *rest)
{
	size_t cap = n + strlen(key) + strlen(rest) + 64;
	char *s = malloc(cap), *p;

	assert_non_null(s);
	p = s + sprintf(s, "{\"%s\": \"%c", key, first);
	memset(p, c, n - 1);
	sprintf(p + n - 1, "\"%s}", rest);
	return s;
}

static void test_too_long_strings(void **state)
{
	struct strategy_rule r;
	char *s;

	s = doc_with_long("id", 63, 'i', 'd', ", \"pid\": 1, \"priority\": true");
	expect_ok(s, &r);
	free(s);
	s = doc_with_long("id", 64, 'i', 'd', ", \"pid\": 1, \"priority\": true");
	expect_one(s, SJ_INVALID, "id: 64 bytes, at most 63");
	free(s);
	s = doc_with_long("command_regex", 256, 'a', 'a', ", \"priority\": true");
	expect_one(s, SJ_INVALID, "command_regex: 256 bytes, at most 255");
	free(s);
	s = doc_with_long("cgroup", 511, '/', 'c', ", \"priority\": true");
	expect_ok(s, &r);
	free(s);
	s = doc_with_long("cgroup", 512, '/', 'c', ", \"priority\": true");
	expect_one(s, SJ_INVALID, "cgroup: 512 bytes, at most 511");
	free(s);
	s = doc_with_long("x", 100000, 'x', 'x', "");
	expect_one(s, SJ_INVALID, "unknown key 'x'");
	free(s);

	expect_one(
	    "{\"namespaces\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\"], \"priority\": true}",
	    SJ_INVALID, "namespaces[0]: 64 bytes, at most 63");
	expect_one("{\"selectors\": [{\"key\": \"a\", \"value\": "
		   "\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}], "
		   "\"priority\": true}",
		   SJ_INVALID, "selectors[0].value: 64 bytes, at most 63");
	s = malloc(1024);
	assert_non_null(s);
	strcpy(s, "{\"selectors\": [{\"value\": \"v\", \"key\": \"");
	memset(s + strlen(s), 'k', 320);
	strcpy(s + strlen("{\"selectors\": [{\"value\": \"v\", \"key\": \"") + 320,
	       "\"}], \"priority\": true}");
	expect_one(s, SJ_INVALID, "selectors[0].key: 320 bytes, at most 319");
	free(s);
}

static void test_too_many_selectors_and_namespaces(void **state)
{
	struct strategy_rule r;

	expect_ok(
	    "{\"namespaces\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"], \"priority\": 1}",
	    &r);
	assert_int_equal(r.nr_namespaces, 8);
	expect_one("{\"namespaces\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"],"
		   " \"priority\": 1}",
		   SJ_INVALID, "namespaces: 9 entries, at most 8");
	expect_one("{\"selectors\": [{\"key\":\"a\",\"value\":\"\"},{\"key\":\"b\",\"value\":\"\"},"
		   "{\"key\":\"c\",\"value\":\"\"},{\"key\":\"d\",\"value\":\"\"},"
		   "{\"key\":\"e\",\"value\":\"\"},{\"key\":\"f\",\"value\":\"\"},"
		   "{\"key\":\"g\",\"value\":\"\"},{\"key\":\"h\",\"value\":\"\"},"
		   "{\"key\":\"i\",\"value\":\"\"}], \"priority\": 1}",
		   SJ_INVALID, "selectors: 9 entries, at most 8");
}

static void test_bad_values_reach_validation(void **state)
{
	expect_one("{\"selectors\": [{\"key\": \"Bad.Prefix/app\", \"value\": \"x\"}],"
		   " \"priority\": 1}",
		   SJ_INVALID, "selectors[0].key: prefix");
	expect_one("{\"selectors\": [{\"key\": \"-app\", \"value\": \"x\"}], \"priority\": 1}",
		   SJ_INVALID, "selectors[0].key: name");
	expect_one("{\"selectors\": [{\"key\": \"\", \"value\": \"x\"}], \"priority\": 1}",
		   SJ_INVALID, "selectors[0].key: must not be empty");
	expect_one("{\"namespaces\": [\"Default\"], \"priority\": 1}", SJ_INVALID,
		   "namespaces[0]: must be");
	expect_one("{\"namespaces\": [\"a\", \"a\"], \"priority\": 1}", SJ_INVALID,
		   "namespaces[1]: 'a' also in namespaces[0]");
	expect_one("{\"cgroup\": \"system.slice\", \"priority\": 1}", SJ_INVALID,
		   "cgroup: must be an absolute path");
	expect_one("{\"cgroup\": \"/a/../b\", \"priority\": 1}", SJ_INVALID, "cgroup:");
	expect_one("{\"id\": \"bad id\", \"pid\": 1, \"priority\": 1}", SJ_INVALID, "id: must be");
	expect_one("{\"match_cmdline\": true, \"pid\": 1, \"priority\": 1}", SJ_INVALID,
		   "match_cmdline: needs command_regex");
	expect_one("{\"priority\": 1}", SJ_INVALID, "needs a matcher");
	expect_one("{}", SJ_INVALID, "needs a matcher");
}

static void test_bad_regexes(void **state)
{
	expect_one("{\"command_regex\": \"(\", \"priority\": 1}", SJ_INVALID,
		   "command_regex: does not compile");
	expect_one("{\"command_regex\": \"(a)\\\\1\", \"priority\": 1}", SJ_INVALID,
		   "command_regex: back-reference");
	expect_one("{\"command_regex\": \"a{256}\", \"priority\": 1}", SJ_INVALID,
		   "command_regex: repetition count above 255");
	expect_one("{\"command_regex\": \"(a+)+$\", \"priority\": 1}", SJ_INVALID,
		   "command_regex: a repeated expression is repeated again");
	expect_one("{\"command_regex\": \"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)(p)(q)\","
		   " \"priority\": 1}",
		   SJ_INVALID, "command_regex: more than 16 groups");
	expect_one("{\"command_regex\": \"\", \"priority\": 1}", SJ_INVALID, "needs a matcher");
}

static void test_non_object_documents(void **state)
{
	struct strategy_rule r;
	size_t n;

	expect_one("[]", SJ_SYNTAX, "expected a strategy object, got an array");
	expect_one("\"pid\"", SJ_SYNTAX, "got a string");
	expect_one("42", SJ_SYNTAX, "got an integer");
	expect_one("null", SJ_SYNTAX, "got null");
	expect_one("true", SJ_SYNTAX, "got a boolean");
	assert_int_equal(strategy_from_json(NULL, &r, err, sizeof(err)), SJ_SYNTAX);
	assert_int_equal(strategies_from_json(NULL, list, 4, &n, true, err, sizeof(err)),
			 SJ_SYNTAX);
	expect_many("[{\"pid\": 1, \"priority\": 1}]", true, SJ_SYNTAX,
		    "expected an object {\"strategies\"");
}

/* ---- text ------------------------------------------------------------------------------- */

static void test_syntax_errors_have_position(void **state)
{
	expect_one("{\"pid\": 1,\n \"priority\": }", SJ_SYNTAX, "line 2, column");
	expect_one("{\"pid\": 1} x", SJ_SYNTAX, "end of file expected");
	expect_one("", SJ_SYNTAX, "line 1");
	expect_one("{\"pid\": 01}", SJ_SYNTAX, "line 1");
	expect_one("{'pid': 1}", SJ_SYNTAX, "line 1");
	expect_one("{\"pid\": 1, \"priority\": true,}", SJ_SYNTAX, "line 1");
	expect_one("{\"command_regex\": \"\xff\", \"priority\": 1}", SJ_SYNTAX,
		   "unable to decode byte 0xff");
}

static void test_deep_nesting_rejected_quickly(void **state)
{
	size_t len = 10000;
	char *s = malloc(len + 1);
	enum strategy_json_status st;
	double t0;
	json_t *doc;

	assert_non_null(s);
	memset(s, '[', len);
	s[len] = '\0';
	t0 = now();
	doc = strategy_json_parse_text(s, len, &st, err, sizeof(err));
	assert_true(now() - t0 < 0.1);
	assert_null(doc);
	assert_int_equal(st, SJ_SYNTAX);
	assert_non_null(strstr(err, "nested deeper than 8 levels (at byte 8)"));

	memset(s, '{', len);
	doc = strategy_json_parse_text(s, len, &st, err, sizeof(err));
	assert_null(doc);
	assert_int_equal(st, SJ_SYNTAX);
	free(s);

	/* 1 MiB of '[' is within the size limit and still never reaches jansson. */
	len = STRATEGY_JSON_MAX_BYTES;
	s = malloc(len);
	assert_non_null(s);
	memset(s, '[', len);
	t0 = now();
	doc = strategy_json_parse_text(s, len, &st, err, sizeof(err));
	assert_true(now() - t0 < 0.1);
	assert_null(doc);
	assert_int_equal(st, SJ_SYNTAX);
	free(s);
}

static void test_depth_limit_exact(void **state)
{
	const char *eight = "[[[[[[[[1]]]]]]]]", *nine = "[[[[[[[[[1]]]]]]]]]";
	enum strategy_json_status st;
	json_t *doc;

	doc = strategy_json_parse_text(eight, strlen(eight), &st, err, sizeof(err));
	assert_non_null(doc);
	assert_int_equal(st, SJ_OK);
	json_decref(doc);
	doc = strategy_json_parse_text(nine, strlen(nine), &st, err, sizeof(err));
	assert_null(doc);
	assert_int_equal(st, SJ_SYNTAX);
	/* Closing and reopening does not add up. */
	doc =
	    strategy_json_parse_text("[[[[[[[[]]]]]]],[[[[[[[]]]]]]]]", 31, &st, err, sizeof(err));
	assert_non_null(doc);
	json_decref(doc);
}

static void test_brackets_in_strings_do_not_count(void **state)
{
	struct strategy_rule r;

	expect_ok("{\"command_regex\": \"[[][[][[][[][[][[][[][[][[][[]x\", \"priority\": 1}", &r);
	assert_string_equal(r.command_regex, "[[][[][[][[][[][[][[][[][[][[]x");
	/* An escaped quote does not end the string; the brackets after it are still inside. */
	expect_ok("{\"command_regex\": \"\\\"[[][[][[][[][[][[][[][[][[]\", \"priority\": 1}", &r);
	assert_string_equal(r.command_regex, "\"[[][[][[][[][[][[][[][[][[]");
	/* An escaped backslash does end before the quote. */
	expect_one("{\"id\": \"\\\\\", \"x\": [[[[[[[[[1]]]]]]]]]}", SJ_SYNTAX, "nested deeper");
}

static void test_too_large_text(void **state)
{
	size_t len = STRATEGY_JSON_MAX_BYTES + 1;
	char *s = malloc(len);
	enum strategy_json_status st;

	assert_non_null(s);
	memset(s, ' ', len);
	s[0] = '{';
	s[len - 1] = '}';
	assert_null(strategy_json_parse_text(s, len, &st, err, sizeof(err)));
	assert_int_equal(st, SJ_TOO_LARGE);
	assert_non_null(strstr(err, "at most 1048576"));
	/* One byte less: parsed (an empty object). */
	s[len - 2] = '}';
	{
		json_t *doc = strategy_json_parse_text(s, len - 1, &st, err, sizeof(err));

		assert_non_null(doc);
		assert_int_equal(st, SJ_OK);
		json_decref(doc);
	}
	free(s);
}

/* ---- lists ------------------------------------------------------------------------------ */

static void test_list_good(void **state)
{
	size_t n;

	assert_int_equal(
	    many("{\"strategies\": [{\"pid\": 1, \"priority\": true},"
		 " {\"id\": \"b\", \"command_regex\": \"^x\", \"execution_time\": 50000}]}",
		 STRATEGY_MAX_RULES, false, &n),
	    SJ_OK);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].pid, 1);
	assert_string_equal(list[1].id, "b");
	assert_int_equal(list[1].effect.execution_time_ns, 50000);
}

static void test_list_empty(void **state)
{
	size_t n;

	expect_many("{\"strategies\": []}", false, SJ_INVALID, "strategies: the list is empty");
	assert_int_equal(many("{\"strategies\": []}", 4, true, &n), SJ_OK);
	assert_int_equal(n, 0);
}

static void test_list_shape(void **state)
{
	expect_many("{}", true, SJ_SYNTAX, "strategies: missing");
	expect_many("{\"strategies\": {}}", true, SJ_SYNTAX,
		    "strategies: expected an array, got an object");
	expect_many("{\"strategies\": null}", true, SJ_SYNTAX, "got null");
	expect_many("{\"strategies\": [], \"extra\": 1}", true, SJ_INVALID,
		    "unknown key 'extra' (expected: strategies)");
	expect_many("{\"strategies\": [], \"strategies\": []}", true, SJ_SYNTAX, "duplicate");
	expect_many("{\"strategies\": [1]}", true, SJ_SYNTAX,
		    "strategies[0]: expected a strategy object, got an integer");
}

static void test_list_messages_name_the_entry(void **state)
{
	expect_many(
	    "{\"strategies\": [{\"pid\": 1, \"priority\": 1}, {\"pid\": -3, \"priority\": 1}]}",
	    false, SJ_INVALID, "strategies[1].pid: -3 is out of range");
	expect_many("{\"strategies\": [{\"priority\": 1}]}", false, SJ_INVALID,
		    "strategies[0]: needs a matcher");
	expect_many("{\"strategies\": [{\"pid\": 1, \"priority\": 1, \"nope\": 1}]}", false,
		    SJ_INVALID, "strategies[0]: unknown key 'nope'");
	expect_many("{\"strategies\": [{\"selectors\": [{\"key\": \"-\", \"value\": \"\"}],"
		    " \"priority\": 1}]}",
		    false, SJ_INVALID, "strategies[0].selectors[0].key: name");
	expect_many("{\"strategies\": [{\"id\": \"a\", \"pid\": 1, \"priority\": 1},"
		    " {\"id\": \"a\", \"pid\": 2, \"priority\": 1}]}",
		    false, SJ_INVALID, "strategies[1].id: 'a' also in strategies[0]");
}

static char *list_doc(size_t count)
{
	const char *item = "{\"pid\": 1, \"priority\": 1},";
	size_t cap = count * strlen(item) + 64;
	char *s = malloc(cap), *p;

	assert_non_null(s);
	p = s + sprintf(s, "{\"strategies\": [");
	for (size_t i = 0; i < count; i++)
		p += sprintf(p, "%s", item);
	if (count)
		p--;
	strcpy(p, "]}");
	return s;
}

static void test_list_too_many(void **state)
{
	char *s = list_doc(3);
	size_t n;

	assert_int_equal(many(s, 3, false, &n), SJ_OK);
	assert_int_equal(n, 3);
	assert_int_equal(many(s, 2, false, &n), SJ_TOO_LARGE);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "strategies: 3 entries, at most 2"));
	free(s);

	s = list_doc(STRATEGY_MAX_RULES);
	assert_int_equal(many(s, STRATEGY_MAX_RULES, false, &n), SJ_OK);
	assert_int_equal(n, STRATEGY_MAX_RULES);
	free(s);
	s = list_doc(STRATEGY_MAX_RULES + 1);
	assert_int_equal(many(s, STRATEGY_MAX_RULES + 1, false, &n), SJ_TOO_LARGE);
	assert_non_null(strstr(err, "at most 256"));
	free(s);
}

/* ---- output ----------------------------------------------------------------------------- */

static void test_to_json_only_set_fields(void **state)
{
	struct strategy_rule r;
	json_t *obj;

	memset(&r, 0, sizeof(r));
	strcpy(r.id, "s-1");
	r.source = STRATEGY_SRC_API;
	r.pid = 9;
	r.effect.priority = 20;
	obj = strategy_to_json(&r);
	assert_non_null(obj);
	assert_int_equal(json_object_size(obj), 5);
	assert_string_equal(json_string_value(json_object_get(obj, "id")), "s-1");
	assert_string_equal(json_string_value(json_object_get(obj, "source")), "api");
	assert_int_equal(json_integer_value(json_object_get(obj, "priority")), 20);
	assert_int_equal(json_integer_value(json_object_get(obj, "execution_time")), 0);
	assert_int_equal(json_integer_value(json_object_get(obj, "pid")), 9);
	assert_null(json_object_get(obj, "tid"));
	assert_null(json_object_get(obj, "match_cmdline"));
	assert_null(json_object_get(obj, "selectors"));
	json_decref(obj);

	/* Not valid UTF-8 cannot be JSON: NULL, not a corrupt document. */
	strcpy(r.command_regex, "\xff");
	assert_null(strategy_to_json(&r));
}

static void test_round_trip(void **state)
{
	const char *text =
	    "{\"id\": \"rt\", \"priority\": 3, \"execution_time\": 1000000,"
	    " \"pid\": 4, \"tid\": 5, \"command_regex\": \"^a|b$\","
	    " \"match_cmdline\": true, \"cgroup\": \"/k8s/pod\", \"selectors\":"
	    " [{\"key\": \"x.io/app\", \"value\": \"v\"}], \"namespaces\": [\"ns\"]}";
	struct strategy_rule a, b;
	char *dumped;
	json_t *obj;

	expect_ok(text, &a);
	a.source = STRATEGY_SRC_CLUSTER;
	obj = strategy_to_json(&a);
	assert_non_null(obj);
	assert_string_equal(json_string_value(json_object_get(obj, "source")), "cluster");
	dumped = json_dumps(obj, 0);
	json_decref(obj);
	expect_ok(dumped, &b);
	free(dumped);
	b.source = STRATEGY_SRC_CLUSTER;
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_source_names(void **state)
{
	assert_string_equal(strategy_source_name(STRATEGY_SRC_CONFIG), "config");
	assert_string_equal(strategy_source_name(STRATEGY_SRC_API), "api");
	assert_string_equal(strategy_source_name(STRATEGY_SRC_CLUSTER), "cluster");
	assert_string_equal(strategy_source_name((enum strategy_source)7), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_object),
	    cmocka_unit_test(test_priority_values),
	    cmocka_unit_test(test_pid_zero_is_unset),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_out_of_range_numbers),
	    cmocka_unit_test(test_unknown_and_duplicate_keys),
	    cmocka_unit_test(test_nul_in_strings),
	    cmocka_unit_test(test_too_long_strings),
	    cmocka_unit_test(test_too_many_selectors_and_namespaces),
	    cmocka_unit_test(test_bad_values_reach_validation),
	    cmocka_unit_test(test_bad_regexes),
	    cmocka_unit_test(test_non_object_documents),
	    cmocka_unit_test(test_syntax_errors_have_position),
	    cmocka_unit_test(test_deep_nesting_rejected_quickly),
	    cmocka_unit_test(test_depth_limit_exact),
	    cmocka_unit_test(test_brackets_in_strings_do_not_count),
	    cmocka_unit_test(test_too_large_text),
	    cmocka_unit_test(test_list_good),
	    cmocka_unit_test(test_list_empty),
	    cmocka_unit_test(test_list_shape),
	    cmocka_unit_test(test_list_messages_name_the_entry),
	    cmocka_unit_test(test_list_too_many),
	    cmocka_unit_test(test_to_json_only_set_fields),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_source_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
