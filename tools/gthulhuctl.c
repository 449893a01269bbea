// SPDX-License-Identifier: GPL-2.0
/*
 * gthulhuctl: the command-line client of the Gthulhu daemon's REST API (src/api/api.h).
 *
 * It speaks HTTP over the daemon's unix socket by default (whose file mode is what keeps
 * strangers out, so no token is sent there), or over TCP with --url, sending the bearer
 * token read from a file. Output is for people (aligned tables, "key: value" lines) unless
 * --json asks for the daemon's JSON, pretty-printed, for scripts.
 *
 * The exit code says who is at fault, so scripts can react without parsing text: 1 the
 * daemon refused the request, 2 our own usage error (nothing was sent), 3 the daemon is
 * unreachable, 4 it failed or answered nonsense, 5 authentication failed.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <yaml.h>

#include "strategy/strategy.h"
#include "strategy/strategy_json.h"

#ifndef GTHULHU_VERSION
#define GTHULHU_VERSION "unknown"
#endif

#define DEFAULT_SOCKET	  "/run/gthulhu/api.sock"
#define DEFAULT_TIMEOUT_S 5
#define MAX_TIMEOUT_S	  3600
/* A status or list answer is a few KiB; a runaway or hostile server must not eat memory. */
#define REPLY_MAX_BYTES (32u << 20)
#define TOKEN_MAX_BYTES 4096
/* YAML aliases can make a small file expand enormously: cap the nodes converted. */
#define YAML_MAX_NODES 100000

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum ctl_exit {
	CTL_OK = 0,
	CTL_REFUSED = 1,     /* HTTP 4xx but 401 */
	CTL_USAGE = 2,	     /* bad arguments or input; nothing was sent */
	CTL_UNREACHABLE = 3, /* connect failed or timed out */
	CTL_FAILED = 4,	     /* HTTP 5xx or an answer we cannot use */
	CTL_AUTH = 5,	     /* HTTP 401 */
};

struct ctl {
	const char *socket_path; /* NULL: DEFAULT_SOCKET unless --url */
	const char *url;	 /* --url as given */
	const char *token_file;	 /* --token-file, else $GTHULHU_TOKEN_FILE */
	bool json;
	long timeout_ms;
	/* Filled by ctl_prepare() before the first request. */
	bool prepared;
	char base_url[512]; /* "http://host:port" without a trailing '/' */
	char auth_header[TOKEN_MAX_BYTES + 32];
};

/* One HTTP answer. */
struct reply {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	bool too_big;
};

static const char *const help_text =
    "Usage: gthulhuctl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Control a running Gthulhu scheduler through its REST API.\n"
    "\n"
    "Commands:\n"
    "  status                      state, uptime, last exit and counters\n"
    "  strategies list             every strategy (config file, API, cluster) and what it does\n"
    "  strategies add MATCHER... EFFECT... [--id ID]\n"
    "                              create an API strategy; prints its id\n"
    "      matchers: --pid N  --tid N  --regex ERE [--cmdline]  --cgroup PATH\n"
    "                --selector KEY=VALUE (repeatable)  --namespace NS (repeatable)\n"
    "      effects:  --priority N|true|false (0..20, true = 20)  --execution-time NS\n"
    "  strategies rm ID...         delete API strategies\n"
    "  strategies apply -f FILE    replace every API strategy with FILE's: JSON\n"
    "                              {\"strategies\": [...]} or a bare list [...], or YAML\n"
    "                              with a top-level strategies: list; - reads stdin\n"
    "  pods                        Kubernetes pods and their processes\n"
    "  pods metrics                per-pod CPU time, wait time, runs, switches, migrations\n"
    "  metrics                     the counters in Prometheus text (--json: as JSON)\n"
    "  config get [KEY]            configuration keys, values and which can change live\n"
    "  config set KEY=VALUE...     change live keys; VALUE is true, false or an integer\n"
    "\n"
    "Options (before or after the command):\n"
    "  --socket PATH      the daemon's unix socket (default " DEFAULT_SOCKET ")\n"
    "  --url URL          use TCP instead: http://HOST:PORT\n"
    "  --token-file FILE  bearer token sent with --url (default: $GTHULHU_TOKEN_FILE)\n"
    "  --json             print the daemon's JSON answer (pretty), for scripts\n"
    "  --timeout S        give up after S seconds (default 5)\n"
    "  -h, --help         this text\n"
    "  --version          gthulhuctl's version\n"
    "\n"
    "Exit codes:\n"
    "  0  done\n"
    "  1  the daemon refused the request (its message is printed)\n"
    "  2  usage error: bad arguments or input file; nothing was sent\n"
    "  3  the daemon is unreachable (not running, API disabled, wrong socket or URL, timeout)\n"
    "  4  the daemon failed (HTTP 5xx or an answer that is not what was expected)\n"
    "  5  authentication failed (HTTP 401: missing or wrong token)\n";

/* ---- small helpers ---- */

static void __attribute__((format(printf, 1, 2))) msg(const char *fmt, ...)
{
	va_list ap;

	fputs("gthulhuctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gthulhuctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'gthulhuctl --help'.\n", stderr);
	return CTL_USAGE;
}

static void __attribute__((noreturn)) die_oom(void)
{
	msg("out of memory");
	exit(CTL_FAILED);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die_oom();
	return d;
}

