// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for src/api: the real server (api_start) on a unix socket in a mkdtemp directory
 * and on 127.0.0.1:0, a fake backend (fixed counters, 4 CPUs, a configuration kept in
 * memory, one pod), the real strategy store (persisted to a state file) and the real
 * resolver, and libcurl as the client, so every answer goes through HTTP as a user's
 * would. Covers each endpoint and method, the error statuses and their JSON, auth, the
 * limits, the Prometheus text, all-or-nothing config changes, persistence, concurrent
 * clients, and the server's fixed set of threads: connections cost none, and a handler
 * that blocks does not hold up new connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "api/api.h"
#include "config/config.h"
#include "log/log.h"
#include "strategy/store.h"
#include "strategy/strategy.h"

#define TOKEN "s3cret-Token_0123456789"

static char dir[64], sock_path[128], state_path[128], token_path[128], log_path[128];
static struct strategy_store *store;
static struct api_server *srv;
static uint16_t port;

/* ---- the fake backend ---- */

static struct {
	pthread_mutex_t lock;
	struct gthulhu_config cfg;
	int applies;
	/* What apply_config answers instead of applying (0: it applies), and why. */
	int refuse_apply;
	const char *refuse_why;
	bool no_pods;
	bool exited;
	bool k8s_down;
	/* A slow handler: apply_config waits until slow_release (test_slow_request). */
	bool slow_apply, slow_entered, slow_release;
	pthread_cond_t slow_cond;
} fb = {.lock = PTHREAD_MUTEX_INITIALIZER, .slow_cond = PTHREAD_COND_INITIALIZER};

static const uint64_t hist[API_LATENCY_BUCKETS] = {5, 0, 7, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 4};

static void fake_view(void *ctx, struct api_sched_view *v)
{
	static const struct {
		const char *name;
		uint64_t value;
		bool gauge;
	} c[] = {
	    {"nr_queued", 3, true},
	    {"nr_scheduled", 2, true},
	    {"nr_running", 4, true},
	    {"nr_online_cpus", 4, true},
	    {"nr_user_dispatches", 1000, false},
	    {"nr_kernel_dispatches", 200, false},
	    {"nr_cancel_dispatches", 5, false},
	    {"nr_bounce_dispatches", 6, false},
	    {"nr_failed_dispatches", 7, false},
	    {"nr_sched_congested", 8, false},
	    {"nr_prio_dispatches", 9, false}, /* ours; usersched_last_run_at left out */
	};

	v->attached = true;
	v->uptime_s = 42;
	v->attached_s = 40;
	v->restarts = 1;
	strcpy(v->version, "test-1.0");
	strcpy(v->kernel, "6.12.0-test");
	strcpy(v->ops_name, "gthulhu");
	v->kfunc_api = 2;
	v->nr_counters = sizeof(c) / sizeof(c[0]);
	for (size_t i = 0; i < v->nr_counters; i++) {
		v->counters[i].name = c[i].name;
		v->counters[i].help = "help \\ with\nnewline";
		v->counters[i].value = c[i].value;
		v->counters[i].gauge = c[i].gauge;
	}
	v->nr_cpus = 4;
	for (uint32_t i = 0; i < 4; i++)
		v->cpu_dispatches[i] = 100 * (i + 1);
	v->loop_batches = 50;
	memcpy(v->loop_latency_hist, hist, sizeof(hist));
	if (fb.exited) {
		v->last_exit.kind = 1024;
		v->last_exit.exit_code = 2;
		strcpy(v->last_exit.reason, "unregistered from user space");
		strcpy(v->last_exit.msg, "bad \xff byte");
	}
}

static void fake_get_config(void *ctx, struct gthulhu_config *out)
{
	pthread_mutex_lock(&fb.lock);
	*out = fb.cfg;
	pthread_mutex_unlock(&fb.lock);
}

static int fake_apply(void *ctx, const struct gthulhu_config *next, const char *const *keys,
		      size_t nkeys, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&fb.lock);
	if (fb.slow_apply) {
		fb.slow_entered = true;
		pthread_cond_broadcast(&fb.slow_cond);
		while (!fb.slow_release)
			pthread_cond_wait(&fb.slow_cond, &fb.lock);
	}
	if (fb.refuse_apply) {
		snprintf(err, errlen, "%s", fb.refuse_why);
		rc = fb.refuse_apply;
	} else {
		fb.cfg = *next;
		fb.applies++;
	}
	pthread_mutex_unlock(&fb.lock);
	return rc;
}

static json_t *fake_pods(void *ctx)
{
	if (fb.no_pods)
		return NULL;
	return json_pack("{s:[{s:s, s:s, s:s, s:s, s:[{s:i, s:s, s:i}]}]}", "pods", "pod_name",
			 "web-0", "namespace", "default", "pod_uid", "u-1", "container_id", "c-1",
			 "processes", "pid", 1, "command", "init", "ppid", 0);
}

static void fake_k8s(void *ctx, struct api_k8s_view *k)
{
	pthread_mutex_lock(&fb.lock);
	k->enabled = true;
	k->reachable = !fb.k8s_down;
	k->pods_synced = !fb.k8s_down;
	k->strategies_synced = !fb.k8s_down;
	snprintf(k->node, sizeof(k->node), "worker-1");
	if (fb.k8s_down)
		snprintf(k->last_error, sizeof(k->last_error),
			 "GET /api/v1/pods: connection refused");
	k->pods = 2;
	k->errors = fb.k8s_down ? 3 : 0;
	pthread_mutex_unlock(&fb.lock);
}

static size_t fake_pod_metrics(void *ctx, struct api_pod_metrics *out, size_t max)
{
	if (max < 2)
		return 0;
	memset(out, 0, 2 * sizeof(*out));
	snprintf(out[0].uid, sizeof(out[0].uid), "0b7c0d2e-1111-4c3b-9a55-000000000001");
	snprintf(out[0].name, sizeof(out[0].name), "upf-0");
	snprintf(out[0].namespace, sizeof(out[0].namespace), "telco");
	out[0].containers = 2;
	out[0].voluntary_switches = 10;
	out[0].involuntary_switches = 3;
	out[0].cpu_ns = 1500000000;
	out[0].wait_ns = 250000000;
	out[0].runs = 13;
	out[0].migrations = 4;
	/* A pod whose metadata is not known (yet): an empty name, and a quote to escape. */
	snprintf(out[1].uid, sizeof(out[1].uid), "odd\"uid");
	out[1].runs = 1;
	return 2;
}

static const struct api_backend backend = {
    .read_view = fake_view,
    .get_config = fake_get_config,
    .apply_config = fake_apply,
    .pods = fake_pods,
    .kubernetes = fake_k8s,
    .pod_metrics = fake_pod_metrics,
};

static int to_resolver(const struct strategy_rule *rules, size_t n, void *ctx)
{
	return strategy_resolver_set_rules(rules, n);
}

/* ---- the client ---- */

struct res {
	long status;
	char *body;
	size_t len;
	char ctype[128], allow[128], location[256], www_auth[128];
	json_t *json;
	int curl_rc;
};

struct call {
	const char *method, *path;
	const char *body;  /* NULL: none */
	size_t body_len;   /* 0 with a body: strlen */
	const char *ctype; /* NULL with a body: application/json; "" none at all */
	const char *auth;  /* Authorization header value; NULL: none */
	bool tcp;
	uint16_t port; /* TCP port; 0: the main server's */
	bool chunked;
	bool no_expect;
};

struct upload {
	const char *data;
	size_t len, off;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct res *r = ud;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t olen)
{
	size_t nl = strlen(name);

	if (len <= nl + 1 || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && *line == ' ')
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, olen, "%.*s", (int)len, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct res *r = ud;

	header_value(p, size * n, "Content-Type", r->ctype, sizeof(r->ctype));
	header_value(p, size * n, "Allow", r->allow, sizeof(r->allow));
	header_value(p, size * n, "Location", r->location, sizeof(r->location));
	header_value(p, size * n, "WWW-Authenticate", r->www_auth, sizeof(r->www_auth));
	return size * n;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = size * n;

	if (k > 1000)
		k = 1000; /* several chunks */
	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(p, u->data + u->off, k);
	u->off += k;
	return k;
}

