/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The REST API server's plumbing (see api.h for the endpoints): listeners, auth, limits,
 * and carrying a request from libmicrohttpd to its handler in routes.c and back.
 *
 * We create the sockets ourselves, so the unix socket gets its mode and stale-file
 * handling and the TCP address parsing and loopback check are ours, and accept on them
 * ourselves: one acceptor thread per listener keeps at most API_MAX_CONNECTIONS open (more
 * wait in the kernel's accept queue instead of being dropped) and hands each connection
 * with MHD_add_connection() to one of the listener's API_WORKERS libmicrohttpd daemons,
 * each a single thread serving all its connections from one epoll loop. A connection idle
 * for API_CONN_TIMEOUT_S is closed, so a slow client cannot hold a slot for ever.
 *
 * A fixed set of threads, not one per connection: clients such as gthulhuctl open a
 * connection per request, and creating, scheduling and reaping a thread for each (its
 * stack locked in memory under mlockall) cost more than the request itself; in a small VM
 * the server fell behind at 1000 requests/s. Our own set rather than libmicrohttpd's
 * thread pool (MHD_OPTION_THREAD_POOL_SIZE, which does take MHD_add_connection in 0.9.75):
 * the pool places a connection by its descriptor number (fd % pool size), blind to a
 * worker stuck in a slow handler, so a request could wait for a strategy change it has
 * nothing to do with. Our acceptor places a new connection on a worker that is not inside
 * a handler, the one with the fewest connections among them. What a busy worker still
 * delays are the connections it already holds (an idle keep-alive connection's next
 * request waits for the handler).
 *
 * A request is checked in the order a client can fix things: auth (401), path (404),
 * method (405), Content-Type (415), size (413); all but the size of a chunked body are
 * decided from the headers. A client that waits for the go-ahead (Expect: 100-continue)
 * gets the refusal before it sends its body; one that sends the body anyway has it read
 * and dropped first (see refuse()). Then routes.c handles the complete body.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/routes.h"
#include "log/log.h"
#include "thread.h"

#define API_CONN_TIMEOUT_S 10
#define API_LISTEN_BACKLOG 128
#define API_TOKEN_MAX	   4096
/*
 * Worker threads (libmicrohttpd daemons) per listener; they run the handlers. For CPU one
 * would do: a request costs about 0.1 ms, socket calls included, so one thread serves
 * thousands a second. But some handlers block: a strategy change holds the strategy
 * store's lock across its fsyncs and the resolver's rebuild (milliseconds, much longer on
 * a busy disk), requests that read the store wait for that lock, and a second PATCH
 * /api/v1/config waits for the first. New connections go to workers outside a handler, so
 * 4 still leave a thread for everything else (/health probes, /api/v1/config, pods) while
 * one slow write and two requests queued behind it wait. More would only lock more stacks
 * in memory and spread a light load over more wake-ups.
 */
#define API_WORKERS 4
/*
 * A chunked body (no Content-Length) is only known to be too large while it arrives, and
 * libmicrohttpd can answer only once the request is read. So the excess is read and
 * dropped up to this much, for a proper 413; past it the connection is simply closed.
 * The same bound holds for the body of a request refused from its headers (refuse()).
 */
#define API_DISCARD_MAX (4 * API_MAX_BODY_BYTES)

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* One worker thread: a libmicrohttpd daemon with its own epoll loop. */
struct api_worker {
	struct api_listener *l;
	struct MHD_Daemon *daemon;
	unsigned int conns; /* connections it holds (under l->lock) */
	bool busy;	    /* inside a handler (atomic: written by it, read by the acceptor) */
};

/*
 * One listening socket: our acceptor thread takes connections while fewer than
 * API_MAX_CONNECTIONS are open and hands each to one of this listener's workers.
 * (libmicrohttpd's own accept loop would accept and at once close connections over its
 * limit; ours leaves them waiting in the kernel's accept queue until a slot frees.)
 */
struct api_listener {
	struct api_server *srv;
	struct api_worker workers[API_WORKERS];
	bool tcp;
	int fd;	     /* the listening socket; -1 when none */
	int stop_fd; /* eventfd: tells the acceptor to stop */
	pthread_t acceptor;
	bool acceptor_started;
	pthread_mutex_t lock;
	pthread_cond_t slot_free;
	unsigned int active; /* connections the workers hold, from their notifications */
	bool stopping;
};

struct api_server {
	struct api_ctx ctx;
	struct api_listener unix_l, tcp_l;
	char unix_path[SUN_PATH_MAX];
	dev_t unix_dev; /* the socket file we made: removed at stop only if it is still ours */
	ino_t unix_ino;
	uint16_t tcp_port;
	bool auth; /* TCP requests need the bearer token */
	char token[API_TOKEN_MAX + 1];
	size_t token_len;
};

/* One request's state across libmicrohttpd's calls to on_request(). */
struct api_conn_req {
	const struct api_route *route;
	const char *arg;
	enum api_method method;
	struct timespec start;
	char *body;
	size_t len, cap;
	size_t dropped; /* bytes not kept: past API_MAX_BODY_BYTES, or of a refused request */
	bool json_type; /* Content-Type: application/json */
	/* Refused from the headers, answered once the body is in (refuse()): */
	unsigned int refused; /* the status; 0: not refused */
	unsigned int allow;   /* the Allow header's methods, for 405 */
	char why[512];	      /* the error message */
};

static enum api_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum api_method m;
	} names[] = {
	    {"GET", API_GET}, {"HEAD", API_HEAD},   {"POST", API_POST},
	    {"PUT", API_PUT}, {"PATCH", API_PATCH}, {"DELETE", API_DELETE},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(m, names[i].name))
			return names[i].m;
	return API_OTHER;
}

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";

	if (!ct)
		return false;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, want, sizeof(want) - 1))
		return false;
	ct += sizeof(want) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ' || *ct == '\t';
}