/* Plain decimal digits, no sign, at most @max: the only numbers we send. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* The whole of @f, at most @max bytes, NUL-terminated; NULL with errno (EFBIG: too large). */
static char *read_stream(FILE *f, size_t max, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	for (;;) {
		size_t got;

		if (n + 1 >= cap) {
			char *nb;

			if (n > max) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	if (n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- connection set-up ---- */

/* The token file holds one token; a trailing newline (echo > file) is not part of it. */
static int read_token(struct ctl *ctl)
{
	FILE *f = fopen(ctl->token_file, "r");
	size_t len;
	char *tok;

	if (!f)
		return usage_error("token file %s: %s", ctl->token_file, strerror(errno));
	tok = read_stream(f, TOKEN_MAX_BYTES, &len);
	fclose(f);
	if (!tok)
		return usage_error("token file %s: %s", ctl->token_file,
				   errno == EFBIG ? "too large" : strerror(errno));
	while (len && isspace((unsigned char)tok[len - 1]))
		tok[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		/* A newline inside would let the file add headers of its own. */
		if (!isgraph((unsigned char)tok[i])) {
			free(tok);
			return usage_error("token file %s: the token has a space or control "
					   "character",
					   ctl->token_file);
		}
	}
	if (!len) {
		free(tok);
		return usage_error("token file %s is empty", ctl->token_file);
	}
	snprintf(ctl->auth_header, sizeof(ctl->auth_header), "Authorization: Bearer %s", tok);
	free(tok);
	return CTL_OK;
}

/* Check where to connect and read the token: all before anything is sent. */
static int ctl_prepare(struct ctl *ctl)
{
	const char *host;
	size_t len;

	if (ctl->prepared)
		return CTL_OK;
	if (ctl->url && ctl->socket_path)
		return usage_error("--socket and --url exclude each other");
	if (!ctl->url) {
		if (!ctl->socket_path)
			ctl->socket_path = DEFAULT_SOCKET;
		if (!*ctl->socket_path)
			return usage_error("--socket needs a path");
		/* The host part is ignored on a unix socket, but HTTP/1.1 needs one. */
		snprintf(ctl->base_url, sizeof(ctl->base_url), "http://localhost");
		ctl->prepared = true;
		return CTL_OK;
	}

	if (!strncmp(ctl->url, "http://", 7))
		host = ctl->url + 7;
	else if (!strncmp(ctl->url, "https://", 8))
		host = ctl->url + 8;
	else
		return usage_error("--url %s: expected http://HOST:PORT", ctl->url);
	if (!*host || *host == '/')
		return usage_error("--url %s: no host", ctl->url);
	for (const char *p = ctl->url; *p; p++)
		if (!isgraph((unsigned char)*p) || *p == '?' || *p == '#')
			return usage_error("--url %s: expected http://HOST:PORT", ctl->url);
	len = strlen(ctl->url);
	while (len && ctl->url[len - 1] == '/')
		len--;
	if (len >= sizeof(ctl->base_url))
		return usage_error("--url is too long");
	memcpy(ctl->base_url, ctl->url, len);
	ctl->base_url[len] = '\0';

	if (!ctl->token_file) {
		const char *env = getenv("GTHULHU_TOKEN_FILE");

		if (env && *env)
			ctl->token_file = env;
	}
	if (ctl->token_file) {
		int rc = read_token(ctl);

		if (rc)
			return rc;
	}
	ctl->prepared = true;
	return CTL_OK;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct reply *r = userp;
	size_t n = size * nmemb;
	char *nb;

	if (n > REPLY_MAX_BYTES - r->len) {
		r->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return 0;
	memcpy(nb + r->len, data, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static const char *where(const struct ctl *ctl, char *buf, size_t len)
{
	if (ctl->url)
		snprintf(buf, len, "%s", ctl->base_url);
	else
		snprintf(buf, len, "unix socket %s", ctl->socket_path);
	return buf;
}

/* Why a unix socket cannot be used, when the file system can tell us (curl cannot). */
static const char *socket_problem(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno == ENOENT ? "no such socket" : strerror(errno);
	if (!S_ISSOCK(st.st_mode))
		return "not a socket";
	if (access(path, R_OK | W_OK))
		return "permission denied (the socket is root's: run as root)";
	return NULL;
}

static int transport_error(const struct ctl *ctl, CURLcode res, const char *detail,
			   const struct reply *r)
{
	char w[600];
	const char *why = detail && *detail ? detail : curl_easy_strerror(res);

	where(ctl, w, sizeof(w));
	switch (res) {
	case CURLE_OPERATION_TIMEDOUT:
		msg("the daemon at %s did not answer within %g s (is gthulhu running? is the API "
		    "enabled?)",
		    w, ctl->timeout_ms / 1000.0);
		return CTL_UNREACHABLE;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		if (!ctl->url && res == CURLE_COULDNT_CONNECT) {
			const char *p = socket_problem(ctl->socket_path);

			if (p)
				why = p;
		}
		msg("cannot reach the daemon at %s: %s (is gthulhu running? is the API enabled?)",
		    w, why);
		return CTL_UNREACHABLE;
	case CURLE_WRITE_ERROR:
		if (r->too_big) {
			msg("the daemon at %s sent an answer larger than %u bytes", w,
			    REPLY_MAX_BYTES);
			return CTL_FAILED;
		}
		break;
	default:
		break;
	}
	msg("no usable answer from the daemon at %s: %s", w, why);
	return CTL_FAILED;
}

/*
 * One request: @method @path with @body (JSON, may be NULL). CTL_OK with the answer in @r
 * (any HTTP status; the caller owns r->body), or the transport failure's exit code.
 */
static int http_call(struct ctl *ctl, const char *method, const char *path, const json_t *body,
		     struct reply *r)
{
	char url[1024], errbuf[CURL_ERROR_SIZE] = "", agent[96];
	struct curl_slist *hdrs = NULL, *h;
	char *text = NULL;
	CURLcode res;
	CURL *c;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ctl_prepare(ctl);
	if (rc)
		return rc;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", ctl->base_url, path) >= sizeof(url))
		return usage_error("request path too long");
	c = curl_easy_init();
	if (!c)
		die_oom();

	if (!ctl->url)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ctl->socket_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Straight to the daemon: $http_proxy must not see the token or the changes. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	/* Send ids exactly as given: "strategies rm .." must not become another path. */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ctl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ctl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	snprintf(agent, sizeof(agent), "gthulhuctl/%s", GTHULHU_VERSION);
	curl_easy_setopt(c, CURLOPT_USERAGENT, agent);

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			die_oom();
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		if (!hdrs)
			die_oom();
	}
	if (ctl->url && ctl->auth_header[0]) {
		h = curl_slist_append(hdrs, ctl->auth_header);
		if (!h)
			die_oom();
		hdrs = h;
	}
	/* curl would otherwise wait a second for "100 Continue" on larger bodies. */
	h = curl_slist_append(hdrs, "Expect:");
	if (!h)
		die_oom();
	hdrs = h;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	res = curl_easy_perform(c);
	if (res == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (!r->body)
			r->body = xstrdup("");
		rc = CTL_OK;
	} else {
		rc = transport_error(ctl, res, errbuf, r);
		free(r->body);
		r->body = NULL;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(text);
	return rc;
}

/*
 * The daemon's "error" text of an answer, or a stand-in naming the status. Control
 * characters become '?': a message must not be able to steer the terminal.
 */
static const char *error_text(const json_t *doc, long status, char *buf, size_t len)
{
	const char *e = json_string_value(json_object_get(doc, "error"));

	if (!e || !*e) {
		snprintf(buf, len, "HTTP %ld", status);
		return buf;
	}
	snprintf(buf, len, "%s", e);
	for (char *p = buf; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	return buf;
}

/*
 * Map an answer to an exit code, printing why it is not CTL_OK. With @doc, a successful
 * answer must be a JSON object, returned there (the caller frees it).
 */
static int check_reply(const struct reply *r, json_t **doc)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	char buf[1024];
	int rc = CTL_OK;

	if (r->status == 401) {
		msg("authentication failed: %s (give the daemon's token with --token-file or "
		    "$GTHULHU_TOKEN_FILE)",
		    error_text(j, r->status, buf, sizeof(buf)));
		rc = CTL_AUTH;
	} else if (r->status >= 400 && r->status < 500) {
		msg("%s", error_text(j, r->status, buf, sizeof(buf)));
		rc = CTL_REFUSED;
	} else if (r->status >= 500 && r->status < 600) {
		msg("the daemon failed: %s", error_text(j, r->status, buf, sizeof(buf)));
		rc = CTL_FAILED;
	} else if (r->status < 200 || r->status >= 300) {
		msg("unexpected answer from the daemon: HTTP %ld", r->status);
		rc = CTL_FAILED;
	} else if (doc && r->status == 204 && !j) {
		j = json_object(); /* No Content: done, nothing to show */
		if (!j)
			die_oom();
	} else if (doc && !json_is_object(j)) {
		msg("unexpected answer from the daemon (HTTP %ld): not a JSON object", r->status);
		rc = CTL_FAILED;
	} else if (doc && json_is_false(json_object_get(j, "success"))) {
		msg("the daemon failed: %s", error_text(j, r->status, buf, sizeof(buf)));
		rc = CTL_FAILED;
	}
	if (rc == CTL_OK && doc)
		*doc = j;
	else
		json_decref(j);
	return rc;
}

/* A request whose answer is a JSON object: CTL_OK with *doc set, or the failure's code. */
static int request(struct ctl *ctl, const char *method, const char *path, const json_t *body,
		   json_t **doc)
{
	struct reply r;
	int rc = http_call(ctl, method, path, body, &r);

	*doc = NULL;
	if (rc)
		return rc;
	rc = check_reply(&r, doc);
	free(r.body);
	return rc;
}

static void print_json(const json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2));

	if (!s)
		die_oom();
	puts(s);
	free(s);
}

/* ---- human output ---- */

/* A value as one line of text: strings bare, scalar lists joined, objects compact. */
static void value_text(const json_t *v, char *buf, size_t len)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		return;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		return;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		return;
	case JSON_NULL:
		snprintf(buf, len, "-");
		return;
	default:
		break;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
}

/* Append @sep (unless @buf is empty) and a formatted part; stops quietly when full. */
static void __attribute__((format(printf, 5, 6)))
append(char *buf, size_t len, size_t *n, const char *sep, const char *fmt, ...)
{
	va_list ap;

	if (*n && *n < len)
		*n += (size_t)snprintf(buf + *n, len - *n, "%s", sep);
	if (*n < len) {
		va_start(ap, fmt);
		*n += (size_t)vsnprintf(buf + *n, len - *n, fmt, ap);
		va_end(ap);
	}
}

/* Rows of text cells printed in aligned columns. */
#define TABLE_MAX_COLS 8
struct table {
	size_t ncols; /* at most TABLE_MAX_COLS */
	size_t nrows, cap;
	char **cells; /* nrows * ncols */
};

static void table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, cap * t->ncols * sizeof(*nc));

		if (!nc)
			die_oom();
		t->cells = nc;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "-");
	t->nrows++;
}

static void table_print_free(struct table *t)
{
	size_t width[TABLE_MAX_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t l = strlen(t->cells[r * t->ncols + i]);

			if (l > width[i])
				width[i] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *cell = t->cells[r * t->ncols + i];

			if (i + 1 == t->ncols)
				printf("%s\n", cell);
			else
				printf("%-*s  ", (int)width[i], cell);
			free(t->cells[r * t->ncols + i]);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/*
 * "key: value" lines, aligned per level; nested objects (counters) indented below their
 * key, lists of scalars on one line.
 */
static void print_fields(const json_t *obj, int indent)
{
	const char *key;
	const json_t *v, *it;
	int width = 0;
	char buf[4096];
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		if ((int)strlen(key) > width)
			width = (int)strlen(key);
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		/* The envelope every answer has; the timestamp says when the numbers are from. */
		if (!indent && (!strcmp(key, "success") || !strcmp(key, "message")))
			continue;
		if (json_is_object(v)) {
			printf("%*s%s:\n", indent, "", key);
			print_fields(v, indent + 2);
			continue;
		}
		buf[0] = '\0';
		if (json_is_array(v)) {
			size_t n = 0;

			json_array_foreach(v, i, it)
			{
				char one[256];

				value_text(it, one, sizeof(one));
				append(buf, sizeof(buf), &n, " ", "%s", one);
			}
		} else {
			value_text(v, buf, sizeof(buf));
		}
		printf("%*s%s:%*s %s\n", indent, "", key, width - (int)strlen(key), "", buf);
	}
}

/* ---- command-line options ---- */

enum {
	OPT_SOCKET = 256,
	OPT_URL,
	OPT_TOKEN_FILE,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERSION,
	OPT_ID,
	OPT_PID,
	OPT_TID,
	OPT_REGEX,
	OPT_CMDLINE,
	OPT_CGROUP,
	OPT_SELECTOR,
	OPT_NAMESPACE,
	OPT_PRIORITY,
	OPT_EXEC_TIME,
};

/* Accepted before the command and after it, by every command. */
static const struct option global_opts[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"url", required_argument, NULL, OPT_URL},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

#define MAX_OPTIONS 24

/* @out = the global options, then @cmd's (both end with a zero entry). */
static void with_globals(const struct option *cmd, struct option out[MAX_OPTIONS])
{
	size_t n = 0;

	for (const struct option *o = global_opts; o->name; o++)
		out[n++] = *o;
	for (const struct option *o = cmd; o && o->name && n + 1 < MAX_OPTIONS; o++)
		out[n++] = *o;
	out[n] = (struct option){NULL, 0, NULL, 0};
}

static int parse_timeout(const char *arg, long *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s > 0) || s > MAX_TIMEOUT_S)
		return usage_error("--timeout %s: expected seconds in (0, %d]", arg, MAX_TIMEOUT_S);
	*ms = (long)(s * 1000);
	if (*ms < 1)
		*ms = 1;
	return CTL_OK;
}

