/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Kubernetes API client (see kube_client.h): one thread per watched resource (this
 * node's pods; the cluster's SchedulingStrategies), each running the reflector pattern
 * of client-go in plain C:
 *
 *   LIST (paged, limit=500)  ->  WATCH from the list's resourceVersion  ->  on a normal
 *   end, WATCH again from the last resourceVersion seen (events and bookmarks move it);
 *   on 410 Gone (an ERROR event or the HTTP status), LIST again.
 *
 * Every request goes through a curl multi handle of its own thread, polled in 1 s steps
 * and woken by curl_multi_wakeup(), so kube_client_stop() interrupts a watch at once.
 * Watch events are newline-delimited JSON parsed as they arrive in the write callback
 * (a bounded line buffer). Failures back off exponentially with jitter and leave the pod
 * table and the strategies as they were: a flaky API server never empties them.
 *
 * Status reports (report_status) are the one write: after the strategies changed, the
 * thread PATCHes .status.nodes.<node> of each object whose outcome here changed, with a
 * curl handle of its own, between two steps of the watch (never from inside its
 * callbacks). The echo of such a patch (a MODIFIED event with the same spec) is
 * recognised by a hash of the spec and changes nothing, so reports cannot feed back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "k8s/kube_client.h"
#include "log/log.h"
#include "strategy/strategy_json.h"
#include "thread.h"

#define PODS_PATH	"/api/v1/pods"
#define STRATEGIES_PATH "/apis/gthulhu.io/v1alpha1/schedulingstrategies"

#define BACKOFF_START_MS	200
#define BACKOFF_MAX_DEFAULT_MS	30000
#define WATCH_TIMEOUT_DEFAULT_S 300
#define TOKEN_REREAD_S		60
#define TOKEN_FILE_MAX		(64 * 1024)
#define CONNECT_TIMEOUT_MS	10000
/*
 * A LIST must keep moving. A watch may be quiet for long (the server sends a bookmark
 * about once a minute): after 120 s without a byte it is simply started again, and a
 * dead server then shows up as a failed connect.
 */
#define LIST_STALL_S	  30
#define LIST_TIMEOUT_S	  300
#define WATCH_STALL_S	  120
#define WATCH_GRACE_S	  30 /* beyond timeoutSeconds, before we give up on the server */
#define ERRBODY_MAX	  512
#define LABELS_PASSED_MAX 1024 /* per pod; the pod table keeps POD_LABELS_MAX of them */
#define STATUS_MSG_MAX	  200  /* .status.nodes.<node>.message, bytes with the NUL */
#define PATCH_TIMEOUT_S	  LIST_STALL_S

enum stream_kind { STREAM_PODS, STREAM_STRATEGIES, NR_STREAMS };

/* What one request or one watch came to; the thread's loop decides what follows. */
enum outcome {
	OUT_OK,	    /* done (a watch ended normally) */
	OUT_ERROR,  /* failed: back off, then try again (a watch resumes from its rv) */
	OUT_RELIST, /* failed in a way that needs a fresh LIST (after a backoff) */
	OUT_GONE,   /* 410: our resourceVersion is too old, LIST again */
	OUT_STOP,   /* kube_client_stop() */
};

/* One SchedulingStrategy object as last seen; the array is sorted by name. */
struct strat_entry {
	char name[POD_NAME_MAX];
	char rv[64];
	bool valid, seen;
	/*
	 * Rejected only for lack of room (STRATEGY_MAX_RULES): the spec is fine, so a new
	 * version with the same spec is evaluated again once there is room.
	 */
	bool crowded;
	/*
	 * The current rule was in a set on_strategies accepted. A refused set leaves the
	 * daemon's previous set in place (all or nothing), so these stay applied.
	 */
	bool in_effect;
	uint64_t spec_hash;	  /* of the spec last evaluated; 0 = unknown */
	char why[STATUS_MSG_MAX]; /* why it is not valid, for the status */
	struct strategy_rule rule;

	/* What .status.nodes.<node> says of it, as outcome_hash(applied, message). */
	bool rep_known;	   /* rep_hash is what the object's status says (by us or before) */
	bool fail_known;   /* a report of fail_hash failed at resourceVersion fail_rv */
	uint64_t rep_hash; /* ... so it is not sent again */
	uint64_t fail_hash;
	char fail_rv[64];
};

struct kube_client;

struct stream {
	struct kube_client *c;
	enum stream_kind kind;
	const char *path;
	char *selector; /* "fieldSelector=...&" or "" */
	pthread_t thread;
	bool running;
	CURLM *multi;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	char rv[64]; /* resourceVersion to watch from */

	/* The response being received. */
	bool watching;
	long http; /* its status once the headers are in, else 0 */
	char *buf; /* LIST: the body; WATCH: the start of an unfinished line */
	size_t len, cap;
	char errbody[ERRBODY_MAX]; /* the start of a non-2xx body, for the message */
	size_t errlen;
	enum outcome verdict; /* set by the event handler to end a watch early */
	char why[256];	      /* ... and why */
	uint64_t events;      /* events in this watch */

	unsigned int backoff_ms;
	unsigned int rng;
	char logged[256]; /* the last failure logged: log changes, not every retry */
	bool crd_missing; /* last LIST of strategies said 404 */

	struct strat_entry *strats; /* SchedulingStrategies by name */
	size_t nstrats;

	/* Status reports (strategies stream with report_status only). */
	CURLM *pmulti; /* its own handles: the watch's stay busy while we patch */
	CURL *peasy;
	char perrbuf[CURL_ERROR_SIZE];
	bool report_due;	      /* an outcome may have changed since the last round */
	char refused[STATUS_MSG_MAX]; /* why on_strategies refused the last set, or "" */
};

struct kube_client {
	struct kube_config cfg;
	char *node;
	struct pod_table *pods;
	int (*on_strategies)(void *ctx, const struct strategy_rule *rules, size_t n, char *err,
			     size_t errlen);
	void *ctx;
	unsigned int backoff_max_ms, watch_timeout_s;
	bool report_status;

	pthread_mutex_t token_lock; /* the token and what we know of its file */
	char *token;
	struct stat token_st;
	time_t token_read_at; /* monotonic seconds */

	pthread_mutex_t lock; /* status, stop */
	pthread_cond_t wake;  /* backoff sleeps end early on stop */
	bool stop;
	struct kube_status st;
	int error_owner; /* the stream whose failure last_error shows, or -1 */

	struct stream streams[NR_STREAMS];
};

static const char *const stream_names[NR_STREAMS] = {"pods", "schedulingstrategies"};

/* ---- time, stop, status ---------------------------------------------------------------- */

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool stopping(struct kube_client *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
}

/* Sleep @ms unless stopped first; false when stopped. */
static bool sleep_ms(struct kube_client *c, unsigned int ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &ts) != ETIMEDOUT)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->lock);
	return !stop;
}

/*
 * Wait before the next attempt: 200 ms, doubling up to backoff_max_ms, with jitter (a
 * random wait between half and all of it) so that the nodes of a cluster do not all
 * come back at the same instant after an API server restart.
 */
static bool backoff(struct stream *s)
{
	unsigned int max = s->c->backoff_max_ms, wait;

	if (!s->backoff_ms)
		s->backoff_ms = BACKOFF_START_MS < max ? BACKOFF_START_MS : max;
	else
		s->backoff_ms = s->backoff_ms > max / 2 ? max : s->backoff_ms * 2;
	wait = s->backoff_ms / 2 + (unsigned int)rand_r(&s->rng) % (s->backoff_ms / 2 + 1);
	return sleep_ms(s->c, wait);
}