static void res_free(struct res *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* One request on @curl (reused for keep-alive; NULL: a fresh handle). */
static void http_on(CURL *curl, const struct call *c, struct res *r)
{
	struct curl_slist *hdrs = NULL;
	struct upload up = {0};
	char url[512], hdr[512];
	bool own = !curl;

	memset(r, 0, sizeof(*r));
	if (own)
		curl = curl_easy_init();
	assert_non_null(curl);
	curl_easy_reset(curl);
	if (c->tcp) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
			 (unsigned int)(c->port ? c->port : port), c->path);
	} else {
		snprintf(url, sizeof(url), "http://localhost%s", c->path);
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock_path);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
	if (!strcmp(c->method, "HEAD"))
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	else if (strcmp(c->method, "GET"))
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
	if (c->body) {
		up.data = c->body;
		up.len = c->body_len ? c->body_len : strlen(c->body);
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		if (c->chunked) {
			curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(curl, CURLOPT_READDATA, &up);
			hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		} else {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)up.len);
		}
		if (!c->ctype)
			hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	}
	if (c->ctype && c->ctype[0]) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", c->ctype);
		hdrs = curl_slist_append(hdrs, hdr);
	} else if (c->ctype) {
		hdrs = curl_slist_append(hdrs, "Content-Type:");
	}
	if (c->auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", c->auth);
		hdrs = curl_slist_append(hdrs, hdr);
	}
	if (c->no_expect)
		hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	r->curl_rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	if (own)
		curl_easy_cleanup(curl);
	if (r->body && !strncmp(r->ctype, "application/json", 16))
		r->json = json_loads(r->body, 0, NULL);
}

static void http(const struct call *c, struct res *r)
{
	http_on(NULL, c, r);
}

/* Unix socket, JSON body (or none). */
static long U(struct res *r, const char *method, const char *path, const char *body)
{
	struct call c = {.method = method, .path = path, .body = body};

	http(&c, r);
	return r->status;
}

/* TCP with the right token. */
static long T(struct res *r, const char *method, const char *path, const char *body)
{
	struct call c = {
	    .method = method, .path = path, .body = body, .tcp = true, .auth = "Bearer " TOKEN};

	http(&c, r);
	return r->status;
}

/* The error shape: {"success": false, "error": "<non-empty>"} with a JSON Content-Type. */
static void assert_error(const struct res *r, long status, const char *needle)
{
	const char *e;

	if (r->status != status)
		fprintf(stderr, "status %ld, want %ld: %s\n", r->status, status,
			r->body ? r->body : "");
	assert_int_equal(r->status, status);
	assert_string_equal(r->ctype, "application/json");
	assert_non_null(r->json);
	assert_true(json_is_false(json_object_get(r->json, "success")));
	e = json_string_value(json_object_get(r->json, "error"));
	assert_non_null(e);
	assert_true(strlen(e) > 0);
	if (needle && !strstr(e, needle)) {
		fprintf(stderr, "error '%s' lacks '%s'\n", e, needle);
		fail();
	}
}

/* The success shape: "success": true, "message", an RFC3339 UTC "timestamp". */
static void assert_ok(const struct res *r, long status)
{
	regex_t re;
	const char *ts;

	if (r->status != status)
		fprintf(stderr, "status %ld, want %ld: %s\n", r->status, status,
			r->body ? r->body : "");
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	assert_true(json_is_true(json_object_get(r->json, "success")));
	assert_true(json_is_string(json_object_get(r->json, "message")));
	ts = json_string_value(json_object_get(r->json, "timestamp"));
	assert_non_null(ts);
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&re, ts, 0, NULL, 0), 0);
	regfree(&re);
}

static json_int_t jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* ---- setup ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int group_setup(void **state)
{
	struct api_options opt = {0};
	char err[512] = "";
	int fd;

	strcpy(dir, "/tmp/gthulhu-api-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/run/gthulhu/api.sock", dir);
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0)
		return -1;
	log_set_fd(fd);
	log_set_level(LOG_DEBUG);
	write_file(token_path, TOKEN "\n", 0600);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	config_set_defaults(&fb.cfg);

	if (strategy_resolver_start(NULL, 0, "/proc", 100))
		return -1;
	store = strategy_store_new(state_path);
	if (!store)
		return -1;
	strategy_store_on_change(store, to_resolver, NULL);
	opt.unix_path = sock_path;
	opt.tcp_addr = "127.0.0.1:0";
	opt.token_file = token_path;
	opt.store = store;
	opt.backend = backend;
	srv = api_start(&opt, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "api_start: %s\n", err);
		return -1;
	}
	port = api_tcp_port(srv);
	return port ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	api_stop(srv);
	strategy_store_free(store);
	strategy_resolver_stop();
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Each test starts from no strategies and the default configuration. */
static int setup(void **state)
{
	struct strategy_rule none;
	char err[256];

	memset(&none, 0, sizeof(none));
	if (strategy_store_set_config(store, &none, 0, err, sizeof(err)) ||
	    strategy_store_replace_api(store, &none, 0, err, sizeof(err)))
		return -1;
	pthread_mutex_lock(&fb.lock);
	config_set_defaults(&fb.cfg);
	fb.applies = 0;
	fb.refuse_apply = 0;
	fb.no_pods = false;
	fb.exited = false;
	pthread_mutex_unlock(&fb.lock);
	return 0;
}

/* ---- endpoints ---- */

static void test_health(void **state)
{
	struct res r;
	struct call head = {.method = "HEAD", .path = "/health"};

	assert_int_equal(U(&r, "GET", "/health", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "healthy");
	assert_true(json_is_string(json_object_get(r.json, "timestamp")));
	res_free(&r);
	http(&head, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	res_free(&r);

	/* Losing the Kubernetes API degrades the node agent; it is not dead. */
	fb.k8s_down = true;
	assert_int_equal(U(&r, "GET", "/health", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "degraded");
	assert_false(
	    json_is_true(json_object_get(json_object_get(r.json, "kubernetes"), "api_reachable")));
	assert_non_null(strstr(
	    json_string_value(json_object_get(json_object_get(r.json, "kubernetes"), "last_error")),
	    "connection refused"));
	res_free(&r);
	assert_int_equal(U(&r, "GET", "/api/v1/status", NULL), 200);
	assert_false(
	    json_is_true(json_object_get(json_object_get(r.json, "kubernetes"), "pods_synced")));
	res_free(&r);
	fb.k8s_down = false;
	assert_int_equal(U(&r, "GET", "/health", NULL), 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "status")), "healthy");
	res_free(&r);
}

static void test_status(void **state)
{
	struct res r;
	json_t *c, *e;

	assert_int_equal(U(&r, "POST", "/api/v1/strategies", "{\"pid\": 1, \"priority\": 2}"), 201);
	res_free(&r);
	U(&r, "GET", "/api/v1/status", NULL);
	assert_ok(&r, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "version")), "test-1.0");
	assert_string_equal(json_string_value(json_object_get(r.json, "kernel")), "6.12.0-test");
	assert_string_equal(json_string_value(json_object_get(r.json, "ops_name")), "gthulhu");
	assert_true(json_is_true(json_object_get(r.json, "attached")));
	assert_int_equal(jint(r.json, "kfunc_api"), 2);
	assert_int_equal(jint(r.json, "uptime_s"), 42);
	assert_int_equal(jint(r.json, "attached_s"), 40);
	assert_int_equal(jint(r.json, "restarts"), 1);
	assert_int_equal(jint(r.json, "strategies"), 1);
	assert_true(json_is_null(json_object_get(r.json, "last_exit")));
	c = json_object_get(r.json, "counters");
	assert_int_equal(jint(c, "nr_user_dispatches"), 1000);
	assert_int_equal(jint(c, "nr_prio_dispatches"), 9);
	res_free(&r);

	fb.exited = true;
	U(&r, "GET", "/api/v1/status", NULL);
	assert_ok(&r, 200);
	e = json_object_get(r.json, "last_exit");
	assert_int_equal(jint(e, "kind"), 1024);
	assert_int_equal(jint(e, "exit_code"), 2);
	assert_string_equal(json_string_value(json_object_get(e, "reason")),
			    "unregistered from user space");
	/* Not UTF-8 from the kernel still makes valid JSON. */
	assert_string_equal(json_string_value(json_object_get(e, "msg")), "bad ? byte");
	res_free(&r);
}