/* A global option, or getopt's complaint (opterr is off: our messages, our exit code). */
static int global_option(struct ctl *ctl, int c, char **argv)
{
	switch (c) {
	case OPT_SOCKET:
		ctl->socket_path = optarg;
		return CTL_OK;
	case OPT_URL:
		ctl->url = optarg;
		return CTL_OK;
	case OPT_TOKEN_FILE:
		ctl->token_file = optarg;
		return CTL_OK;
	case OPT_JSON:
		ctl->json = true;
		return CTL_OK;
	case OPT_TIMEOUT:
		return parse_timeout(optarg, &ctl->timeout_ms);
	case 'h':
		fputs(help_text, stdout);
		exit(CTL_OK);
	case OPT_VERSION:
		printf("gthulhuctl %s\n", GTHULHU_VERSION);
		exit(CTL_OK);
	case ':':
		return usage_error("option %s needs an argument", argv[optind - 1]);
	default:
		if (optopt && optopt < 256)
			return usage_error("unknown option -%c", optopt);
		return usage_error("unknown option %s", argv[optind - 1]);
	}
}

/* Commands without options of their own: global options and at most @max_args words. */
static int parse_plain(struct ctl *ctl, int argc, char **argv, int max_args)
{
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", global_opts, NULL)) != -1) {
		rc = global_option(ctl, c, argv);
		if (rc)
			return rc;
	}
	if (argc - optind > max_args)
		return usage_error("%s: unexpected argument %s", argv[0], argv[optind + max_args]);
	return CTL_OK;
}

