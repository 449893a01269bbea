// SPDX-License-Identifier: GPL-2.0
/*
 * The strategy store (see store.h): one list of strategies, config-file ones first, then
 * API ones, then cluster ones, in two fixed arrays of STRATEGY_MAX_RULES allocated once.
 * A change is built in the spare array, saved (API strategies only), handed to the
 * on-change callback, and only then swapped in; any failure on the way leaves the store
 * and the state file as they were.
 *
 * The state file is {"version": 1, "strategies": [...]} (strategy_json.h), replaced
 * atomically: write "<path>.tmp.<pid>", fsync, rename over <path>, fsync the directory.
 * A crash at any moment leaves the old or the new file; a stray .tmp file is never read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"
#include "strategy/store.h"
#include "strategy/strategy_json.h"

#define STATE_VERSION	 1
#define CONFIG_ID_PREFIX "config-"
/* Generated ids are "s-<n>", n counting up from 1; see note_id(). */
#define GEN_ID_PREFIX "s-"

struct strategy_store {
	pthread_mutex_t lock;
	char *state_path; /* NULL: API strategies are not persisted */
	strategy_store_change_fn on_change;
	void *ctx;
	/* The list: nr_config, then nr_api, then nr_cluster rules. */
	struct strategy_rule *rules;
	size_t nr_config, nr_api, nr_cluster;
	/* Where the next list is built; swapped with rules when a change succeeds. */
	struct strategy_rule *next;
	/* The next generated id's number: above every "s-<n>" this store has seen. */
	unsigned long long next_gen;
};

static size_t total(const struct strategy_store *st)
{
	return st->nr_config + st->nr_api + st->nr_cluster;
}

struct strategy_store *strategy_store_new(const char *state_path)
{
	struct strategy_store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->rules = calloc(STRATEGY_MAX_RULES, sizeof(*st->rules));
	st->next = calloc(STRATEGY_MAX_RULES, sizeof(*st->next));
	if (state_path && state_path[0])
		st->state_path = strdup(state_path);
	if (!st->rules || !st->next || (state_path && state_path[0] && !st->state_path) ||
	    pthread_mutex_init(&st->lock, NULL)) {
		free(st->rules);
		free(st->next);
		free(st->state_path);
		free(st);
		return NULL;
	}
	st->next_gen = 1;
	return st;
}

void strategy_store_free(struct strategy_store *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st->rules);
	free(st->next);
	free(st->state_path);
	free(st);
}

void strategy_store_on_change(struct strategy_store *st, strategy_store_change_fn fn, void *ctx)
{
	pthread_mutex_lock(&st->lock);
	st->on_change = fn;
	st->ctx = ctx;
	pthread_mutex_unlock(&st->lock);
}

/* ---- ids -------------------------------------------------------------------------------- */

static bool is_config_id(const char *id)
{
	return strncmp(id, CONFIG_ID_PREFIX, strlen(CONFIG_ID_PREFIX)) == 0;
}

static bool is_cluster_id(const char *id)
{
	return strncmp(id, STRATEGY_CLUSTER_ID_PREFIX, strlen(STRATEGY_CLUSTER_ID_PREFIX)) == 0;
}

/*
 * Every id that enters the store passes here: an "s-<n>" id (generated in an earlier run,
 * or chosen by a client) moves the counter past n, so a generated id can never equal an
 * id the store holds or has held during this run.
 */
static void note_id(struct strategy_store *st, const char *id)
{
	const char *p = id + strlen(GEN_ID_PREFIX);
	unsigned long long n = 0;

	if (strncmp(id, GEN_ID_PREFIX, strlen(GEN_ID_PREFIX)) || !*p)
		return;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return;
		if (n > (ULLONG_MAX - 10) / 10)
			return; /* beyond any number the counter will reach */
		n = n * 10 + (unsigned long long)(*p - '0');
	}
	if (n >= st->next_gen)
		st->next_gen = n + 1;
}

static void generate_id(struct strategy_store *st, char id[STRATEGY_ID_MAX])
{
	snprintf(id, STRATEGY_ID_MAX, GEN_ID_PREFIX "%llu", st->next_gen++);
}

