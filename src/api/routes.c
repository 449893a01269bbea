/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The REST API's JSON endpoints: one table of routes (so 404, 405 and Allow come from one
 * place) and a short handler per resource. Handlers see a complete, authorised request
 * (api.c) and read or change only the backend, the strategy store and the resolver's
 * stats; none of them can reach the scheduling loop.
 *
 * Answers keep the original Gthulhu's shapes: {"success": true, "message", "timestamp",
 * ...} on success, {"success": false, "error"} on failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/routes.h"
#include "log/log.h"
#include "strategy/strategy_json.h"

/* Bounded like the resolver's own work: GET /api/v1/scheduling/strategies lists this many. */
#define API_MAX_SCHED_PIDS 4096
#define API_CONFIG_KEYS	   64

/* ---- answers ---- */

void api_timestamp(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A JSON string from text that may not be UTF-8 (kernel messages, paths): bad bytes -> '?'. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void api_resp_error(struct api_resp *resp, unsigned int status, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(resp->json);
	resp->status = status;
	resp->json = json_object();
	json_object_set_new(resp->json, "success", json_false());
	json_object_set_new(resp->json, "error", jstr(msg));
}

json_t *api_resp_ok(struct api_resp *resp, unsigned int status, const char *msg)
{
	char ts[32];

	api_timestamp(ts, sizeof(ts));
	json_decref(resp->json);
	resp->status = status;
	resp->json = json_object();
	json_object_set_new(resp->json, "success", json_true());
	json_object_set_new(resp->json, "message", json_string(msg));
	json_object_set_new(resp->json, "timestamp", json_string(ts));
	return resp->json;
}

static unsigned int sj_status(enum strategy_json_status st)
{
	switch (st) {
	case SJ_SYNTAX:
		return 400;
	case SJ_INVALID:
		return 422;
	case SJ_TOO_LARGE:
		return 413;
	default:
		return 500;
	}
}

static unsigned int store_status(int rc)
{
	switch (rc) {
	case -EINVAL:
	case -ENOSPC:
		return 422;
	case -EEXIST:
	case -EPERM:
		return 409;
	case -ENOENT:
		return 404;
	default:
		return 500;
	}
}

/* The body as JSON of the wanted type; NULL with the error answer filled in. */
static json_t *parse_body(const struct api_req *req, struct api_resp *resp, json_type want)
{
	enum strategy_json_status st = SJ_SYNTAX;
	char err[256] = "";
	json_t *doc;

	doc = strategy_json_parse_text(req->body, req->body_len, &st, err, sizeof(err));
	if (!doc) {
		api_resp_error(resp, sj_status(st), "%s", err[0] ? err : "malformed JSON");
		return NULL;
	}
	if (json_typeof(doc) != want) {
		api_resp_error(resp, 400, "expected a JSON %s",
			       want == JSON_OBJECT ? "object" : "array");
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static void log_change(const char *what, const char *id, size_t count)
{
	struct log_rec *r = log_begin(LOG_INFO, what);

	if (id)
		log_str(r, "id", id);
	else
		log_u64(r, "count", count);
	log_end(r);
}

/* ---- views of the scheduler ---- */

struct api_sched_view *api_read_view(struct api_ctx *ctx)
{
	struct api_sched_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (ctx->backend.read_view)
		ctx->backend.read_view(ctx->backend.ctx, v);
	/* The backend fills fixed arrays: never trust their terminators or counts blindly. */
	v->version[sizeof(v->version) - 1] = '\0';
	v->kernel[sizeof(v->kernel) - 1] = '\0';
	v->ops_name[sizeof(v->ops_name) - 1] = '\0';
	v->last_exit.reason[sizeof(v->last_exit.reason) - 1] = '\0';
	v->last_exit.msg[sizeof(v->last_exit.msg) - 1] = '\0';
	if (v->nr_counters > sizeof(v->counters) / sizeof(v->counters[0]))
		v->nr_counters = sizeof(v->counters) / sizeof(v->counters[0]);
	if (v->nr_cpus > API_MAX_CPUS)
		v->nr_cpus = API_MAX_CPUS;
	return v;
}

size_t api_strategy_count(struct api_ctx *ctx)
{
	struct strategy_rule none;

	return strategy_store_list(ctx->store, &none, 0);
}

void api_read_k8s(struct api_ctx *ctx, struct api_k8s_view *out)
{
	memset(out, 0, sizeof(*out));
	if (ctx->backend.kubernetes)
		ctx->backend.kubernetes(ctx->backend.ctx, out);
	out->node[sizeof(out->node) - 1] = '\0';
	out->last_error[sizeof(out->last_error) - 1] = '\0';
}

struct api_pod_metrics *api_read_pod_metrics(struct api_ctx *ctx, size_t *n)
{
	struct api_pod_metrics *rows;

	*n = 0;
	if (!ctx->backend.pod_metrics)
		return NULL;
	rows = calloc(API_MAX_PODS, sizeof(*rows));
	if (!rows)
		return NULL;
	*n = ctx->backend.pod_metrics(ctx->backend.ctx, rows, API_MAX_PODS);
	if (*n > API_MAX_PODS)
		*n = API_MAX_PODS;
	for (size_t i = 0; i < *n; i++) {
		rows[i].uid[sizeof(rows[i].uid) - 1] = '\0';
		rows[i].name[sizeof(rows[i].name) - 1] = '\0';
		rows[i].namespace[sizeof(rows[i].namespace) - 1] = '\0';
	}
	return rows;
}

static json_t *k8s_json(const struct api_k8s_view *k)
{
	json_t *o = json_object();

	json_object_set_new(o, "enabled", json_boolean(k->enabled));
	if (!k->enabled)
		return o;
	json_object_set_new(o, "node", jstr(k->node));
	json_object_set_new(o, "api_reachable", json_boolean(k->reachable));
	json_object_set_new(o, "pods_synced", json_boolean(k->pods_synced));
	json_object_set_new(o, "strategies_synced", json_boolean(k->strategies_synced));
	json_object_set_new(o, "pods", json_integer((json_int_t)k->pods));
	json_object_set_new(o, "last_error", jstr(k->last_error));
	json_object_set_new(o, "last_sync_unix", json_integer((json_int_t)k->last_sync_unix));
	json_object_set_new(o, "errors", json_integer((json_int_t)k->errors));
	json_object_set_new(o, "relists", json_integer((json_int_t)k->relists));
	json_object_set_new(o, "reconnects", json_integer((json_int_t)k->reconnects));
	json_object_set_new(o, "strategies_rejected",
			    json_integer((json_int_t)k->strategies_rejected));
	return o;
}

/*
 * Liveness: 200 as long as the daemon answers. A node agent that lost the Kubernetes API
 * is "degraded", not dead (pid and regex strategies still work, and restarting would not
 * bring the API back), so probes keep passing and the condition is in the body.
 */
static void h_health(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_k8s_view k;
	char ts[32];
	bool degraded;

	api_read_k8s(ctx, &k);
	degraded = k.enabled && (!k.reachable || !k.pods_synced);
	api_timestamp(ts, sizeof(ts));
	resp->status = 200;
	resp->json =
	    json_pack("{s:s, s:s}", "status", degraded ? "degraded" : "healthy", "timestamp", ts);
	if (resp->json && k.enabled)
		json_object_set_new(resp->json, "kubernetes", k8s_json(&k));
}

static void h_status(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_sched_view *v = api_read_view(ctx);
	json_t *o, *counters, *last_exit = json_null();

	if (!v) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	o = api_resp_ok(resp, 200, "status");
	json_object_set_new(o, "version", jstr(v->version));
	json_object_set_new(o, "kernel", jstr(v->kernel));
	json_object_set_new(o, "attached", json_boolean(v->attached));
	json_object_set_new(o, "ops_name", jstr(v->ops_name));
	json_object_set_new(o, "kfunc_api", json_integer(v->kfunc_api));
	json_object_set_new(o, "uptime_s", json_integer((json_int_t)v->uptime_s));
	json_object_set_new(o, "attached_s", json_integer((json_int_t)v->attached_s));
	json_object_set_new(o, "restarts", json_integer((json_int_t)v->restarts));
	json_object_set_new(o, "nr_cpus", json_integer(v->nr_cpus));
	counters = json_object();
	for (size_t i = 0; i < v->nr_counters; i++)
		if (v->counters[i].name)
			json_object_set_new(counters, v->counters[i].name,
					    json_integer((json_int_t)v->counters[i].value));
	json_object_set_new(o, "counters", counters);
	json_object_set_new(o, "loop",
			    json_pack("{s:I, s:I, s:I}", "batches", (json_int_t)v->loop_batches,
				      "records", (json_int_t)v->loop_records, "decisions",
				      (json_int_t)v->loop_decisions));
	if (v->last_exit.kind) {
		json_decref(last_exit);
		last_exit = json_object();
		json_object_set_new(last_exit, "kind", json_integer(v->last_exit.kind));
		json_object_set_new(last_exit, "exit_code", json_integer(v->last_exit.exit_code));
		json_object_set_new(last_exit, "reason", jstr(v->last_exit.reason));
		json_object_set_new(last_exit, "msg", jstr(v->last_exit.msg));
	}
	json_object_set_new(o, "last_exit", last_exit);
	json_object_set_new(o, "strategies", json_integer((json_int_t)api_strategy_count(ctx)));
	{
		struct api_k8s_view k;

		api_read_k8s(ctx, &k);
		json_object_set_new(o, "kubernetes", k8s_json(&k));
	}
	free(v);
}

/* The original's counters, always present (0 when the view lacks one), in its order. */
static const char *const original_counters[] = {
    "usersched_last_run_at", "nr_queued",
    "nr_scheduled",	     "nr_running",
    "nr_online_cpus",	     "nr_user_dispatches",
    "nr_kernel_dispatches",  "nr_cancel_dispatches",
    "nr_bounce_dispatches",  "nr_failed_dispatches",
    "nr_sched_congested",
};

static void h_metrics(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_sched_view *v;
	json_t *data, *o;

	/* The original's scheduler POSTed its counters here; we have our own, so a body is
	 * only checked to be JSON and otherwise ignored. */
	if (req->body_len) {
		json_t *doc = parse_body(req, resp, JSON_OBJECT);

		if (!doc)
			return;
		json_decref(doc);
	}
	v = api_read_view(ctx);
	if (!v) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	data = json_object();
	for (size_t i = 0; i < sizeof(original_counters) / sizeof(original_counters[0]); i++)
		json_object_set_new(data, original_counters[i], json_integer(0));
	for (size_t i = 0; i < v->nr_counters; i++)
		if (v->counters[i].name)
			json_object_set_new(data, v->counters[i].name,
					    json_integer((json_int_t)v->counters[i].value));
	o = api_resp_ok(resp, 200, "metrics");
	json_object_set_new(o, "data", data);
	free(v);
}

/* ---- configuration ---- */

static void config_answer(struct api_resp *resp, const struct gthulhu_config *c, const char *msg)
{
	struct config_value vals[API_CONFIG_KEYS];
	size_t n = config_values(c, vals, API_CONFIG_KEYS);
	json_t *o, *cfg = json_object(), *live = json_array();

	for (size_t i = 0; i < n && i < API_CONFIG_KEYS; i++) {
		json_t *v;

		if (vals[i].kind == CONFIG_BOOL)
			v = json_boolean(vals[i].number);
		else if (vals[i].kind == CONFIG_NUMBER)
			v = json_integer((json_int_t)vals[i].number);
		else
			v = jstr(vals[i].string ? vals[i].string : "");
		json_object_set_new(cfg, vals[i].path, v);
		if (vals[i].live)
			json_array_append_new(live, json_string(vals[i].path));
	}
	o = api_resp_ok(resp, 200, msg);
	json_object_set_new(o, "config", cfg);
	json_object_set_new(o, "live", live);
}

static void get_config(struct api_ctx *ctx, struct gthulhu_config *c)
{
	if (ctx->backend.get_config)
		ctx->backend.get_config(ctx->backend.ctx, c);
	else
		config_set_defaults(c);
}

/* A PATCH names each live key once; more keys than the config has are refused anyway. */
#define API_MAX_PATCH_KEYS 64

/* Apply every key of @doc to @c; 0, or -1 with the 422 answer filled in. */
static int patch_keys(struct gthulhu_config *c, json_t *doc, struct api_resp *resp)
{
	const char *key;
	json_t *val;
	char err[256];

	json_object_foreach(doc, key, val)
	{
		int rc;

		if (json_is_boolean(val)) {
			rc = config_set_live(c, key, json_is_true(val), true, err, sizeof(err));
		} else if (json_is_integer(val) && json_integer_value(val) >= 0) {
			rc = config_set_live(c, key, (uint64_t)json_integer_value(val), false, err,
					     sizeof(err));
		} else {
			snprintf(err, sizeof(err),
				 "%s: expected a non-negative integer or true/false", key);
			rc = -1;
		}
		if (rc) {
			api_resp_error(resp, 422, "%s", err);
			return -1;
		}
	}
	if (config_check(c, err, sizeof(err))) {
		api_resp_error(resp, 422, "%s", err);
		return -1;
	}
	return 0;
}

static void patch_config(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	json_t *doc = parse_body(req, resp, JSON_OBJECT);
	const char *keys[API_MAX_PATCH_KEYS], *key;
	struct gthulhu_config *c;
	char err[256] = "";
	size_t nkeys;
	json_t *val;
	int rc;

	if (!doc)
		return;
	c = malloc(sizeof(*c));
	if (!c) {
		json_decref(doc);
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	/* Read, change, apply as one step: a concurrent PATCH must not undo this one. */
	pthread_mutex_lock(&ctx->config_lock);
	get_config(ctx, c);
	if (patch_keys(c, doc, resp))
		goto out;
	nkeys = 0;
	json_object_foreach(doc, key, val)
	{
		if (nkeys < API_MAX_PATCH_KEYS)
			keys[nkeys++] = key;
	}
	rc = nkeys && ctx->backend.apply_config
		 ? ctx->backend.apply_config(ctx->backend.ctx, c, keys, nkeys, err, sizeof(err))
		 : 0;
	if (rc == API_CONFIG_CONFLICT) {
		/* 409: re-reading the configuration and asking again can succeed. */
		api_resp_error(resp, 409, "conflicts with the running configuration: %s", err);
		goto out;
	}
	if (rc) {
		api_resp_error(resp, 500, "configuration not applied: %s", err);
		goto out;
	}
	if (json_object_size(doc)) {
		struct log_rec *r = log_begin(LOG_INFO, "config changed through the api");
		char *keys = json_dumps(doc, JSON_COMPACT);

		log_str(r, "changes", keys);
		log_end(r);
		free(keys);
	}
	config_answer(resp, c, "configuration updated");
out:
	pthread_mutex_unlock(&ctx->config_lock);
	json_decref(doc);
	free(c);
}

static void h_config(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct gthulhu_config *c;

	if (req->method == API_PATCH) {
		patch_config(ctx, req, resp);
		return;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	get_config(ctx, c);
	config_answer(resp, c, "configuration");
	free(c);
}

/* ---- strategies ---- */

/* Every strategy, in precedence order; *@n how many. NULL on allocation failure. */
static struct strategy_rule *list_rules(struct api_ctx *ctx, size_t *n)
{
	size_t total = api_strategy_count(ctx);
	struct strategy_rule *rules = calloc(total + 1, sizeof(*rules));
	size_t got;

	if (!rules)
		return NULL;
	/* The list may have grown since it was counted: take what fits. */
	got = strategy_store_list(ctx->store, rules, total);
	*n = got < total ? got : total;
	return rules;
}

static json_t *strategies_json(struct api_ctx *ctx)
{
	struct strategy_rule_stats *stats = calloc(STRATEGY_MAX_RULES, sizeof(*stats));
	size_t n = 0, ns = 0;
	struct strategy_rule *rules = list_rules(ctx, &n);
	json_t *arr = json_array();

	if (!rules || !stats) {
		free(rules);
		free(stats);
		json_decref(arr);
		return NULL;
	}
	ns = strategy_resolver_stats(stats, STRATEGY_MAX_RULES);
	for (size_t i = 0; i < n; i++) {
		json_t *j = strategy_to_json(&rules[i]);

		for (size_t k = 0; j && k < ns; k++) {
			if (strcmp(stats[k].id, rules[i].id))
				continue;
			json_object_set_new(j, "threads",
					    json_integer((json_int_t)stats[k].threads));
			json_object_set_new(j, "decisions",
					    json_integer((json_int_t)stats[k].decisions));
			break;
		}
		json_array_append_new(arr, j);
	}
	free(rules);
	free(stats);
	return arr;
}

static void answer_list(struct api_ctx *ctx, struct api_resp *resp, const char *msg)
{
	json_t *arr = strategies_json(ctx);

	if (!arr) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	json_object_set_new(api_resp_ok(resp, 200, msg), "strategies", arr);
}

/* The stored strategy @id as the answer, with @status (and Location when created). */
static void answer_one(struct api_ctx *ctx, struct api_resp *resp, unsigned int status,
		       const char *id, const char *msg)
{
	struct strategy_rule *rule = malloc(sizeof(*rule));

	if (!rule) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	if (strategy_store_get(ctx->store, id, rule)) {
		free(rule);
		api_resp_error(resp, 404, "no strategy with id %s", id);
		return;
	}
	json_object_set_new(api_resp_ok(resp, status, msg), "strategy", strategy_to_json(rule));
	if (status == 201)
		snprintf(resp->location, sizeof(resp->location), "/api/v1/strategies/%s", id);
	free(rule);
}

/* One strategy object from the body; -1 with the error answer filled in. */
static int body_rule(const struct api_req *req, struct api_resp *resp, const char *path_id,
		     struct strategy_rule *rule)
{
	json_t *doc = parse_body(req, resp, JSON_OBJECT), *id;
	enum strategy_json_status st;
	char err[256] = "";

	if (!doc)
		return -1;
	id = json_object_get(doc, "id");
	if (path_id && id && (!json_is_string(id) || strcmp(json_string_value(id), path_id))) {
		api_resp_error(resp, 422, "id: the body's id differs from the path's (%s)",
			       path_id);
		json_decref(doc);
		return -1;
	}
	st = strategy_from_json(doc, rule, err, sizeof(err));
	json_decref(doc);
	if (st != SJ_OK) {
		api_resp_error(resp, sj_status(st), "%s", err);
		return -1;
	}
	return 0;
}

/* A {"strategies": [...]} body; -1 with the error answer filled in. */
static int body_rules(const struct api_req *req, struct api_resp *resp, bool allow_empty,
		      struct strategy_rule *rules, size_t *n)
{
	json_t *doc = parse_body(req, resp, JSON_OBJECT), *list;
	enum strategy_json_status st;
	char err[256] = "";

	if (!doc)
		return -1;
	list = json_object_get(doc, "strategies");
	if (!allow_empty && json_is_array(list) && !json_array_size(list)) {
		/* The original answered an empty list with 400. */
		api_resp_error(resp, 400, "strategies: empty list");
		json_decref(doc);
		return -1;
	}
	st = strategies_from_json(doc, rules, STRATEGY_MAX_RULES, n, allow_empty, err, sizeof(err));
	json_decref(doc);
	if (st != SJ_OK) {
		api_resp_error(resp, sj_status(st), "%s", err);
		return -1;
	}
	return 0;
}

static void replace_api(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp,
			bool allow_empty)
{
	struct strategy_rule *rules = calloc(STRATEGY_MAX_RULES, sizeof(*rules));
	char err[256] = "";
	size_t n = 0;
	int rc;

	if (!rules) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	if (body_rules(req, resp, allow_empty, rules, &n))
		goto out;
	rc = strategy_store_replace_api(ctx->store, rules, n, err, sizeof(err));
	if (rc) {
		api_resp_error(resp, store_status(rc), "%s", err);
		goto out;
	}
	log_change("api strategies replaced", NULL, n);
	if (allow_empty)
		answer_list(ctx, resp, "strategies replaced");
	else
		json_object_set_new(api_resp_ok(resp, 200, "Strategies updated successfully"),
				    "count", json_integer((json_int_t)n));
out:
	free(rules);
}

static void h_strategies(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct strategy_rule *rule;
	char id[STRATEGY_ID_MAX] = "", err[256] = "";
	int rc;

	if (req->method == API_GET) {
		answer_list(ctx, resp, "strategies");
		return;
	}
	if (req->method == API_PUT) {
		replace_api(ctx, req, resp, true);
		return;
	}
	rule = calloc(1, sizeof(*rule));
	if (!rule) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	if (!body_rule(req, resp, NULL, rule)) {
		rc = strategy_store_add(ctx->store, rule, id, err, sizeof(err));
		if (rc) {
			api_resp_error(resp, store_status(rc), "%s", err);
		} else {
			log_change("strategy created", id, 0);
			answer_one(ctx, resp, 201, id, "strategy created");
		}
	}
	free(rule);
}

static void put_strategy(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct strategy_rule *rule = calloc(1, sizeof(*rule));
	char err[256] = "";
	bool created = false;
	int rc;

	if (!rule) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	if (!body_rule(req, resp, req->arg, rule)) {
		rc = strategy_store_put(ctx->store, req->arg, rule, &created, err, sizeof(err));
		if (rc) {
			api_resp_error(resp, store_status(rc), "%s", err);
		} else {
			log_change(created ? "strategy created" : "strategy replaced", req->arg, 0);
			answer_one(ctx, resp, created ? 201 : 200, req->arg,
				   created ? "strategy created" : "strategy replaced");
		}
	}
	free(rule);
}

static void h_strategy(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	char err[256] = "";
	int rc;

	if (!strategy_id_valid(req->arg)) {
		if (req->method == API_PUT)
			api_resp_error(resp, 422, "id: 1 to 63 of A-Z a-z 0-9 . _ -");
		else
			api_resp_error(resp, 404, "no strategy with that id");
		return;
	}
	if (req->method == API_GET) {
		answer_one(ctx, resp, 200, req->arg, "strategy");
	} else if (req->method == API_PUT) {
		put_strategy(ctx, req, resp);
	} else {
		rc = strategy_store_delete(ctx->store, req->arg, err, sizeof(err));
		if (rc) {
			api_resp_error(resp, store_status(rc), "%s", err);
			return;
		}
		log_change("strategy deleted", req->arg, 0);
		api_resp_ok(resp, 200, "strategy deleted");
	}
}

/* The original's view: each strategy as the PIDs it covers now. */
static void get_scheduling(struct api_ctx *ctx, struct api_resp *resp)
{
	struct strategy_pid *pairs = calloc(API_MAX_SCHED_PIDS, sizeof(*pairs));
	json_t *arr = json_array();
	size_t np;

	if (!pairs || !arr) {
		api_resp_error(resp, 500, "out of memory");
		goto out;
	}
	/* What the scheduling loop sees now: the resolver's published snapshot. */
	np = strategy_resolver_pids(pairs, API_MAX_SCHED_PIDS);
	for (size_t i = 0; i < np; i++) {
		const struct strategy_effect *e = &pairs[i].effect;

		json_array_append_new(
		    arr, json_pack("{s:b, s:i, s:I, s:i}", "priority", e->priority > 0,
				   "priority_level", (int)e->priority, "execution_time",
				   (json_int_t)e->execution_time_ns, "pid", (int)pairs[i].pid));
	}
	json_object_set_new(api_resp_ok(resp, 200, "strategies resolved to pids"), "scheduling",
			    arr);
	arr = NULL;
out:
	json_decref(arr);
	free(pairs);
}

static void h_scheduling(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	if (req->method == API_GET)
		get_scheduling(ctx, resp);
	else
		replace_api(ctx, req, resp, false);
}

static void h_pods(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	json_t *doc = ctx->backend.pods ? ctx->backend.pods(ctx->backend.ctx) : NULL;
	json_t *pods = json_object_get(doc, "pods");

	pods = json_is_array(pods) ? json_incref(pods) : json_array();
	json_object_set_new(api_resp_ok(resp, 200, "pods"), "pods", pods);
	json_decref(doc);
}

static void h_pod_metrics(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_pod_metrics *rows;
	json_t *arr = json_array();
	struct api_k8s_view k;
	size_t n;

	api_read_k8s(ctx, &k);
	rows = api_read_pod_metrics(ctx, &n);
	for (size_t i = 0; arr && i < n; i++) {
		const struct api_pod_metrics *m = &rows[i];

		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
				   "pod_uid", m->uid, "pod_name", m->name, "namespace",
				   m->namespace, "node", k.node, "containers", (int)m->containers,
				   "voluntary_switches", (json_int_t)m->voluntary_switches,
				   "involuntary_switches", (json_int_t)m->involuntary_switches,
				   "cpu_time_ns", (json_int_t)m->cpu_ns, "wait_time_ns",
				   (json_int_t)m->wait_ns, "run_count", (json_int_t)m->runs,
				   "migrations", (json_int_t)m->migrations));
	}
	free(rows);
	if (!arr) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	json_object_set_new(api_resp_ok(resp, 200, "pod scheduling metrics"), "pods", arr);
}

/* ---- the table ---- */

static const struct api_route routes[] = {
    {"/health", false, API_GET, false, h_health},
    {"/api/v1/status", false, API_GET, false, h_status},
    {"/api/v1/metrics", false, API_GET | API_POST, true, h_metrics},
    {"/metrics", false, API_GET, false, api_prometheus},
    {"/api/v1/config", false, API_GET | API_PATCH, false, h_config},
    {"/api/v1/scheduling/strategies", false, API_GET | API_POST, false, h_scheduling},
    {"/api/v1/strategies", false, API_GET | API_POST | API_PUT, false, h_strategies},
    {"/api/v1/strategies/", true, API_GET | API_PUT | API_DELETE, false, h_strategy},
    {"/api/v1/pods/pids", false, API_GET, false, h_pods},
    {"/api/v1/pods/metrics", false, API_GET, false, h_pod_metrics},
    {NULL, false, 0, false, NULL},
};

const struct api_route *api_route_find(const char *path, enum api_method method, unsigned *allowed,
				       const char **arg)
{
	*allowed = 0;
	*arg = NULL;
	for (const struct api_route *r = routes; r->path; r++) {
		size_t len = strlen(r->path);

		if (r->has_arg) {
			if (strncmp(path, r->path, len) || !path[len] || strchr(path + len, '/'))
				continue;
			*arg = path + len;
		} else if (strcmp(path, r->path)) {
			continue;
		}
		*allowed = r->methods | ((r->methods & API_GET) ? API_HEAD : 0);
		return (method & *allowed) ? r : NULL;
	}
	return NULL;
}

void api_methods_str(unsigned methods, char *out, size_t len)
{
	static const char *const names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n;

		if (!(methods & (1u << i)))
			continue;
		n = snprintf(out + used, len - used, "%s%s", used ? ", " : "", names[i]);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}
