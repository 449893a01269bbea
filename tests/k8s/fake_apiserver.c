// SPDX-License-Identifier: GPL-2.0
/*
 * A Kubernetes API server that speaks just enough of the real one for the tests of the
 * daemon's Kubernetes client (src/k8s/kube_client.c, tests/unit/test_kube_client.c).
 *
 *   fake-apiserver --port N (0 = pick one) [--token T] [--state-dir D]
 *                  [--tls-cert F --tls-key F [--tls-client-ca F]]
 *
 * Listens on 127.0.0.1 and prints "ready port=N" on stdout. With --tls-cert and --tls-key
 * it speaks https only (PEM files; tests/k8s/make-test-certs.sh makes a set). With
 * --tls-client-ca it also asks for a client certificate and, as the real API server does,
 * takes one that this CA signed as proof of identity instead of a bearer token. It keeps Pods and
 * SchedulingStrategies (gthulhu.io/v1alpha1, cluster-scoped) in memory and serves, as the
 * real API does:
 *   GET /api/v1/pods[?fieldSelector=spec.nodeName=X][&limit=N&continue=C]   a PodList
 *   GET /apis/gthulhu.io/v1alpha1/schedulingstrategies                      a ...List
 *   the same with watch=1&resourceVersion=R[&allowWatchBookmarks=true][&timeoutSeconds=S]:
 *       a chunked stream of {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}
 *   GET /apis/gthulhu.io/v1alpha1/schedulingstrategies/<name>               one object
 *   PATCH /apis/gthulhu.io/v1alpha1/schedulingstrategies/<name>/status      the status
 *       subresource, Content-Type application/merge-patch+json only (415 otherwise): an
 *       RFC 7386 merge of the body's "status" into the object's (nothing else of the
 *       body is used, as the real subresource ignores the spec), a new resourceVersion
 *       and a MODIFIED event; the object in the answer; 404 for an unknown name
 * with one global, increasing resourceVersion; 401 when --token is set and the bearer
 * differs; 404 (a Status object) for any other path; 410 for a watch from a
 * resourceVersion older than the kept history.
 *
 * Controls for the tests (not part of the real API):
 *   POST   /fake/pods                  add or replace a Pod (JSON body; uid made up if absent)
 *   DELETE /fake/pods/<ns>/<name>
 *   POST   /fake/strategies            add or replace a SchedulingStrategy; a body without
 *                                      "status" keeps the old object's (as an update of
 *                                      the main resource does with a status subresource)
 *   DELETE /fake/strategies/<name>
 *   POST   /fake/expire[?keep_watches=1]  forget the history: watches from a
 *                                      resourceVersion older than the current one get 410;
 *                                      running watches get an ERROR event (code 410) and
 *                                      end, unless keep_watches
 *   POST   /fake/drop                  cut every open watch without ending its stream
 *   POST   /fake/hold?on=1|0           stop / resume delivering events to running watches
 *   POST   /fake/slow?ms=N             answer every API request N ms late
 *   POST   /fake/token?value=T         accept another token ("" = no auth)
 *   POST   /fake/crd?installed=0|1     the SchedulingStrategy resource exists or not (404)
 *   POST   /fake/patchfail?code=N      answer every status PATCH with HTTP N (a Status
 *                                      object); N = 1: close the connection, no answer;
 *                                      0: serve them again
 *   GET    /fake/stats                 list and watch requests by path, PATCH requests
 *                                      ("patches", whatever their answer), and the last
 *                                      requests with their raw query strings
 * With --state-dir the objects and the resourceVersion are saved to D/state.json after
 * every change and loaded at start, so a killed server comes back with the same pods.
 *
 * One thread per connection (libmicrohttpd): a watch simply blocks in its content
 * callback on a condition variable until there is something to send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#define BODY_MAX      (4u << 20) /* request bodies of the control endpoints */
#define EVENTS_MAX    4096	 /* history kept for watches; older ones get 410 */
#define REQUESTS_KEPT 256	 /* recent requests shown by /fake/stats */

#define PODS_PATH	"/api/v1/pods"
#define STRATEGIES_PATH "/apis/gthulhu.io/v1alpha1/schedulingstrategies"

