/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Kubernetes node agent (see k8s_agent.h). Wiring only: the parts live in src/k8s/
 * (pod table, client, metrics aggregation) and src/strategy/ (matching pods to rules).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf_skel.h"
#include "k8s/kube_client.h"
#include "k8s/pod_metrics.h"
#include "k8s/pods.h"
#include "k8s_agent.h"
#include "loader.h"
#include "log/log.h"
#include "pod_metrics_bpf.h"
#include "strategy/strategy.h"
#include "thread.h"

/* Processes listed by GET /api/v1/pods/pids at most (a node runs a few thousand). */
#define K8S_AGENT_MAX_PROCS 65536

/* How often the per-cgroup counters are read from BPF and summed per pod. */
#define METRICS_INTERVAL_MS 2000

static struct {
	bool enabled;
	char node[POD_NAME_MAX];
	struct pod_table *pods;
	struct kube_client *client;
	struct strategy_store *store;
	/* Per-pod metrics: the collector thread reads the scheduler's map while attached. */
	struct pod_metrics *metrics;
	pthread_t collector;
	bool collector_running, stop;
	pthread_mutex_t lock; /* map_fd, generation, stop; held while the map is read */
	pthread_cond_t wake;
	int map_fd;	     /* -1 while detached */
	uint64_t generation; /* attaches: each starts the BPF counts from zero */
} agent = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .map_fd = -1};

/* kubernetes.node_name, else $NODE_NAME (the DaemonSet sets it), else the host name. */
static int node_name_of(const struct gthulhu_config *cfg, char *out, size_t len)
{
	const char *env = getenv("NODE_NAME");

	if (cfg->k8s_node_name[0])
		snprintf(out, len, "%s", cfg->k8s_node_name);
	else if (env && env[0])
		snprintf(out, len, "%s", env);
	else if (gethostname(out, len) || !out[0])
		return -1;
	out[len - 1] = '\0';
	return 0;
}

static int cluster_strategies(void *ctx, const struct strategy_rule *rules, size_t n, char *err,
			      size_t errlen)
{
	int rc = strategy_store_set_cluster(agent.store, rules, n, err, errlen);
	struct log_rec *r;

	if (rc) {
		r = log_begin(LOG_WARN, "cluster strategies refused");
		log_str(r, "error", err);
		log_end(r);
		return -1;
	}
	r = log_begin(LOG_INFO, "cluster strategies applied");
	log_u64(r, "count", n);
	log_end(r);
	return 0;
}

static void *collector_main(void *arg)
{
	struct timespec until;

	pthread_mutex_lock(&agent.lock);
	while (!agent.stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += METRICS_INTERVAL_MS / 1000;
		pthread_cond_timedwait(&agent.wake, &agent.lock, &until);
		/* Under the lock: a detach waits, so the map cannot go away mid-read. */
		if (!agent.stop && agent.map_fd >= 0) {
			int rc = pod_metrics_collect(agent.metrics, agent.map_fd, agent.generation);

			if (rc < 0)
				log_msg(LOG_DEBUG, "pod metrics: reading the map failed: %s",
					strerror(-rc));
		}
	}
	pthread_mutex_unlock(&agent.lock);
	return NULL;
}

static int start_metrics(const struct gthulhu_config *cfg)
{
	int err;

	agent.metrics = pod_metrics_new(cfg->k8s_cgroup_root);
	if (!agent.metrics)
		return -ENOMEM;
	agent.stop = false;
	err = thread_start(&agent.collector, "gt-pod-metrics", collector_main, NULL);
	if (err) {
		pod_metrics_free(agent.metrics);
		agent.metrics = NULL;
		return -err;
	}
	agent.collector_running = true;
	return 0;
}

static void stop_metrics(void)
{
	if (agent.collector_running) {
		pthread_mutex_lock(&agent.lock);
		agent.stop = true;
		pthread_cond_signal(&agent.wake);
		pthread_mutex_unlock(&agent.lock);
		pthread_join(agent.collector, NULL);
		agent.collector_running = false;
	}
	pod_metrics_free(agent.metrics);
	agent.metrics = NULL;
}

int k8s_agent_start(const struct gthulhu_config *cfg, struct strategy_store *store)
{
	struct kube_client_options opt = {0};
	struct log_rec *r;
	char err[512];

	if (!cfg->k8s_enabled)
		return 0;
	if (node_name_of(cfg, agent.node, sizeof(agent.node))) {
		log_msg(LOG_ERROR, "kubernetes: no node name (set kubernetes.node_name or "
				   "NODE_NAME)");
		return -1;
	}
	agent.store = store;
	agent.pods = pod_table_new();
	if (!agent.pods) {
		log_msg(LOG_ERROR, "kubernetes: out of memory");
		return -1;
	}
	opt.kubeconfig = cfg->k8s_kubeconfig;
	opt.node_name = agent.node;
	opt.watch_strategies = cfg->k8s_strategies;
	/* Each node says in the object whether it applied it (status.nodes.<node>). */
	opt.report_status = true;
	opt.pods = agent.pods;
	opt.on_strategies = cluster_strategies;
	/* Before the client fills it, so no change goes unseen by the resolver. */
	if (strategy_resolver_set_pods(agent.pods)) {
		log_msg(LOG_ERROR, "kubernetes: the strategy resolver is not running");
		pod_table_free(agent.pods);
		agent.pods = NULL;
		return -1;
	}
	agent.client = kube_client_start(&opt, err, sizeof(err));
	if (!agent.client) {
		r = log_begin(LOG_ERROR, "kubernetes: cannot start the API client");
		log_str(r, "error", err);
		log_end(r);
		strategy_resolver_set_pods(NULL);
		pod_table_free(agent.pods);
		agent.pods = NULL;
		return -1;
	}
	if (cfg->k8s_pod_metrics) {
		int rc = start_metrics(cfg);

		if (rc)
			log_msg(LOG_WARN, "kubernetes: no pod metrics: %s", strerror(-rc));
	}
	agent.enabled = true;
	r = log_begin(LOG_INFO, "kubernetes node agent started");
	log_str(r, "node", agent.node);
	log_str(r, "kubeconfig", cfg->k8s_kubeconfig[0] ? cfg->k8s_kubeconfig : "in-cluster");
	log_end(r);
	return 0;
}