static void test_metrics_json(void **state)
{
	static const char *const original[] = {
	    "usersched_last_run_at", "nr_queued",
	    "nr_scheduled",	     "nr_running",
	    "nr_online_cpus",	     "nr_user_dispatches",
	    "nr_kernel_dispatches",  "nr_cancel_dispatches",
	    "nr_bounce_dispatches",  "nr_failed_dispatches",
	    "nr_sched_congested",
	};
	struct call post_plain = {.method = "POST", .path = "/api/v1/metrics", .ctype = ""};
	struct call post_text = {
	    .method = "POST", .path = "/api/v1/metrics", .body = "hello", .ctype = "text/plain"};
	const char *how[] = {"GET", "POST"};
	struct res r;

	for (int i = 0; i < 3; i++) {
		json_t *d;

		if (i < 2) {
			U(&r, how[i], "/api/v1/metrics", NULL);
		} else {
			http(&post_plain, &r);
		}
		assert_ok(&r, 200);
		d = json_object_get(r.json, "data");
		assert_true(json_is_object(d));
		for (size_t k = 0; k < sizeof(original) / sizeof(original[0]); k++)
			assert_true(json_is_integer(json_object_get(d, original[k])));
		assert_int_equal(jint(d, "nr_failed_dispatches"), 7);
		assert_int_equal(jint(d, "nr_queued"), 3);
		assert_int_equal(jint(d, "usersched_last_run_at"), 0);
		assert_int_equal(jint(d, "nr_prio_dispatches"), 9);
		res_free(&r);
	}
	/* The original's scheduler POSTed its counters: a JSON body is accepted and ignored. */
	U(&r, "POST", "/api/v1/metrics", "{\"nr_queued\": 99}");
	assert_ok(&r, 200);
	assert_int_equal(jint(json_object_get(r.json, "data"), "nr_queued"), 3);
	res_free(&r);
	http(&post_text, &r);
	assert_error(&r, 415, "application/json");
	res_free(&r);
	U(&r, "POST", "/api/v1/metrics", "{nope");
	assert_error(&r, 400, NULL);
	res_free(&r);
}

/* ---- Prometheus ---- */

struct prom_family {
	char name[128];
	char type[16];
};

static bool valid_name(const char *s, size_t n)
{
	if (!n || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') ||
		    (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* One sample line: name{k="v",...} value. Returns false on any deviation. */
static bool parse_sample(const char *line, char *name, size_t nlen, char *labels, size_t llen,
			 double *value)
{
	const char *p = line, *end;
	char *vend;
	size_t n = strcspn(p, "{ ");

	if (!valid_name(p, n) || n >= nlen)
		return false;
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	labels[0] = '\0';
	if (*p == '{') {
		const char *start = p + 1;

		p++;
		for (;;) {
			size_t k = strcspn(p, "=");

			if (!valid_name(p, k) || p[k] != '=' || p[k + 1] != '"')
				return false;
			p += k + 2;
			while (*p && *p != '"') {
				if (*p == '\\') {
					if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
						return false;
					p++;
				}
				p++;
			}
			if (*p != '"')
				return false;
			p++;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != '}')
				return false;
			break;
		}
		if ((size_t)(p - start) >= llen)
			return false;
		snprintf(labels, llen, "%.*s", (int)(p - start), start);
		p++;
	}
	if (*p != ' ')
		return false;
	p++;
	end = p + strlen(p);
	if (end == p)
		return false;
	if (!strcmp(p, "+Inf") || !strcmp(p, "-Inf") || !strcmp(p, "NaN")) {
		*value = 0;
		return true;
	}
	*value = strtod(p, &vend);
	return vend == end;
}

static const char *family_type(const struct prom_family *f, size_t nf, const char *name)
{
	for (size_t i = 0; i < nf; i++)
		if (!strcmp(f[i].name, name))
			return f[i].type;
	return NULL;
}

/* The value of the sample line "@want <value>". */
static double sample(const char *text, const char *want)
{
	char line[256];
	const char *p;

	snprintf(line, sizeof(line), "\n%s ", want);
	p = strstr(text, line);
	if (!p) {
		fprintf(stderr, "no sample %s\n", want);
		fail();
	}
	return strtod(p + strlen(line), NULL);
}

static void test_prometheus(void **state)
{
	struct prom_family fam[128];
	size_t nf = 0, nbuckets = 0;
	double last_le = -1, last_cum = -1, inf = -1, count = -1, sum = -1;
	uint64_t cum = 0;
	char *text, *save = NULL, name[160], labels[256];
	struct res r;
	bool saw_inf = false;

	assert_int_equal(
	    U(&r, "POST", "/api/v1/strategies", "{\"id\": \"prom\", \"pid\": 1, \"priority\": 4}"),
	    201);
	res_free(&r);
	assert_int_equal(T(&r, "GET", "/metrics", NULL), 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4");
	assert_non_null(r.body);
	assert_int_equal(r.body[r.len - 1], '\n');

	assert_int_equal(sample(r.body, "gthulhu_up"), 1);
	assert_int_equal(sample(r.body, "gthulhu_nr_user_dispatches_total"), 1000);
	assert_int_equal(sample(r.body, "gthulhu_nr_queued"), 3);
	assert_null(strstr(r.body, "gthulhu_nr_queued_total"));
	assert_int_equal(sample(r.body, "gthulhu_cpu_dispatches_total{cpu=\"3\"}"), 400);
	assert_int_equal(sample(r.body, "gthulhu_strategies"), 1);
	assert_int_equal(sample(r.body, "gthulhu_strategy_decisions_total{id=\"prom\"}"), 0);
	assert_int_equal(sample(r.body, "gthulhu_loop_batches_total"), 50);
	/* HELP text escapes backslashes and newlines. */
	assert_non_null(strstr(r.body, "# HELP gthulhu_nr_queued help \\\\ with\\nnewline\n"));

	text = strdup(r.body);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		double v;

		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_true(nf < 128);
			assert_int_equal(
			    sscanf(line, "# TYPE %127s %15s", fam[nf].name, fam[nf].type), 2);
			assert_true(!strcmp(fam[nf].type, "counter") ||
				    !strcmp(fam[nf].type, "gauge") ||
				    !strcmp(fam[nf].type, "histogram"));
			assert_null(family_type(fam, nf, fam[nf].name)); /* one TYPE each */
			nf++;
			continue;
		}
		assert_true(line[0] != '#');
		if (!parse_sample(line, name, sizeof(name), labels, sizeof(labels), &v)) {
			fprintf(stderr, "bad sample line: '%s'\n", line);
			fail();
		}
		if (strncmp(name, "gthulhu_loop_latency_seconds", 28)) {
			const char *t = family_type(fam, nf, name);

			assert_non_null(t);
			if (!strcmp(t, "counter"))
				assert_true(strlen(name) > 6 &&
					    !strcmp(name + strlen(name) - 6, "_total"));
			continue;
		}
		assert_string_equal(family_type(fam, nf, "gthulhu_loop_latency_seconds"),
				    "histogram");
		if (!strcmp(name, "gthulhu_loop_latency_seconds_bucket")) {
			double le;

			assert_false(saw_inf);
			assert_int_equal(strncmp(labels, "le=\"", 4), 0);
			if (!strcmp(labels, "le=\"+Inf\"")) {
				saw_inf = true;
				inf = v;
			} else {
				le = strtod(labels + 4, NULL);
				assert_true(le > last_le);
				last_le = le;
			}
			assert_true(v >= last_cum);
			last_cum = v;
			cum += hist[nbuckets];
			assert_int_equal((uint64_t)v, cum);
			nbuckets++;
		} else if (!strcmp(name, "gthulhu_loop_latency_seconds_count")) {
			count = v;
		} else if (!strcmp(name, "gthulhu_loop_latency_seconds_sum")) {
			sum = v;
		} else {
			fail();
		}
	}
	free(text);
	assert_true(saw_inf);
	assert_int_equal(nbuckets, API_LATENCY_BUCKETS);
	assert_true(inf == count);
	assert_int_equal((uint64_t)count, 22);
	assert_true(sum > 0);
	/* The top bucket bound is 2^14 us. */
	assert_true(last_le > 0.0163 && last_le < 0.0164);
	res_free(&r);
}

/* ---- routing and request checks ---- */

static void test_not_found(void **state)
{
	static const char *const paths[] = {"/",
					    "/nope",
					    "/api/v1",
					    "/api/v1/status/",
					    "/api/v1/strategies/a/b",
					    "/api/v2/status",
					    "/api/v1/strategies/"};
	struct res r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		U(&r, "GET", paths[i], NULL);
		assert_error(&r, 404, NULL);
		res_free(&r);
	}
	U(&r, "GET", "/api/v1/strategies/nosuch", NULL);
	assert_error(&r, 404, "nosuch");
	res_free(&r);
	U(&r, "GET", "/api/v1/strategies/bad%20id", NULL);
	assert_error(&r, 404, NULL);
	res_free(&r);
	U(&r, "DELETE", "/api/v1/strategies/nosuch", NULL);
	assert_error(&r, 404, NULL);
	res_free(&r);
}