enum kind { KIND_POD, KIND_STRATEGY, NR_KINDS };

struct event {
	uint64_t rv;
	enum kind kind;
	const char *type; /* ADDED, MODIFIED, DELETED */
	json_t *obj;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* any change a watch may care about */
	uint64_t rv;		/* the last resourceVersion handed out */
	uint64_t hist_rv;	/* watches from an rv below this get 410 */
	uint64_t expire_gen, drop_gen;
	bool hold, stopping, crd_missing;
	unsigned int slow_ms;
	unsigned int patch_fail; /* /fake/patchfail: 0, an HTTP status, or 1 = no answer */
	uint64_t patches;	 /* PATCH requests received */
	char *token;		 /* NULL: no auth */
	bool client_certs;	 /* --tls-client-ca: a verified client certificate authenticates */
	json_t *objs[NR_KINDS];	 /* key ("ns/name" or "name") -> object */
	struct event events[EVENTS_MAX];
	size_t nevents;
	json_t *lists, *watches, *requests; /* /fake/stats */
	const char *state_dir;
} st = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
};

/* One request: the raw URI (from the URI log callback) and its body. */
struct req {
	char *uri;
	char *body;
	size_t len;
	bool started, too_big;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *kind_name(enum kind k)
{
	return k == KIND_POD ? "Pod" : "SchedulingStrategy";
}

/* ---- state (callers hold st.lock) -------------------------------------------------- */

static void save_state(void)
{
	char path[4096], tmp[4200];
	json_t *doc;

	if (!st.state_dir)
		return;
	snprintf(path, sizeof(path), "%s/state.json", st.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	doc = json_pack("{s:I, s:O, s:O}", "rv", (json_int_t)st.rv, "pods", st.objs[KIND_POD],
			"strategies", st.objs[KIND_STRATEGY]);
	if (!doc || json_dump_file(doc, tmp, JSON_COMPACT) || rename(tmp, path))
		fprintf(stderr, "fake-apiserver: cannot save %s\n", path);
	json_decref(doc);
}

static void load_state(void)
{
	char path[4096];
	json_t *doc, *pods, *strategies;

	snprintf(path, sizeof(path), "%s/state.json", st.state_dir);
	doc = json_load_file(path, 0, NULL);
	if (!doc)
		return; /* first start */
	st.rv = (uint64_t)json_integer_value(json_object_get(doc, "rv"));
	st.hist_rv = st.rv; /* no history survives a restart, as on a real server */
	pods = json_object_get(doc, "pods");
	strategies = json_object_get(doc, "strategies");
	if (json_is_object(pods))
		json_object_update(st.objs[KIND_POD], pods);
	if (json_is_object(strategies))
		json_object_update(st.objs[KIND_STRATEGY], strategies);
	json_decref(doc);
}

/* Record a change: a new resourceVersion on @obj (which the event keeps a reference to). */
static void record(enum kind kind, const char *type, json_t *obj)
{
	char rv[32];
	json_t *meta = json_object_get(obj, "metadata");

	st.rv++;
	snprintf(rv, sizeof(rv), "%" PRIu64, st.rv);
	json_object_set_new(meta, "resourceVersion", json_string(rv));
	if (st.nevents == EVENTS_MAX) {
		/* The oldest event goes; a watch that still needed it must relist. */
		st.hist_rv = st.events[0].rv;
		json_decref(st.events[0].obj);
		memmove(&st.events[0], &st.events[1], (EVENTS_MAX - 1) * sizeof(st.events[0]));
		st.nevents--;
	}
	st.events[st.nevents++] = (struct event){st.rv, kind, type, json_incref(obj)};
	save_state();
	pthread_cond_broadcast(&st.changed);
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(json_object_get(obj, a), b));

	return s ? s : "";
}

/* Does @obj pass the watch's or list's filter (only Pods have one: spec.nodeName)? */
static bool selected(enum kind kind, const json_t *obj, const char *node)
{
	return kind != KIND_POD || !node || !strcmp(str_at(obj, "spec", "nodeName"), node);
}

/* ---- HTTP helpers -------------------------------------------------------------------- */

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned int code, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	struct MHD_Response *resp;
	enum MHD_Result ret;