/* ---- commands ---- */

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	json_t *doc;
	int rc = parse_plain(ctl, argc, argv, 0);

	if (rc)
		return rc;
	rc = request(ctl, "GET", "/api/v1/status", NULL, &doc);
	if (rc)
		return rc;
	if (ctl->json)
		print_json(doc);
	else
		print_fields(doc, 0);
	json_decref(doc);
	return CTL_OK;
}

/* "2ms" for 2000000: slices are set in round units, so print them that way. */
static void ns_text(uint64_t ns, char *buf, size_t len)
{
	if (!ns)
		snprintf(buf, len, "default");
	else if (ns % 1000000000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ns / 1000000000);
	else if (ns % 1000000 == 0)
		snprintf(buf, len, "%" PRIu64 "ms", ns / 1000000);
	else if (ns % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "us", ns / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ns", ns);
}

/* What a strategy matches, in one cell: "pid=12 comm~^nginx$ app=web ns=default,prod". */
static void match_text(const json_t *s, char *buf, size_t len)
{
	const json_t *v, *it;
	char ns[STRATEGY_NAMESPACES_MAX * STRATEGY_NAMESPACE_MAX];
	size_t n = 0, nn = 0, i;

	buf[0] = ns[0] = '\0';
	if (json_integer_value(json_object_get(s, "pid")))
		append(buf, len, &n, " ", "pid=%" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(s, "pid")));
	if (json_integer_value(json_object_get(s, "tid")))
		append(buf, len, &n, " ", "tid=%" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(s, "tid")));
	v = json_object_get(s, "command_regex");
	if (json_string_length(v))
		append(buf, len, &n, " ", "%s~%s",
		       json_is_true(json_object_get(s, "match_cmdline")) ? "cmdline" : "comm",
		       json_string_value(v));
	v = json_object_get(s, "cgroup");
	if (json_string_length(v))
		append(buf, len, &n, " ", "cgroup=%s", json_string_value(v));
	json_array_foreach(json_object_get(s, "selectors"), i, it)
	{
		append(buf, len, &n, " ", "%s=%s", json_string_value(json_object_get(it, "key")),
		       json_string_value(json_object_get(it, "value")));
	}
	/* Namespaces are alternatives: one matcher, comma-separated. */
	json_array_foreach(json_object_get(s, "namespaces"), i, it)
	{
		append(ns, sizeof(ns), &nn, ",", "%s", json_string_value(it));
	}
	if (ns[0])
		append(buf, len, &n, " ", "ns=%s", ns);
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* A per-strategy counter; "-" when the daemon does not report it. */
static void stat_text(const json_t *s, const char *name, char *buf, size_t len)
{
	const json_t *v = json_object_get(s, name);

	if (v)
		value_text(v, buf, len);
	else
		snprintf(buf, len, "-");
}

/*
 * A list command (no arguments of its own): GET @path and find the list @key in the
 * answer. With --json the answer is printed here and *doc is NULL; otherwise the caller
 * prints *list as a table and frees *doc.
 */
static int get_list(struct ctl *ctl, int argc, char **argv, const char *path, const char *key,
		    json_t **doc, const json_t **list)
{
	int rc = parse_plain(ctl, argc, argv, 0);

	if (!rc)
		rc = request(ctl, "GET", path, NULL, doc);
	if (rc)
		return rc;
	*list = json_object_get(*doc, key);
	if (!json_is_array(*list)) {
		msg("unexpected answer from the daemon: no \"%s\" list", key);
		json_decref(*doc);
		return CTL_FAILED;
	}
	if (ctl->json) {
		print_json(*doc);
		json_decref(*doc);
		*doc = NULL;
	}
	return CTL_OK;
}