#define STAT_ADD(c, field, n)                                                                      \
	do {                                                                                       \
		pthread_mutex_lock(&(c)->lock);                                                    \
		(c)->st.field += (n);                                                              \
		pthread_mutex_unlock(&(c)->lock);                                                  \
	} while (0)

static void set_synced(struct stream *s, bool synced)
{
	struct kube_client *c = s->c;

	pthread_mutex_lock(&c->lock);
	if (s->kind == STREAM_PODS)
		c->st.pods_synced = synced;
	else
		c->st.strategies_synced = synced;
	pthread_mutex_unlock(&c->lock);
}

enum fail_kind {
	FAIL_TRANSPORT, /* no HTTP answer (refused, reset, timeout, TLS) */
	FAIL_ANSWER,	/* an answer, but not the expected one */
	FAIL_LOCAL,	/* our side: the daemon refused the strategies, memory */
};

/*
 * A failure of @s: counted, shown in last_error, logged when it differs from the last one
 * logged (a retry loop logs once per kind of failure, not every 200 ms). Failures of the
 * server also clear reachable/synced as fits; @quiet: the caller logged it its own way.
 */
static void __attribute__((format(printf, 4, 5)))
failure(struct stream *s, enum fail_kind kind, bool quiet, const char *fmt, ...)
{
	struct kube_client *c = s->c;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	c->st.errors++;
	snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", msg);
	c->error_owner = (int)s->kind;
	if (kind != FAIL_LOCAL) {
		c->st.reachable = kind == FAIL_ANSWER;
		if (s->kind == STREAM_PODS)
			c->st.pods_synced = false;
		else
			c->st.strategies_synced = false;
	}
	pthread_mutex_unlock(&c->lock);
	if (strcmp(msg, s->logged)) {
		if (!quiet)
			log_msg(LOG_WARN, "kubernetes: %s", msg);
		snprintf(s->logged, sizeof(s->logged), "%s", msg);
	}
}

#define fail(s, answered, ...)                                                                     \
	failure(s, (answered) ? FAIL_ANSWER : FAIL_TRANSPORT, false, __VA_ARGS__)

/* The server answered @s as expected: forget @s's failure; a successful LIST resets. */
static void answered_ok(struct stream *s, bool listed)
{
	struct kube_client *c = s->c;

	pthread_mutex_lock(&c->lock);
	c->st.reachable = true;
	if (c->error_owner == (int)s->kind) {
		c->st.last_error[0] = '\0';
		c->error_owner = -1;
	}
	if (listed) {
		c->st.lists++;
		c->st.last_sync_unix = time(NULL);
	}
	pthread_mutex_unlock(&c->lock);
	if (s->logged[0]) {
		log_msg(LOG_INFO, "kubernetes: %s: the API server answers again",
			stream_names[s->kind]);
		s->logged[0] = '\0';
	}
}