	json_decref(doc);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A metav1.Status, the shape every error of the real API has. */
static enum MHD_Result send_status(struct MHD_Connection *conn, unsigned int code,
				   const char *reason, const char *message)
{
	return send_json(conn, code,
			 json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
				   "apiVersion", "v1", "metadata", "status", "Failure", "message",
				   message, "reason", reason, "code", (int)code));
}

/* /fake/crd?installed=0: the SchedulingStrategy resource does not exist, as without the CRD. */
static bool crd_missing(void)
{
	bool missing;

	pthread_mutex_lock(&st.lock);
	missing = st.crd_missing;
	pthread_mutex_unlock(&st.lock);
	return missing;
}

static enum MHD_Result send_crd_missing(struct MHD_Connection *conn)
{
	return send_status(conn, 404, "NotFound",
			   "the server could not find the requested resource");
}

static const char *arg(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

static void count_request(const char *path, const char *uri, bool watch)
{
	json_t *by = watch ? st.watches : st.lists;
	const char *q = strchr(uri, '?');

	json_object_set_new(by, path,
			    json_integer(json_integer_value(json_object_get(by, path)) + 1));
	if (json_array_size(st.requests) >= REQUESTS_KEPT)
		json_array_remove(st.requests, 0);
	json_array_append_new(st.requests, json_pack("{s:s, s:s, s:b}", "path", path, "query",
						     q ? q + 1 : "", "watch", watch));
}

/* ---- LIST ---------------------------------------------------------------------------- */

static enum MHD_Result serve_list(struct MHD_Connection *conn, enum kind kind, const char *node)
{
	const char *limit_s = arg(conn, "limit"), *cont = arg(conn, "continue");
	size_t limit = limit_s ? strtoul(limit_s, NULL, 10) : 0;
	size_t offset = cont ? strtoul(cont, NULL, 10) : 0, i = 0;
	json_t *items = json_array(), *meta, *obj;
	const char *key;
	char rv[32];

	pthread_mutex_lock(&st.lock);
	json_object_foreach(st.objs[kind], key, obj)
	{
		if (!selected(kind, obj, node))
			continue;
		if (i++ < offset)
			continue;
		if (limit && json_array_size(items) == limit)
			break;
		json_array_append(items, obj);
	}
	snprintf(rv, sizeof(rv), "%" PRIu64, st.rv);
	pthread_mutex_unlock(&st.lock);
	meta = json_pack("{s:s}", "resourceVersion", rv);
	if (limit && i > offset + limit) {
		char next[32];

		/* Only a page ended early sets "continue" (i counted one past the page). */
		snprintf(next, sizeof(next), "%zu", offset + limit);
		json_object_set_new(meta, "continue", json_string(next));
	}
	return send_json(conn, 200,
			 json_pack("{s:s, s:s, s:o, s:o}", "kind",
				   kind == KIND_POD ? "PodList" : "SchedulingStrategyList",
				   "apiVersion", kind == KIND_POD ? "v1" : "gthulhu.io/v1alpha1",
				   "metadata", meta, "items", items));
}

/* ---- WATCH --------------------------------------------------------------------------- */

struct watch {
	enum kind kind;
	char *node;  /* fieldSelector spec.nodeName, or NULL */
	uint64_t rv; /* events up to here were sent (or filtered out) */
	uint64_t expire_gen, drop_gen;
	uint64_t deadline;  /* monotonic ms when the stream ends normally; 0 = never */
	uint64_t last_sent; /* for bookmarks */
	bool bookmarks, finish;
	char *out; /* text waiting to be sent */
	size_t out_len, out_off;
	json_t *initial; /* ADDED events owed to a watch started without an rv */
};

static void out_event(struct watch *w, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
	char *line = json_dumps(ev, JSON_COMPACT);
	size_t n = line ? strlen(line) : 0;
	char *grown = realloc(w->out, w->out_len + n + 1);

	if (grown) {
		w->out = grown;
		memcpy(w->out + w->out_len, line, n);
		w->out[w->out_len + n] = '\n';
		w->out_len += n + 1;
	}
	free(line);
	json_decref(ev);
}

/* Fill w->out with what the watch should see next; false when it must be cut. */
static bool watch_fill(struct watch *w)
{
	if (w->initial) {
		size_t i;
		json_t *obj;

		json_array_foreach(w->initial, i, obj)
		{
			out_event(w, "ADDED", obj);
		}
		json_decref(w->initial);
		w->initial = NULL;
		return true;
	}
	pthread_mutex_lock(&st.lock);
	for (;;) {
		struct timespec ts;
		uint64_t now = now_ms();

		if (st.stopping || st.drop_gen != w->drop_gen) {
			pthread_mutex_unlock(&st.lock);
			return false;
		}
		if (st.expire_gen != w->expire_gen) {
			char msg[96];
			json_t *status;

			snprintf(msg, sizeof(msg),
				 "too old resource version: %" PRIu64 " (%" PRIu64 ")", w->rv,
				 st.hist_rv);
			status = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status",
					   "apiVersion", "v1", "metadata", "status", "Failure",
					   "message", msg, "reason", "Expired", "code", 410);
			out_event(w, "ERROR", status);
			json_decref(status);
			w->finish = true;
			break;
		}
		if (!st.hold) {
			for (size_t i = 0; i < st.nevents; i++) {
				struct event *e = &st.events[i];

				if (e->rv <= w->rv || e->kind != w->kind ||
				    !selected(e->kind, e->obj, w->node))
					continue;
				out_event(w, e->type, e->obj);
			}
			if (st.rv > w->rv)
				w->rv = st.rv;
			if (w->out_len)
				break;
		}
		if (w->deadline && now >= w->deadline) {
			w->finish = true;
			break;
		}
		if (w->bookmarks && now - w->last_sent >= 1000) {
			char rv[32];
			json_t *obj;

			/* Everything up to w->rv was delivered, so a bookmark there is true. */
			snprintf(rv, sizeof(rv), "%" PRIu64, w->rv);
			obj = json_pack("{s:s, s:s, s:{s:s}}", "kind", kind_name(w->kind),
					"apiVersion",
					w->kind == KIND_POD ? "v1" : "gthulhu.io/v1alpha1",
					"metadata", "resourceVersion", rv);
			out_event(w, "BOOKMARK", obj);
			json_decref(obj);
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&st.changed, &st.lock, &ts);
	}
	pthread_mutex_unlock(&st.lock);
	w->last_sent = now_ms();
	return true;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct watch *w = cls;
	size_t n;

	while (w->out_off == w->out_len) {
		w->out_off = w->out_len = 0;
		if (w->finish)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!watch_fill(w))
			return MHD_CONTENT_READER_END_WITH_ERROR; /* no final chunk: a cut */
	}
	n = w->out_len - w->out_off < max ? w->out_len - w->out_off : max;
	memcpy(buf, w->out + w->out_off, n);
	w->out_off += n;
	return (ssize_t)n;
}