static void test_wrong_method(void **state)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
	    {"POST", "/health", "GET, HEAD"},
	    {"DELETE", "/api/v1/status", "GET, HEAD"},
	    {"PUT", "/api/v1/metrics", "GET, POST, HEAD"},
	    {"POST", "/metrics", "GET, HEAD"},
	    {"POST", "/api/v1/config", "GET, PATCH, HEAD"},
	    {"DELETE", "/api/v1/scheduling/strategies", "GET, POST, HEAD"},
	    {"DELETE", "/api/v1/strategies", "GET, POST, PUT, HEAD"},
	    {"POST", "/api/v1/strategies/x", "GET, PUT, DELETE, HEAD"},
	    {"PATCH", "/api/v1/pods/pids", "GET, HEAD"},
	    {"OPTIONS", "/api/v1/status", "GET, HEAD"},
	};
	struct res r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c = {.method = cases[i].method, .path = cases[i].path};

		if (!strcmp(c.method, "POST") || !strcmp(c.method, "PUT") ||
		    !strcmp(c.method, "PATCH"))
			c.body = "{}";
		http(&c, &r);
		assert_error(&r, 405, cases[i].method);
		assert_string_equal(r.allow, cases[i].allow);
		res_free(&r);
	}
}

static void test_content_type(void **state)
{
	static const char *const bad[] = {"text/plain", "application/x-www-form-urlencoded",
					  "application/jsonx", ""};
	struct res r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct call c = {.method = "POST",
				 .path = "/api/v1/strategies",
				 .body = "{\"pid\": 1, \"priority\": 1}",
				 .ctype = bad[i]};

		http(&c, &r);
		assert_error(&r, 415, "application/json");
		res_free(&r);
		c.method = "PATCH";
		c.path = "/api/v1/config";
		c.body = "{\"debug\": true}";
		http(&c, &r);
		assert_error(&r, 415, NULL);
		res_free(&r);
	}
	{
		struct call c = {.method = "POST",
				 .path = "/api/v1/strategies",
				 .body = "{\"pid\": 1, \"priority\": 1}",
				 .ctype = "Application/JSON; charset=utf-8"};

		http(&c, &r);
		assert_ok(&r, 201);
		res_free(&r);
	}
	assert_int_equal(fb.applies, 0);
}

static char *big_body(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	/* Valid JSON, so only the size can be the reason for a refusal. */
	b[0] = '[';
	for (size_t i = 1; i + 1 < n; i += 2) {
		b[i] = '1';
		b[i + 1] = ',';
	}
	b[n - 2] = '1';
	b[n - 1] = ']';
	b[n] = '\0';
	return b;
}

static void test_too_large(void **state)
{
	char *body = big_body(API_MAX_BODY_BYTES + 2);
	char *fits = big_body(API_MAX_BODY_BYTES - 1);
	struct res r;

	for (int tcp = 0; tcp < 2; tcp++) {
		for (int chunked = 0; chunked < 2; chunked++) {
			for (int expect = 0; expect < 2; expect++) {
				struct call c = {.method = "PUT",
						 .path = "/api/v1/strategies",
						 .body = body,
						 .tcp = tcp,
						 .auth = "Bearer " TOKEN,
						 .chunked = chunked,
						 .no_expect = !expect};

				http(&c, &r);
				assert_error(&r, 413, "65536");
				res_free(&r);
			}
		}
	}
	/* Just under the limit is read in full (and is then the wrong shape). */
	for (int chunked = 0; chunked < 2; chunked++) {
		struct call c = {.method = "PUT",
				 .path = "/api/v1/strategies",
				 .body = fits,
				 .chunked = chunked};

		http(&c, &r);
		assert_error(&r, 400, NULL);
		res_free(&r);
	}
	{
		struct call c = {.method = "PUT",
				 .path = "/api/v1/strategies",
				 .body = "{\"strategies\": [{\"pid\": 1, \"priority\": true}]}",
				 .chunked = true};

		http(&c, &r);
		assert_ok(&r, 200);
		assert_int_equal(json_array_size(json_object_get(r.json, "strategies")), 1);
		res_free(&r);
	}
	free(body);
	free(fits);
}

static void test_malformed(void **state)
{
	static const char *const bodies[] = {
	    "{", "", "nul", "{\"pid\": 1,}", "[1, 2]", "42", "{\"a\": [[[[[[[[[[1]]]]]]]]]]}"};
	struct res r;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct call c = {.method = "POST", .path = "/api/v1/strategies", .body = bodies[i]};

		if (!bodies[i][0]) {
			c.body = NULL;
			c.ctype = "application/json";
		}
		http(&c, &r);
		assert_error(&r, 400, NULL);
		res_free(&r);
	}
	U(&r, "PUT", "/api/v1/strategies", "{\"strategies\": 5}");
	assert_int_not_equal(r.status, 200);
	assert_error(&r, r.status, NULL);
	assert_true(r.status == 400 || r.status == 422);
	res_free(&r);
	U(&r, "PATCH", "/api/v1/config", "[]");
	assert_error(&r, 400, NULL);
	res_free(&r);
	U(&r, "PATCH", "/api/v1/config", "{\"debug\": tru}");
	assert_error(&r, 400, NULL);
	res_free(&r);
}

static void test_invalid_strategy(void **state)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
	    {"{\"pid\": 1, \"priority\": 21}", "priority"},
	    {"{\"pid\": 1, \"priority\": 1, \"colour\": \"red\"}", "colour"},
	    {"{\"command_regex\": \"(\", \"priority\": 1}", "command_regex"},
	    {"{\"priority\": 1}", NULL},
	    {"{\"pid\": -4, \"priority\": 1}", "pid"},
	    {"{\"pid\": \"one\", \"priority\": 1}", "pid"},
	    {"{\"id\": \"no spaces\", \"pid\": 1, \"priority\": 1}", "id"},
	    {"{\"pid\": 1}", NULL},
	};
	struct res r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		U(&r, "POST", "/api/v1/strategies", cases[i].body);
		assert_error(&r, 422, cases[i].field);
		res_free(&r);
		U(&r, "PUT", "/api/v1/strategies/x1", cases[i].body);
		assert_error(&r, 422, NULL);
		res_free(&r);
	}
	U(&r, "PUT", "/api/v1/strategies", "{\"strategies\": [{\"pid\": 1, \"priority\": 99}]}");
	assert_error(&r, 422, "strategies[0]");
	res_free(&r);
	/* Nothing was stored by any of them. */
	U(&r, "GET", "/api/v1/strategies", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "strategies")), 0);
	res_free(&r);
}

/* ---- strategies ---- */