void kube_client_status(struct kube_client *c, struct kube_status *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the bearer token ---------------------------------------------------------------------- */

/* Read a token file: trimmed, non-empty. NULL with errno on failure. */
static char *read_token(const char *path, struct stat *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;
	size_t len = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(TOKEN_FILE_MAX + 1);
	if (!buf || fstat(fd, sb)) {
		free(buf);
		close(fd);
		return NULL;
	}
	while (len < TOKEN_FILE_MAX && (n = read(fd, buf + len, TOKEN_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (!len || strchr(buf, '\n') || strchr(buf, '\r')) {
		explicit_bzero(buf, TOKEN_FILE_MAX + 1);
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	return buf;
}

/*
 * Re-read the token file when it changed (inode, size, mtime), every TOKEN_REREAD_S, or
 * when @force (after a 401/403). A failed read keeps the old token: the kubelet swaps the
 * file atomically, so a failure is transient.
 */
static void token_refresh(struct kube_client *c, bool force)
{
	struct stat sb;
	char *tok;
	bool changed;

	if (!c->cfg.token_file)
		return;
	pthread_mutex_lock(&c->token_lock);
	changed = stat(c->cfg.token_file, &sb) == 0 &&
		  (sb.st_ino != c->token_st.st_ino || sb.st_size != c->token_st.st_size ||
		   sb.st_mtim.tv_sec != c->token_st.st_mtim.tv_sec ||
		   sb.st_mtim.tv_nsec != c->token_st.st_mtim.tv_nsec);
	if (force || changed || mono_s() - c->token_read_at >= TOKEN_REREAD_S) {
		tok = read_token(c->cfg.token_file, &sb);
		c->token_read_at = mono_s();
		if (tok) {
			if (c->token) {
				explicit_bzero(c->token, strlen(c->token));
				free(c->token);
			}
			c->token = tok;
			c->token_st = sb;
			STAT_ADD(c, token_reloads, 1);
		} else {
			log_msg(LOG_WARN, "kubernetes: token file %s: %s; keeping the old token",
				c->cfg.token_file, strerror(errno));
		}
	}
	pthread_mutex_unlock(&c->token_lock);
}

/* "Authorization: Bearer ..." for the next request, or NULL without a token. */
static char *auth_header(struct kube_client *c)
{
	char *h = NULL;

	pthread_mutex_lock(&c->token_lock);
	if (c->token && asprintf(&h, "Authorization: Bearer %s", c->token) < 0)
		h = NULL;
	pthread_mutex_unlock(&c->token_lock);
	return h;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

/* Percent-encode everything but RFC 3986's unreserved characters. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

static const char *reason_phrase(long code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 410:
		return "Gone";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return "HTTP error";
}

/* Report an unexpected HTTP status, with the message of the server's Status object. */
static void fail_http(struct stream *s, const char *what, bool quiet)
{
	json_t *st = json_loadb(s->errbody, s->errlen, 0, NULL);
	const char *msg = json_string_value(json_object_get(st, "message"));
	const char *phrase = reason_phrase(s->http);

	if (msg && strcmp(msg, phrase))
		failure(s, FAIL_ANSWER, quiet, "%s: %ld %s: %.120s", what, s->http, phrase, msg);
	else
		failure(s, FAIL_ANSWER, quiet, "%s: %ld %s", what, s->http, phrase);
	json_decref(st);
}

static int handle_line(struct stream *s, const char *line, size_t len);
static void strats_report(struct stream *s);

/*
 * Add @n bytes to the stream's buffer (kept NUL-terminable), growing it from @first bytes
 * by doubling. 0, or -1 out of memory with the stream's verdict set to @verdict.
 */
static int append(struct stream *s, const char *data, size_t n, size_t first, enum outcome verdict)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : first;
		char *grown;

		while (cap < s->len + n + 1)
			cap *= 2;
		grown = realloc(s->buf, cap);
		if (!grown) {
			snprintf(s->why, sizeof(s->why), "out of memory");
			s->verdict = verdict;
			return -1;
		}
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return 0;
}

/*
 * Keep the start of an error answer: what fits of @n more bytes in @buf (@size bytes,
 * @len used), NUL-terminated. The rest is read and dropped: the message is at the start.
 */
static void keep_start(char *buf, size_t size, size_t *len, const char *data, size_t n)
{
	size_t room = size - 1 - *len;

	if (n < room)
		room = n;
	memcpy(buf + *len, data, room);
	*len += room;
	buf[*len] = '\0';
}

/* Feed received watch bytes: complete lines go to handle_line(), the rest is kept. */
static int feed_lines(struct stream *s, const char *data, size_t n)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (!s->len && nl) {
			/* A whole line in the chunk: parse it in place. */
			if (handle_line(s, data, take))
				return -1;
		} else {
			if (s->len + take > KUBE_LINE_MAX) {
				snprintf(s->why, sizeof(s->why),
					 "a watch event longer than %u bytes", KUBE_LINE_MAX);
				s->verdict = OUT_RELIST;
				return -1;
			}
			if (append(s, data, take, 4096, OUT_RELIST))
				return -1;
			if (nl) {
				int r = handle_line(s, s->buf, s->len);

				s->len = 0;
				if (r)
					return -1;
			}
		}
		if (!nl)
			break;
		data += take + 1;
		n -= take + 1;
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
	struct stream *s = p;
	size_t n = size * nmemb;

	if (stopping(s->c))
		return 0; /* aborts the transfer */
	if (s->http != 200) {
		keep_start(s->errbody, sizeof(s->errbody), &s->errlen, data, n);
		return n;
	}
	if (s->watching)
		return feed_lines(s, data, n) ? 0 : n;
	if (s->len + n > KUBE_BODY_MAX) {
		snprintf(s->why, sizeof(s->why), "a LIST answer larger than %u bytes",
			 KUBE_BODY_MAX);
		s->verdict = OUT_ERROR;
		return 0;
	}
	return append(s, data, n, 65536, OUT_ERROR) ? 0 : n;
}

/* The end of the headers tells the status; a watch that got 200 is running. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *p)
{
	struct stream *s = p;
	size_t n = size * nmemb;
	long code = 0;

	if (n >= 1 && n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		s->http = code;
		if (s->watching && code == 200) {
			answered_ok(s, false);
			set_synced(s, true);
		}
	}
	return n;
}

/*
 * Options that stay for every request made with @e: where the server is, how to trust it
 * and how to show who we are; @header may be NULL.
 */
static int easy_setup(struct kube_client *c, CURL *e, char *errbuf, curl_write_callback body,
		      curl_write_callback header, void *data)
{
	const struct kube_config *cfg = &c->cfg;
	CURLcode r = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (r == CURLE_OK)                                                                 \
			r = curl_easy_setopt(e, opt, val);                                         \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 10L);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_USERAGENT, "gthulhu");
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_WRITEFUNCTION, body);
	SET(CURLOPT_WRITEDATA, data);
	if (header) {
		SET(CURLOPT_HEADERFUNCTION, header);
		SET(CURLOPT_HEADERDATA, data);
	}
	if (cfg->ca_file)
		SET(CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->ca_data) {
		struct curl_blob b = {cfg->ca_data, cfg->ca_len, CURL_BLOB_COPY};

		SET(CURLOPT_CAINFO_BLOB, &b);
	}
	if (cfg->cert_file)
		SET(CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->cert_data) {
		struct curl_blob b = {cfg->cert_data, cfg->cert_len, CURL_BLOB_COPY};

		SET(CURLOPT_SSLCERT_BLOB, &b);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_file)
		SET(CURLOPT_SSLKEY, cfg->key_file);
	if (cfg->key_data) {
		struct curl_blob b = {cfg->key_data, cfg->key_len, CURL_BLOB_COPY};

		SET(CURLOPT_SSLKEY_BLOB, &b);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef SET
	return r == CURLE_OK ? 0 : -1;
}

/*
 * Run one GET of @s to its end (or stop). Returns OUT_STOP, OUT_OK when an HTTP answer came
 * (s->http, the body went to on_body), or OUT_ERROR for a transport failure with
 * @cc set. A watch may also end with an answer and a transport error (cut mid-stream).
 */
static enum outcome perform(struct stream *s, const char *url, bool watch, CURLcode *cc)
{
	struct kube_client *c = s->c;
	struct curl_slist *hdrs = NULL, *more;
	char *auth;
	bool done = false;

	token_refresh(c, false);
	auth = auth_header(c);
	s->watching = watch;
	s->http = 0;
	s->len = 0;
	s->errlen = 0;
	s->errbuf[0] = '\0';
	s->verdict = OUT_OK;
	s->why[0] = '\0';
	s->events = 0;
	*cc = CURLE_OK;
	more = curl_slist_append(hdrs, "Accept: application/json");
	if (more)
		hdrs = more;
	if (auth) {
		more = curl_slist_append(hdrs, auth);
		if (more)
			hdrs = more;
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME,
			 watch ? (long)WATCH_STALL_S : (long)LIST_STALL_S);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT,
			 watch ? (long)(c->watch_timeout_s + WATCH_GRACE_S) : (long)LIST_TIMEOUT_S);
	curl_multi_add_handle(s->multi, s->easy);
	while (!done) {
		CURLMsg *msg;
		int running, left;

		curl_multi_perform(s->multi, &running);
		while ((msg = curl_multi_info_read(s->multi, &left)))
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy) {
				*cc = msg->data.result;
				done = true;
			}
		/*
		 * The events just handled may call for status reports: they are sent here,
		 * between two steps of the watch, not from its write callback, where libcurl
		 * must not be entered again.
		 */
		if (s->report_due)
			strats_report(s);
		if (done)
			break;
		if (stopping(c))
			break;
		curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(s->multi, s->easy);
	/* The list is owned here; libcurl must not keep a pointer to it. */
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (stopping(c))
		return OUT_STOP;
	if (!s->http)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http);
	return s->http ? OUT_OK : OUT_ERROR;
}

static void fail_transport(struct stream *s, const char *what, CURLcode cc)
{
	fail(s, false, "%s: %s", what, s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
}

/* ---- pods -------------------------------------------------------------------------------------
 */

/* Copy a JSON string into a fixed field; false when absent or too long. */
static bool copy_str(char *dst, size_t size, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = s ? json_string_length(v) : 0;

	if (!s || len >= size || strlen(s) != len)
		return false;
	memcpy(dst, s, len + 1);
	return true;
}

/*
 * A Pod object -> @pm (labels malloc'ed into pm->labels). 1: a live pod of this node;
 * 0: it should not be in the table (finished, or another node's); -1: malformed.
 */
static int pod_parse(struct kube_client *c, const json_t *obj, struct pod_meta *pm)
{
	const json_t *meta = json_object_get(obj, "metadata");
	const json_t *labels = json_object_get(meta, "labels");
	const char *phase =
	    json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
	const char *key;
	json_t *v;

	memset(pm, 0, sizeof(*pm));
	if (!copy_str(pm->uid, sizeof(pm->uid), json_object_get(meta, "uid")) ||
	    !copy_str(pm->name, sizeof(pm->name), json_object_get(meta, "name")) ||
	    !copy_str(pm->namespace, sizeof(pm->namespace), json_object_get(meta, "namespace")))
		return -1;
	/*
	 * A static pod (a manifest the kubelet runs itself) shows in the API as a mirror pod
	 * with a UID of its own; its cgroup is named after the config hash, so that is the
	 * UID processes are matched by.
	 */
	{
		const json_t *ann = json_object_get(meta, "annotations");

		if (json_object_get(ann, "kubernetes.io/config.mirror"))
			copy_str(pm->uid, sizeof(pm->uid),
				 json_object_get(ann, "kubernetes.io/config.hash"));
	}
	/* A pod not yet scheduled has no nodeName; the field selector never sends those. */
	copy_str(pm->node, sizeof(pm->node),
		 json_object_get(json_object_get(obj, "spec"), "nodeName"));
	if (strcmp(pm->node, c->node))
		return 0;
	/* Finished pods have no processes left to match. */
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return 0;
	if (json_is_object(labels) && json_object_size(labels)) {
		size_t n = json_object_size(labels);

		pm->labels =
		    calloc(n < LABELS_PASSED_MAX ? n : LABELS_PASSED_MAX, sizeof(*pm->labels));
		if (!pm->labels)
			return -1;
		json_object_foreach((json_t *)labels, key, v)
		{
			struct strategy_selector *l = &pm->labels[pm->nr_labels];
			size_t klen = strlen(key);

			if (pm->nr_labels == LABELS_PASSED_MAX)
				break;
			/* Longer than Kubernetes allows: it could never match a selector. */
			if (klen >= sizeof(l->key) || !copy_str(l->value, sizeof(l->value), v))
				continue;
			memcpy(l->key, key, klen + 1);
			pm->nr_labels++;
		}
	}
	return 1;
}

static void pods_free(struct pod_meta *pods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pods[i].labels);
	free(pods);
}