static void watch_free(void *cls)
{
	struct watch *w = cls;

	json_decref(w->initial);
	free(w->node);
	free(w->out);
	free(w);
}

static enum MHD_Result serve_watch(struct MHD_Connection *conn, enum kind kind, const char *node)
{
	const char *rv_s = arg(conn, "resourceVersion"), *bm = arg(conn, "allowWatchBookmarks");
	const char *timeout_s = arg(conn, "timeoutSeconds");
	struct watch *w = calloc(1, sizeof(*w));
	struct MHD_Response *resp;
	enum MHD_Result ret;
	uint64_t rv = rv_s ? strtoull(rv_s, NULL, 10) : 0;

	if (!w)
		return MHD_NO;
	w->kind = kind;
	w->node = node ? strdup(node) : NULL;
	w->bookmarks = bm && !strcmp(bm, "true");
	w->last_sent = now_ms();
	if (timeout_s && atoi(timeout_s) > 0)
		w->deadline = now_ms() + 1000ull * (unsigned int)atoi(timeout_s);
	pthread_mutex_lock(&st.lock);
	w->expire_gen = st.expire_gen;
	w->drop_gen = st.drop_gen;
	if (rv == 0) {
		/* No rv: the current objects as ADDED events, then what follows. */
		const char *key;
		json_t *obj;

		w->initial = json_array();
		json_object_foreach(st.objs[kind], key, obj)
		{
			if (selected(kind, obj, node))
				json_array_append(w->initial, obj);
		}
		w->rv = st.rv;
	} else if (rv < st.hist_rv) {
		char msg[96];

		pthread_mutex_unlock(&st.lock);
		watch_free(w);
		snprintf(msg, sizeof(msg), "too old resource version: %" PRIu64, rv);
		return send_status(conn, 410, "Expired", msg);
	} else {
		w->rv = rv;
	}
	pthread_mutex_unlock(&st.lock);
	resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, watch_read, w, watch_free);
	if (!resp) {
		watch_free(w);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- one object and its status ---------------------------------------------------------- */

/* RFC 7386 MergePatch(target, patch): returns the result (a new reference). */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	json_t *out, *v;
	const char *key;

	if (!json_is_object(patch))
		return json_incref(patch);
	out = json_is_object(target) ? json_deep_copy(target) : json_object();
	json_object_foreach(patch, key, v)
	{
		if (json_is_null(v)) {
			json_object_del(out, key);
		} else {
			json_t *merged = merge_patch(json_object_get(out, key), v);

			json_object_set_new(out, key, merged);
		}
	}
	return out;
}