static void test_strategy_crud(void **state)
{
	struct strategy_rule cfg;
	char err[256], id[STRATEGY_ID_MAX];
	struct res r;
	json_t *s, *list;

	U(&r, "POST", "/api/v1/strategies",
	  "{\"id\": \"web\", \"command_regex\": \"^nginx$\", \"priority\": 5, "
	  "\"execution_time\": 2000000}");
	assert_ok(&r, 201);
	assert_string_equal(r.location, "/api/v1/strategies/web");
	s = json_object_get(r.json, "strategy");
	assert_string_equal(json_string_value(json_object_get(s, "id")), "web");
	assert_string_equal(json_string_value(json_object_get(s, "source")), "api");
	assert_int_equal(jint(s, "priority"), 5);
	assert_int_equal(jint(s, "execution_time"), 2000000);
	res_free(&r);

	/* Without an id, the store names it; Location says where. */
	U(&r, "POST", "/api/v1/strategies", "{\"pid\": 1, \"priority\": true}");
	assert_ok(&r, 201);
	s = json_object_get(r.json, "strategy");
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(s, "id")));
	assert_true(strlen(id) > 0);
	assert_string_equal(r.location + strlen("/api/v1/strategies/"), id);
	assert_int_equal(jint(s, "priority"), 20);
	res_free(&r);

	U(&r, "POST", "/api/v1/strategies", "{\"id\": \"web\", \"pid\": 1, \"priority\": 1}");
	assert_error(&r, 409, "web");
	res_free(&r);

	U(&r, "GET", "/api/v1/strategies/web", NULL);
	assert_ok(&r, 200);
	assert_int_equal(jint(json_object_get(r.json, "strategy"), "priority"), 5);
	res_free(&r);

	/* PUT replaces (200), keeps the path's id; an id in the body must agree. */
	U(&r, "PUT", "/api/v1/strategies/web", "{\"command_regex\": \"^nginx$\", \"priority\": 7}");
	assert_ok(&r, 200);
	s = json_object_get(r.json, "strategy");
	assert_string_equal(json_string_value(json_object_get(s, "id")), "web");
	assert_int_equal(jint(s, "priority"), 7);
	res_free(&r);
	U(&r, "PUT", "/api/v1/strategies/web", "{\"id\": \"other\", \"pid\": 1, \"priority\": 7}");
	assert_error(&r, 422, "id");
	res_free(&r);
	U(&r, "PUT", "/api/v1/strategies/web", "{\"id\": \"web\", \"pid\": 2, \"priority\": 3}");
	assert_ok(&r, 200);
	res_free(&r);
	U(&r, "PUT", "/api/v1/strategies/db", "{\"pid\": 3, \"priority\": 2}");
	assert_ok(&r, 201);
	assert_string_equal(r.location, "/api/v1/strategies/db");
	res_free(&r);

	U(&r, "GET", "/api/v1/strategies", NULL);
	assert_ok(&r, 200);
	list = json_object_get(r.json, "strategies");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    "web");
	/* The resolver runs: each strategy carries its stats. */
	assert_true(json_is_integer(json_object_get(json_array_get(list, 0), "decisions")));
	assert_true(json_is_integer(json_object_get(json_array_get(list, 0), "threads")));
	res_free(&r);

	U(&r, "DELETE", "/api/v1/strategies/web", NULL);
	assert_ok(&r, 200);
	res_free(&r);
	U(&r, "DELETE", "/api/v1/strategies/web", NULL);
	assert_error(&r, 404, NULL);
	res_free(&r);
	U(&r, "GET", "/api/v1/strategies/web", NULL);
	assert_error(&r, 404, NULL);
	res_free(&r);

	/* Config-file strategies are read-only here. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.pid = 1;
	cfg.effect.priority = 1;
	assert_int_equal(strategy_store_set_config(store, &cfg, 1, err, sizeof(err)), 0);
	U(&r, "DELETE", "/api/v1/strategies/config-1", NULL);
	assert_error(&r, 409, NULL);
	res_free(&r);
	U(&r, "PUT", "/api/v1/strategies/config-1", "{\"pid\": 1, \"priority\": 2}");
	assert_error(&r, 409, NULL);
	res_free(&r);
	U(&r, "GET", "/api/v1/strategies/config-1", NULL);
	assert_ok(&r, 200);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(r.json, "strategy"), "source")),
	    "config");
	res_free(&r);
}

static void test_replace_all(void **state)
{
	struct strategy_rule cfg;
	char err[256];
	struct res r;
	json_t *list;

	memset(&cfg, 0, sizeof(cfg));
	cfg.pid = 1;
	cfg.effect.priority = 1;
	assert_int_equal(strategy_store_set_config(store, &cfg, 1, err, sizeof(err)), 0);
	U(&r, "POST", "/api/v1/strategies", "{\"id\": \"old\", \"pid\": 1, \"priority\": 1}");
	res_free(&r);

	U(&r, "PUT", "/api/v1/strategies",
	  "{\"strategies\": [{\"id\": \"a\", \"pid\": 1, \"priority\": 2}, "
	  "{\"tid\": 1, \"execution_time\": 1000000}]}");
	assert_ok(&r, 200);
	list = json_object_get(r.json, "strategies");
	assert_int_equal(json_array_size(list), 3); /* config-1, a, and a named one */
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			    "config-1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "id")), "a");
	res_free(&r);
	U(&r, "GET", "/api/v1/strategies/old", NULL);
	assert_error(&r, 404, NULL);
	res_free(&r);

	/* An empty list clears the API strategies; config ones stay. */
	U(&r, "PUT", "/api/v1/strategies", "{\"strategies\": []}");
	assert_ok(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "strategies")), 1);
	res_free(&r);
}

static void *named_thread(void *arg)
{
	pthread_barrier_t *b = arg;

	pthread_barrier_wait(b); /* named by now */
	pthread_barrier_wait(b); /* the test is done */
	return NULL;
}

static bool has_entry(json_t *sched, int pid, bool prio, int level, long long exec)
{
	size_t i;
	json_t *e;

	json_array_foreach(sched, i, e)
	{
		if (jint(e, "pid") == pid && json_is_true(json_object_get(e, "priority")) == prio &&
		    jint(e, "priority_level") == level && jint(e, "execution_time") == exec)
			return true;
	}
	return false;
}

static void test_scheduling_original(void **state)
{
	pthread_barrier_t b;
	pthread_t t;
	struct res r;
	json_t *sched;

	U(&r, "POST", "/api/v1/scheduling/strategies", "{\"strategies\": []}");
	assert_error(&r, 400, NULL);
	res_free(&r);
	U(&r, "POST", "/api/v1/scheduling/strategies", "{\"strategies\": [{\"priority\": true}]}");
	assert_error(&r, 422, NULL);
	res_free(&r);

	/* A thread of this process, not its leader, is what the regex names. */
	pthread_barrier_init(&b, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, named_thread, &b), 0);
	assert_int_equal(pthread_setname_np(t, "gthapitest"), 0);
	pthread_barrier_wait(&b);

	U(&r, "POST", "/api/v1/scheduling/strategies",
	  "{\"strategies\": [{\"priority\": true, \"command_regex\": \"^gthapitest$\"}, "
	  "{\"priority\": false, \"execution_time\": 2000000, \"pid\": 1}, "
	  "{\"priority\": 3, \"command_regex\": \"^no-such-command-here$\"}]}");
	assert_ok(&r, 200);
	res_free(&r);
	U(&r, "GET", "/api/v1/scheduling/strategies", NULL);
	assert_ok(&r, 200);
	sched = json_object_get(r.json, "scheduling");
	assert_int_equal(json_array_size(sched), 2);
	assert_true(has_entry(sched, (int)getpid(), true, 20, 0));
	assert_true(has_entry(sched, 1, false, 0, 2000000));
	res_free(&r);

	/* The original's POST replaces the API strategies, as PUT does. */
	U(&r, "GET", "/api/v1/strategies", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "strategies")), 3);
	res_free(&r);
	pthread_barrier_wait(&b);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&b);
}

