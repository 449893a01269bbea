/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal to src/api: what the server plumbing (api.c) and the handlers (routes.c,
 * prometheus.c) share. api.c owns sockets, auth, limits and libmicrohttpd;
 * by the time a handler runs, the request is authorised, its method allowed for its path
 * and its body complete (at most API_MAX_BODY_BYTES, NUL-terminated). A handler fills an
 * api_resp and never talks to libmicrohttpd itself, so it can be read without knowing it.
 */
#ifndef GTHULHU_API_ROUTES_H
#define GTHULHU_API_ROUTES_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"

/* What every handler may use; one per server. */
struct api_ctx {
	struct strategy_store *store;
	struct api_backend backend;
	/* PATCH /api/v1/config is read-modify-write: two at once must not lose one. */
	pthread_mutex_t config_lock;
};

enum api_method {
	API_GET = 1u << 0,
	API_POST = 1u << 1,
	API_PUT = 1u << 2,
	API_PATCH = 1u << 3,
	API_DELETE = 1u << 4,
	API_HEAD = 1u << 5, /* answered as GET; libmicrohttpd drops the body */
	API_OTHER = 1u << 6,
};

struct api_req {
	enum api_method method;
	const char *path;
	const char *arg;  /* the {id} of a "/.../{id}" route, else NULL */
	const char *body; /* NUL-terminated; "" without a body */
	size_t body_len;
};

struct api_resp {
	unsigned int status;
	json_t *json; /* a JSON answer (owned), or */
	char *text;   /* a text answer (malloc'ed, owned) */
	size_t text_len;
	const char *content_type; /* for text */
	char location[128];	  /* "" = no Location header */
};

typedef void (*api_handler_fn)(struct api_ctx *ctx, const struct api_req *req,
			       struct api_resp *resp);

struct api_route {
	const char *path;  /* exact, or a prefix ending in '/' when has_arg */
	bool has_arg;	   /* one more path segment: the {id} */
	unsigned methods;  /* API_* bits */
	bool empty_body;   /* a POST/PUT/PATCH may come without a body (and Content-Type) */
	api_handler_fn fn; /* NULL only for the sentinel */
};

/*
 * Find the handler for @path and @method. NULL with *@allowed == 0: no such path (404);
 * NULL with *@allowed != 0: the path exists, the method is not in *@allowed (405).
 */
const struct api_route *api_route_find(const char *path, enum api_method method, unsigned *allowed,
				       const char **arg);
/* "GET, HEAD, POST" for an Allow header. */
void api_methods_str(unsigned methods, char *out, size_t len);

/* Answers. */
void api_resp_error(struct api_resp *resp, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* {"success": true, "message": @msg, "timestamp": now}: add fields to resp->json. */
json_t *api_resp_ok(struct api_resp *resp, unsigned int status, const char *msg);
/* RFC3339 UTC, "2026-11-27T01:40:00Z". */
void api_timestamp(char *out, size_t len);

/* The backend's view (calloc'ed, counts and strings made safe to use); NULL on ENOMEM. */
struct api_sched_view *api_read_view(struct api_ctx *ctx);
/* The node agent's state; enabled false without a backend hook. Never NULL. */
void api_read_k8s(struct api_ctx *ctx, struct api_k8s_view *out);
/* Per-pod figures (calloc'ed array, count in *n); NULL with *n 0 when there are none. */
struct api_pod_metrics *api_read_pod_metrics(struct api_ctx *ctx, size_t *n);
#define API_MAX_PODS 4096

/* Strategies in the store, from every source. */
size_t api_strategy_count(struct api_ctx *ctx);

/* GET /metrics (prometheus.c). */
void api_prometheus(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp);

/* A growable text buffer; on allocation failure it stops growing and sets oom. */
struct api_buf {
	char *data;
	size_t len, cap;
	bool oom;
};
void api_buf_printf(struct api_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* GTHULHU_API_ROUTES_H */