/* GET .../schedulingstrategies/<name> and PATCH .../schedulingstrategies/<name>/status. */
static enum MHD_Result serve_object(struct MHD_Connection *conn, const char *method,
				    const char *sub, struct req *r)
{
	const char *slash = strchr(sub, '/');
	const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	bool patch = !strcmp(method, "PATCH");
	char name[256];
	json_t *obj, *body, *status;
	unsigned int fail = 0;
	size_t len = slash ? (size_t)(slash - sub) : strlen(sub);

	if (patch) {
		pthread_mutex_lock(&st.lock);
		st.patches++;
		fail = st.patch_fail;
		pthread_mutex_unlock(&st.lock);
	}
	if (!len || len >= sizeof(name) || (slash && strcmp(slash, "/status")))
		return send_status(conn, 404, "NotFound",
				   "the server could not find the requested resource");
	memcpy(name, sub, len);
	name[len] = '\0';
	if (!strcmp(method, "GET") && !slash) {
		pthread_mutex_lock(&st.lock);
		obj = json_deep_copy(json_object_get(st.objs[KIND_STRATEGY], name));
		pthread_mutex_unlock(&st.lock);
		if (!obj)
			return send_status(conn, 404, "NotFound", "schedulingstrategies not found");
		return send_json(conn, 200, obj);
	}
	if (!patch || !slash)
		return send_status(conn, 405, "MethodNotAllowed",
				   "GET an object, or PATCH its status");
	if (fail == 1)
		return MHD_NO; /* the connection closes without an answer */
	if (fail)
		return send_status(conn, fail, fail == 403 ? "Forbidden" : "Failure",
				   "status patches are refused (/fake/patchfail)");
	if (!ctype || strncmp(ctype, "application/merge-patch+json", 28) ||
	    (ctype[28] && ctype[28] != ';'))
		return send_status(conn, 415, "UnsupportedMediaType",
				   "only application/merge-patch+json is served here");
	body = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		return send_status(conn, 400, "BadRequest", "the patch is not a JSON object");
	}
	pthread_mutex_lock(&st.lock);
	obj = json_object_get(st.objs[KIND_STRATEGY], name);
	if (!obj) {
		pthread_mutex_unlock(&st.lock);
		json_decref(body);
		return send_status(conn, 404, "NotFound", "schedulingstrategies not found");
	}
	/* A copy: the stored object is shared with earlier events, which keep their rv. */
	obj = json_deep_copy(obj);
	status = json_object_get(body, "status");
	if (status) {
		json_t *merged = merge_patch(json_object_get(obj, "status"), status);

		if (json_is_null(merged)) {
			json_object_del(obj, "status");
			json_decref(merged);
		} else {
			json_object_set_new(obj, "status", merged);
		}
	}
	record(KIND_STRATEGY, "MODIFIED", obj);
	json_object_set(st.objs[KIND_STRATEGY], name, obj);
	pthread_mutex_unlock(&st.lock);
	json_decref(body);
	return send_json(conn, 200, obj);
}