static void test_pod_metrics(void **state)
{
	json_t *pods, *p;
	struct res r;

	U(&r, "GET", "/api/v1/pods/metrics", NULL);
	assert_ok(&r, 200);
	pods = json_object_get(r.json, "pods");
	assert_int_equal(json_array_size(pods), 2);
	p = json_array_get(pods, 0);
	assert_string_equal(json_string_value(json_object_get(p, "pod_name")), "upf-0");
	assert_string_equal(json_string_value(json_object_get(p, "namespace")), "telco");
	assert_string_equal(json_string_value(json_object_get(p, "node")), "worker-1");
	assert_int_equal(json_integer_value(json_object_get(p, "voluntary_switches")), 10);
	assert_int_equal(json_integer_value(json_object_get(p, "involuntary_switches")), 3);
	assert_int_equal(json_integer_value(json_object_get(p, "cpu_time_ns")), 1500000000);
	assert_int_equal(json_integer_value(json_object_get(p, "wait_time_ns")), 250000000);
	assert_int_equal(json_integer_value(json_object_get(p, "run_count")), 13);
	assert_int_equal(json_integer_value(json_object_get(p, "migrations")), 4);
	assert_int_equal(json_integer_value(json_object_get(p, "containers")), 2);
	res_free(&r);

	assert_int_equal(T(&r, "GET", "/metrics", NULL), 200);
	assert_true(sample(r.body,
			   "gthulhu_pod_cpu_seconds_total{pod=\"upf-0\",namespace=\"telco\","
			   "node=\"worker-1\",pod_uid=\"0b7c0d2e-1111-4c3b-9a55-000000000001\"}") ==
		    1.5);
	assert_int_equal(sample(r.body,
				"gthulhu_pod_involuntary_switches_total{pod=\"upf-0\",namespace=\""
				"telco\",node=\"worker-1\",pod_uid=\"0b7c0d2e-1111-4c3b-9a55-"
				"000000000001\"}"),
			 3);
	assert_int_equal(sample(r.body, "gthulhu_pod_runs_total{pod=\"\",namespace=\"\",node=\""
					"worker-1\",pod_uid=\"odd\\\"uid\"}"),
			 1);
	assert_int_equal(sample(r.body, "gthulhu_kubernetes_api_reachable"), 1);
	assert_int_equal(sample(r.body, "gthulhu_kubernetes_pods"), 2);
	res_free(&r);
}

static void test_pods(void **state)
{
	struct res r;
	json_t *pods;

	U(&r, "GET", "/api/v1/pods/pids", NULL);
	assert_ok(&r, 200);
	pods = json_object_get(r.json, "pods");
	assert_int_equal(json_array_size(pods), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(pods, 0), "pod_name")),
			    "web-0");
	res_free(&r);
	fb.no_pods = true;
	U(&r, "GET", "/api/v1/pods/pids", NULL);
	assert_ok(&r, 200);
	assert_true(json_is_array(json_object_get(r.json, "pods")));
	assert_int_equal(json_array_size(json_object_get(r.json, "pods")), 0);
	res_free(&r);
}

/* ---- configuration ---- */

static void assert_config_unchanged(uint64_t slice, bool debug, int applies)
{
	pthread_mutex_lock(&fb.lock);
	assert_int_equal(fb.cfg.slice_ns_default, slice);
	assert_int_equal(fb.cfg.debug, debug);
	assert_int_equal(fb.applies, applies);
	pthread_mutex_unlock(&fb.lock);
}

static void test_config(void **state)
{
	static const char *const bad[] = {
	    "{\"scheduler.slice_ns_default\": 7000000, \"builtin_idle\": false}",
	    "{\"scheduler.slice_ns_default\": 7000000, \"debug\": \"yes\"}",
	    "{\"scheduler.slice_ns_default\": 7000000, \"no.such.key\": 1}",
	    "{\"scheduler.slice_ns_default\": -5}",
	    "{\"scheduler.slice_ns_default\": 5.5}",
	    "{\"debug\": false, \"scheduler.slice_ns_min\": 90000000}",
	    "{\"debug\": null}",
	};
	static const struct {
		int rc;
		const char *why;
		long status;
		const char *answer;
	} refusals[] = {
	    {-1, "the loop is gone", 500, "the loop is gone"},
	    {API_CONFIG_CONFLICT, "scheduler.slice_ns_min: above slice_ns_default", 409,
	     "conflicts with the running configuration: scheduler.slice_ns_min"},
	};
	struct config_value vals[64];
	struct gthulhu_config def;
	size_t nv, live = 0;
	struct res r;
	json_t *cfg;

	config_set_defaults(&def);
	nv = config_values(&def, vals, 64);
	U(&r, "GET", "/api/v1/config", NULL);
	assert_ok(&r, 200);
	cfg = json_object_get(r.json, "config");
	assert_int_equal(json_object_size(cfg), nv);
	for (size_t i = 0; i < nv; i++) {
		assert_non_null(json_object_get(cfg, vals[i].path));
		live += vals[i].live;
	}
	assert_int_equal(jint(cfg, "scheduler.slice_ns_default"), (json_int_t)def.slice_ns_default);
	assert_int_equal(json_array_size(json_object_get(r.json, "live")), live);
	res_free(&r);

	U(&r, "PATCH", "/api/v1/config",
	  "{\"scheduler.slice_ns_default\": 6000000, \"debug\": true}");
	assert_ok(&r, 200);
	cfg = json_object_get(r.json, "config");
	assert_int_equal(jint(cfg, "scheduler.slice_ns_default"), 6000000);
	assert_true(json_is_true(json_object_get(cfg, "debug")));
	res_free(&r);
	assert_config_unchanged(6000000, true, 1);

	/* One bad key: 422 and nothing of the request applied. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		U(&r, "PATCH", "/api/v1/config", bad[i]);
		assert_error(&r, 422, NULL);
		res_free(&r);
		assert_config_unchanged(6000000, true, 1);
	}
	U(&r, "GET", "/api/v1/config", NULL);
	assert_int_equal(jint(json_object_get(r.json, "config"), "scheduler.slice_ns_default"),
			 6000000);
	res_free(&r);

	/*
	 * The backend refusing changes nothing either: its failure is the server's (500); a
	 * reload between the request's read and its apply that made it clash is a 409.
	 */
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		fb.refuse_apply = refusals[i].rc;
		fb.refuse_why = refusals[i].why;
		U(&r, "PATCH", "/api/v1/config", "{\"debug\": false}");
		assert_error(&r, refusals[i].status, refusals[i].answer);
		res_free(&r);
		fb.refuse_apply = 0;
		assert_config_unchanged(6000000, true, 1);
	}

	/* Over TCP as well. */
	T(&r, "PATCH", "/api/v1/config", "{\"debug\": false}");
	assert_ok(&r, 200);
	res_free(&r);
	assert_config_unchanged(6000000, false, 2);
}

/* ---- auth and listeners ---- */

static void test_auth(void **state)
{
	static const char *const wrong[] = {
	    NULL,
	    "Bearer",
	    "Bearer ",
	    "Bearer s3cret-Token_0123456788",
	    "Bearer s3cret-Token_012345678",
	    "Bearer s3cret-Token_01234567890",
	    "Basic " TOKEN,
	    TOKEN,
	};
	struct res r;

	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		struct call c = {
		    .method = "GET", .path = "/api/v1/status", .tcp = true, .auth = wrong[i]};

		http(&c, &r);
		assert_error(&r, 401, NULL);
		assert_int_equal(strncmp(r.www_auth, "Bearer", 6), 0);
		res_free(&r);
		/* Refused before the route: an unknown path or a body changes nothing. */
		c.path = "/nope";
		http(&c, &r);
		assert_error(&r, 401, NULL);
		res_free(&r);
		c.path = "/api/v1/strategies";
		c.method = "POST";
		c.body = "{\"pid\": 1, \"priority\": 1}";
		http(&c, &r);
		assert_error(&r, 401, NULL);
		res_free(&r);
	}
	assert_int_equal(T(&r, "GET", "/api/v1/status", NULL), 200);
	res_free(&r);
	{
		struct call c = {.method = "GET",
				 .path = "/api/v1/status",
				 .tcp = true,
				 .auth = "bearer   " TOKEN};

		http(&c, &r);
		assert_int_equal(r.status, 200);
		res_free(&r);
	}
	{
		struct call c = {.method = "GET", .path = "/health", .tcp = true};

		http(&c, &r);
		assert_int_equal(r.status, 200);
		res_free(&r);
	}
	/* The unix socket needs no token: its file mode is the guard. */
	assert_int_equal(U(&r, "GET", "/api/v1/status", NULL), 200);
	res_free(&r);
	U(&r, "GET", "/api/v1/strategies", NULL);
	assert_int_equal(r.status, 200);
	res_free(&r);
	assert_int_equal(T(&r, "GET", "/api/v1/strategies", NULL), 200);
	res_free(&r);
}

static struct api_server *start(const char *unix_path, const char *tcp, const char *token_file,
				bool no_auth, char *err, size_t errlen)
{
	struct api_options opt = {
	    .unix_path = unix_path,
	    .tcp_addr = tcp,
	    .token_file = token_file,
	    .tcp_auth_disabled = no_auth,
	    .store = store,
	    .backend = backend,
	};

	err[0] = '\0';
	return api_start(&opt, err, errlen);
}

