/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pods of this node as the Kubernetes API describes them: UID, name, namespace and
 * labels. The Kubernetes client (kube_client.c) writes the table; the strategy resolver
 * (to match label and namespace rules), the pod metrics and the REST API read it.
 *
 * Readers take an immutable, reference-counted pod_set and never block the writer for
 * longer than a pointer swap; every change builds a new set (a node holds about a hundred
 * pods, so copying is cheap and simple). Nothing here runs on the scheduling loop.
 */
#ifndef GTHULHU_PODS_H
#define GTHULHU_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/cgroup_pod.h"
#include "strategy/strategy.h"

#define POD_NAME_MAX   254 /* a DNS subdomain: 253 + NUL (pod and node names) */
#define POD_LABELS_MAX 64  /* labels kept per pod; more are dropped (and counted) */

struct pod_meta {
	char uid[POD_UID_MAX];
	char name[POD_NAME_MAX];
	char namespace[STRATEGY_NAMESPACE_MAX];
	char node[POD_NAME_MAX];
	uint32_t nr_labels;
	struct strategy_selector *labels; /* nr_labels pairs; owned by whoever built the struct */
};

struct pod_table;
struct pod_set;

struct pod_table *pod_table_new(void);
void pod_table_free(struct pod_table *t);

/*
 * Called after every change, on the writer's thread, with no lock held (the resolver
 * uses it to rebuild its snapshot). One callback per table.
 */
void pod_table_on_change(struct pod_table *t, void (*fn)(void *ctx), void *ctx);

/* Writers (the Kubernetes client). All copy their input. 0 or -ENOMEM (table unchanged). */
int pod_table_replace(struct pod_table *t, const struct pod_meta *pods, size_t n);
int pod_table_upsert(struct pod_table *t, const struct pod_meta *pod);
int pod_table_remove(struct pod_table *t, const char *uid); /* 0 also when absent */

/* Readers: a set that stays valid and unchanged until released. Never NULL. */
const struct pod_set *pod_table_acquire(struct pod_table *t);
void pod_set_release(const struct pod_set *s);
size_t pod_set_count(const struct pod_set *s);
const struct pod_meta *pod_set_at(const struct pod_set *s, size_t i);
const struct pod_meta *pod_set_find(const struct pod_set *s, const char *uid);
/* Bumped on every change of the table: equal generations, equal contents. */
uint64_t pod_set_generation(const struct pod_set *s);
/* Labels dropped over POD_LABELS_MAX since the table was made. */
uint64_t pod_table_labels_dropped(struct pod_table *t);

/*
 * Does @pod satisfy the pod matchers of @rule: every selector equals one of the pod's
 * labels, and the pod's namespace is one of the rule's (when it names any)? A rule with
 * no pod matchers matches every pod. The one place this rule is decided.
 */
bool pod_matches_rule(const struct pod_meta *pod, const struct strategy_rule *rule);

#endif /* GTHULHU_PODS_H */