/* ---- the API ------------------------------------------------------------------------- */

/* Did the client show a certificate that the --tls-client-ca CA signed? */
static bool client_cert_verified(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned int n = 0, status = 0;
	gnutls_session_t s;

	if (!ci || !ci->tls_session)
		return false;
	s = (gnutls_session_t)ci->tls_session;
	if (!gnutls_certificate_get_peers(s, &n) || !n)
		return false;
	return gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && !status;
}

static bool authorized(struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	bool ok;

	if (st.client_certs && client_cert_verified(conn))
		return true;

	pthread_mutex_lock(&st.lock);
	ok = !st.token || (auth && !strncmp(auth, "Bearer ", 7) && !strcmp(auth + 7, st.token));
	pthread_mutex_unlock(&st.lock);
	return ok;
}

static enum MHD_Result serve_api(struct MHD_Connection *conn, const char *method, const char *path,
				 const char *uri, struct req *r)
{
	const char *watch = arg(conn, "watch"), *sel = arg(conn, "fieldSelector");
	bool is_watch = watch && (!strcmp(watch, "1") || !strcmp(watch, "true"));
	const char *node = NULL;
	unsigned int slow;
	enum kind kind;

	pthread_mutex_lock(&st.lock);
	slow = st.slow_ms;
	pthread_mutex_unlock(&st.lock);
	if (slow)
		usleep(slow * 1000u);
	if (!authorized(conn))
		return send_status(conn, 401, "Unauthorized", "Unauthorized");
	if (!strcmp(path, PODS_PATH)) {
		kind = KIND_POD;
	} else if (!strcmp(path, STRATEGIES_PATH)) {
		if (crd_missing())
			return send_crd_missing(conn);
		kind = KIND_STRATEGY;
	} else if (!strncmp(path, STRATEGIES_PATH "/", strlen(STRATEGIES_PATH) + 1)) {
		if (crd_missing())
			return send_crd_missing(conn);
		return serve_object(conn, method, path + strlen(STRATEGIES_PATH) + 1, r);
	} else {
		return send_status(conn, 404, "NotFound",
				   "the server could not find the requested resource");
	}
	if (strcmp(method, "GET"))
		return send_status(conn, 405, "MethodNotAllowed", "only GET is served here");
	if (sel) {
		if (kind != KIND_POD || strncmp(sel, "spec.nodeName=", 14))
			return send_status(conn, 400, "BadRequest", "unsupported fieldSelector");
		node = sel + 14;
	}
	pthread_mutex_lock(&st.lock);
	count_request(path, uri, is_watch);
	pthread_mutex_unlock(&st.lock);
	return is_watch ? serve_watch(conn, kind, node) : serve_list(conn, kind, node);
}

/* ---- the controls -------------------------------------------------------------------- */

/* Add or replace an object from a request body. */
static enum MHD_Result put_object(struct MHD_Connection *conn, enum kind kind, struct req *r)
{
	json_t *obj = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	json_t *meta = json_object_get(obj, "metadata"), *old;
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	char key[600];