static void expect_refusal(const char *unix_path, const char *tcp, const char *token_file,
			   bool no_auth, const char *needle)
{
	char err[512];
	struct api_server *s = start(unix_path, tcp, token_file, no_auth, err, sizeof(err));

	if (s || !strstr(err, needle)) {
		fprintf(stderr, "want a refusal with '%s', got: %s\n", needle, s ? "ok" : err);
		api_stop(s);
		fail();
	}
}

static bool ipv6_loopback(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a));

	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_auth_disabled(void **state)
{
	char err[512];
	struct api_server *s;
	struct res r;
	struct call c = {.method = "GET", .path = "/api/v1/status", .tcp = true};

	s = start(NULL, "127.0.0.1:0", NULL, true, err, sizeof(err));
	assert_non_null(s);
	c.port = api_tcp_port(s);
	assert_int_not_equal(c.port, 0);
	assert_int_not_equal(c.port, port);
	http(&c, &r);
	assert_ok(&r, 200);
	res_free(&r);
	api_stop(s);

	expect_refusal(NULL, "0.0.0.0:0", NULL, true, "loopback");
	expect_refusal(NULL, "10.1.2.3:0", NULL, true, "loopback");
	expect_refusal(NULL, "[::]:0", NULL, true, "loopback");

	s = start(NULL, "[::1]:0", NULL, true, err, sizeof(err));
	if (ipv6_loopback()) {
		char url[64];
		CURL *curl = curl_easy_init();
		long status = 0;

		assert_non_null(s);
		snprintf(url, sizeof(url), "http://[::1]:%u/health", api_tcp_port(s));
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
		memset(&r, 0, sizeof(r));
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
		assert_int_equal(curl_easy_perform(curl), CURLE_OK);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		assert_int_equal(status, 200);
		curl_easy_cleanup(curl);
		res_free(&r);
	} else {
		/* No IPv6 here: refused for that, not as a non-loopback address. */
		assert_null(s);
		assert_null(strstr(err, "loopback"));
	}
	api_stop(s);
}

static void test_start_refusals(void **state)
{
	char path[160], sock2[160];
	struct stat st;

	expect_refusal(NULL, NULL, NULL, false, "neither");
	expect_refusal(NULL, "127.0.0.1:0", NULL, false, "token");
	snprintf(path, sizeof(path), "%s/none", dir);
	expect_refusal(NULL, "127.0.0.1:0", path, false, path);

	snprintf(path, sizeof(path), "%s/token-open", dir);
	write_file(path, TOKEN "\n", 0644);
	expect_refusal(NULL, "127.0.0.1:0", path, false, "chmod 600");
	write_file(path, TOKEN "\n", 0640);
	expect_refusal(NULL, "127.0.0.1:0", path, false, "chmod 600");
	snprintf(path, sizeof(path), "%s/token-empty", dir);
	write_file(path, "\n", 0600);
	expect_refusal(NULL, "127.0.0.1:0", path, false, "empty");
	write_file(path, "", 0600);
	expect_refusal(NULL, "127.0.0.1:0", path, false, "empty");

	expect_refusal(NULL, "127.0.0.1", token_path, false, "host:port");
	expect_refusal(NULL, "::1:80", token_path, false, "host:port");
	expect_refusal(NULL, "[::1]80", token_path, false, "host:port");
	expect_refusal(NULL, "127.0.0.1:99999", token_path, false, "host:port");
	expect_refusal(NULL, "127.0.0.1:", token_path, false, "host:port");
	expect_refusal(NULL, ":8080", token_path, false, "host:port");
	expect_refusal(NULL, "example.invalid:80", token_path, false, "example.invalid");

	/* The socket path of a live server is not taken over... */
	expect_refusal(sock_path, NULL, NULL, false, "another server");
	assert_int_equal(stat(sock_path, &st), 0);
	/* ...nor is a file that is not a socket. */
	snprintf(sock2, sizeof(sock2), "%s/plain-file", dir);
	write_file(sock2, "x", 0600);
	expect_refusal(sock2, NULL, NULL, false, "not a socket");
	assert_int_equal(stat(sock2, &st), 0);
}