void k8s_agent_stop(void)
{
	if (!agent.enabled)
		return;
	stop_metrics();
	kube_client_stop(agent.client);
	agent.client = NULL;
	strategy_resolver_set_pods(NULL);
	pod_table_free(agent.pods);
	agent.pods = NULL;
	agent.enabled = false;
}

void k8s_agent_attached(struct loader *ld)
{
	pthread_mutex_lock(&agent.lock);
	agent.map_fd = bpf_map__fd(ld->skel->maps.cgroup_stats);
	agent.generation++;
	pthread_mutex_unlock(&agent.lock);
}

void k8s_agent_detached(void)
{
	pthread_mutex_lock(&agent.lock);
	agent.map_fd = -1;
	pthread_mutex_unlock(&agent.lock);
}

void k8s_agent_view(struct api_k8s_view *out)
{
	struct kube_status st;
	const struct pod_set *set;

	memset(out, 0, sizeof(*out));
	if (!agent.enabled)
		return;
	kube_client_status(agent.client, &st);
	set = pod_table_acquire(agent.pods);
	out->enabled = true;
	out->reachable = st.reachable;
	out->pods_synced = st.pods_synced;
	out->strategies_synced = st.strategies_synced;
	snprintf(out->node, sizeof(out->node), "%s", agent.node);
	snprintf(out->last_error, sizeof(out->last_error), "%s", st.last_error);
	out->pods = pod_set_count(set);
	out->errors = st.errors;
	out->relists = st.relists_410;
	out->reconnects = st.reconnects;
	out->strategies_rejected = st.strategies_rejected;
	out->last_sync_unix = st.last_sync_unix;
	pod_set_release(set);
}

size_t k8s_agent_pod_metrics(struct api_pod_metrics *out, size_t max)
{
	struct pod_metrics_row *rows;
	const struct pod_set *set;
	size_t n;

	if (!agent.enabled || !agent.metrics || !max)
		return 0;
	rows = calloc(max, sizeof(*rows));
	if (!rows)
		return 0;
	n = pod_metrics_rows(agent.metrics, rows, max);
	set = pod_table_acquire(agent.pods);
	for (size_t i = 0; i < n; i++) {
		const struct pod_meta *meta = pod_set_find(set, rows[i].pod_uid);
		struct api_pod_metrics *m = &out[i];

		memset(m, 0, sizeof(*m));
		snprintf(m->uid, sizeof(m->uid), "%s", rows[i].pod_uid);
		if (meta) {
			snprintf(m->name, sizeof(m->name), "%s", meta->name);
			snprintf(m->namespace, sizeof(m->namespace), "%s", meta->namespace);
		}
		m->containers = rows[i].containers;
		m->voluntary_switches = rows[i].c.nvcsw;
		m->involuntary_switches = rows[i].c.nivcsw;
		m->cpu_ns = rows[i].c.cpu_ns;
		m->wait_ns = rows[i].c.wait_ns;
		m->runs = rows[i].c.runs;
		m->migrations = rows[i].c.migrations;
	}
	pod_set_release(set);
	free(rows);
	return n;
}

/* A command name as JSON: any bytes may be in it, JSON wants UTF-8; keep it ASCII. */
static json_t *comm_json(const char *comm)
{
	char buf[sizeof(((struct pod_process *)0)->comm)];
	size_t i;

	for (i = 0; i + 1 < sizeof(buf) && comm[i]; i++)
		buf[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/*
 * The original's shape: one entry per pod with its processes. Pods have several
 * containers; each process says which it is in, and the pod's container_id is its first
 * process's, as the original (which knew only one) showed it.
 */
json_t *k8s_agent_pods_json(void)
{
	struct pod_process *procs;
	const struct pod_set *set;
	json_t *pods, *pod = NULL, *list = NULL;
	size_t n;

	if (!agent.enabled)
		return NULL;
	procs = calloc(K8S_AGENT_MAX_PROCS, sizeof(*procs));
	pods = json_array();
	if (!procs || !pods) {
		free(procs);
		json_decref(pods);
		return NULL;
	}
	n = strategy_resolver_pod_processes(procs, K8S_AGENT_MAX_PROCS);
	set = pod_table_acquire(agent.pods);
	for (size_t i = 0; i < n; i++) {
		const struct pod_process *p = &procs[i];

		if (!pod || strcmp(p->pod_uid, procs[i - 1].pod_uid)) {
			const struct pod_meta *meta = pod_set_find(set, p->pod_uid);

			list = json_array();
			pod = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "pod_uid", p->pod_uid,
					"pod_name", meta ? meta->name : "", "namespace",
					meta ? meta->namespace : "", "node", agent.node,
					"container_id", p->container_id, "processes", list);
			json_array_append_new(pods, pod);
		}
		json_array_append_new(list, json_pack("{s:i, s:o, s:i, s:s}", "pid", p->pid,
						      "command", comm_json(p->comm), "ppid",
						      p->ppid, "container_id", p->container_id));
	}
	pod_set_release(set);
	free(procs);
	return json_pack("{s:o}", "pods", pods);
}