/*
 * "Bearer <token>" against the token, in time that depends only on the lengths: every
 * byte of the token is compared whatever the earlier bytes were, and a wrong length is
 * folded into the same result instead of returning early.
 */
static bool token_ok(const struct api_server *s, const char *hdr)
{
	const char *given;
	size_t glen, i;
	unsigned int diff;

	if (!hdr || strncasecmp(hdr, "Bearer ", 7))
		return false;
	given = hdr + 7;
	given += strspn(given, " ");
	glen = strlen(given);
	while (glen && (given[glen - 1] == ' ' || given[glen - 1] == '\t'))
		glen--;
	diff = glen != s->token_len;
	for (i = 0; i < s->token_len; i++)
		diff |= (unsigned char)s->token[i] ^ (unsigned char)(glen ? given[i % glen] : 0);
	return diff == 0;
}

static bool body_method(enum api_method m)
{
	return m & (API_POST | API_PUT | API_PATCH);
}

static void log_request(const struct api_listener *l, const char *method, const char *url,
			const struct api_conn_req *rq, unsigned int status)
{
	struct log_rec *r = log_begin(LOG_DEBUG, "api request");
	struct timespec now;

	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	log_str(r, "listener", l->tcp ? "tcp" : "unix");
	log_str(r, "method", method);
	log_str(r, "path", url);
	log_u64(r, "status", status);
	log_u64(r, "body_bytes", rq ? rq->len + rq->dropped : 0);
	if (rq)
		log_f64(r, "ms",
			(double)(now.tv_sec - rq->start.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - rq->start.tv_nsec) / 1e6);
	log_end(r);
}

static enum MHD_Result send_resp(const struct api_listener *l, struct MHD_Connection *conn,
				 const char *method, const char *url, const struct api_conn_req *rq,
				 struct api_resp *r, unsigned int allow)
{
	static char oom[] = "{\"success\":false,\"error\":\"out of memory\"}";
	const char *ctype = "application/json";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *body = NULL;
	size_t len = 0;