static void test_socket_file(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char sock2[160], parent[160], err[512];
	struct api_server *s;
	struct stat st;
	int fd;

	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(parent, sizeof(parent), "%s/run/gthulhu", dir);
	assert_int_equal(stat(parent, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* A stale socket (its server died) is replaced; the file goes when the server stops. */
	snprintf(sock2, sizeof(sock2), "%s/stale.sock", dir);
	assert_true(strlen(sock2) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock2, strlen(sock2) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(stat(sock2, &st), 0);
	s = start(sock2, NULL, NULL, false, err, sizeof(err));
	if (!s)
		fprintf(stderr, "%s\n", err);
	assert_non_null(s);
	assert_int_equal(stat(sock2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	api_stop(s);
	assert_int_equal(stat(sock2, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* ---- persistence, concurrency, logs ---- */

static void test_persistence(void **state)
{
	struct strategy_rule rule;
	struct strategy_store *again;
	char err[256];
	struct res r;

	U(&r, "POST", "/api/v1/strategies",
	  "{\"id\": \"persist-me\", \"pid\": 1, \"priority\": 3, \"execution_time\": 4000000}");
	assert_ok(&r, 201);
	res_free(&r);
	again = strategy_store_new(state_path);
	assert_non_null(again);
	assert_int_equal(strategy_store_load(again, err, sizeof(err)), 0);
	assert_int_equal(strategy_store_get(again, "persist-me", &rule), 0);
	assert_int_equal(rule.pid, 1);
	assert_int_equal(rule.effect.priority, 3);
	assert_int_equal(rule.effect.execution_time_ns, 4000000);
	assert_int_equal(rule.source, STRATEGY_SRC_API);
	strategy_store_free(again);
}

static int unix_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Threads of this process, the server's among them. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static const char get_health[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/* Send GET /health on a new unix connection; the answer is read with read_status(). */
static int send_health(void)
{
	int fd = unix_connect();

	assert_int_equal(write(fd, get_health, sizeof(get_health) - 1),
			 (ssize_t)(sizeof(get_health) - 1));
	return fd;
}

/* The status of the answer on @fd, read to its end by @deadline (now_ms()); 0: none by then. */
static int read_status(int fd, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char head[16] = "", buf[4096];
	size_t got = 0;

	for (;;) {
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) != 1)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (got < sizeof(head) - 1) {
			size_t take =
			    sizeof(head) - 1 - got < (size_t)n ? sizeof(head) - 1 - got : (size_t)n;

			memcpy(head + got, buf, take);
			got += take;
		}
	}
	return strncmp(head, "HTTP/1.1 ", 9) ? -1 : atoi(head + 9);
}

/*
 * A request refused from its headers while its body is on the way (no Expect:
 * 100-continue) has the body read and dropped before the answer, so the client's writes do
 * not fail under it; one that waits for the go-ahead, or announces more than the server
 * reads, is answered at once.
 */
static void test_refusal_with_body(void **state)
{
	static const char sending[] =
	    "POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n";
	static const char waiting[] =
	    "POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: 200000\r\n"
	    "Expect: 100-continue\r\n\r\n";
	static const char huge[] =
	    "PUT /api/v1/strategies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	    "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
	char *body = malloc(200000);
	size_t off = 0;
	int fd;

	assert_non_null(body);
	memset(body, '1', 200000);
	fd = unix_connect();
	assert_int_equal(write(fd, sending, sizeof(sending) - 1), (ssize_t)(sizeof(sending) - 1));
	poll(NULL, 0, 200); /* time to answer and close, were the server to do so now */
	while (off < 200000) {
		ssize_t n = send(fd, body + off, 200000 - off, MSG_NOSIGNAL);

		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(read_status(fd, now_ms() + 5000), 404);
	close(fd);
	free(body);

	fd = unix_connect();
	assert_int_equal(write(fd, waiting, sizeof(waiting) - 1), (ssize_t)(sizeof(waiting) - 1));
	assert_int_equal(read_status(fd, now_ms() + 2000), 404);
	close(fd);

	fd = unix_connect();
	assert_int_equal(write(fd, huge, sizeof(huge) - 1), (ssize_t)(sizeof(huge) - 1));
	assert_int_equal(read_status(fd, now_ms() + 2000), 413);
	close(fd);
}

/*
 * Past API_MAX_CONNECTIONS open connections a client waits in the accept queue (it is not
 * dropped), and is served as soon as slots free up. The open connections cost no threads:
 * the server's fixed pool serves them all.
 */
static void test_connection_limit(void **state)
{
	int idle[API_MAX_CONNECTIONS];
	int threads = thread_count(), threads_open, waiting, fd;

	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		idle[i] = unix_connect();
	fd = send_health();
	waiting = read_status(fd, now_ms() + 500); /* 0: neither answered nor closed */
	threads_open = thread_count();
	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		close(idle[i]);
	assert_int_equal(waiting, 0);
	assert_int_equal(threads_open, threads);
	assert_int_equal(read_status(fd, now_ms() + 5000), 200);
	close(fd);
}

/* Many more connections than the server has threads, one after another as gthulhuctl makes them. */
static void test_many_connections(void **state)
{
	int threads = thread_count();

	for (int i = 0; i < 20 * API_MAX_CONNECTIONS; i++) {
		int fd = send_health();

		assert_int_equal(read_status(fd, now_ms() + 5000), 200);
		close(fd);
	}
	assert_int_equal(thread_count(), threads);
}

static void *slow_patch(void *arg)
{
	U(arg, "PATCH", "/api/v1/config", "{\"debug\": true}");
	return NULL;
}

/*
 * A handler that blocks (a strategy change waiting on fsync, here a config change the fake
 * backend holds until released) keeps one server thread; new connections go to the others,
 * so even several at once are answered while it waits.
 */
static void test_slow_request(void **state)
{
	enum { FAST = 16 }; /* several times the server's threads */
	int fd[FAST], status[FAST];
	struct res slow;
	uint64_t deadline;
	pthread_t t;

	pthread_mutex_lock(&fb.lock);
	fb.slow_apply = true;
	fb.slow_entered = false;
	fb.slow_release = false;
	pthread_mutex_unlock(&fb.lock);
	assert_int_equal(pthread_create(&t, NULL, slow_patch, &slow), 0);
	pthread_mutex_lock(&fb.lock);
	while (!fb.slow_entered)
		pthread_cond_wait(&fb.slow_cond, &fb.lock);
	pthread_mutex_unlock(&fb.lock);

	for (int i = 0; i < FAST; i++)
		fd[i] = send_health();
	deadline = now_ms() + 2000;
	for (int i = 0; i < FAST; i++) {
		status[i] = read_status(fd[i], deadline);
		close(fd[i]);
	}
	/* Released before any assertion, so a failure cannot leave the server stuck. */
	pthread_mutex_lock(&fb.lock);
	fb.slow_release = true;
	fb.slow_apply = false;
	pthread_cond_broadcast(&fb.slow_cond);
	pthread_mutex_unlock(&fb.lock);
	pthread_join(t, NULL);
	for (int i = 0; i < FAST; i++)
		assert_int_equal(status[i], 200);
	assert_ok(&slow, 200);
	res_free(&slow);
}

/*
 * A connection that stops sending is closed after the idle timeout (API_CONN_TIMEOUT_S in
 * api.c, 10 s), so a slow client cannot hold a slot for ever.
 */
static void test_idle_timeout(void **state)
{
	static const char part[] = "GET /health HTTP/1.1\r\nHost: x\r\n";
	uint64_t t0 = now_ms(), waited;
	int fd = unix_connect();
	char buf[64];

	assert_int_equal(write(fd, part, sizeof(part) - 1), (ssize_t)(sizeof(part) - 1));
	assert_int_equal(read_status(fd, t0 + 15000), -1); /* closed without an answer */
	waited = now_ms() - t0;
	if (waited < 9000 || waited > 14000)
		fprintf(stderr, "closed after %llu ms\n", (unsigned long long)waited);
	assert_true(waited >= 9000 && waited <= 14000);
	assert_true(read(fd, buf, sizeof(buf)) <= 0);
	close(fd);
}

struct worker {
	int n;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	CURL *unix_curl = curl_easy_init(), *tcp_curl = curl_easy_init();
	char body[128], path[64];

	for (int i = 0; i < 100; i++) {
		struct call c = {.method = "GET", .auth = "Bearer " TOKEN};
		long want = 200;
		struct res r;

		switch (i % 5) {
		case 0:
			c.path = "/api/v1/status";
			break;
		case 1:
			c.path = "/metrics";
			c.tcp = true;
			break;
		case 2:
			snprintf(body, sizeof(body),
				 "{\"id\": \"w%d-%d\", \"pid\": %d, \"priority\": 1}", w->n, i,
				 i + 1);
			c.method = "POST";
			c.path = "/api/v1/strategies";
			c.body = body;
			c.tcp = w->n % 2;
			want = 201;
			break;
		case 3:
			snprintf(path, sizeof(path), "/api/v1/strategies/w%d-%d", w->n, i - 1);
			c.method = "DELETE";
			c.path = path;
			break;
		default:
			c.path = i % 2 ? "/health" : "/api/v1/config";
			c.tcp = true;
			break;
		}
		http_on(c.tcp ? tcp_curl : unix_curl, &c, &r);
		if (r.status != want || r.curl_rc) {
			fprintf(stderr, "worker %d request %d %s %s: status %ld curl %d\n", w->n, i,
				c.method, c.path, r.status, r.curl_rc);
			w->failures++;
		}
		res_free(&r);
	}
	curl_easy_cleanup(unix_curl);
	curl_easy_cleanup(tcp_curl);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct worker w[8];
	pthread_t t[8];
	struct res r;

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.n = i};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	U(&r, "GET", "/api/v1/strategies", NULL);
	assert_int_equal(json_array_size(json_object_get(r.json, "strategies")), 0);
	res_free(&r);
}

/* Runs last: the log has every request at debug, changes at info, and never the token. */
static void test_log(void **state)
{
	static char text[1 << 22];
	ssize_t n;
	int fd = open(log_path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_null(strstr(text, TOKEN));
	assert_null(strstr(text, "s3cret"));
	assert_non_null(strstr(text, "\"msg\":\"api request\""));
	assert_non_null(strstr(text, "\"level\":\"info\",\"msg\":\"strategy created\""));
	assert_non_null(strstr(text, "\"msg\":\"strategy deleted\""));
	assert_non_null(strstr(text, "\"msg\":\"config changed through the api\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_health, setup),
	    cmocka_unit_test_setup(test_status, setup),
	    cmocka_unit_test_setup(test_metrics_json, setup),
	    cmocka_unit_test_setup(test_prometheus, setup),
	    cmocka_unit_test_setup(test_not_found, setup),
	    cmocka_unit_test_setup(test_wrong_method, setup),
	    cmocka_unit_test_setup(test_content_type, setup),
	    cmocka_unit_test_setup(test_too_large, setup),
	    cmocka_unit_test_setup(test_malformed, setup),
	    cmocka_unit_test_setup(test_invalid_strategy, setup),
	    cmocka_unit_test_setup(test_strategy_crud, setup),
	    cmocka_unit_test_setup(test_replace_all, setup),
	    cmocka_unit_test_setup(test_scheduling_original, setup),
	    cmocka_unit_test_setup(test_pods, setup),
	    cmocka_unit_test_setup(test_pod_metrics, setup),
	    cmocka_unit_test_setup(test_config, setup),
	    cmocka_unit_test_setup(test_auth, setup),
	    cmocka_unit_test_setup(test_auth_disabled, setup),
	    cmocka_unit_test_setup(test_start_refusals, setup),
	    cmocka_unit_test_setup(test_socket_file, setup),
	    cmocka_unit_test_setup(test_persistence, setup),
	    cmocka_unit_test_setup(test_refusal_with_body, setup),
	    cmocka_unit_test_setup(test_connection_limit, setup),
	    cmocka_unit_test_setup(test_many_connections, setup),
	    cmocka_unit_test_setup(test_slow_request, setup),
	    cmocka_unit_test_setup(test_idle_timeout, setup),
	    cmocka_unit_test_setup(test_concurrent, setup),
	    cmocka_unit_test_setup(test_log, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
