/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's Kubernetes API client: it keeps the pod table (pods.h) in step with the
 * pods of this node, and hands the cluster's SchedulingStrategy objects
 * (gthulhu.io/v1alpha1) to the daemon as strategy rules.
 *
 * It runs on its own threads (one per watched resource), never on the scheduling loop,
 * with libcurl and jansson: a LIST, then a WATCH from the list's resourceVersion, resumed
 * when it ends and relisted when the server says 410 Gone. When the API is unreachable
 * it retries with exponential backoff and leaves the pod table as it was, so pod
 * strategies keep their last known pods and every other strategy is unaffected.
 *
 * Configuration comes from a kubeconfig file (kube_config.c: server, CA, token or
 * tokenFile, client certificate) or, without one, from the pod's service account
 * (KUBERNETES_SERVICE_HOST/PORT and <sa_dir>/token, ca.crt). Token files are re-read
 * when they change, every 60 s and after a 401/403, because service-account tokens
 * rotate.
 *
 * With report_status, each SchedulingStrategy's outcome on this node (applied, or why
 * not) is written to its .status.nodes.<node> with a JSON merge patch of the status
 * subresource, only when that outcome changes; a failed patch is counted and ignored.
 */
#ifndef GTHULHU_KUBE_CLIENT_H
#define GTHULHU_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/pods.h"
#include "strategy/strategy.h"

#define KUBE_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bounds: a node holds about a hundred pods; far more means something is wrong. */
#define KUBE_PODS_MAX	    4096
#define KUBE_LINE_MAX	    (1u << 20)	/* one watch event */
#define KUBE_BODY_MAX	    (64u << 20) /* one LIST page */
#define KUBE_LIST_PAGE	    500		/* objects asked for per LIST page */
#define KUBE_STRATEGIES_MAX 1024	/* SchedulingStrategy objects kept, valid or not */
#define KUBE_NAME_MAX	    59 /* longest object name: "k8s-" + name fits STRATEGY_ID_MAX */

struct kube_client_options {
	const char *kubeconfig; /* path of a kubeconfig file; NULL or "" = in-cluster config */
	const char *sa_dir;	/* in-cluster: token, ca.crt; NULL = KUBE_SA_DIR_DEFAULT */
	const char *node_name;	/* required: only this node's pods are listed */
	bool watch_strategies;	/* also list+watch SchedulingStrategy objects */
	struct pod_table *pods; /* written with pod_table_replace/upsert/remove */
	/*
	 * The full list of valid cluster strategies after every change, sorted by object
	 * name, as rules (source STRATEGY_SRC_CLUSTER, id "k8s-<metadata.name>"). Objects
	 * that fail validation are left out, counted and logged. Called on the client's
	 * thread. Return 0, or -1 with a message in @err (counted as an error).
	 */
	int (*on_strategies)(void *ctx, const struct strategy_rule *rules, size_t n, char *err,
			     size_t errlen);
	void *ctx;
	unsigned int backoff_max_ms;  /* longest wait between retries; 0 = 30000 */
	unsigned int watch_timeout_s; /* timeoutSeconds of each watch; 0 = 300 */
	/*
	 * After on_strategies, PATCH .status.nodes.<node_name> = {applied, message, updated}
	 * of each SchedulingStrategy whose outcome here changed (needs RBAC patch on
	 * schedulingstrategies/status). Off: the client never writes to the API.
	 */
	bool report_status;
};

struct kube_status {
	bool pods_synced;	/* a LIST of pods succeeded and the watch is running */
	bool strategies_synced; /* the same for SchedulingStrategies (false when not watched) */
	bool reachable;		/* the last request got an HTTP answer (any status) */
	char last_error[256];	/* "" when none; e.g. "GET /api/v1/pods: 401 Unauthorized" */
	uint64_t lists;		/* successful LISTs (all pages of one count once) */
	uint64_t watch_events;	/* events received (bookmarks included) */
	uint64_t relists_410;	/* relists because the server forgot our resourceVersion */
	uint64_t reconnects;	/* watches started again after one ended */
	uint64_t errors;	/* failed requests, bad answers, refused callbacks */
	uint64_t token_reloads; /* times a token file was read again */
	uint64_t strategies_rejected; /* object versions that failed validation */
	char last_rejected[256];      /* "<name>: <why>" of the last one rejected, or "" */
	uint64_t status_patches;      /* status reports the server accepted */
	uint64_t status_patch_errors; /* status reports that failed (403, 404, 5xx, no answer) */
	uint32_t nr_strategies;	      /* valid cluster strategies now */
	int64_t last_sync_unix;	      /* wall time of the last successful list or event */
};

struct kube_client;

/*
 * Read the configuration and start the threads. NULL with a message in @err when the
 * configuration cannot be used (missing kubeconfig or context, no KUBERNETES_SERVICE_HOST,
 * unreadable token file, ...). An unreachable server is not an error here: the client
 * keeps trying and reports it in kube_client_status().
 */
struct kube_client *kube_client_start(const struct kube_client_options *o, char *err,
				      size_t errlen);
/* A consistent copy of the client's figures; any thread. */
void kube_client_status(struct kube_client *c, struct kube_status *out);
/* Stop the threads (a blocked watch is interrupted at once) and free everything. */
void kube_client_stop(struct kube_client *c);

/*
 * Where and how to reach the API server (kube_config.c). Exposed for the tests and for
 * `--check`-style validation; kube_client_start() loads it itself.
 */
struct kube_config {
	char *server;	  /* "https://10.0.0.1:443" or "http://127.0.0.1:8080", no '/' at the end */
	char *token;	  /* a fixed bearer token, or NULL */
	char *token_file; /* a bearer token re-read when it changes, or NULL (wins over token) */
	char *ca_file;	  /* PEM file of the CAs to trust, or NULL */
	char *cert_file, *key_file; /* client certificate and key files, or NULL */
	unsigned char *ca_data;	    /* the same given inline (decoded *-data), or NULL */
	unsigned char *cert_data, *key_data;
	size_t ca_len, cert_len, key_len;
	bool insecure;	  /* insecure-skip-tls-verify */
	char origin[320]; /* "kubeconfig PATH, context NAME" or "in-cluster": for logs */
};

/*
 * @kubeconfig non-empty: read that file (its current-context, cluster and user; relative
 * paths are relative to the file's directory). Otherwise the in-cluster configuration
 * from the environment and @sa_dir (NULL = KUBE_SA_DIR_DEFAULT). 0, or -1 with a message.
 */
int kube_config_load(const char *kubeconfig, const char *sa_dir, struct kube_config *out, char *err,
		     size_t errlen);
void kube_config_free(struct kube_config *cfg);

/* Standard base64 (whitespace ignored) into a new buffer; NULL when malformed. */
unsigned char *kube_base64_decode(const char *text, size_t *len);

#endif /* GTHULHU_KUBE_CLIENT_H */
