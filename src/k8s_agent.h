/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Kubernetes node agent: what kubernetes.enabled turns on. It owns the pod table, the
 * Kubernetes client (this node's pods, cluster SchedulingStrategy objects into the
 * strategy store) and the per-pod metrics collector, and answers the REST API's
 * Kubernetes questions. It runs on the control plane's side: its threads never touch the
 * scheduling loop, and losing the API server degrades it without stopping anything else.
 */
#ifndef GTHULHU_K8S_AGENT_H
#define GTHULHU_K8S_AGENT_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"
#include "config/config.h"
#include "strategy/store.h"

struct loader;

/*
 * Start when @cfg->k8s_enabled (else do nothing and return 0). -1 with a logged reason
 * when the configuration cannot work (no kubeconfig, no service account, no node name);
 * an unreachable API server is not an error (see /health).
 */
int k8s_agent_start(const struct gthulhu_config *cfg, struct strategy_store *store);
void k8s_agent_stop(void);

/* The scheduler (re)attached or detached: where the per-pod counters are read from. */
void k8s_agent_attached(struct loader *ld);
void k8s_agent_detached(void);

/* API backend hooks (any thread). */
void k8s_agent_view(struct api_k8s_view *out);
size_t k8s_agent_pod_metrics(struct api_pod_metrics *out, size_t max);
/* {"pods": [...]}: the pods with processes on this node, with their names when known. */
json_t *k8s_agent_pods_json(void);

#endif /* GTHULHU_K8S_AGENT_H */
