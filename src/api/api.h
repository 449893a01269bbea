/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The REST API (libmicrohttpd, JSON via jansson): how operators and tools (gthulhuctl,
 * Kubernetes) see and steer the running scheduler.
 *
 * Endpoints (every answer is JSON except GET /metrics; every error is
 * {"success": false, "error": "..."} with a fitting status):
 *   GET  /health                                 liveness
 *   GET  /api/v1/status                          version, kernel, attach, uptime, counters, exit
 *   GET  /api/v1/metrics  (also POST, as the original)  the BPF counters as JSON
 *   GET  /metrics                                Prometheus text format
 *   GET  /api/v1/config, PATCH /api/v1/config    the live knobs
 *   GET  /api/v1/scheduling/strategies           the original's: strategies resolved to PIDs
 *   POST /api/v1/scheduling/strategies           the original's: replace the API strategies
 *   GET  /api/v1/strategies, POST (create one), PUT (replace all API strategies)
 *   GET|PUT|DELETE /api/v1/strategies/{id}
 *   GET  /api/v1/pods/pids                       pods and their processes
 *   GET  /api/v1/pods/metrics                    per-pod scheduling figures (Kubernetes)
 *
 * Listeners: a unix socket (mode 0600, owned by the daemon's user, root) by default; TCP
 * only when configured, and then every request but GET /health needs
 * "Authorization: Bearer <token>" (token read from a file at start, compared in constant
 * time) unless auth is explicitly disabled, which is allowed on a loopback address only.
 *
 * The server runs on libmicrohttpd's own threads. It never touches the scheduling loop:
 * it reads counters the loop and BPF publish, and hands changes over through the strategy
 * store (which feeds the resolver) and the backend's apply_config (a lock-free handoff).
 */
#ifndef GTHULHU_API_H
#define GTHULHU_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "strategy/store.h"

#define API_MAX_BODY_BYTES  (64u * 1024) /* larger request bodies get 413 */
#define API_MAX_CONNECTIONS 64		 /* more wait in the kernel's accept queue */
#define API_LATENCY_BUCKETS 16		 /* log2 microseconds, as the loop's histogram */
#define API_MAX_CPUS	    1024

/* What the scheduler looks like now: filled by the backend, formatted by the API. */
struct api_sched_view {
	bool attached;	     /* the BPF half is the system's scheduler now */
	uint64_t uptime_s;   /* since the daemon started */
	uint64_t attached_s; /* since the current attach, 0 when detached */
	uint64_t restarts;   /* re-attaches the kernel asked for (CPU hotplug) */
	char version[64];    /* gthulhu's */
	char kernel[128];    /* uname -r */
	char ops_name[32];   /* sched_ext ops name, "gthulhu" */
	uint32_t kfunc_api;  /* enum gthulhu_kfunc_api (1, 2, 3) */
	/* BPF counters by the names users of the original know: {name, value} pairs. */
	size_t nr_counters;
	struct {
		const char *name; /* static string, e.g. "nr_user_dispatches" */
		const char *help; /* one line for Prometheus # HELP */
		uint64_t value;
		bool gauge; /* a level (nr_queued), not a running total */
	} counters[40];
	uint32_t nr_cpus;
	uint64_t cpu_dispatches[API_MAX_CPUS]; /* tasks started on each CPU */
	/* The loop's own figures. */
	uint64_t loop_batches, loop_records, loop_decisions;
	uint64_t loop_latency_hist[API_LATENCY_BUCKETS]; /* bucket i: < 2^i us; last: more */
	/* The last time the kernel ended the scheduler (kind 0: never). */
	struct {
		int32_t kind;
		int64_t exit_code;
		char reason[128];
		char msg[1024];
	} last_exit;
};

/* The Kubernetes node agent's state, for /health, /api/v1/status and /metrics. */
struct api_k8s_view {
	bool enabled;		/* kubernetes.enabled */
	bool reachable;		/* the API server answered the last request */
	bool pods_synced;	/* this node's pods are listed and watched */
	bool strategies_synced; /* SchedulingStrategy objects are listed and watched */
	char node[254];
	char last_error[256]; /* "" = none */
	uint64_t pods;	      /* pods known on this node */
	uint64_t errors, relists, reconnects;
	uint64_t strategies_rejected; /* cluster objects that failed validation */
	int64_t last_sync_unix;	      /* 0 = never */
};

/* One pod's scheduling figures since Gthulhu started counting them. */
struct api_pod_metrics {
	char uid[64];
	char name[254];	     /* "" while the pod's metadata is unknown */
	char namespace[64];  /* as name */
	uint32_t containers; /* cgroups counted for it now */
	uint64_t voluntary_switches, involuntary_switches;
	uint64_t cpu_ns, wait_ns, runs, migrations;
};

/* What the daemon (or a test's fake) provides. Called from API threads. */
struct api_backend {
	void *ctx;
	void (*read_view)(void *ctx, struct api_sched_view *out);
	/* A copy of the running configuration. */
	void (*get_config)(void *ctx, struct gthulhu_config *out);
	/*
	 * Set the live knobs named in @keys (@nkeys of them, see config_key_is_live) to
	 * their values in @next, atomically with respect to other changes (a reload): keys
	 * not named keep their running values. 0; API_CONFIG_CONFLICT with a message when
	 * the result fails the configuration's checks because of a change made meanwhile
	 * (the request was valid against the configuration it read); -1 with a message when
	 * it could not be applied. @next has passed config_set_live() for each key.
	 */
#define API_CONFIG_CONFLICT 1
	int (*apply_config)(void *ctx, const struct gthulhu_config *next, const char *const *keys,
			    size_t nkeys, char *err, size_t errlen);
	/* {"pods": [...]} as GET /api/v1/pods/pids shows it; NULL = none known. */
	json_t *(*pods)(void *ctx);
	/* NULL, or fills @out (enabled false when not a Kubernetes node agent). */
	void (*kubernetes)(void *ctx, struct api_k8s_view *out);
	/* NULL, or per-pod figures (at most @max) into @out; returns the count. */
	size_t (*pod_metrics)(void *ctx, struct api_pod_metrics *out, size_t max);
};

struct api_options {
	const char *unix_path;	/* NULL or "": no unix socket */
	const char *tcp_addr;	/* "host:port" (IPv4 or [IPv6]); NULL or "": no TCP listener */
	const char *token_file; /* bearer token file, required for TCP unless auth is off */
	bool tcp_auth_disabled; /* only accepted when tcp_addr is a loopback address */
	struct strategy_store *store;
	struct api_backend backend;
};

struct api_server;

/* Start listening; NULL with a message in @err when a listener or the token cannot be set up. */
struct api_server *api_start(const struct api_options *opt, char *err, size_t errlen);
/* The TCP port actually bound (for "host:0" in tests), 0 without TCP. */
uint16_t api_tcp_port(const struct api_server *srv);
void api_stop(struct api_server *srv);

#endif /* GTHULHU_API_H */