static ssize_t find(const struct strategy_store *st, const char *id)
{
	for (size_t i = 0; i < total(st); i++)
		if (strcmp(st->rules[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* ---- the state file --------------------------------------------------------------------- */

/* The directory holding @path ("." for a bare name), into @dir of PATH_MAX bytes. */
static int parent_dir(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash) {
		strcpy(dir, ".");
		return 0;
	}
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= PATH_MAX)
		return -1;
	memcpy(dir, path, len);
	dir[len] = '\0';
	return 0;
}

/*
 * mkdir -p @dir: missing parents get 0755 (like /var/lib on a bare system), @dir itself
 * 0700. 0, or -1 with errno.
 */
static int make_dirs(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) && errno != EEXIST ? -1 : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The state file's text for @n API rules; NULL when out of memory. */
static char *state_text(const struct strategy_rule *rules, size_t n)
{
	json_t *doc = json_object(), *list = json_array();
	char *text = NULL;
	bool ok = doc && list;

	for (size_t i = 0; ok && i < n; i++) {
		json_t *obj = strategy_to_json(&rules[i]);

		if (!obj || json_array_append_new(list, obj))
			ok = false;
	}
	if (ok && !json_object_set_new(doc, "version", json_integer(STATE_VERSION)) &&
	    !json_object_set(doc, "strategies", list))
		text = json_dumps(doc, JSON_INDENT(2));
	json_decref(list);
	json_decref(doc);
	return text;
}

/* Replace the state file with @n API rules, atomically. 0 or -EIO (the file unchanged). */
static int save(const struct strategy_store *st, const struct strategy_rule *rules, size_t n,
		char *err, size_t errlen)
{
	const char *path = st->state_path, *what;
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	char *text = state_text(rules, n);
	int fd = -1, saved_errno;

	if (!text) {
		err_printf(err, errlen, "%s: cannot encode the strategies (out of memory)", path);
		return -EIO;
	}
	what = "cannot name its directory";
	errno = ENAMETOOLONG;
	if (parent_dir(path, dir) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		goto fail;
	/* A fresh install has no state directory yet: it is made, private. */
	what = "cannot create its directory";
	if (make_dirs(dir))
		goto fail;
	what = "cannot create the temporary file";
	fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	what = "cannot write";
	if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1))
		goto fail_unlink;
	what = "cannot sync";
	if (fsync(fd))
		goto fail_unlink;
	what = "cannot close";
	if (close(fd)) {
		fd = -1;
		goto fail_unlink;
	}
	/*
	 * The rename is durable only once the directory is synced. Open it before renaming,
	 * so the one failure left after the rename is a disk error on that fsync (then the
	 * new file may be in place while the change is reported failed: it cannot be undone).
	 */
	what = "cannot open its directory";
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto fail_unlink;
	what = "cannot rename the temporary file over it";
	if (rename(tmp, path))
		goto fail_unlink;
	what = "cannot sync its directory";
	if (fsync(fd)) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
		goto fail;
	}
	close(fd);
	free(text);
	return 0;

fail_unlink:
	saved_errno = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved_errno;
fail:
	err_printf(err, errlen, "%s: %s: %s", path, what, strerror(errno));
	free(text);
	return -EIO;
}

/* ---- changes ---------------------------------------------------------------------------- */

/*
 * Make st->next (nr_config, nr_api, nr_cluster rules) the store's list: save it when the
 * API part changed, hand it to the callback, swap it in. On a callback error the old API
 * list is saved back, so the file keeps matching the store.
 */
static int commit(struct strategy_store *st, size_t nr_config, size_t nr_api, size_t nr_cluster,
		  bool api_changed, char *err, size_t errlen)
{
	bool saved = api_changed && st->state_path;
	struct strategy_rule *old;
	int rc;

	if (saved) {
		rc = save(st, st->next + nr_config, nr_api, err, errlen);
		if (rc)
			return rc;
	}
	if (st->on_change) {
		rc = st->on_change(st->next, nr_config + nr_api + nr_cluster, st->ctx);
		if (rc) {
			char why[256] = "";

			rc = rc < 0 ? rc : -rc;
			if (saved &&
			    save(st, st->rules + st->nr_config, st->nr_api, why, sizeof(why)))
				err_printf(
				    err, errlen,
				    "the strategies could not be applied (%s), and the state "
				    "file could not be restored: %s",
				    strerror(-rc), why);
			else
				err_printf(err, errlen, "the strategies could not be applied (%s)",
					   strerror(-rc));
			return rc;
		}
	}
	old = st->rules;
	st->rules = st->next;
	st->next = old;
	st->nr_config = nr_config;
	st->nr_api = nr_api;
	st->nr_cluster = nr_cluster;
	return 0;
}

/* Copy the current config, API and cluster parts into st->next at the given offsets. */
static void copy_part(struct strategy_store *st, size_t to, size_t from, size_t n)
{
	if (n)
		memcpy(&st->next[to], &st->rules[from], n * sizeof(*st->rules));
}