static int cmd_strategies_list(struct ctl *ctl, int argc, char **argv)
{
	struct table t = {.ncols = 7};
	const json_t *list, *s;
	json_t *doc = NULL;
	size_t i;
	int rc = get_list(ctl, argc, argv, "/api/v1/strategies", "strategies", &doc, &list);

	if (rc || !doc)
		return rc;
	table_add(&t, (const char *const[]){"ID", "SOURCE", "PRIORITY", "SLICE", "MATCH", "THREADS",
					    "DECISIONS"});
	json_array_foreach(list, i, s)
	{
		char prio[32], slice[32], match[2048], threads[32], decisions[32];
		const json_t *p = json_object_get(s, "priority");

		if (json_is_boolean(p)) /* the original's boolean: true is the top level */
			snprintf(prio, sizeof(prio), "%d",
				 json_is_true(p) ? STRATEGY_PRIO_MAX : STRATEGY_PRIO_NONE);
		else
			snprintf(prio, sizeof(prio), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(p));
		ns_text((uint64_t)json_integer_value(json_object_get(s, "execution_time")), slice,
			sizeof(slice));
		match_text(s, match, sizeof(match));
		stat_text(s, "threads", threads, sizeof(threads));
		stat_text(s, "decisions", decisions, sizeof(decisions));
		table_add(&t, (const char *const[]){json_string_value(json_object_get(s, "id")),
						    json_string_value(json_object_get(s, "source")),
						    prio, slice, match, threads, decisions});
	}
	table_print_free(&t);
	json_decref(doc);
	return CTL_OK;
}

/* @obj.@key = @value; jansson refuses text that is not UTF-8, and so do we, loudly. */
static int set_string(json_t *obj, const char *key, const char *opt, const char *value)
{
	json_t *s = json_string(value);

	if (!s)
		return usage_error("%s %s: not valid UTF-8", opt, value);
	if (json_object_set_new(obj, key, s))
		die_oom();
	return CTL_OK;
}

/* KEY=VALUE with a non-empty KEY: split in place. */
static bool split_pair(char *arg, char **key, char **value)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return false;
	*eq = '\0';
	*key = arg;
	*value = eq + 1;
	return true;
}

static int cmd_strategies_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option add_opts[] = {
	    {"id", required_argument, NULL, OPT_ID},
	    {"pid", required_argument, NULL, OPT_PID},
	    {"tid", required_argument, NULL, OPT_TID},
	    {"regex", required_argument, NULL, OPT_REGEX},
	    {"cmdline", no_argument, NULL, OPT_CMDLINE},
	    {"cgroup", required_argument, NULL, OPT_CGROUP},
	    {"selector", required_argument, NULL, OPT_SELECTOR},
	    {"namespace", required_argument, NULL, OPT_NAMESPACE},
	    {"priority", required_argument, NULL, OPT_PRIORITY},
	    {"execution-time", required_argument, NULL, OPT_EXEC_TIME},
	    {NULL, 0, NULL, 0},
	};
	json_t *rule = json_object(), *sels = json_array(), *nss = json_array(), *doc = NULL;
	struct option opts[MAX_OPTIONS];
	const char *id;
	char *k, *v;
	uint64_t n;
	int c, rc = CTL_OK;

	if (!rule || !sels || !nss)
		die_oom();
	with_globals(add_opts, opts);
	optind = 0;
	while (!rc && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ID:
			rc = set_string(rule, "id", "--id", optarg);
			break;
		case OPT_PID:
		case OPT_TID:
			/* The daemon checks the range; we only refuse what is not a number. */
			if (!parse_u64(optarg, INT32_MAX, &n) || !n)
				rc = usage_error("--%s %s: expected a positive integer",
						 c == OPT_PID ? "pid" : "tid", optarg);
			else
				json_object_set_new(rule, c == OPT_PID ? "pid" : "tid",
						    json_integer((json_int_t)n));
			break;
		case OPT_REGEX:
			rc = set_string(rule, "command_regex", "--regex", optarg);
			break;
		case OPT_CMDLINE:
			json_object_set_new(rule, "match_cmdline", json_true());
			break;
		case OPT_CGROUP:
			rc = set_string(rule, "cgroup", "--cgroup", optarg);
			break;
		case OPT_SELECTOR:
			if (!split_pair(optarg, &k, &v)) {
				rc = usage_error("--selector %s: expected KEY=VALUE", optarg);
				break;
			}
			if (json_array_append_new(sels,
						  json_pack("{s:s, s:s}", "key", k, "value", v)))
				rc = usage_error("--selector %s=%s: not valid UTF-8", k, v);
			break;
		case OPT_NAMESPACE:
			if (json_array_append_new(nss, json_string(optarg)))
				rc = usage_error("--namespace %s: not valid UTF-8", optarg);
			break;
		case OPT_PRIORITY:
			if (!strcmp(optarg, "true") || !strcmp(optarg, "false"))
				json_object_set_new(rule, "priority",
						    json_boolean(!strcmp(optarg, "true")));
			else if (parse_u64(optarg, INT32_MAX, &n))
				json_object_set_new(rule, "priority", json_integer((json_int_t)n));
			else
				rc = usage_error("--priority %s: expected 0..%d, true or false",
						 optarg, STRATEGY_PRIO_MAX);
			break;
		case OPT_EXEC_TIME:
			if (parse_u64(optarg, INT64_MAX, &n))
				json_object_set_new(rule, "execution_time",
						    json_integer((json_int_t)n));
			else
				rc = usage_error("--execution-time %s: expected nanoseconds",
						 optarg);
			break;
		default:
			rc = global_option(ctl, c, argv);
			break;
		}
	}
	if (!rc && optind < argc)
		rc = usage_error("strategies add: unexpected argument %s", argv[optind]);
	if (!rc && !json_object_size(rule) && !json_array_size(sels) && !json_array_size(nss))
		rc = usage_error("strategies add: give at least a matcher and an effect");
	if (json_array_size(sels))
		json_object_set(rule, "selectors", sels);
	if (json_array_size(nss))
		json_object_set(rule, "namespaces", nss);
	json_decref(sels);
	json_decref(nss);
	if (!rc)
		rc = request(ctl, "POST", "/api/v1/strategies", rule, &doc);
	json_decref(rule);
	if (rc)
		return rc;
	/* The daemon echoes the strategy as stored: the id is there, given or made up. */
	id = json_string_value(json_object_get(json_object_get(doc, "strategy"), "id"));
	if (ctl->json) {
		print_json(doc);
	} else if (id) {
		printf("%s\n", id);
	} else {
		msg("unexpected answer from the daemon: no id for the new strategy");
		rc = CTL_FAILED;
	}
	json_decref(doc);
	return rc;
}