	if (r->json) {
		body = json_dumps(r->json, JSON_COMPACT);
		json_decref(r->json);
		r->json = NULL;
		len = body ? strlen(body) : 0;
	} else if (r->text) {
		body = r->text;
		len = r->text_len;
		ctype = r->content_type ? r->content_type : "text/plain";
		r->text = NULL;
	}
	resp = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) : NULL;
	if (!resp) {
		free(body);
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		ctype = "application/json";
		resp =
		    MHD_create_response_from_buffer(sizeof(oom) - 1, oom, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (allow) {
		char methods[64];

		api_methods_str(allow, methods, sizeof(methods));
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, methods);
	}
	if (r->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"gthulhu\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	log_request(l, method, url, rq, r->status);
	return ret;
}

static enum MHD_Result send_error(const struct api_listener *l, struct MHD_Connection *conn,
				  const char *method, const char *url,
				  const struct api_conn_req *rq, unsigned int status,
				  unsigned int allow, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static enum MHD_Result send_error(const struct api_listener *l, struct MHD_Connection *conn,
				  const char *method, const char *url,
				  const struct api_conn_req *rq, unsigned int status,
				  unsigned int allow, const char *fmt, ...)
{
	struct api_resp r = {0};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_resp_error(&r, status, "%s", msg);
	return send_resp(l, conn, method, url, rq, &r, allow);
}

/* The client is sending a body without waiting for our answer, one we would read and drop. */
static bool body_coming(struct MHD_Connection *conn)
{
	const char *expect =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	const char *te =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (expect && strcasestr(expect, "100-continue"))
		return false;
	if (cl) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		return !errno && end != cl && n > 0 && n <= API_DISCARD_MAX;
	}
	return te && strcasestr(te, "chunked");
}

/*
 * Refuse a request from its headers. The answer goes out at once unless the client is
 * already sending a body: the connection closes after a refusal, and closing it under the
 * client's writes fails them (EPIPE, or a TCP reset that can discard the answer too)
 * before the client reads why. So that body is read and dropped first, and the refusal
 * sent once it is in; a body over API_DISCARD_MAX gets the answer at once all the same.
 */
static enum MHD_Result refuse(struct api_listener *l, struct MHD_Connection *conn,
			      const char *method, const char *url, struct api_conn_req *rq,
			      unsigned int status, unsigned int allow, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static enum MHD_Result refuse(struct api_listener *l, struct MHD_Connection *conn,
			      const char *method, const char *url, struct api_conn_req *rq,
			      unsigned int status, unsigned int allow, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rq->why, sizeof(rq->why), fmt, ap);
	va_end(ap);
	rq->refused = status;
	rq->allow = allow;
	if (body_coming(conn))
		return MHD_YES;
	return send_error(l, conn, method, url, rq, status, allow, "%s", rq->why);
}

/*
 * The first call for a request: headers only. Everything that can be refused without the
 * body is refused here, so an unauthenticated or misdirected client that waits for the
 * go-ahead never gets to send it.
 */
static enum MHD_Result begin_request(struct api_listener *l, struct MHD_Connection *conn,
				     const char *url, const char *method, void **con_cls)
{
	struct api_conn_req *rq = calloc(1, sizeof(*rq));
	unsigned int allowed = 0;
	const char *v;

	if (!rq)
		return MHD_NO;
	*con_cls = rq;
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	rq->method = method_of(method);

	if (l->tcp && l->srv->auth &&
	    !((rq->method & (API_GET | API_HEAD)) && !strcmp(url, "/health")) &&
	    !token_ok(l->srv, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							  MHD_HTTP_HEADER_AUTHORIZATION)))
		return refuse(l, conn, method, url, rq, MHD_HTTP_UNAUTHORIZED, 0,
			      "missing or wrong bearer token (Authorization: Bearer <token>)");

	rq->route = api_route_find(url, rq->method, &allowed, &rq->arg);
	if (!rq->route && !allowed)
		return refuse(l, conn, method, url, rq, MHD_HTTP_NOT_FOUND, 0,
			      "no such endpoint: %s", url);
	if (!rq->route)
		return refuse(l, conn, method, url, rq, MHD_HTTP_METHOD_NOT_ALLOWED, allowed,
			      "method %s is not allowed on %s", method, url);

	if (!body_method(rq->method))
		return MHD_YES;
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq->json_type = is_json_type(v);
	/*
	 * A route that needs no body (POST /api/v1/metrics) checks the type only if a body
	 * comes: `curl -d ''` sends a form type with nothing in it.
	 */
	if (!rq->json_type && !rq->route->empty_body)
		return refuse(l, conn, method, url, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 0,
			      "Content-Type must be application/json");
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno || end == v || n > API_MAX_BODY_BYTES)
			return refuse(l, conn, method, url, rq, MHD_HTTP_CONTENT_TOO_LARGE, 0,
				      "request body larger than %u bytes", API_MAX_BODY_BYTES);
	}
	return MHD_YES;
}