/*
 * Does the table's @old already say what @pm says? Then an upsert would only make the
 * resolver rebuild its snapshot for nothing. The table keeps POD_LABELS_MAX labels.
 */
static bool pod_same(const struct pod_meta *old, const struct pod_meta *pm)
{
	uint32_t n = pm->nr_labels < POD_LABELS_MAX ? pm->nr_labels : POD_LABELS_MAX;

	if (strcmp(old->name, pm->name) || strcmp(old->namespace, pm->namespace) ||
	    strcmp(old->node, pm->node) || old->nr_labels != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(old->labels[i].key, pm->labels[i].key) ||
		    strcmp(old->labels[i].value, pm->labels[i].value))
			return false;
	return true;
}

/* One pod event from a watch; -1 (with s->why) ends the watch for a relist. */
static int pod_event(struct stream *s, const char *type, const json_t *obj)
{
	struct kube_client *c = s->c;
	struct pod_meta pm;
	int r = 0, kind;

	kind = pod_parse(c, obj, &pm);
	if (kind < 0) {
		free(pm.labels);
		/* Without a uid there is nothing to add or remove: skip it, as a list would. */
		log_msg(LOG_DEBUG, "kubernetes: a %s pod event without uid/name/namespace", type);
		return 0;
	}
	if (!strcmp(type, "DELETED") || kind == 0) {
		r = pod_table_remove(c->pods, pm.uid);
	} else {
		const struct pod_set *set = pod_table_acquire(c->pods);
		const struct pod_meta *old = pod_set_find(set, pm.uid);
		bool full = pod_set_count(set) >= KUBE_PODS_MAX && !old;
		bool same = old && pod_same(old, &pm);

		pod_set_release(set);
		if (same) {
			/* Most MODIFIED events are status changes: nothing of ours changed. */
			free(pm.labels);
			return 0;
		}
		if (full) {
			snprintf(s->why, sizeof(s->why), "more than %d pods on node %s",
				 KUBE_PODS_MAX, c->node);
			free(pm.labels);
			return -1;
		}
		r = pod_table_upsert(c->pods, &pm);
	}
	free(pm.labels);
	if (r) {
		snprintf(s->why, sizeof(s->why), "pod table: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* The items of one LIST page, appended to @acc. 0, or -1 with s->why. */
static int pods_collect(struct stream *s, const json_t *items, struct pod_meta **acc, size_t *n)
{
	size_t i;
	json_t *obj;

	json_array_foreach(items, i, obj)
	{
		struct pod_meta pm;
		int kind = pod_parse(s->c, obj, &pm);

		if (kind <= 0) {
			free(pm.labels);
			continue;
		}
		if (*n == KUBE_PODS_MAX) {
			free(pm.labels);
			snprintf(s->why, sizeof(s->why), "more than %d pods on node %s",
				 KUBE_PODS_MAX, s->c->node);
			return -1;
		}
		if (!(*n % 64)) {
			struct pod_meta *grown = realloc(*acc, (*n + 64) * sizeof(**acc));

			if (!grown) {
				free(pm.labels);
				snprintf(s->why, sizeof(s->why), "out of memory");
				return -1;
			}
			*acc = grown;
		}
		(*acc)[(*n)++] = pm;
	}
	return 0;
}

/* ---- SchedulingStrategies ---------------------------------------------------------------------
 */

static bool name_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > KUBE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/*
 * A SchedulingStrategy's spec -> rule, validated exactly as an API strategy is. The
 * spec takes the API's field names; ids come from the object's name and pids/tids are
 * refused: they mean nothing on another node.
 */
static int strategy_of_object(const char *name, const json_t *obj, struct strategy_rule *out,
			      char *why, size_t len)
{
	const json_t *spec = json_object_get(obj, "spec");
	char msg[512];

	if (!name_valid(name)) {
		err_printf(why, len,
			   "metadata.name: must be 1 to %d characters of A-Z a-z 0-9 . _ -",
			   KUBE_NAME_MAX);
		return -1;
	}
	if (!json_is_object(spec)) {
		err_printf(why, len, "spec: missing or not an object");
		return -1;
	}
	if (json_object_get(spec, "pid") || json_object_get(spec, "tid")) {
		err_printf(why, len,
			   "spec.%s: not allowed in a cluster strategy (process ids are local to "
			   "a node; use selectors, namespaces, command_regex or cgroup)",
			   json_object_get(spec, "pid") ? "pid" : "tid");
		return -1;
	}
	if (json_object_get(spec, "id")) {
		err_printf(why, len, "spec.id: not allowed (the id is k8s-<metadata.name>)");
		return -1;
	}
	if (strategy_from_json(spec, out, msg, sizeof(msg)) != SJ_OK) {
		err_printf(why, len, "spec.%s", msg);
		return -1;
	}
	snprintf(out->id, sizeof(out->id), "k8s-%s", name);
	out->source = STRATEGY_SRC_CLUSTER;
	return strategy_rule_validate(out, why, len);
}

/* ---- status reports -------------------------------------------------------------------------
 */

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *b = data;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

/*
 * The object's spec in a canonical form (sorted keys), hashed: what its verdict depends on
 * besides the name. 0 when it cannot be told (out of memory): never taken as unchanged.
 */
static uint64_t spec_hash(const json_t *obj)
{
	const json_t *spec = json_object_get(obj, "spec");
	char *text;
	uint64_t h;

	if (!spec)
		return fnv1a(FNV_OFFSET, "-", 1);
	text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!text)
		return 0;
	h = fnv1a(FNV_OFFSET, text, strlen(text));
	free(text);
	return h ? h : 1;
}

/* (applied, message) as one number: what a report says. */
static uint64_t outcome_hash(bool applied, const char *msg)
{
	return fnv1a(fnv1a(FNV_OFFSET, applied ? "1" : "0", 1), msg, strlen(msg));
}

/*
 * A message for the status: at most @size - 1 bytes, cut between characters, and valid
 * UTF-8 (a JSON string must be; a message cut short inside err_printf may not be).
 */
static void status_msg(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	json_t *probe;

	if (n >= size) {
		n = size - 1;
		while (n && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	probe = json_stringn(dst, n);
	if (!probe) {
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)dst[i] >= 0x80)
				dst[i] = '?';
	}
	json_decref(probe);
}

/*
 * An object seen for the first time: what its status already says of this node (written
 * by us before a restart, say) needs no report; a restarted daemon does not patch every
 * object again.
 */
static void status_known(struct stream *s, struct strat_entry *e, const json_t *obj)
{
	const json_t *mine =
	    json_object_get(json_object_get(json_object_get(obj, "status"), "nodes"), s->c->node);
	const json_t *applied = json_object_get(mine, "applied");
	const char *msg = json_string_value(json_object_get(mine, "message"));

	if (json_is_boolean(applied) && msg) {
		e->rep_known = true;
		e->rep_hash = outcome_hash(json_is_true(applied), msg);
	}
}

/* What the status should say of @e now. */
static bool strat_outcome(const struct stream *s, const struct strat_entry *e, const char **msg)
{
	if (!e->valid) {
		*msg = e->why;
		return false;
	}
	if (e->in_effect) {
		*msg = "";
		return true;
	}
	/* Valid but not taken: the last set, which had this rule, was refused. */
	*msg = s->refused[0] ? s->refused : "not applied yet";
	return false;
}

struct patch_answer {
	struct kube_client *c;
	char body[ERRBODY_MAX]; /* the start of it: a Status object's message */
	size_t len;
};

static size_t on_patch_body(char *data, size_t size, size_t nmemb, void *p)
{
	struct patch_answer *a = p;
	size_t n = size * nmemb;

	if (!a || stopping(a->c))
		return 0;
	keep_start(a->body, sizeof(a->body), &a->len, data, n);
	return n;
}

static void header_add(struct curl_slist **list, const char *h)
{
	struct curl_slist *more = curl_slist_append(*list, h);

	if (more)
		*list = more;
}

enum patch_result {
	PATCH_OK,
	PATCH_REFUSED,	   /* an answer other than 2xx, or our own failure */
	PATCH_UNREACHABLE, /* no answer: the next ones would wait as long */
	PATCH_STOP,
};

/*
 * PATCH <object>/status with {"status": {"nodes": {<node>: {...}}}} as a JSON merge patch
 * (RFC 7386): only this node's key is written, so nodes never overwrite each other, and
 * there is no resourceVersion to conflict on. On failure, the reason in @why.
 */
static enum patch_result status_patch(struct stream *s, const struct strat_entry *e, bool applied,
				      const char *msg, char *why, size_t whylen)
{
	struct kube_client *c = s->c;
	struct patch_answer ans = {.c = c};
	struct curl_slist *hdrs = NULL;
	char *name = url_escape(e->name), *url = NULL, *body = NULL, *auth, when[32];
	enum patch_result res = PATCH_REFUSED;
	CURLcode cc = CURLE_OK;
	bool done = false;
	json_t *doc;
	struct tm tm;
	time_t now = time(NULL);
	long code = 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	doc = json_pack("{s:{s:{s:{s:b, s:s, s:s}}}}", "status", "nodes", c->node, "applied",
			(int)applied, "message", msg, "updated", when);
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!name || !body ||
	    asprintf(&url, "%s%s/%s/status", c->cfg.server, STRATEGIES_PATH, name) < 0) {
		url = NULL;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	token_refresh(c, false);
	auth = auth_header(c);
	header_add(&hdrs, "Content-Type: application/merge-patch+json");
	header_add(&hdrs, "Accept: application/json");
	header_add(&hdrs, "Expect:"); /* no 100-continue round trip for a small body */
	if (auth) {
		header_add(&hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	s->perrbuf[0] = '\0';
	curl_easy_setopt(s->peasy, CURLOPT_URL, url);
	curl_easy_setopt(s->peasy, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(s->peasy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->peasy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(s->peasy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s->peasy, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(s->peasy, CURLOPT_LOW_SPEED_TIME, (long)LIST_STALL_S);
	curl_easy_setopt(s->peasy, CURLOPT_TIMEOUT, (long)PATCH_TIMEOUT_S);
	curl_multi_add_handle(s->pmulti, s->peasy);
	while (!done && !stopping(c)) {
		CURLMsg *m;
		int running, left;

		curl_multi_perform(s->pmulti, &running);
		while ((m = curl_multi_info_read(s->pmulti, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == s->peasy) {
				cc = m->data.result;
				done = true;
			}
		if (!done)
			curl_multi_poll(s->pmulti, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(s->pmulti, s->peasy);
	/* Nothing of this request may outlive it in the handle. */
	curl_easy_setopt(s->peasy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->peasy, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(s->peasy, CURLOPT_WRITEDATA, NULL);
	curl_slist_free_all(hdrs);
	if (stopping(c)) {
		res = PATCH_STOP;
		goto out;
	}
	curl_easy_getinfo(s->peasy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300) {
		res = PATCH_OK;
	} else if (!code) {
		snprintf(why, whylen, "%s", s->perrbuf[0] ? s->perrbuf : curl_easy_strerror(cc));
		res = PATCH_UNREACHABLE;
	} else {
		json_t *st = json_loadb(ans.body, ans.len, 0, NULL);
		const char *smsg = json_string_value(json_object_get(st, "message"));

		snprintf(why, whylen, "%ld %s%s%.120s%s", code, reason_phrase(code),
			 smsg ? ": " : "", smsg ? smsg : "",
			 code == 403 ? " (does the ClusterRole allow patch on "
				       "schedulingstrategies/status?)"
				     : "");
		json_decref(st);
		if (code == 401)
			token_refresh(c, true); /* perhaps the token rotated under us */
	}
out:
	free(body);
	free(url);
	free(name);
	return res;
}

/*
 * Report the outcome of each object whose outcome here differs from what its status says
 * (or from what a failed report tried at the same version): at most one PATCH per object
 * and round, rounds only after the strategies changed. A failed report is counted, logged
 * and not tried again until the object or its outcome changes; no answer at all ends the
 * round (the rest would wait as long), the next round tries those again.
 */
static void strats_report(struct stream *s)
{
	struct kube_client *c = s->c;
	char why[320];

	if (!s->report_due)
		return;
	s->report_due = false;
	if (!c->report_status || !s->peasy)
		return;
	for (size_t i = 0; i < s->nstrats && i < KUBE_STRATEGIES_MAX; i++) {
		struct strat_entry *e = &s->strats[i];
		const char *msg;
		bool applied = strat_outcome(s, e, &msg);
		uint64_t h = outcome_hash(applied, msg);
		enum patch_result r;

		if (e->rep_known && e->rep_hash == h)
			continue;
		if (e->fail_known && e->fail_hash == h && !strcmp(e->fail_rv, e->rv))
			continue;
		why[0] = '\0';
		r = status_patch(s, e, applied, msg, why, sizeof(why));
		if (r == PATCH_STOP)
			return;
		if (r == PATCH_OK) {
			e->rep_known = true;
			e->rep_hash = h;
			e->fail_known = false;
			STAT_ADD(c, status_patches, 1);
			log_msg(LOG_DEBUG,
				"kubernetes: SchedulingStrategy %s: status of node %s: %s%s%s",
				e->name, c->node, applied ? "applied" : "not applied",
				msg[0] ? ": " : "", msg);
			continue;
		}
		e->fail_known = true;
		e->fail_hash = h;
		snprintf(e->fail_rv, sizeof(e->fail_rv), "%s", e->rv);
		STAT_ADD(c, status_patch_errors, 1);
		log_msg(LOG_WARN, "kubernetes: SchedulingStrategy %s: cannot report its status: %s",
			e->name, why);
		if (r == PATCH_UNREACHABLE)
			break;
	}
}

/* Index of @name in the sorted array, or where it would go (*found false). */
static size_t strat_find(struct stream *s, const char *name, bool *found)
{
	size_t lo = 0, hi = s->nstrats;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(s->strats[mid].name, name);

		if (!cmp) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static size_t strats_valid(struct stream *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nstrats; i++)
		n += s->strats[i].valid;
	return n;
}

static void strat_remove(struct stream *s, size_t i)
{
	memmove(&s->strats[i], &s->strats[i + 1], (s->nstrats - i - 1) * sizeof(s->strats[0]));
	s->nstrats--;
}

/*
 * Apply one object (added or modified). Returns true when the set of valid rules changed.
 * An object version that was seen before (same resourceVersion) is not parsed, counted
 * or logged again, so a relist does not repeat every rejection.
 */
static bool strat_upsert(struct stream *s, const json_t *obj)
{
	struct kube_client *c = s->c;
	const json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	struct strategy_rule rule;
	struct strat_entry *e;
	char why[384];
	bool found, valid, changed, crowded = false;
	uint64_t hash;
	size_t i;

	if (!name || strlen(name) >= POD_NAME_MAX)
		return false;
	i = strat_find(s, name, &found);
	if (found && rv && !strcmp(s->strats[i].rv, rv)) {
		s->strats[i].seen = true;
		return false;
	}
	hash = spec_hash(obj);
	if (found && hash && hash == s->strats[i].spec_hash &&
	    !(s->strats[i].crowded && strats_valid(s) < STRATEGY_MAX_RULES)) {
		/*
		 * A new version with the same spec: a change of status (every node's report,
		 * ours included) or of metadata. The verdict cannot differ (unless it was
		 * crowded out and there is room now), so it is neither logged and counted
		 * again nor reported: status patches cannot loop.
		 */
		snprintf(s->strats[i].rv, sizeof(s->strats[i].rv), "%s", rv ? rv : "");
		s->strats[i].seen = true;
		return false;
	}
	valid = strategy_of_object(name, obj, &rule, why, sizeof(why)) == 0;
	if (valid && !(found && s->strats[i].valid) && strats_valid(s) >= STRATEGY_MAX_RULES) {
		snprintf(why, sizeof(why), "too many SchedulingStrategies (at most %d are used)",
			 STRATEGY_MAX_RULES);
		valid = false;
		crowded = true;
	}
	if (!found) {
		if (s->nstrats == KUBE_STRATEGIES_MAX) {
			log_msg(LOG_WARN,
				"kubernetes: more than %d SchedulingStrategies; %s ignored",
				KUBE_STRATEGIES_MAX, name);
			STAT_ADD(c, strategies_rejected, 1);
			return false;
		}
		if (!(s->nstrats % 16)) {
			struct strat_entry *grown =
			    realloc(s->strats, (s->nstrats + 16) * sizeof(*s->strats));

			if (!grown) {
				log_msg(LOG_ERROR,
					"kubernetes: out of memory for SchedulingStrategy %s",
					name);
				return false;
			}
			s->strats = grown;
		}
		memmove(&s->strats[i + 1], &s->strats[i], (s->nstrats - i) * sizeof(*s->strats));
		s->nstrats++;
		memset(&s->strats[i], 0, sizeof(s->strats[i]));
		snprintf(s->strats[i].name, sizeof(s->strats[i].name), "%s", name);
		status_known(s, &s->strats[i], obj);
	}
	e = &s->strats[i];
	snprintf(e->rv, sizeof(e->rv), "%s", rv ? rv : "");
	e->seen = true;
	e->spec_hash = hash;
	e->crowded = crowded;
	s->report_due = true;
	if (!valid) {
		changed = e->valid;
		e->valid = false;
		e->in_effect = false;
		status_msg(e->why, sizeof(e->why), why);
		log_msg(LOG_WARN, "kubernetes: SchedulingStrategy %s rejected: %s", name, why);
		pthread_mutex_lock(&c->lock);
		c->st.strategies_rejected++;
		snprintf(c->st.last_rejected, sizeof(c->st.last_rejected), "%.60s: %.190s", name,
			 why);
		pthread_mutex_unlock(&c->lock);
		return changed;
	}
	changed = !e->valid || memcmp(&e->rule, &rule, sizeof(rule));
	if (changed)
		e->in_effect = false; /* until on_strategies takes it */
	e->valid = true;
	e->why[0] = '\0';
	e->rule = rule;
	if (changed)
		log_msg(LOG_INFO, "kubernetes: SchedulingStrategy %s applied as %s", name, rule.id);
	return changed;
}

static bool strat_delete(struct stream *s, const json_t *obj)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	bool found, was_valid;
	size_t i;

	if (!name)
		return false;
	i = strat_find(s, name, &found);
	if (!found)
		return false;
	was_valid = s->strats[i].valid;
	strat_remove(s, i);
	if (was_valid)
		log_msg(LOG_INFO, "kubernetes: SchedulingStrategy %s deleted", name);
	return was_valid;
}

/* Hand the valid rules, in name order, to the daemon. */
static void strats_publish(struct stream *s)
{
	struct kube_client *c = s->c;
	size_t n = strats_valid(s), k = 0;
	struct strategy_rule *rules = calloc(n ? n : 1, sizeof(*rules));
	char err[256] = "", msg[300];

	if (!rules) {
		failure(s, FAIL_LOCAL, false, "SchedulingStrategies: out of memory");
		return;
	}
	for (size_t i = 0; i < s->nstrats; i++)
		if (s->strats[i].valid)
			rules[k++] = s->strats[i].rule;
	if (c->on_strategies && c->on_strategies(c->ctx, rules, n, err, sizeof(err))) {
		failure(s, FAIL_LOCAL, false, "SchedulingStrategies: refused by the daemon: %s",
			err[0] ? err : "no reason given");
		snprintf(msg, sizeof(msg), "refused by the daemon: %s",
			 err[0] ? err : "no reason given");
		status_msg(s->refused, sizeof(s->refused), msg);
	} else {
		/* All or nothing: every valid rule is the daemon's now. */
		for (size_t i = 0; i < s->nstrats; i++)
			s->strats[i].in_effect = s->strats[i].valid;
		s->refused[0] = '\0';
	}
	s->report_due = true;
	pthread_mutex_lock(&c->lock);
	c->st.nr_strategies = (uint32_t)n;
	pthread_mutex_unlock(&c->lock);
	free(rules);
}

/* ---- LIST and WATCH ------------------------------------------------------------------------- */

/* A watch line: one event {"type": ..., "object": {...}}. 0, or -1 with verdict and why. */
static int handle_line(struct stream *s, const char *line, size_t len)
{
	struct kube_client *c = s->c;
	const char *type, *rv;
	json_t *ev, *obj;
	json_error_t jerr;
	int ret = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	ev = json_loadb(line, len, 0, &jerr);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		snprintf(s->why, sizeof(s->why), "a watch event that is not {type, object}: %.80s",
			 ev ? "wrong shape" : jerr.text);
		s->verdict = OUT_RELIST;
		json_decref(ev);
		return -1;
	}
	s->events++;
	STAT_ADD(c, watch_events, 1);
	if (!strcmp(type, "ERROR")) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		if (code == 410) {
			s->verdict = OUT_GONE;
		} else {
			snprintf(s->why, sizeof(s->why), "watch ERROR event %lld: %.120s",
				 (long long)code, msg ? msg : "");
			s->verdict = OUT_RELIST;
		}
		json_decref(ev);
		return -1;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED") || !strcmp(type, "DELETED")) {
		bool del = type[0] == 'D';

		if (s->kind == STREAM_PODS) {
			ret = pod_event(s, type, obj);
		} else if (del ? strat_delete(s, obj) : strat_upsert(s, obj)) {
			strats_publish(s);
		}
		if (ret)
			s->verdict = OUT_RELIST;
	} else if (strcmp(type, "BOOKMARK")) {
		snprintf(s->why, sizeof(s->why), "a watch event of unknown type %.40s", type);
		s->verdict = OUT_RELIST;
		ret = -1;
	}
	rv =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!ret && rv && rv[0] && strlen(rv) < sizeof(s->rv))
		memcpy(s->rv, rv, strlen(rv) + 1);
	if (!ret) {
		pthread_mutex_lock(&c->lock);
		c->st.last_sync_unix = time(NULL);
		pthread_mutex_unlock(&c->lock);
	}
	json_decref(ev);
	return ret;
}

/* Release the response buffer: a LIST page may have been large. */
static void buf_release(struct stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

/* Common handling of a failed answer; @what names the request in messages. */
static enum outcome answer_failed(struct stream *s, const char *what, CURLcode cc, enum outcome got,
				  bool quiet)
{
	if (got == OUT_ERROR) {
		fail_transport(s, what, cc);
		return OUT_ERROR;
	}
	if (s->http == 401 || s->http == 403) {
		/* Perhaps the service-account token rotated under us. */
		token_refresh(s->c, true);
	}
	fail_http(s, what, quiet);
	return OUT_ERROR;
}

/* LIST every page; on success the table or the strategies are replaced and s->rv set. */
static enum outcome do_list(struct stream *s)
{
	struct kube_client *c = s->c;
	struct pod_meta *pods = NULL;
	json_t *items_all = json_array();
	char *cont = NULL, *url = NULL, what[96], rv[64] = "";
	enum outcome out = OUT_ERROR;
	size_t npods = 0;
	bool first = true;

	snprintf(what, sizeof(what), "GET %s", s->path);
	if (!items_all)
		return OUT_ERROR;
	for (;;) {
		json_t *doc, *items;
		const char *page_rv, *next;
		json_error_t jerr;
		enum outcome got;
		bool crd404;
		CURLcode cc;

		free(url);
		if (asprintf(&url, "%s%s?%slimit=%d%s%s", c->cfg.server, s->path, s->selector,
			     KUBE_LIST_PAGE, cont ? "&continue=" : "", cont ? cont : "") < 0) {
			url = NULL;
			fail(s, false, "%s: out of memory", what);
			goto out;
		}
		got = perform(s, url, false, &cc);
		if (got == OUT_STOP) {
			out = OUT_STOP;
			goto out;
		}
		if (got != OUT_OK || s->http != 200 || cc != CURLE_OK) {
			if (got == OUT_OK && s->http == 200) {
				fail(s, true, "%s: %s", what,
				     s->why[0]
					 ? s->why
					 : (s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc)));
				goto out;
			}
			crd404 = s->kind == STREAM_STRATEGIES && got == OUT_OK && s->http == 404;
			if (crd404) {
				/* No CRD: not an error of the daemon; say it once, keep trying. */
				if (!s->crd_missing)
					log_msg(
					    LOG_WARN,
					    "kubernetes: the SchedulingStrategy resource "
					    "(gthulhu.io/v1alpha1) is not installed: no cluster "
					    "strategies until it is (pods are not affected)");
				s->crd_missing = true;
				if (s->nstrats) {
					/* No resource, so no objects: drop what we had. */
					s->nstrats = 0;
					strats_publish(s);
				}
			}
			out = answer_failed(s, what, cc, got, crd404);
			goto out;
		}
		doc = json_loadb(s->buf, s->len, 0, &jerr);
		items = json_object_get(doc, "items");
		page_rv = json_string_value(
		    json_object_get(json_object_get(doc, "metadata"), "resourceVersion"));
		if (!json_is_array(items) || !page_rv || strlen(page_rv) >= sizeof(rv)) {
			fail(s, true, "%s: not a list: %.100s", what,
			     doc ? "no items or metadata.resourceVersion" : jerr.text);
			json_decref(doc);
			goto out;
		}
		/* The first page's rv is the list's snapshot; watch from there. */
		if (first)
			snprintf(rv, sizeof(rv), "%s", page_rv);
		first = false;
		if (s->kind == STREAM_PODS) {
			if (pods_collect(s, items, &pods, &npods)) {
				fail(s, true, "%s: %s", what, s->why);
				json_decref(doc);
				goto out;
			}
		} else if (json_array_size(items_all) + json_array_size(items) >
			   KUBE_STRATEGIES_MAX) {
			fail(s, true, "%s: more than %d objects", what, KUBE_STRATEGIES_MAX);
			json_decref(doc);
			goto out;
		} else {
			json_array_extend(items_all, items);
		}
		next = json_string_value(
		    json_object_get(json_object_get(doc, "metadata"), "continue"));
		free(cont);
		cont = next && next[0] ? url_escape(next) : NULL;
		json_decref(doc);
		if (!cont)
			break;
	}

	if (s->kind == STREAM_PODS) {
		int r = pod_table_replace(c->pods, pods, npods);

		if (r) {
			fail(s, true, "pod table: %s", strerror(-r));
			goto out;
		}
	} else {
		size_t i;
		json_t *obj;

		for (i = 0; i < s->nstrats; i++)
			s->strats[i].seen = false;
		json_array_foreach(items_all, i, obj)
		{
			strat_upsert(s, obj);
		}
		for (i = s->nstrats; i-- > 0;)
			if (!s->strats[i].seen)
				strat_remove(s, i);
		if (s->crd_missing)
			log_msg(LOG_INFO,
				"kubernetes: the SchedulingStrategy resource is there now");
		s->crd_missing = false;
		strats_publish(s);
	}
	memcpy(s->rv, rv, sizeof(rv));
	s->backoff_ms = 0;
	answered_ok(s, true);
	out = OUT_OK;
	if (s->kind == STREAM_STRATEGIES)
		strats_report(s);
out:
	pods_free(pods, npods);
	json_decref(items_all);
	free(cont);
	free(url);
	buf_release(s);
	return out;
}

static enum outcome do_watch(struct stream *s)
{
	struct kube_client *c = s->c;
	char *url, *rv = url_escape(s->rv), what[96];
	enum outcome got;
	CURLcode cc;

	snprintf(what, sizeof(what), "GET %s (watch)", s->path);
	if (!rv || asprintf(&url,
			    "%s%s?%swatch=1&resourceVersion=%s&allowWatchBookmarks=true"
			    "&timeoutSeconds=%u",
			    c->cfg.server, s->path, s->selector, rv, c->watch_timeout_s) < 0) {
		free(rv);
		fail(s, false, "%s: out of memory", what);
		return OUT_ERROR;
	}
	free(rv);
	got = perform(s, url, true, &cc);
	free(url);
	buf_release(s);
	if (got == OUT_STOP)
		return OUT_STOP;
	if (got == OUT_OK && s->http == 410)
		return OUT_GONE;
	if (got != OUT_OK || s->http != 200)
		return s->http == 404 ? (answer_failed(s, what, cc, got, false), OUT_RELIST)
				      : answer_failed(s, what, cc, got, false);
	/* The stream was 200; the handler may have ended it, or the connection failed. */
	if (s->verdict == OUT_GONE)
		return OUT_GONE;
	if (s->verdict != OUT_OK) {
		fail(s, true, "%s: %s", what, s->why);
		return s->verdict;
	}
	if (cc == CURLE_OK)
		return OUT_OK;
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		/* Quiet for WATCH_STALL_S, or past timeoutSeconds: start another one. */
		log_msg(LOG_DEBUG, "kubernetes: %s: %s; watching again", what, s->errbuf);
		return OUT_OK;
	}
	fail_transport(s, what, cc);
	return OUT_ERROR;
}

static void *stream_main(void *p)
{
	struct stream *s = p;
	struct kube_client *c = s->c;
	bool listed = false, watched = false;
	uint64_t last_gone = 0;

	while (!stopping(c)) {
		enum outcome r;
		uint64_t started;

		if (!listed) {
			r = do_list(s);
			if (r == OUT_STOP)
				break;
			if (r != OUT_OK) {
				if (!backoff(s))
					break;
				continue;
			}
			listed = true;
		}
		if (watched)
			STAT_ADD(c, reconnects, 1);
		watched = true;
		started = mono_ms();
		r = do_watch(s);
		/*
		 * A watch that was accepted and then ran for a while (or brought events) means
		 * the server is back: the next failure starts the backoff from the bottom. One
		 * cut at once (a proxy that accepts and drops) keeps backing off.
		 */
		if (s->http == 200 && (s->events || mono_ms() - started >= 1000))
			s->backoff_ms = 0;
		switch (r) {
		case OUT_STOP:
			goto out;
		case OUT_OK:
			/*
			 * A normal end. One that came at once and brought nothing (a proxy
			 * closing every stream?) must not turn into a busy loop.
			 */
			if (!s->events && mono_ms() - started < 1000 && !backoff(s))
				goto out;
			break;
		case OUT_GONE:
			STAT_ADD(c, relists_410, 1);
			listed = false;
			/* 410 again right after a relist: wait, the server is unsettled. */
			if (last_gone && mono_ms() - last_gone < 1000 && !backoff(s))
				goto out;
			last_gone = mono_ms();
			break;
		case OUT_RELIST:
			listed = false;
			if (!backoff(s))
				goto out;
			break;
		case OUT_ERROR:
			if (!backoff(s))
				goto out;
			break;
		}
	}
out:
	return NULL;
}

/* ---- start and stop ----------------------------------------------------------------------------
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void curl_init(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static void client_free(struct kube_client *c)
{
	for (int i = 0; i < NR_STREAMS; i++) {
		struct stream *s = &c->streams[i];

		if (s->easy)
			curl_easy_cleanup(s->easy);
		if (s->multi)
			curl_multi_cleanup(s->multi);
		if (s->peasy)
			curl_easy_cleanup(s->peasy);
		if (s->pmulti)
			curl_multi_cleanup(s->pmulti);
		free(s->selector);
		free(s->buf);
		free(s->strats);
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	kube_config_free(&c->cfg);
	free(c->node);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->token_lock);
	free(c);
}

static int stream_init(struct kube_client *c, enum stream_kind kind)
{
	struct stream *s = &c->streams[kind];

	s->c = c;
	s->kind = kind;
	s->rng = (unsigned int)(mono_ms() ^ ((uint64_t)getpid() << 16) ^ kind);
	if (kind == STREAM_PODS) {
		char *sel, *node = url_escape(c->node);

		s->path = PODS_PATH;
		/* Only this node's pods: listing a whole cluster from every node would hurt. */
		if (!node || asprintf(&sel, "fieldSelector=spec.nodeName%%3D%s&", node) < 0) {
			free(node);
			return -1;
		}
		free(node);
		s->selector = sel;
	} else {
		s->path = STRATEGIES_PATH;
		s->selector = strdup("");
		if (!s->selector)
			return -1;
	}
	s->multi = curl_multi_init();
	s->easy = curl_easy_init();
	if (!s->multi || !s->easy || easy_setup(c, s->easy, s->errbuf, on_body, on_header, s))
		return -1;
	if (kind == STREAM_STRATEGIES && c->report_status) {
		s->pmulti = curl_multi_init();
		s->peasy = curl_easy_init();
		if (!s->pmulti || !s->peasy ||
		    easy_setup(c, s->peasy, s->perrbuf, on_patch_body, NULL, NULL))
			return -1;
	}
	return 0;
}

struct kube_client *kube_client_start(const struct kube_client_options *o, char *err, size_t errlen)
{
	struct kube_client *c;
	pthread_condattr_t ca;

	if (!o->node_name || !o->node_name[0] || strlen(o->node_name) >= POD_NAME_MAX) {
		err_printf(err, errlen, "kubernetes: a node name (1 to %d bytes) is needed",
			   POD_NAME_MAX - 1);
		return NULL;
	}
	if (!o->pods) {
		err_printf(err, errlen, "kubernetes: no pod table");
		return NULL;
	}
	pthread_once(&curl_once, curl_init);
	if (!curl_ok) {
		err_printf(err, errlen, "kubernetes: libcurl failed to initialise");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		err_printf(err, errlen, "kubernetes: out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->token_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	c->error_owner = -1;
	c->pods = o->pods;
	c->on_strategies = o->on_strategies;
	c->ctx = o->ctx;
	c->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : BACKOFF_MAX_DEFAULT_MS;
	c->watch_timeout_s = o->watch_timeout_s ? o->watch_timeout_s : WATCH_TIMEOUT_DEFAULT_S;
	c->report_status = o->report_status;
	c->node = strdup(o->node_name);
	if (!c->node) {
		err_printf(err, errlen, "kubernetes: out of memory");
		goto fail;
	}
	if (kube_config_load(o->kubeconfig, o->sa_dir, &c->cfg, err, errlen))
		goto fail;
	if (c->cfg.token_file) {
		c->token = read_token(c->cfg.token_file, &c->token_st);
		if (!c->token) {
			err_printf(err, errlen, "%s: token file %s: %s", c->cfg.origin,
				   c->cfg.token_file,
				   errno == EINVAL ? "empty or not one line" : strerror(errno));
			goto fail;
		}
		c->token_read_at = mono_s();
	} else if (c->cfg.token && !(c->token = strdup(c->cfg.token))) {
		err_printf(err, errlen, "kubernetes: out of memory");
		goto fail;
	}
	for (int k = 0; k < NR_STREAMS; k++) {
		if (k == STREAM_STRATEGIES && !o->watch_strategies)
			continue;
		if (stream_init(c, (enum stream_kind)k)) {
			err_printf(err, errlen, "kubernetes: cannot set up libcurl");
			goto fail;
		}
	}
	for (int k = 0; k < NR_STREAMS; k++) {
		struct stream *s = &c->streams[k];

		if (!s->easy)
			continue;
		if (thread_start(&s->thread, "gt-k8s-watch", stream_main, s)) {
			err_printf(err, errlen, "kubernetes: cannot start a thread");
			kube_client_stop(c);
			return NULL;
		}
		pthread_setname_np(s->thread, k == STREAM_PODS ? "kube-pods" : "kube-strategies");
		s->running = true;
	}
	log_msg(LOG_INFO, "kubernetes: watching the pods of node %s%s via %s (%s)", c->node,
		o->watch_strategies ? " and SchedulingStrategies" : "", c->cfg.server,
		c->cfg.origin);
	return c;
fail:
	client_free(c);
	return NULL;
}

void kube_client_stop(struct kube_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	for (int k = 0; k < NR_STREAMS; k++) {
		if (c->streams[k].multi)
			curl_multi_wakeup(c->streams[k].multi);
		/* A status report in flight ends at once too. */
		if (c->streams[k].pmulti)
			curl_multi_wakeup(c->streams[k].pmulti);
	}
	for (int k = 0; k < NR_STREAMS; k++)
		if (c->streams[k].running)
			pthread_join(c->streams[k].thread, NULL);
	client_free(c);
}