	if (!json_is_object(obj) || !name) {
		json_decref(obj);
		return send_status(conn, 400, "BadRequest",
				   "an object with metadata.name is needed");
	}
	if (kind == KIND_POD) {
		if (!ns) {
			ns = "default";
			json_object_set_new(meta, "namespace", json_string(ns));
		}
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		json_object_set_new(obj, "apiVersion", json_string("v1"));
	} else {
		snprintf(key, sizeof(key), "%s", name);
		json_object_set_new(obj, "apiVersion", json_string("gthulhu.io/v1alpha1"));
	}
	json_object_set_new(obj, "kind", json_string(kind_name(kind)));
	pthread_mutex_lock(&st.lock);
	old = json_object_get(st.objs[kind], key);
	if (kind == KIND_STRATEGY && old && !json_object_get(obj, "status") &&
	    json_object_get(old, "status"))
		json_object_set_new(obj, "status", json_deep_copy(json_object_get(old, "status")));
	if (!json_object_get(meta, "uid")) {
		const char *old_uid = str_at(old, "metadata", "uid");
		char uid[64];

		if (old_uid[0])
			snprintf(uid, sizeof(uid), "%s", old_uid);
		else
			snprintf(uid, sizeof(uid), "fake-uid-%" PRIu64, st.rv + 1);
		json_object_set_new(meta, "uid", json_string(uid));
	}
	record(kind, old ? "MODIFIED" : "ADDED", obj);
	json_object_set_new(st.objs[kind], key, obj);
	pthread_mutex_unlock(&st.lock);
	return send_json(conn, 200, json_pack("{s:s}", "key", key));
}

static enum MHD_Result delete_object(struct MHD_Connection *conn, enum kind kind, const char *key)
{
	json_t *obj;

	pthread_mutex_lock(&st.lock);
	obj = json_object_get(st.objs[kind], key);
	if (!obj) {
		pthread_mutex_unlock(&st.lock);
		return send_status(conn, 404, "NotFound", "no such object");
	}
	/* A copy: the stored object is shared with earlier events, which keep their rv. */
	obj = json_deep_copy(obj);
	json_object_del(st.objs[kind], key);
	record(kind, "DELETED", obj);
	json_decref(obj);
	pthread_mutex_unlock(&st.lock);
	return send_json(conn, 200, json_pack("{s:s}", "deleted", key));
}

static enum MHD_Result serve_fake(struct MHD_Connection *conn, const char *method, const char *path,
				  struct req *r)
{
	bool post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	const char *v;