/*
 * Keep the body up to the limit (none of a refused request's); count what is dropped. False:
 * give up on the client.
 */
static bool take_body(struct api_conn_req *rq, const char *data, size_t size)
{
	if (rq->refused || rq->dropped || size > API_MAX_BODY_BYTES - rq->len) {
		rq->dropped += size;
		return rq->dropped <= API_DISCARD_MAX;
	}
	if (rq->len + size + 1 > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 1024;
		char *p;

		while (cap < rq->len + size + 1)
			cap *= 2;
		p = realloc(rq->body, cap);
		if (!p)
			return false;
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, size);
	rq->len += size;
	rq->body[rq->len] = '\0';
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_worker *w = cls;
	struct api_listener *l = w->l;
	struct api_conn_req *rq = *con_cls;
	struct api_req req;
	struct api_resp resp = {0};

	if (!rq)
		return begin_request(l, conn, url, method, con_cls);
	if (*upload_data_size) {
		bool ok = take_body(rq, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return ok ? MHD_YES : MHD_NO;
	}
	if (rq->refused)
		return send_error(l, conn, method, url, rq, rq->refused, rq->allow, "%s", rq->why);
	if (rq->dropped)
		return send_error(l, conn, method, url, rq, MHD_HTTP_CONTENT_TOO_LARGE, 0,
				  "request body larger than %u bytes", API_MAX_BODY_BYTES);
	if (body_method(rq->method) && rq->len && !rq->json_type)
		return send_error(l, conn, method, url, rq, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 0,
				  "Content-Type must be application/json");

	req.method = rq->method == API_HEAD ? API_GET : rq->method;
	req.path = url;
	req.arg = rq->arg;
	req.body = rq->body ? rq->body : "";
	req.body_len = rq->len;
	/* The handler may block: meanwhile the acceptor sends new connections elsewhere. */
	__atomic_store_n(&w->busy, true, __ATOMIC_RELAXED);
	rq->route->fn(&l->srv->ctx, &req, &resp);
	__atomic_store_n(&w->busy, false, __ATOMIC_RELAXED);
	if (!resp.status)
		api_resp_error(&resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "no answer");
	return send_resp(l, conn, method, url, rq, &resp, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_conn_req *rq = *con_cls;

	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	const struct api_listener *l = cls;
	enum log_level level = LOG_INFO;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/*
	 * A socket handed over with MHD_add_connection() may be anything, so libmicrohttpd
	 * tries TCP options on unix connections too and complains, once per connection,
	 * about what does not apply to them: not worth an info line.
	 */
	if (l && !l->tcp && (strstr(msg, "TCP_") || strstr(msg, "push the data")))
		level = LOG_DEBUG;
	log_msg(level, "api: libmicrohttpd: %s", msg);
}

/* ---- token ---- */

static int load_token(struct api_server *s, const char *file, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n = 0;
	size_t len, start;
	int fd;

	if (!file || !*file) {
		err_printf(err, errlen,
			   "api: the TCP listener needs a bearer token file (api.token_file), or "
			   "auth turned off on a loopback address");
		return -1;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_printf(err, errlen, "api: cannot open token file %s: %s", file,
			   strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err_printf(err, errlen, "api: token file %s is not a regular file", file);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		err_printf(err, errlen,
			   "api: token file %s is accessible to group or others (mode %04o); run "
			   "chmod 600 %s",
			   file, (unsigned int)(st.st_mode & 07777), file);
		close(fd);
		return -1;
	}
	len = 0;
	while (len <= API_TOKEN_MAX) {
		n = read(fd, s->token + len, API_TOKEN_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		err_printf(err, errlen, "api: cannot read token file %s: %s", file,
			   strerror(errno));
		return -1;
	}
	if (len > API_TOKEN_MAX) {
		err_printf(err, errlen, "api: token file %s is longer than %d bytes", file,
			   API_TOKEN_MAX);
		return -1;
	}
	/* Editors and `echo` leave a newline; surrounding blanks are never part of a token. */
	while (len && strchr(" \t\r\n", s->token[len - 1]))
		len--;
	for (start = 0; start < len && strchr(" \t\r\n", s->token[start]); start++)
		;
	memmove(s->token, s->token + start, len - start);
	len -= start;
	s->token[len] = '\0';
	if (!len) {
		err_printf(err, errlen, "api: token file %s is empty", file);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s->token[i];

		if (c <= ' ' || c >= 0x7f) {
			err_printf(err, errlen,
				   "api: token in %s must be printable ASCII without blanks", file);
			return -1;
		}
	}
	s->token_len = len;
	return 0;
}

/* ---- TCP ---- */

/* "host:port" or "[v6]:port" -> one numeric address; "localhost" means 127.0.0.1. */
static int resolve_tcp(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
		       size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[128], port[8];
	const char *colon, *h = addr;
	size_t hlen;
	int rc;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			goto bad; /* no port, or a bare IPv6 address: needs brackets */
		hlen = (size_t)(colon - addr);
	}
	if (!hlen || hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (!colon[1] || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) > 65535)
		goto bad;
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc || !res) {
		err_printf(err, errlen, "api: listen address %s: %s", addr,
			   rc ? gai_strerror(rc) : "no address");
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	err_printf(err, errlen,
		   "api: listen address %s: expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080",
		   addr);
	return -1;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static int listen_tcp(struct api_server *s, const char *addr, const struct sockaddr_storage *ss,
		      socklen_t sslen, char *err, size_t errlen)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1, fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_printf(err, errlen, "api: socket for %s: %s", addr, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sslen) || listen(fd, API_LISTEN_BACKLOG) ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen)) {
		err_printf(err, errlen, "api: cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	s->tcp_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
							: ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

/* ---- unix socket ---- */

/* Create the missing directories above @path, each 0755 (the socket itself is 0600). */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char dir[SUN_PATH_MAX];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			chmod(dir, 0755); /* whatever the umask */
		} else if (errno != EEXIST) {
			err_printf(err, errlen, "api: cannot create directory %s: %s", dir,
				   strerror(errno));
			return -1;
		}
		if (last)
			return 0;
		*p = '/';
	}
}

/*
 * A socket file left by a daemon that died is removed; one a live server answers on is
 * not (two daemons must not steal each other's socket), nor is anything but a socket.
 */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		err_printf(err, errlen, "api: %s exists and is not a socket; not replacing it",
			   path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_printf(err, errlen, "api: socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		err_printf(err, errlen, "api: another server is listening on %s", path);
		return -1;
	}
	if (unlink(path) && errno != ENOENT) {
		err_printf(err, errlen, "api: cannot remove stale socket %s: %s", path,
			   strerror(errno));
		return -1;
	}
	return 0;
}

static int listen_unix(struct api_server *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		err_printf(err, errlen, "api: socket path %s is longer than %zu bytes", path,
			   sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (make_parents(path, err, errlen) || clear_stale(path, &sa, err, errlen))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_printf(err, errlen, "api: socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa))) {
		err_printf(err, errlen, "api: cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Before listen(): until then a connect() is refused, so no one gets in early. */
	if (chmod(path, 0600) || stat(path, &st) || listen(fd, API_LISTEN_BACKLOG)) {
		err_printf(err, errlen, "api: cannot set up %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	s->unix_dev = st.st_dev;
	s->unix_ino = st.st_ino;
	return fd;
}

static void remove_unix(struct api_server *s)
{
	struct stat st;

	if (!s->unix_path[0])
		return;
	if (!lstat(s->unix_path, &st) && st.st_dev == s->unix_dev && st.st_ino == s->unix_ino)
		unlink(s->unix_path);
	s->unix_path[0] = '\0';
}

/* ---- start / stop ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api_worker *w = cls;
	struct api_listener *l = w->l;

	/* Counted up by the acceptor: STARTED comes later, on the worker's thread. */
	if (code != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->active)
		l->active--;
	if (w->conns)
		w->conns--;
	pthread_cond_signal(&l->slot_free);
	pthread_mutex_unlock(&l->lock);
}

/* Wait for a free slot and take it; false when the listener stops. */
static bool take_slot(struct api_listener *l)
{
	bool ok;

	pthread_mutex_lock(&l->lock);
	while (l->active >= API_MAX_CONNECTIONS && !l->stopping)
		pthread_cond_wait(&l->slot_free, &l->lock);
	ok = !l->stopping;
	if (ok)
		l->active++;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/*
 * The worker for a new connection (its count taken): one not inside a handler, and among
 * those the one with the fewest connections; the first on a tie, so light traffic stays on
 * one thread.
 */
static struct api_worker *pick_worker(struct api_listener *l)
{
	struct api_worker *best = &l->workers[0];
	bool best_busy;

	pthread_mutex_lock(&l->lock);
	best_busy = __atomic_load_n(&best->busy, __ATOMIC_RELAXED);
	for (int i = 1; i < API_WORKERS; i++) {
		struct api_worker *w = &l->workers[i];
		bool busy = __atomic_load_n(&w->busy, __ATOMIC_RELAXED);

		if (busy != best_busy ? !busy : w->conns < best->conns) {
			best = w;
			best_busy = busy;
		}
	}
	best->conns++;
	pthread_mutex_unlock(&l->lock);
	return best;
}

/* Give back a slot taken for a connection that did not come about (@w: its worker, or NULL). */
static void give_slot(struct api_listener *l, struct api_worker *w)
{
	pthread_mutex_lock(&l->lock);
	l->active--;
	if (w)
		w->conns--;
	pthread_mutex_unlock(&l->lock);
}

static void *acceptor_main(void *arg)
{
	struct api_listener *l = arg;
	struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN},
			      {.fd = l->stop_fd, .events = POLLIN}};

	while (take_slot(l)) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		struct api_worker *w;
		int fd;

		if ((poll(p, 2, -1) < 0 && errno != EINTR) || p[1].revents)
			break;
		fd = (p[0].revents & POLLIN) ? accept4(l->fd, (struct sockaddr *)&sa, &len,
						       SOCK_CLOEXEC | SOCK_NONBLOCK)
					     : -1;
		if (fd < 0) {
			give_slot(l, NULL);
			/* Out of descriptors or memory: give open connections time to finish. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				poll(NULL, 0, 100);
			continue;
		}
		/* It owns @fd from here, and closes it if it cannot take the connection. */
		w = pick_worker(l);
		if (MHD_add_connection(w->daemon, fd, (const struct sockaddr *)&sa, len) != MHD_YES)
			give_slot(l, w); /* no connection: no CLOSED notification will come */
	}
	return NULL;
}

/* Set up a listener's lock; before anything can fail, so stop_listener() always works. */
static void init_listener(struct api_listener *l, struct api_server *srv, bool tcp)
{
	l->srv = srv;
	l->tcp = tcp;
	for (int i = 0; i < API_WORKERS; i++)
		l->workers[i].l = l;
	l->fd = -1;
	l->stop_fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->slot_free, NULL);
}

static int start_listener(struct api_listener *l, int fd, const char *what, char *err,
			  size_t errlen)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int rc;

	l->fd = fd;
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->stop_fd < 0) {
		err_printf(err, errlen, "api: eventfd: %s", strerror(errno));
		return -1;
	}
	/*
	 * The logger goes first: libmicrohttpd uses its own for messages about earlier options.
	 * Its connection limit is only a backstop with headroom: it counts a connection until
	 * its thread has cleaned it up, a little after the close we count in on_connection(),
	 * and would drop connections our acceptor rightly let in.
	 */
	for (int i = 0; i < API_WORKERS; i++) {
		struct api_worker *w = &l->workers[i];

		w->daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, on_request, w, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(2 * API_MAX_CONNECTIONS),
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONN_TIMEOUT_S,
		    MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK_BYTES,
		    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		    on_connection, w, MHD_OPTION_END);
		if (!w->daemon) {
			err_printf(err, errlen, "api: cannot start the HTTP server on %s", what);
			return -1;
		}
	}
	rc = thread_start(&l->acceptor, "gt-api-accept", acceptor_main, l);
	if (rc) {
		err_printf(err, errlen, "api: cannot start a thread for %s: %s", what,
			   strerror(rc));
		return -1;
	}
	l->acceptor_started = true;
	return 0;
}