static int cmd_strategies_rm(struct ctl *ctl, int argc, char **argv)
{
	int rc = parse_plain(ctl, argc, argv, argc), worst = CTL_OK;
	char path[128 + 3 * STRATEGY_ID_MAX];

	if (rc)
		return rc;
	if (optind == argc)
		return usage_error("strategies rm: which strategy? give one or more IDs");
	/* Every id is checked before the first is deleted: a typo must not stop halfway. */
	for (int i = optind; i < argc; i++)
		if (!strategy_id_valid(argv[i]))
			return usage_error("strategies rm: %s is not a strategy id (1..%d of "
					   "A-Z a-z 0-9 . _ -)",
					   argv[i], STRATEGY_ID_MAX - 1);
	for (int i = optind; i < argc; i++) {
		json_t *doc;

		snprintf(path, sizeof(path), "/api/v1/strategies/%s", argv[i]);
		rc = request(ctl, "DELETE", path, NULL, &doc);
		if (rc == CTL_OK) {
			if (ctl->json)
				print_json(doc);
			else
				printf("deleted %s\n", argv[i]);
			json_decref(doc);
		} else if (rc != CTL_REFUSED) {
			return rc; /* unreachable, failed, unauthorised: the rest would be too */
		}
		if (rc && !worst)
			worst = rc;
	}
	return worst;
}

/* ---- strategy files: JSON, or YAML converted to the same JSON ---- */

struct yconv {
	yaml_document_t *doc;
	size_t nodes;
	char *err;
	size_t errlen;
};

/* Plain YAML scalars take a type as the config file's do; quoted ones stay strings. */
static json_t *yaml_scalar(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	uint64_t v;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_string(s);
	if (!strcmp(s, "true"))
		return json_true();
	if (!strcmp(s, "false"))
		return json_false();
	if (!*s || !strcmp(s, "null") || !strcmp(s, "~"))
		return json_null();
	if (parse_u64(s, INT64_MAX, &v))
		return json_integer((json_int_t)v);
	if (s[0] == '-' && parse_u64(s + 1, INT64_MAX, &v))
		return json_integer(-(json_int_t)v);
	return json_string(s);
}

static json_t *yaml_to_json(struct yconv *y, const yaml_node_t *n, int depth)
{
	json_t *out;

	if (!n || depth > STRATEGY_JSON_MAX_DEPTH || ++y->nodes > YAML_MAX_NODES) {
		snprintf(y->err, y->errlen, "line %zu: nested too deep or too large",
			 n ? n->start_mark.line + 1 : 0);
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		out = yaml_scalar(n);
		break;
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     out && it < n->data.sequence.items.top; it++) {
			json_t *v = yaml_to_json(y, yaml_document_get_node(y->doc, *it), depth + 1);

			if (!v || json_array_append_new(out, v)) {
				json_decref(out);
				return NULL;
			}
		}
		break;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     out && p < n->data.mapping.pairs.top; p++) {
			const yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
			json_t *v;

			if (!k || k->type != YAML_SCALAR_NODE) {
				snprintf(y->err, y->errlen, "line %zu: a key must be a scalar",
					 n->start_mark.line + 1);
				json_decref(out);
				return NULL;
			}
			/* Duplicate keys are errors, as in the config file: no silent override. */
			if (json_object_get(out, (const char *)k->data.scalar.value)) {
				snprintf(y->err, y->errlen, "line %zu: duplicate key %s",
					 k->start_mark.line + 1, k->data.scalar.value);
				json_decref(out);
				return NULL;
			}
			v = yaml_to_json(y, yaml_document_get_node(y->doc, p->value), depth + 1);
			if (!v || json_object_set_new(out, (const char *)k->data.scalar.value, v)) {
				json_decref(out);
				return NULL;
			}
		}
		break;
	default:
		out = NULL;
		break;
	}
	if (!out && !y->err[0])
		snprintf(y->err, y->errlen, "line %zu: cannot convert this node",
			 n->start_mark.line + 1);
	return out;
}

static json_t *parse_yaml(const char *text, size_t len, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yconv y = {.doc = &doc, .err = err, .errlen = errlen};
	json_t *out = NULL;

	err[0] = '\0';
	if (!yaml_parser_initialize(&parser))
		die_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "line %zu: %s", parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		return NULL;
	}
	if (!yaml_document_get_root_node(&doc))
		snprintf(err, errlen, "empty document");
	else
		out = yaml_to_json(&y, yaml_document_get_root_node(&doc), 0);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return out;
}

/* The document FILE holds, as {"strategies": [...]}; NULL after a usage error message. */
static json_t *load_strategy_file(const char *file)
{
	enum strategy_json_status st;
	char err[512];
	const char *p;
	json_t *doc;
	size_t len;
	char *text;
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	const char *name = f == stdin ? "<stdin>" : file;

	if (!f) {
		usage_error("%s: %s", file, strerror(errno));
		return NULL;
	}
	text = read_stream(f, STRATEGY_JSON_MAX_BYTES, &len);
	if (f != stdin)
		fclose(f);
	if (!text) {
		usage_error("%s: %s", name,
			    errno == EFBIG ? "larger than the daemon accepts" : strerror(errno));
		return NULL;
	}
	/* JSON is also YAML, but JSON's parser gives the better message for a JSON file. */
	for (p = text; isspace((unsigned char)*p); p++)
		;
	if (*p == '{' || *p == '[')
		doc = strategy_json_parse_text(text, len, &st, err, sizeof(err));
	else
		doc = parse_yaml(text, len, err, sizeof(err));
	free(text);
	if (!doc) {
		usage_error("%s: not a strategies file: %s", name, err);
		return NULL;
	}
	if (json_is_array(doc)) {
		json_t *wrap = json_pack("{s:o}", "strategies", doc);

		if (!wrap)
			die_oom();
		return wrap;
	}
	if (!json_is_object(doc) || !json_object_get(doc, "strategies")) {
		usage_error("%s: expected {\"strategies\": [...]}, a list of strategies, or YAML "
			    "with a top-level strategies: list",
			    name);
		json_decref(doc);
		return NULL;
	}
	/* Anything else in it is the daemon's to judge (it refuses unknown keys). */
	return doc;
}

