// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/strategy/store.c: the one list of strategies. CRUD and each error
 * (-EINVAL, -EEXIST, -ENOENT, -EPERM, -ENOSPC, -EIO), precedence order (config first),
 * generated ids, the on-change callback and its rollback, the state file (round trip,
 * failed saves, corrupt files) and a crash test: a child saving in a loop is killed at
 * random moments, and the file must always load as one whole list.
 *
 * Each test gets its own directory under $TMPDIR (or /tmp), removed afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture_tree.h"
#include "strategy/store.h"
#include "strategy/strategy_json.h"

static char dir[PATH_MAX];
static char state_path[PATH_MAX + 64];
static char err[1024];
/* Rule arrays of STRATEGY_MAX_RULES are ~1 MiB each: static, not on the stack. */
static struct strategy_rule out[STRATEGY_MAX_RULES], many[STRATEGY_MAX_RULES + 1];
static struct strategy_rule before[STRATEGY_MAX_RULES];

static int setup_dir(void **state)
{
	if (tree_make(dir, sizeof(dir), "gthulhu-store"))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	return 0;
}

static int teardown_dir(void **state)
{
	return tree_remove(dir);
}

static struct strategy_rule rule(const char *id, int32_t pid, uint32_t prio)
{
	struct strategy_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.pid = pid;
	r.effect.priority = prio;
	return r;
}

/* Every kind of field set, so a round trip through the file checks them all. */
static struct strategy_rule rich_rule(const char *id)
{
	struct strategy_rule r = rule(id, 77, 4);

	r.tid = 78;
	strcpy(r.command_regex, "^(java|python)[0-9.]*$");
	r.match_cmdline = true;
	strcpy(r.cgroup, "/kubepods.slice/");
	strcpy(r.selectors[0].key, "app.kubernetes.io/name");
	strcpy(r.selectors[0].value, "web");
	strcpy(r.selectors[1].key, "tier");
	r.nr_selectors = 2;
	strcpy(r.namespaces[0], "default");
	strcpy(r.namespaces[1], "prod-1");
	r.nr_namespaces = 2;
	r.effect.execution_time_ns = 3000000;
	return r;
}

static size_t list(struct strategy_store *st)
{
	return strategy_store_list(st, out, STRATEGY_MAX_RULES);
}

static void expect_ids(struct strategy_store *st, const char *const *ids, size_t n)
{
	assert_int_equal(list(st), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(out[i].id, ids[i]);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- changes and their errors ----------------------------------------------------------- */

static void test_add_get_list_delete(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule r = rule("", 10, 3), got;
	char id[STRATEGY_ID_MAX];

	assert_non_null(st);
	assert_int_equal(list(st), 0);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-1");
	r = rule("web", 11, 20);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "web");

	assert_int_equal(strategy_store_get(st, "web", &got), 0);
	assert_int_equal(got.pid, 11);
	assert_int_equal(got.effect.priority, 20);
	assert_int_equal(got.source, STRATEGY_SRC_API);
	assert_int_equal(strategy_store_get(st, "nope", &got), -ENOENT);

	expect_ids(st, (const char *const[]){"s-1", "web"}, 2);
	/* A short buffer gets what fits; the count is still the total. */
	assert_int_equal(strategy_store_list(st, out, 1), 2);
	assert_int_equal(strategy_store_list(st, NULL, 0), 2);

	assert_int_equal(strategy_store_delete(st, "s-1", err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"web"}, 1);
	assert_int_equal(strategy_store_delete(st, "s-1", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no strategy 's-1'"));
	assert_int_equal(strategy_store_get(st, "s-1", &got), -ENOENT);
	strategy_store_free(st);
}

static void test_add_errors(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule r = rule("web", 10, 3);

	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "'web' exists"));

	r = rule("x", -4, 3);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pid: "));
	r = rule("x", 4, 0);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs an effect"));
	r = rule("bad id", 4, 1);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id: "));
	/* config-N ids are the config file's, even before it uses them. */
	r = rule("config-9", 4, 1);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "config-file"));

	assert_int_equal(list(st), 1);
	strategy_store_free(st);
}