static void stop_listener(struct api_listener *l)
{
	uint64_t one = 1;

	if (l->acceptor_started) {
		pthread_mutex_lock(&l->lock);
		l->stopping = true;
		pthread_cond_broadcast(&l->slot_free);
		pthread_mutex_unlock(&l->lock);
		if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
			log_msg(LOG_WARN, "api: cannot wake the acceptor: %s", strerror(errno));
		pthread_join(l->acceptor, NULL);
	}
	/* No new connections now; this closes the open ones (their notifications use l->lock). */
	for (int i = 0; i < API_WORKERS; i++)
		if (l->workers[i].daemon)
			MHD_stop_daemon(l->workers[i].daemon);
	if (l->fd >= 0)
		close(l->fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	pthread_cond_destroy(&l->slot_free);
	pthread_mutex_destroy(&l->lock);
}

struct api_server *api_start(const struct api_options *opt, char *err, size_t errlen)
{
	bool want_unix = opt->unix_path && opt->unix_path[0];
	bool want_tcp = opt->tcp_addr && opt->tcp_addr[0];
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	struct api_server *s;
	struct log_rec *r;
	int fd;

	if (!want_unix && !want_tcp) {
		err_printf(err, errlen,
			   "api: neither a unix socket nor a TCP address to listen on");
		return NULL;
	}
	if (!opt->store) {
		err_printf(err, errlen, "api: no strategy store");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		err_printf(err, errlen, "api: out of memory");
		return NULL;
	}
	s->ctx.store = opt->store;
	s->ctx.backend = opt->backend;
	pthread_mutex_init(&s->ctx.config_lock, NULL);
	init_listener(&s->unix_l, s, false);
	init_listener(&s->tcp_l, s, true);

	/* Everything that can be refused is checked before any socket exists. */
	if (want_tcp) {
		if (resolve_tcp(opt->tcp_addr, &ss, &sslen, err, errlen))
			goto fail;
		if (opt->tcp_auth_disabled && !is_loopback(&ss)) {
			err_printf(err, errlen,
				   "api: auth may be turned off only on a loopback address "
				   "(127.0.0.0/8, ::1), not %s",
				   opt->tcp_addr);
			goto fail;
		}
		s->auth = !opt->tcp_auth_disabled;
		if (s->auth && load_token(s, opt->token_file, err, errlen))
			goto fail;
	}
	if (want_unix) {
		fd = listen_unix(s, opt->unix_path, err, errlen);
		if (fd < 0 || start_listener(&s->unix_l, fd, opt->unix_path, err, errlen))
			goto fail;
	}
	if (want_tcp) {
		fd = listen_tcp(s, opt->tcp_addr, &ss, sslen, err, errlen);
		if (fd < 0 || start_listener(&s->tcp_l, fd, opt->tcp_addr, err, errlen))
			goto fail;
	}

	r = log_begin(LOG_DEBUG, "api listening");
	log_str(r, "socket", want_unix ? s->unix_path : NULL);
	log_str(r, "tcp", want_tcp ? opt->tcp_addr : NULL);
	if (want_tcp) {
		log_u64(r, "port", s->tcp_port);
		log_bool(r, "auth", s->auth);
	}
	log_end(r);
	return s;
fail:
	api_stop(s);
	return NULL;
}

uint16_t api_tcp_port(const struct api_server *srv)
{
	return srv && srv->tcp_l.acceptor_started ? srv->tcp_port : 0;
}

void api_stop(struct api_server *srv)
{
	if (!srv)
		return;
	stop_listener(&srv->tcp_l);
	stop_listener(&srv->unix_l);
	remove_unix(srv);
	pthread_mutex_destroy(&srv->ctx.config_lock);
	explicit_bzero(srv->token, sizeof(srv->token));
	free(srv);
}