static int cmd_strategies_apply(struct ctl *ctl, int argc, char **argv)
{
	static const struct option apply_opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	struct option opts[MAX_OPTIONS];
	const char *file = NULL;
	json_t *body, *doc;
	int c, rc = CTL_OK;

	with_globals(apply_opts, opts);
	optind = 0;
	while (!rc && (c = getopt_long(argc, argv, ":hf:", opts, NULL)) != -1) {
		if (c == 'f')
			file = optarg;
		else
			rc = global_option(ctl, c, argv);
	}
	if (rc)
		return rc;
	if (optind < argc)
		return usage_error("strategies apply: unexpected argument %s", argv[optind]);
	if (!file)
		return usage_error("strategies apply: which file? -f FILE (- for stdin)");
	body = load_strategy_file(file);
	if (!body)
		return CTL_USAGE;
	rc = request(ctl, "PUT", "/api/v1/strategies", body, &doc);
	if (!rc) {
		if (ctl->json)
			print_json(doc);
		else
			printf("applied %zu strategies\n",
			       json_array_size(json_object_get(body, "strategies")));
		json_decref(doc);
	}
	json_decref(body);
	return rc;
}

/*
 * A pod's namespace and name cells: "-" for an unknown namespace, and the uid while the
 * pod's metadata is not known yet.
 */
static void pod_cells(const json_t *pod, const char **ns, const char **name)
{
	*ns = json_string_value(json_object_get(pod, "namespace"));
	*name = json_string_value(json_object_get(pod, "pod_name"));
	if (!*ns || !**ns)
		*ns = "-";
	if (!*name || !**name)
		*name = json_string_value(json_object_get(pod, "pod_uid"));
}

/* A duration in ns as seconds with 3 decimals: "1.500". */
static void seconds_text(const json_t *v, char *buf, size_t len)
{
	json_int_t ns = json_integer_value(v);

	snprintf(buf, len, "%lld.%03lld", (long long)(ns / 1000000000),
		 (long long)(ns % 1000000000 / 1000000));
}

static int cmd_pod_metrics(struct ctl *ctl, int argc, char **argv)
{
	struct table t = {.ncols = 8};
	const json_t *pods, *pod;
	json_t *doc = NULL;
	size_t i;
	int rc = get_list(ctl, argc, argv, "/api/v1/pods/metrics", "pods", &doc, &pods);

	if (rc || !doc)
		return rc;
	table_add(&t, (const char *const[]){"NAMESPACE", "POD", "CPU_S", "WAIT_S", "RUNS",
					    "VOLUNTARY", "INVOLUNTARY", "MIGRATIONS"});
	json_array_foreach(pods, i, pod)
	{
		const char *ns, *name;
		char cpu[32], wait[32], runs[24], vol[24], invol[24], migr[24];

		pod_cells(pod, &ns, &name);
		seconds_text(json_object_get(pod, "cpu_time_ns"), cpu, sizeof(cpu));
		seconds_text(json_object_get(pod, "wait_time_ns"), wait, sizeof(wait));
		value_text(json_object_get(pod, "run_count"), runs, sizeof(runs));
		value_text(json_object_get(pod, "voluntary_switches"), vol, sizeof(vol));
		value_text(json_object_get(pod, "involuntary_switches"), invol, sizeof(invol));
		value_text(json_object_get(pod, "migrations"), migr, sizeof(migr));
		table_add(&t, (const char *const[]){ns, name, cpu, wait, runs, vol, invol, migr});
	}
	table_print_free(&t);
	json_decref(doc);
	return CTL_OK;
}

static int cmd_pods(struct ctl *ctl, int argc, char **argv)
{
	struct table t = {.ncols = 6};
	const json_t *pods, *pod, *procs, *pr;
	json_t *doc = NULL;
	size_t i, j;
	int rc = get_list(ctl, argc, argv, "/api/v1/pods/pids", "pods", &doc, &pods);

	if (rc || !doc)
		return rc;
	table_add(&t,
		  (const char *const[]){"NAMESPACE", "POD", "CONTAINER", "PID", "PPID", "COMMAND"});
	json_array_foreach(pods, i, pod)
	{
		const char *cid = json_string_value(json_object_get(pod, "container_id"));
		const char *ns, *name;
		char cshort[16] = "-";

		pod_cells(pod, &ns, &name);
		/* Container ids are 64 hex digits; 12 tell them apart, as docker ps does. */
		if (cid && *cid)
			snprintf(cshort, sizeof(cshort), "%.12s", cid);
		procs = json_object_get(pod, "processes");
		if (!json_array_size(procs))
			table_add(&t, (const char *const[]){ns, name, cshort, "-", "-", "-"});
		json_array_foreach(procs, j, pr)
		{
			char pid[24], ppid[24];

			value_text(json_object_get(pr, "pid"), pid, sizeof(pid));
			value_text(json_object_get(pr, "ppid"), ppid, sizeof(ppid));
			table_add(&t, (const char *const[]){
					  ns, name, cshort, pid, ppid,
					  json_string_value(json_object_get(pr, "command"))});
		}
	}
	table_print_free(&t);
	json_decref(doc);
	return CTL_OK;
}

static int cmd_metrics(struct ctl *ctl, int argc, char **argv)
{
	struct reply r;
	json_t *doc;
	int rc = parse_plain(ctl, argc, argv, 0);

	if (rc)
		return rc;
	if (ctl->json) {
		rc = request(ctl, "GET", "/api/v1/metrics", NULL, &doc);
		if (!rc)
			print_json(doc);
		json_decref(doc);
		return rc;
	}
	rc = http_call(ctl, "GET", "/metrics", NULL, &r);
	if (rc)
		return rc;
	rc = check_reply(&r, NULL);
	if (!rc && !strstr(r.body, "gthulhu_")) {
		msg("unexpected answer from the daemon: not Gthulhu's Prometheus metrics");
		rc = CTL_FAILED;
	}
	if (!rc)
		fwrite(r.body, 1, r.len, stdout);
	free(r.body);
	return rc;
}

/* One configuration key as the table shows it. */
struct config_row {
	const char *key;
	const json_t *value;
	bool live;
};

/*
 * The keys of GET /api/v1/config: {"config": {"scheduler.slice_ns_default": 5000000, ...},
 * "live": ["scheduler.slice_ns_default", ...]}, keys in the daemon's table order.
 */