static void test_generated_ids_never_reused(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule r = rule("", 10, 3);
	char id[STRATEGY_ID_MAX];
	bool created;

	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-1");
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-2");
	assert_int_equal(strategy_store_delete(st, "s-2", err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-3");
	/* A client-chosen id in the generated form moves the counter past it. */
	r = rule("s-10", 10, 3);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	r = rule("", 10, 3);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-11");
	assert_int_equal(strategy_store_put(st, "s-20", &r, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_int_equal(strategy_store_delete(st, "s-20", err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-21");
	/* Lookalikes are left alone. */
	r = rule("s-x9", 10, 3);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	r = rule("s-99999999999999999999999", 10, 3);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	r = rule("", 10, 3);
	assert_int_equal(strategy_store_add(st, &r, id, err, sizeof(err)), 0);
	assert_string_equal(id, "s-22");
	strategy_store_free(st);
}

static void test_put(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule r = rule("ignored", 10, 3), cfg = rule("", 1, 1), got;
	bool created = true;

	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_put(st, "a", &r, &created, err, sizeof(err)), 0);
	assert_true(created);
	assert_int_equal(strategy_store_get(st, "a", &got), 0);
	assert_string_equal(got.id, "a"); /* the rule keeps the id it was put under */
	assert_int_equal(strategy_store_get(st, "ignored", &got), -ENOENT);
	r = rule("", 20, 3);
	assert_int_equal(strategy_store_put(st, "b", &r, &created, err, sizeof(err)), 0);

	/* Replacing keeps the place in the list. */
	r = rule("", 99, 7);
	assert_int_equal(strategy_store_put(st, "a", &r, &created, err, sizeof(err)), 0);
	assert_false(created);
	expect_ids(st, (const char *const[]){"config-1", "a", "b"}, 3);
	assert_int_equal(out[1].pid, 99);
	assert_int_equal(out[1].effect.priority, 7);

	assert_int_equal(strategy_store_put(st, "config-1", &r, &created, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "config file"));
	assert_int_equal(strategy_store_put(st, "config-77", &r, &created, err, sizeof(err)),
			 -EPERM);
	assert_int_equal(strategy_store_put(st, "b/c", &r, &created, err, sizeof(err)), -EINVAL);
	assert_int_equal(strategy_store_put(st, "", &r, &created, err, sizeof(err)), -EINVAL);
	assert_int_equal(strategy_store_put(st, NULL, &r, &created, err, sizeof(err)), -EINVAL);
	r = rule("", 0, 7);
	assert_int_equal(strategy_store_put(st, "a", &r, &created, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs a matcher"));
	assert_int_equal(strategy_store_get(st, "a", &got), 0);
	assert_int_equal(got.pid, 99); /* unchanged */
	strategy_store_free(st);
}

static void test_config_rules_are_read_only(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule cfg[2] = {rule("whatever", 1, 1), rule("", 2, 2)}, got;

	cfg[0].line = 12;
	assert_int_equal(strategy_store_set_config(st, cfg, 2, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_get(st, "config-1", &got), 0);
	assert_int_equal(got.source, STRATEGY_SRC_CONFIG);
	assert_int_equal(got.pid, 1);
	assert_int_equal(got.line, 12);
	assert_int_equal(strategy_store_delete(st, "config-2", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "SIGHUP"));
	assert_int_equal(strategy_store_delete(st, "config-3", err, sizeof(err)), -ENOENT);
	assert_int_equal(list(st), 2);

	/* An invalid config rule: nothing changes. */
	cfg[1].pid = -1;
	assert_int_equal(strategy_store_set_config(st, cfg, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "strategies[1]: pid: "));
	assert_int_equal(list(st), 2);
	assert_int_equal(out[1].pid, 2);
	strategy_store_free(st);
}

static void test_order_config_first(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule cfg[2] = {rule("", 1, 1), rule("", 2, 2)};
	struct strategy_rule a = rule("a", 10, 1), b = rule("b", 11, 1);

	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_set_config(st, cfg, 2, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &b, NULL, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "config-2", "a", "b"}, 4);
	assert_int_equal(out[1].pid, 2);

	/* A reload with fewer rules; the API ones stay, in creation order. */
	cfg[0] = rule("", 5, 1);
	assert_int_equal(strategy_store_set_config(st, cfg, 1, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "a", "b"}, 3);
	assert_int_equal(out[0].pid, 5);
	assert_int_equal(strategy_store_set_config(st, NULL, 0, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"a", "b"}, 2);
	strategy_store_free(st);
}

static struct strategy_rule cluster_rule(const char *name, uint32_t prio)
{
	struct strategy_rule r = rule("", 0, prio);

	snprintf(r.id, sizeof(r.id), STRATEGY_CLUSTER_ID_PREFIX "%s", name);
	strcpy(r.namespaces[0], "telco");
	r.nr_namespaces = 1;
	return r;
}

/* Cluster strategies come last, replace each other as a set, and are read-only here. */
static void test_cluster_rules(void **state)
{
	struct strategy_store *st = strategy_store_new(state_path);
	struct strategy_rule cfg = rule("", 1, 1), a = rule("a", 10, 1);
	struct strategy_rule cl[2] = {cluster_rule("upf", 20), cluster_rule("batch", 1)};
	struct strategy_rule k8s_api = rule("k8s-mine", 11, 1);

	assert_int_equal(strategy_store_set_cluster(st, cl, 2, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "a", "k8s-upf", "k8s-batch"}, 4);
	assert_int_equal(out[2].source, STRATEGY_SRC_CLUSTER);
	assert_int_equal(strategy_store_delete(st, "k8s-upf", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "cluster"));
	assert_int_equal(strategy_store_put(st, "k8s-upf", &a, NULL, err, sizeof(err)), -EPERM);
	/* The API cannot take a cluster id for itself. */
	assert_int_equal(strategy_store_add(st, &k8s_api, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "k8s-"));

	/* An invalid or misnamed member refuses the whole set; the old one stays. */
	cl[1].effect.priority = 99;
	assert_int_equal(strategy_store_set_cluster(st, cl, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "k8s-batch"));
	cl[1] = cluster_rule("upf", 3);
	assert_int_equal(strategy_store_set_cluster(st, cl, 2, err, sizeof(err)), -EEXIST);
	cl[1] = cluster_rule("x", 3);
	strcpy(cl[1].id, "x");
	assert_int_equal(strategy_store_set_cluster(st, cl, 2, err, sizeof(err)), -EINVAL);
	expect_ids(st, (const char *const[]){"config-1", "a", "k8s-upf", "k8s-batch"}, 4);

	/* Fewer, then none; API strategies are untouched, and only they are saved. */
	assert_int_equal(strategy_store_set_cluster(st, cl, 1, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "a", "k8s-upf"}, 3);
	assert_int_equal(strategy_store_set_cluster(st, NULL, 0, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "a"}, 2);
	strategy_store_free(st);
	st = strategy_store_new(state_path);
	assert_int_equal(strategy_store_load(st, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"a"}, 1);
	strategy_store_free(st);
}

static void test_enospc(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule r = rule("", 3, 1);
	size_t i;
	bool created;

	for (i = 0; i < STRATEGY_MAX_RULES + 1; i++)
		many[i] = rule("", (int32_t)i + 1, 1);
	assert_int_equal(
	    strategy_store_set_config(st, many, STRATEGY_MAX_RULES + 1, err, sizeof(err)), -ENOSPC);
	assert_int_equal(list(st), 0);
	assert_int_equal(
	    strategy_store_set_config(st, many, STRATEGY_MAX_RULES - 6, err, sizeof(err)), 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(list(st), STRATEGY_MAX_RULES);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "at most 256"));
	assert_int_equal(strategy_store_put(st, "new", &r, &created, err, sizeof(err)), -ENOSPC);
	/* Replacing in place needs no room. */
	assert_int_equal(strategy_store_put(st, "s-1", &r, &created, err, sizeof(err)), 0);
	assert_false(created);
	assert_int_equal(strategy_store_replace_api(st, many, 7, err, sizeof(err)), -ENOSPC);
	assert_int_equal(strategy_store_replace_api(st, many, 6, err, sizeof(err)), 0);
	/* The config file cannot grow into the API's room either. */
	assert_int_equal(
	    strategy_store_set_config(st, many, STRATEGY_MAX_RULES - 5, err, sizeof(err)), -ENOSPC);
	assert_int_equal(list(st), STRATEGY_MAX_RULES);
	strategy_store_free(st);
}

static void test_replace_api(void **state)
{
	struct strategy_store *st = strategy_store_new(NULL);
	struct strategy_rule cfg = rule("", 1, 1), old = rule("old", 2, 1);
	struct strategy_rule rs[3] = {rule("", 10, 1), rule("keep", 11, 1), rule("", 12, 1)};

	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &old, NULL, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_replace_api(st, rs, 3, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "s-1", "keep", "s-2"}, 4);
	assert_int_equal(out[3].pid, 12);

	/* Reusing the id of an API strategy being replaced is fine. */
	rs[0] = rule("s-2", 20, 1);
	assert_int_equal(strategy_store_replace_api(st, rs, 1, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1", "s-2"}, 2);

	rs[0] = rule("dup", 1, 1);
	rs[1] = rule("dup", 2, 1);
	assert_int_equal(strategy_store_replace_api(st, rs, 2, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "strategies[1]: id: 'dup' also in strategies[0]"));
	rs[1] = rule("ok", -2, 1);
	assert_int_equal(strategy_store_replace_api(st, rs, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "strategies[1]: pid: "));
	rs[1] = rule("config-1", 2, 1);
	assert_int_equal(strategy_store_replace_api(st, rs, 2, err, sizeof(err)), -EPERM);
	expect_ids(st, (const char *const[]){"config-1", "s-2"}, 2);

	assert_int_equal(strategy_store_replace_api(st, NULL, 0, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"config-1"}, 1);
	strategy_store_free(st);
}

/* ---- the on-change callback ------------------------------------------------------------- */

struct seen {
	int calls;
	size_t n;
	char first_id[STRATEGY_ID_MAX];
	char last_id[STRATEGY_ID_MAX];
	int fail_with; /* returned by the callback */
};

static int on_change(const struct strategy_rule *rules, size_t n, void *ctx)
{
	struct seen *s = ctx;

	s->calls++;
	s->n = n;
	snprintf(s->first_id, sizeof(s->first_id), "%s", n ? rules[0].id : "");
	snprintf(s->last_id, sizeof(s->last_id), "%s", n ? rules[n - 1].id : "");
	return s->fail_with;
}

static void test_callback_sees_every_change(void **state)
{
	struct strategy_store *st = strategy_store_new(state_path);
	struct strategy_rule cfg = rule("", 1, 1), r = rule("a", 2, 2);
	struct seen s = {0};
	bool created;

	strategy_store_on_change(st, on_change, &s);
	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.first_id, "config-1");
	assert_string_equal(s.last_id, "a");
	assert_int_equal(strategy_store_put(st, "a", &r, &created, err, sizeof(err)), 0);
	assert_int_equal(s.calls, 3);
	assert_int_equal(strategy_store_delete(st, "a", err, sizeof(err)), 0);
	assert_int_equal(s.calls, 4);
	assert_int_equal(s.n, 1);
	/* A refused change does not reach the callback. */
	assert_int_equal(strategy_store_delete(st, "a", err, sizeof(err)), -ENOENT);
	assert_int_equal(s.calls, 4);
	strategy_store_free(st);
}

static void test_callback_error_rolls_back(void **state)
{
	struct strategy_store *st = strategy_store_new(state_path), *st2;
	struct strategy_rule cfg = rule("", 1, 1), a = rule("a", 2, 2), b = rule("b", 3, 3);
	struct seen s = {0};
	char saved[4096];
	bool created;

	strategy_store_on_change(st, on_change, &s);
	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	snprintf(saved, sizeof(saved), "%s", read_text(state_path));

	s.fail_with = -ENOMEM;
	assert_int_equal(strategy_store_add(st, &b, NULL, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "could not be applied"));
	assert_int_equal(strategy_store_put(st, "a", &b, &created, err, sizeof(err)), -ENOMEM);
	assert_int_equal(strategy_store_delete(st, "a", err, sizeof(err)), -ENOMEM);
	assert_int_equal(strategy_store_replace_api(st, &b, 1, err, sizeof(err)), -ENOMEM);
	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), -ENOMEM);
	s.fail_with = 5; /* a positive error is still an error */
	assert_int_equal(strategy_store_add(st, &b, NULL, err, sizeof(err)), -5);

	/* Memory and file as before. */
	expect_ids(st, (const char *const[]){"a"}, 1);
	assert_int_equal(out[0].pid, 2);
	assert_string_equal(read_text(state_path), saved);
	st2 = strategy_store_new(state_path);
	assert_int_equal(strategy_store_load(st2, err, sizeof(err)), 0);
	expect_ids(st2, (const char *const[]){"a"}, 1);

	/* The callback failing on load keeps what the store had. */
	s.fail_with = -EINVAL;
	strategy_store_on_change(st2, on_change, &s);
	assert_int_equal(strategy_store_load(st2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, state_path));
	expect_ids(st2, (const char *const[]){"a"}, 1);
	strategy_store_free(st2);
	strategy_store_free(st);
}

/* ---- the state file --------------------------------------------------------------------- */

static void test_persistence_round_trip(void **state)
{
	struct strategy_store *st = strategy_store_new(state_path), *st2;
	struct strategy_rule cfg = rule("", 1, 1), rs[3] = {rich_rule("rich"), rule("", 5, 1)};
	struct stat sb;
	size_t n;

	rs[2] = rule("", 6, 0);
	rs[2].effect.execution_time_ns = 10000;
	assert_int_equal(strategy_store_set_config(st, &cfg, 1, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(strategy_store_add(st, &rs[i], NULL, err, sizeof(err)), 0);
	n = strategy_store_list(st, before, STRATEGY_MAX_RULES);
	assert_int_equal(n, 4);

	assert_int_equal(stat(state_path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(strstr(read_text(state_path), "\"version\": 1"));
	assert_null(strstr(read_text(state_path), "config-1")); /* config rules stay out */

	st2 = strategy_store_new(state_path);
	assert_int_equal(strategy_store_load(st2, err, sizeof(err)), 0);
	assert_int_equal(list(st2), 3);
	for (size_t i = 0; i < 3; i++)
		assert_memory_equal(&out[i], &before[i + 1], sizeof(out[i]));
	/* The next generated id continues after the loaded ones. */
	{
		char id[STRATEGY_ID_MAX];

		assert_int_equal(strategy_store_add(st2, &rs[1], id, err, sizeof(err)), 0);
		assert_string_equal(id, "s-3");
	}
	strategy_store_free(st2);
	strategy_store_free(st);
}

static void test_missing_file_and_directory(void **state)
{
	struct strategy_store *st;
	struct strategy_rule r = rule("", 5, 1);
	char path[PATH_MAX + 128], sub[PATH_MAX + 64];
	struct stat sb;

	st = strategy_store_new(state_path);
	assert_int_equal(strategy_store_load(st, err, sizeof(err)), 0);
	assert_int_equal(list(st), 0);
	strategy_store_free(st);

	/* No state directory yet, nor its parents (a bare /var): made, the last one private. */
	snprintf(sub, sizeof(sub), "%s/var/lib/state", dir);
	snprintf(path, sizeof(path), "%s/strategies.json", sub);
	st = strategy_store_new(path);
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &sb), 0);
	snprintf(sub, sizeof(sub), "%s/var/lib", dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0755);
	strategy_store_free(st);

	/* Not persisted at all: changes work, load is a no-op. */
	st = strategy_store_new("");
	assert_int_equal(strategy_store_add(st, &r, NULL, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_load(st, err, sizeof(err)), 0);
	assert_int_equal(list(st), 1);
	strategy_store_free(st);
}

static void expect_store_unchanged(struct strategy_store *st, size_t n)
{
	assert_int_equal(list(st), n);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(&out[i], &before[i], sizeof(out[i]));
}

static void test_save_failure_changes_nothing(void **state)
{
	struct strategy_rule a = rule("a", 2, 2), b = rule("b", 3, 3);
	char path[PATH_MAX + 128], sub[PATH_MAX + 64];
	struct strategy_store *st;
	struct seen s = {0};
	bool created;
	size_t n;

	/* The state file's parent is a regular file. */
	snprintf(sub, sizeof(sub), "%s/plain", dir);
	write_file(sub, "not a directory\n");
	snprintf(path, sizeof(path), "%s/state.json", sub);
	st = strategy_store_new(path);
	strategy_store_on_change(st, on_change, &s);
	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, path));
	assert_int_equal(list(st), 0);
	assert_int_equal(s.calls, 0);
	strategy_store_free(st);

	/* A directory that works, then is replaced by a file. */
	snprintf(sub, sizeof(sub), "%s/gone", dir);
	snprintf(path, sizeof(path), "%s/state.json", sub);
	st = strategy_store_new(path);
	strategy_store_on_change(st, on_change, &s);
	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	assert_int_equal(s.calls, 1);
	n = strategy_store_list(st, before, STRATEGY_MAX_RULES);
	assert_int_equal(remove(path), 0);
	assert_int_equal(rmdir(sub), 0);
	write_file(sub, "now a file\n");

	assert_int_equal(strategy_store_add(st, &b, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, path));
	expect_store_unchanged(st, n);
	assert_int_equal(strategy_store_put(st, "a", &b, &created, err, sizeof(err)), -EIO);
	expect_store_unchanged(st, n);
	assert_int_equal(strategy_store_delete(st, "a", err, sizeof(err)), -EIO);
	expect_store_unchanged(st, n);
	assert_int_equal(strategy_store_replace_api(st, &b, 1, err, sizeof(err)), -EIO);
	expect_store_unchanged(st, n);
	assert_int_equal(s.calls, 1); /* a failed save never reaches the callback */
	/* Config rules are not saved, so they still change. */
	assert_int_equal(strategy_store_set_config(st, &b, 1, err, sizeof(err)), 0);
	strategy_store_free(st);

	/* The state path is a directory: the rename fails and the temporary file goes. */
	st = strategy_store_new(dir);
	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "rename"));
	snprintf(path, sizeof(path), "%s.tmp.%d", dir, (int)getpid());
	assert_int_equal(access(path, F_OK), -1);
	strategy_store_free(st);
}

/* The store holds "a" and "b"; @text replaces the file; load must fail, keep both. */
static void expect_corrupt(const char *text, const char *part)
{
	struct strategy_store *st = strategy_store_new(state_path);
	struct strategy_rule a = rule("a", 2, 2), b = rule("b", 3, 3);
	size_t n;

	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_add(st, &b, NULL, err, sizeof(err)), 0);
	n = strategy_store_list(st, before, STRATEGY_MAX_RULES);
	write_file(state_path, text);
	err[0] = '\0';
	assert_int_equal(strategy_store_load(st, err, sizeof(err)), -1);
	if (strncmp(err, state_path, strlen(state_path)) || !strstr(err, part))
		fail_msg("for %s: message '%s' should name the file and contain '%s'", text, err,
			 part);
	expect_store_unchanged(st, n);
	/* The file is left as it is, for the operator to look at. */
	{
		struct stat sb;

		assert_int_equal(stat(state_path, &sb), 0);
		assert_int_equal((size_t)sb.st_size, strlen(text));
		if (strlen(text) < 4096)
			assert_string_equal(read_text(state_path), text);
	}
	strategy_store_free(st);
}

static void test_corrupt_state_file(void **state)
{
	expect_corrupt("{\"version\": 1, \"strategies\": [{\"id\": \"x\", \"pid\"", "line 1");
	expect_corrupt("", "line");
	expect_corrupt("{\"version\": 2, \"strategies\": []}", "version: expected 1");
	expect_corrupt("{\"version\": \"1\", \"strategies\": []}", "version: expected 1");
	expect_corrupt("{\"strategies\": []}", "version: expected 1");
	expect_corrupt("[]", "expected an object");
	expect_corrupt("{\"version\": 1}", "strategies: missing");
	expect_corrupt("{\"version\": 1, \"strategies\": [], \"more\": 1}", "unknown key 'more'");
	expect_corrupt("{\"version\": 1, \"strategies\": [{\"id\": \"x\", \"pid\": -1, "
		       "\"priority\": 1}]}",
		       "strategies[0].pid: ");
	expect_corrupt("{\"version\": 1, \"strategies\": [{\"pid\": 1, \"priority\": 1}]}",
		       "strategies[0].id: missing");
	expect_corrupt("{\"version\": 1, \"strategies\": [{\"id\": \"config-1\", \"pid\": 1, "
		       "\"priority\": 1}]}",
		       "strategies[0].id: 'config-1'");
	expect_corrupt("{\"version\": 1, \"strategies\": [{\"id\": \"x\", \"pid\": 1, "
		       "\"priority\": 1}, {\"id\": \"x\", \"pid\": 2, \"priority\": 1}]}",
		       "strategies[1].id: 'x' also in strategies[0]");
	expect_corrupt("{\"version\": 1, \"version\": 1, \"strategies\": []}", "duplicate");
}

static void test_state_file_too_large(void **state)
{
	size_t len = STRATEGY_JSON_MAX_BYTES + 10;
	char *text = malloc(len + 1);

	assert_non_null(text);
	memset(text, ' ', len);
	text[len] = '\0';
	memcpy(text, "{\"version\": 1, \"strategies\": []}", 32);
	expect_corrupt(text, "at most 1048576");
	free(text);
}

static void test_unreadable_state_path(void **state)
{
	struct strategy_store *st = strategy_store_new(dir); /* a directory */

	assert_int_equal(strategy_store_load(st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, dir));
	strategy_store_free(st);
}

static void test_load_ignores_stray_tmp_files(void **state)
{
	struct strategy_store *st = strategy_store_new(state_path);
	struct strategy_rule a = rule("a", 2, 2);
	char tmp[PATH_MAX + 128];

	assert_int_equal(strategy_store_add(st, &a, NULL, err, sizeof(err)), 0);
	strategy_store_free(st);
	snprintf(tmp, sizeof(tmp), "%s.tmp.999999", state_path);
	write_file(tmp, "{\"version\": 1, \"strat");
	st = strategy_store_new(state_path);
	assert_int_equal(strategy_store_load(st, err, sizeof(err)), 0);
	expect_ids(st, (const char *const[]){"a"}, 1);
	strategy_store_free(st);
}

/* ---- crash test ------------------------------------------------------------------------- */

#define CRASH_ROUNDS 50
#define LIST_A	     3
#define LIST_B	     40

static void fill_lists(struct strategy_rule *a, struct strategy_rule *b)
{
	char id[16];

	for (int i = 0; i < LIST_A; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		a[i] = rich_rule(id);
		a[i].pid = 100 + i;
	}
	for (int i = 0; i < LIST_B; i++) {
		snprintf(id, sizeof(id), "b%d", i);
		b[i] = rich_rule(id);
		b[i].pid = 200 + i;
	}
}

/* 'a' or 'b' when the loaded list is exactly one of them, else a failure. */
static char which_list(const struct strategy_rule *a, const struct strategy_rule *b)
{
	struct strategy_store *st = strategy_store_new(state_path);
	size_t n;
	char got = '?';

	assert_non_null(st);
	if (strategy_store_load(st, err, sizeof(err)))
		fail_msg("state file does not load after a kill: %s", err);
	n = list(st);
	if (n == LIST_A && !memcmp(out, a, LIST_A * sizeof(*a)))
		got = 'a';
	else if (n == LIST_B && !memcmp(out, b, LIST_B * sizeof(*b)))
		got = 'b';
	strategy_store_free(st);
	if (got == '?')
		fail_msg("state file holds %zu strategies, neither list", n);
	return got;
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void test_crash_while_saving(void **state)
{
	static struct strategy_rule a[LIST_A], b[LIST_B];
	struct strategy_store *st = strategy_store_new(state_path);
	int seen_a = 0, seen_b = 0, strays = 0;
	double t0, save_us;
	struct dirent *de;
	DIR *d;

	fill_lists(a, b);
	for (int i = 0; i < LIST_A; i++)
		a[i].source = STRATEGY_SRC_API;
	for (int i = 0; i < LIST_B; i++)
		b[i].source = STRATEGY_SRC_API;
	/*
	 * The file exists before the first kill: it must always be one whole list. Timing one
	 * save (two fsyncs) here scales the kill delays to this disk, so kills land anywhere
	 * in the child's first few saves whether fsync takes 0.1 ms or 10 ms.
	 */
	assert_int_equal(strategy_store_replace_api(st, b, LIST_B, err, sizeof(err)), 0);
	t0 = now_us();
	assert_int_equal(strategy_store_replace_api(st, a, LIST_A, err, sizeof(err)), 0);
	save_us = now_us() - t0;
	strategy_store_free(st);
	srand((unsigned int)getpid());

	for (int round = 0; round < CRASH_ROUNDS; round++) {
		long max_us = 2000 + (long)(10 * save_us);
		long delay_us = rand() % max_us;
		struct timespec delay = {delay_us / 1000000, (delay_us % 1000000) * 1000};
		pid_t child = fork();
		int status;

		assert_true(child >= 0);
		if (child == 0) {
			struct strategy_store *cs = strategy_store_new(state_path);

			/* b first: the file holds a, so b on disk proves a save completed. */
			for (unsigned long k = 0;; k++)
				if (strategy_store_replace_api(cs, k % 2 ? a : b,
							       k % 2 ? LIST_A : LIST_B, NULL, 0))
					_exit(3);
		}
		nanosleep(&delay, NULL);
		assert_int_equal(kill(child, SIGKILL), 0);
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFSIGNALED(status)); /* not an early exit from a failed save */
		if (which_list(a, b) == 'a')
			seen_a++;
		else
			seen_b++;
		/* Put a back, so each round starts from the same file. */
		st = strategy_store_new(state_path);
		assert_int_equal(strategy_store_replace_api(st, a, LIST_A, err, sizeof(err)), 0);
		strategy_store_free(st);
	}
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		strays += strstr(de->d_name, ".tmp.") != NULL;
	closedir(d);
	print_message("crash test: one save %.0f us; %d kills left list A, %d list B; %d stray "
		      "temporary files\n",
		      save_us, seen_a, seen_b, strays);
	assert_int_equal(seen_a + seen_b, CRASH_ROUNDS);
	/* Some kills came after a completed save, so they did land mid-loop. */
	assert_true(seen_b > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_get_list_delete, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_add_errors, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_generated_ids_never_reused, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_put, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_config_rules_are_read_only, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_order_config_first, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_cluster_rules, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_enospc, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_replace_api, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_callback_sees_every_change, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_callback_error_rolls_back, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_persistence_round_trip, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_missing_file_and_directory, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_save_failure_changes_nothing, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_corrupt_state_file, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_state_file_too_large, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_unreadable_state_path, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_load_ignores_stray_tmp_files, setup_dir,
					    teardown_dir),
	    cmocka_unit_test_setup_teardown(test_crash_while_saving, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