/* Validate an API rule and settle its id rules; 0 or -errno with a message. */
static int check_api_rule(struct strategy_rule *r, char *err, size_t errlen)
{
	r->source = STRATEGY_SRC_API;
	r->line = 0;
	if (strategy_rule_validate(r, err, errlen))
		return -EINVAL;
	if (r->id[0] && is_config_id(r->id)) {
		err_printf(err, errlen,
			   "id: '%s': ids starting with \"" CONFIG_ID_PREFIX
			   "\" belong to config-file "
			   "strategies",
			   r->id);
		return -EPERM;
	}
	if (r->id[0] && is_cluster_id(r->id)) {
		err_printf(err, errlen,
			   "id: '%s': ids starting with \"" STRATEGY_CLUSTER_ID_PREFIX
			   "\" belong to cluster strategies (SchedulingStrategy objects)",
			   r->id);
		return -EPERM;
	}
	return 0;
}

int strategy_store_add(struct strategy_store *st, const struct strategy_rule *rule,
		       char id_out[STRATEGY_ID_MAX], char *err, size_t errlen)
{
	struct strategy_rule r = *rule;
	size_t api_end;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = check_api_rule(&r, err, errlen);
	if (rc)
		goto out;
	if (r.id[0] && find(st, r.id) >= 0) {
		err_printf(err, errlen, "id: a strategy '%s' exists", r.id);
		rc = -EEXIST;
		goto out;
	}
	if (total(st) + 1 > STRATEGY_MAX_RULES) {
		err_printf(err, errlen, "there are %zu strategies, at most %d", total(st),
			   STRATEGY_MAX_RULES);
		rc = -ENOSPC;
		goto out;
	}
	if (r.id[0])
		note_id(st, r.id);
	else
		generate_id(st, r.id);
	api_end = st->nr_config + st->nr_api;
	copy_part(st, 0, 0, api_end);
	st->next[api_end] = r;
	copy_part(st, api_end + 1, api_end, st->nr_cluster);
	rc = commit(st, st->nr_config, st->nr_api + 1, st->nr_cluster, true, err, errlen);
	if (!rc && id_out)
		memcpy(id_out, r.id, STRATEGY_ID_MAX);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int strategy_store_put(struct strategy_store *st, const char *id, const struct strategy_rule *rule,
		       bool *created, char *err, size_t errlen)
{
	struct strategy_rule r = *rule;
	ssize_t at;
	int rc;

	if (created)
		*created = false;
	if (!id || !strategy_id_valid(id)) {
		err_printf(err, errlen, "id: must be 1 to 63 characters of A-Z a-z 0-9 . _ -");
		return -EINVAL;
	}
	snprintf(r.id, sizeof(r.id), "%s", id);
	pthread_mutex_lock(&st->lock);
	at = find(st, id);
	if (at >= 0 && st->rules[at].source != STRATEGY_SRC_API) {
		err_printf(err, errlen,
			   "id: '%s' comes from the %s; change it there (config file: then SIGHUP)",
			   id,
			   st->rules[at].source == STRATEGY_SRC_CONFIG ? "config file" : "cluster");
		rc = -EPERM;
		goto out;
	}
	rc = check_api_rule(&r, err, errlen);
	if (rc)
		goto out;
	if (at >= 0) {
		copy_part(st, 0, 0, total(st));
		st->next[at] = r;
		rc = commit(st, st->nr_config, st->nr_api, st->nr_cluster, true, err, errlen);
		goto out;
	}
	if (total(st) + 1 > STRATEGY_MAX_RULES) {
		err_printf(err, errlen, "there are %zu strategies, at most %d", total(st),
			   STRATEGY_MAX_RULES);
		rc = -ENOSPC;
		goto out;
	}
	note_id(st, r.id);
	{
		size_t api_end = st->nr_config + st->nr_api;

		copy_part(st, 0, 0, api_end);
		st->next[api_end] = r;
		copy_part(st, api_end + 1, api_end, st->nr_cluster);
	}
	rc = commit(st, st->nr_config, st->nr_api + 1, st->nr_cluster, true, err, errlen);
	if (!rc && created)
		*created = true;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int strategy_store_delete(struct strategy_store *st, const char *id, char *err, size_t errlen)
{
	ssize_t at;
	int rc;

	pthread_mutex_lock(&st->lock);
	at = id ? find(st, id) : -1;
	if (at < 0) {
		err_printf(err, errlen, "id: no strategy '%s'", id ? id : "");
		rc = -ENOENT;
	} else if (st->rules[at].source != STRATEGY_SRC_API) {
		err_printf(err, errlen,
			   "id: '%s' comes from the %s; change it there (config file: then SIGHUP)",
			   id,
			   st->rules[at].source == STRATEGY_SRC_CONFIG ? "config file" : "cluster");
		rc = -EPERM;
	} else {
		copy_part(st, 0, 0, (size_t)at);
		copy_part(st, (size_t)at, (size_t)at + 1, total(st) - (size_t)at - 1);
		rc = commit(st, st->nr_config, st->nr_api - 1, st->nr_cluster, true, err, errlen);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int strategy_store_replace_api(struct strategy_store *st, const struct strategy_rule *rules,
			       size_t n, char *err, size_t errlen)
{
	size_t i, j, base;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	base = st->nr_config;
	if (n > STRATEGY_MAX_RULES - st->nr_config - st->nr_cluster) {
		err_printf(err, errlen, "%zu strategies with the %zu others, at most %d", n,
			   st->nr_config + st->nr_cluster, STRATEGY_MAX_RULES);
		rc = -ENOSPC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct strategy_rule *r = &st->next[base + i];
		char why[384];
		ssize_t at;

		*r = rules[i];
		rc = check_api_rule(r, why, sizeof(why));
		if (rc) {
			err_printf(err, errlen, "strategies[%zu]: %s", i, why);
			goto out;
		}
		if (!r->id[0])
			continue;
		for (j = 0; j < i; j++)
			if (!strcmp(st->next[base + j].id, r->id)) {
				err_printf(err, errlen,
					   "strategies[%zu]: id: '%s' also in strategies[%zu]", i,
					   r->id, j);
				rc = -EEXIST;
				goto out;
			}
		/* The API ones are replaced; any other strategy keeps its id. */
		at = find(st, r->id);
		if (at >= 0 && st->rules[at].source != STRATEGY_SRC_API) {
			err_printf(err, errlen, "strategies[%zu]: id: a strategy '%s' exists", i,
				   r->id);
			rc = -EEXIST;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		note_id(st, st->next[base + i].id);
	for (i = 0; i < n; i++)
		if (!st->next[base + i].id[0])
			generate_id(st, st->next[base + i].id);
	copy_part(st, 0, 0, st->nr_config);
	copy_part(st, base + n, st->nr_config + st->nr_api, st->nr_cluster);
	rc = commit(st, st->nr_config, n, st->nr_cluster, true, err, errlen);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int strategy_store_set_config(struct strategy_store *st, const struct strategy_rule *rules,
			      size_t n, char *err, size_t errlen)
{
	size_t i, others;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	others = st->nr_api + st->nr_cluster;
	if (n > STRATEGY_MAX_RULES - others) {
		err_printf(err, errlen, "%zu strategies with the %zu others, at most %d", n, others,
			   STRATEGY_MAX_RULES);
		rc = -ENOSPC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct strategy_rule *r = &st->next[i];
		char why[384];

		*r = rules[i];
		snprintf(r->id, sizeof(r->id), CONFIG_ID_PREFIX "%zu", i + 1);
		r->source = STRATEGY_SRC_CONFIG;
		if (strategy_rule_validate(r, why, sizeof(why))) {
			err_printf(err, errlen, "strategies[%zu]: %s", i, why);
			rc = -EINVAL;
			goto out;
		}
	}
	copy_part(st, n, st->nr_config, others);
	rc = commit(st, n, st->nr_api, st->nr_cluster, false, err, errlen);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int strategy_store_set_cluster(struct strategy_store *st, const struct strategy_rule *rules,
			       size_t n, char *err, size_t errlen)
{
	size_t i, others, base;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	others = st->nr_config + st->nr_api;
	base = others;
	if (n > STRATEGY_MAX_RULES - others) {
		err_printf(err, errlen, "%zu cluster strategies with the %zu others, at most %d", n,
			   others, STRATEGY_MAX_RULES);
		rc = -ENOSPC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct strategy_rule *r = &st->next[base + i];
		char why[384];

		*r = rules[i];
		r->source = STRATEGY_SRC_CLUSTER;
		r->line = 0;
		if (!is_cluster_id(r->id) || !strategy_id_valid(r->id)) {
			err_printf(err, errlen, "cluster strategy '%s': id must start with \"%s\"",
				   r->id, STRATEGY_CLUSTER_ID_PREFIX);
			rc = -EINVAL;
			goto out;
		}
		if (strategy_rule_validate(r, why, sizeof(why))) {
			err_printf(err, errlen, "cluster strategy '%s': %s", r->id, why);
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(st->next[base + j].id, r->id) == 0) {
				err_printf(err, errlen, "cluster strategy '%s': duplicate id",
					   r->id);
				rc = -EEXIST;
				goto out;
			}
		}
	}
	copy_part(st, 0, 0, others);
	rc = commit(st, st->nr_config, st->nr_api, n, false, err, errlen);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */

/* The whole file, NUL-terminated, at most STRATEGY_JSON_MAX_BYTES + 1 bytes (so "too large"
 * is still seen); NULL with errno set (ENOENT: no file). */
static char *read_file(const char *path, size_t *len)
{
	size_t cap = STRATEGY_JSON_MAX_BYTES + 2, n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (n < cap - 1) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			free(buf);
			close(fd);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Parse @text into st->next after the config part; 0 or -1 with a message (no path). */
static int parse_state(struct strategy_store *st, const char *text, size_t len, size_t *n,
		       char *err, size_t errlen)
{
	size_t max = STRATEGY_MAX_RULES - st->nr_config - st->nr_cluster;
	struct strategy_rule *out = st->next + st->nr_config;
	enum strategy_json_status status;
	json_t *doc, *version;
	int rc = -1;

	doc = strategy_json_parse_text(text, len, &status, err, errlen);
	if (!doc)
		return -1;
	if (!json_is_object(doc)) {
		err_printf(err, errlen,
			   "expected an object {\"version\": 1, \"strategies\": [...]}");
		goto out;
	}
	version = json_object_get(doc, "version");
	if (!json_is_integer(version) || json_integer_value(version) != STATE_VERSION) {
		err_printf(err, errlen, "version: expected %d", STATE_VERSION);
		goto out;
	}
	json_object_del(doc, "version");
	if (strategies_from_json(doc, out, max, n, true, err, errlen) != SJ_OK)
		goto out;
	for (size_t i = 0; i < *n; i++) {
		out[i].source = STRATEGY_SRC_API;
		if (!out[i].id[0]) {
			err_printf(err, errlen, "strategies[%zu].id: missing", i);
			goto out;
		}
		if (is_config_id(out[i].id)) {
			err_printf(err, errlen,
				   "strategies[%zu].id: '%s': ids starting with \"" CONFIG_ID_PREFIX
				   "\" belong to config-file strategies",
				   i, out[i].id);
			goto out;
		}
		if (is_cluster_id(out[i].id)) {
			err_printf(err, errlen,
				   "strategies[%zu].id: '%s': ids starting with "
				   "\"" STRATEGY_CLUSTER_ID_PREFIX
				   "\" belong to cluster strategies",
				   i, out[i].id);
			goto out;
		}
		/* Cluster strategies keep their ids; a saved one must not shadow them. */
		for (size_t j = 0; j < st->nr_cluster; j++)
			if (!strcmp(st->rules[st->nr_config + st->nr_api + j].id, out[i].id)) {
				err_printf(err, errlen,
					   "strategies[%zu].id: a strategy '%s' exists", i,
					   out[i].id);
				goto out;
			}
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

int strategy_store_load(struct strategy_store *st, char *err, size_t errlen)
{
	char *text, why[512];
	size_t len = 0, n = 0;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	if (!st->state_path)
		goto out;
	text = read_file(st->state_path, &len);
	if (!text && errno != ENOENT) {
		err_printf(err, errlen, "%s: %s", st->state_path, strerror(errno));
		rc = -1;
		goto out;
	}
	if (text) {
		rc = parse_state(st, text, len, &n, why, sizeof(why));
		free(text);
		if (rc) {
			err_printf(err, errlen, "%s: %s", st->state_path, why);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		note_id(st, st->next[st->nr_config + i].id);
	copy_part(st, 0, 0, st->nr_config);
	copy_part(st, st->nr_config + n, st->nr_config + st->nr_api, st->nr_cluster);
	/* The file already says what it holds: nothing to save. */
	if (commit(st, st->nr_config, n, st->nr_cluster, false, why, sizeof(why))) {
		err_printf(err, errlen, "%s: %s", st->state_path, why);
		rc = -1;
	}
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

int strategy_store_get(struct strategy_store *st, const char *id, struct strategy_rule *out)
{
	ssize_t at;

	pthread_mutex_lock(&st->lock);
	at = find(st, id);
	if (at >= 0)
		*out = st->rules[at];
	pthread_mutex_unlock(&st->lock);
	return at >= 0 ? 0 : -ENOENT;
}

size_t strategy_store_list(struct strategy_store *st, struct strategy_rule *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&st->lock);
	n = total(st);
	if (out && max)
		memcpy(out, st->rules, (n < max ? n : max) * sizeof(*out));
	pthread_mutex_unlock(&st->lock);
	return n;
}