static size_t config_rows(const json_t *doc, struct config_row *out, size_t max)
{
	const json_t *cfg = json_object_get(doc, "config"), *live = json_object_get(doc, "live");
	const json_t *v, *it;
	const char *key;
	size_t n = 0, i;

	json_object_foreach((json_t *)cfg, key, v)
	{
		if (n == max)
			break;
		out[n] = (struct config_row){key, v, false};
		json_array_foreach(live, i, it)
		{
			if (json_is_string(it) && !strcmp(json_string_value(it), key))
				out[n].live = true;
		}
		n++;
	}
	return n;
}

static int cmd_config_get(struct ctl *ctl, int argc, char **argv)
{
	struct config_row rows[128];
	struct table t = {.ncols = 3};
	const char *want;
	char val[1024];
	json_t *doc;
	size_t n;
	int rc = parse_plain(ctl, argc, argv, 1);

	if (rc)
		return rc;
	want = optind < argc ? argv[optind] : NULL;
	rc = request(ctl, "GET", "/api/v1/config", NULL, &doc);
	if (rc)
		return rc;
	n = config_rows(doc, rows, ARRAY_SIZE(rows));
	if (!n) {
		msg("unexpected answer from the daemon: no configuration keys");
		json_decref(doc);
		return CTL_FAILED;
	}
	if (want) {
		size_t i;

		for (i = 0; i < n && strcmp(rows[i].key, want); i++)
			;
		if (i == n) {
			msg("no configuration key %s (gthulhuctl config get lists them)", want);
			rc = CTL_REFUSED;
		} else if (ctl->json) {
			json_t *one = json_pack("{s:s, s:O, s:b}", "key", rows[i].key, "value",
						(json_t *)rows[i].value, "live", rows[i].live);

			if (!one)
				die_oom();
			print_json(one);
			json_decref(one);
		} else {
			/* Only the value: $(gthulhuctl config get KEY) in scripts. */
			value_text(rows[i].value, val, sizeof(val));
			printf("%s\n", val);
		}
		json_decref(doc);
		return rc;
	}
	if (ctl->json) {
		print_json(doc);
		json_decref(doc);
		return CTL_OK;
	}
	table_add(&t, (const char *const[]){"KEY", "VALUE", "LIVE"});
	for (size_t i = 0; i < n; i++) {
		value_text(rows[i].value, val, sizeof(val));
		if (!val[0])
			snprintf(val, sizeof(val), "\"\"");
		table_add(&t, (const char *const[]){rows[i].key, val, rows[i].live ? "yes" : "no"});
	}
	table_print_free(&t);
	json_decref(doc);
	return CTL_OK;
}

static int cmd_config_set(struct ctl *ctl, int argc, char **argv)
{
	json_t *body, *doc;
	uint64_t n;
	int rc = parse_plain(ctl, argc, argv, argc);

	if (rc)
		return rc;
	if (optind == argc)
		return usage_error("config set: give one or more KEY=VALUE");
	body = json_object();
	if (!body)
		die_oom();
	/* Every pair is checked before anything is sent: all of them change, or none. */
	for (int i = optind; i < argc; i++) {
		char *k, *v;
		json_t *val;

		if (!split_pair(argv[i], &k, &v)) {
			json_decref(body);
			return usage_error("config set: %s: expected KEY=VALUE", argv[i]);
		}
		if (!strcmp(v, "true") || !strcmp(v, "false"))
			val = json_boolean(!strcmp(v, "true"));
		else if (parse_u64(v, INT64_MAX, &n))
			val = json_integer((json_int_t)n);
		else {
			json_decref(body);
			return usage_error("config set: %s=%s: the value must be true, false or "
					   "a non-negative integer",
					   k, v);
		}
		if (json_object_get(body, k)) {
			json_decref(val);
			json_decref(body);
			return usage_error("config set: %s given twice", k);
		}
		if (json_object_set_new(body, k, val)) {
			json_decref(body);
			return usage_error("config set: %s: not valid UTF-8", k);
		}
	}
	rc = request(ctl, "PATCH", "/api/v1/config", body, &doc);
	if (!rc) {
		const char *key;
		const json_t *v;
		char val[64];

		if (ctl->json) {
			print_json(doc);
		} else {
			json_object_foreach(body, key, v)
			{
				value_text(v, val, sizeof(val));
				printf("%s = %s\n", key, val);
			}
		}
		json_decref(doc);
	}
	json_decref(body);
	return rc;
}

/* ---- dispatch ---- */

struct command {
	const char *name;
	const char *sub; /* NULL: a one-word command */
	int (*fn)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
    {"status", NULL, cmd_status},
    {"strategies", "list", cmd_strategies_list},
    {"strategies", "add", cmd_strategies_add},
    {"strategies", "rm", cmd_strategies_rm},
    {"strategies", "apply", cmd_strategies_apply},
    {"pods", "metrics", cmd_pod_metrics},
    {"pods", NULL, cmd_pods},
    {"metrics", NULL, cmd_metrics},
    {"config", "get", cmd_config_get},
    {"config", "set", cmd_config_set},
};

static int run(int argc, char **argv)
{
	struct ctl ctl = {.timeout_ms = DEFAULT_TIMEOUT_S * 1000L};
	bool known = false;
	int c, rc;

	opterr = 0;
	/* '+': stop at the command; what follows is the command's to parse. */
	while ((c = getopt_long(argc, argv, "+:h", global_opts, NULL)) != -1) {
		rc = global_option(&ctl, c, argv);
		if (rc)
			return rc;
	}
	argc -= optind;
	argv += optind;
	if (!argc)
		return usage_error("which command? status, strategies, pods, metrics or config");

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(cmd->name, argv[0]))
			continue;
		known = true;
		if (!cmd->sub)
			return cmd->fn(&ctl, argc, argv);
		if (argc > 1 && !strcmp(cmd->sub, argv[1]))
			return cmd->fn(&ctl, argc - 1, argv + 1);
	}
	if (known)
		return usage_error("%s: %s%s", argv[0],
				   argc > 1 ? "unknown subcommand " : "which subcommand?",
				   argc > 1 ? argv[1] : "");
	return usage_error("unknown command %s", argv[0]);
}

int main(int argc, char **argv)
{
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		msg("cannot initialise libcurl");
		return CTL_FAILED;
	}
	rc = run(argc, argv);
	if (fflush(stdout) && !rc) {
		msg("writing the output: %s", strerror(errno));
		rc = CTL_FAILED;
	}
	curl_global_cleanup();
	return rc;
}