	if (post && !strcmp(path, "/fake/pods"))
		return put_object(conn, KIND_POD, r);
	if (post && !strcmp(path, "/fake/strategies"))
		return put_object(conn, KIND_STRATEGY, r);
	if (del && !strncmp(path, "/fake/pods/", 11))
		return delete_object(conn, KIND_POD, path + 11);
	if (del && !strncmp(path, "/fake/strategies/", 17))
		return delete_object(conn, KIND_STRATEGY, path + 17);
	if (!strcmp(method, "GET") && !strcmp(path, "/fake/stats")) {
		json_t *doc;

		pthread_mutex_lock(&st.lock);
		doc = json_pack("{s:O, s:O, s:O, s:I, s:I}", "lists", st.lists, "watches",
				st.watches, "requests", st.requests, "resourceVersion",
				(json_int_t)st.rv, "patches", (json_int_t)st.patches);
		pthread_mutex_unlock(&st.lock);
		return send_json(conn, 200, doc);
	}
	if (!post)
		return send_status(conn, 404, "NotFound", "unknown control");
	pthread_mutex_lock(&st.lock);
	if (!strcmp(path, "/fake/expire")) {
		st.hist_rv = st.rv;
		v = arg(conn, "keep_watches");
		if (!v || strcmp(v, "1"))
			st.expire_gen++;
	} else if (!strcmp(path, "/fake/drop")) {
		st.drop_gen++;
	} else if (!strcmp(path, "/fake/hold")) {
		v = arg(conn, "on");
		st.hold = v && !strcmp(v, "1");
	} else if (!strcmp(path, "/fake/slow")) {
		v = arg(conn, "ms");
		st.slow_ms = v ? (unsigned int)strtoul(v, NULL, 10) : 0;
	} else if (!strcmp(path, "/fake/token")) {
		v = arg(conn, "value");
		free(st.token);
		st.token = v && v[0] ? strdup(v) : NULL;
	} else if (!strcmp(path, "/fake/crd")) {
		v = arg(conn, "installed");
		st.crd_missing = v && !strcmp(v, "0");
	} else if (!strcmp(path, "/fake/patchfail")) {
		v = arg(conn, "code");
		st.patch_fail = v ? (unsigned int)strtoul(v, NULL, 10) : 0;
	} else {
		pthread_mutex_unlock(&st.lock);
		return send_status(conn, 404, "NotFound", "unknown control");
	}
	pthread_cond_broadcast(&st.changed);
	pthread_mutex_unlock(&st.lock);
	return send_json(conn, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- libmicrohttpd glue ---------------------------------------------------------------- */

/* Called first with the raw URI: keep it, the query string included, for the stats. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r)
		r->uri = strdup(uri);
	return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_cls)
{
	struct req *r = *req_cls;

	if (!r)
		return MHD_NO;
	if (!r->started) {
		r->started = true;
		return MHD_YES;
	}
	if (*upload_size) {
		if (r->len + *upload_size > BODY_MAX) {
			r->too_big = true;
		} else {
			char *grown = realloc(r->body, r->len + *upload_size + 1);

			if (!grown)
				return MHD_NO;
			r->body = grown;
			memcpy(r->body + r->len, upload, *upload_size);
			r->len += *upload_size;
			r->body[r->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return send_status(conn, 413, "RequestEntityTooLarge", "body too large");
	if (!strncmp(url, "/fake/", 6))
		return serve_fake(conn, method, url, r);
	return serve_api(conn, method, url, r->uri ? r->uri : url, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode code)
{
	struct req *r = *req_cls;

	if (!r)
		return;
	free(r->uri);
	free(r->body);
	free(r);
	*req_cls = NULL;
}

/* A PEM file as a string (libmicrohttpd takes certificates and keys from memory). */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (f) {
		text = calloc(1, 1 << 16);
		len = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
		fclose(f);
	}
	if (!len) {
		fprintf(stderr, "fake-apiserver: cannot read %s: %s\n", path,
			f ? "empty or unreadable" : strerror(errno));
		exit(1);
	}
	return text;
}

static void usage(void)
{
	fprintf(stderr, "usage: fake-apiserver --port N [--token T] [--state-dir D]\n"
			"                      [--tls-cert F --tls-key F [--tls-client-ca F]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"token", required_argument, NULL, 't'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"tls-client-ca", required_argument, NULL, 'a'},
	    {NULL, 0, NULL, 0},
	};
	const char *cert_path = NULL, *key_path = NULL, *client_ca_path = NULL;
	char *cert = NULL, *key = NULL, *client_ca = NULL;
	struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
	unsigned int flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	long port = -1;
	sigset_t sigs;
	int c, sig;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 't':
			st.token = optarg[0] ? strdup(optarg) : NULL;
			break;
		case 's':
			st.state_dir = optarg;
			break;
		case 'c':
			cert_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'a':
			client_ca_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (port < 0 || port > 65535 || optind != argc || !cert_path != !key_path ||
	    (client_ca_path && !cert_path))
		usage();
	if (cert_path) {
		size_t n = 0;

		cert = read_pem(cert_path);
		key = read_pem(key_path);
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
		tls[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
		if (client_ca_path) {
			client_ca = read_pem(client_ca_path);
			tls[n++] =
			    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, client_ca};
			st.client_certs = true;
		}
		tls[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
		flags |= MHD_USE_TLS;
	}
	for (int k = 0; k < NR_KINDS; k++)
		st.objs[k] = json_object();
	st.lists = json_object();
	st.watches = json_object();
	st.requests = json_array();
	if (st.state_dir)
		load_state();

	/* Threads started from here inherit the mask, so only sigwait() sees the signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_logger, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed,
	    NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "fake-apiserver: cannot listen on 127.0.0.1:%ld: %s\n", port,
			strerror(errno));
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("ready port=%u\n", info ? info->port : 0);
	fflush(stdout);

	sigwait(&sigs, &sig);
	pthread_mutex_lock(&st.lock);
	st.stopping = true;
	pthread_cond_broadcast(&st.changed);
	pthread_mutex_unlock(&st.lock);
	MHD_stop_daemon(d);
	for (size_t i = 0; i < st.nevents; i++)
		json_decref(st.events[i].obj);
	for (int k = 0; k < NR_KINDS; k++)
		json_decref(st.objs[k]);
	json_decref(st.lists);
	json_decref(st.watches);
	json_decref(st.requests);
	free(st.token);
	free(cert);
	free(key);
	free(client_ca);
	return 0;
}
