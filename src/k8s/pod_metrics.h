/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-pod scheduling figures, built from per-cgroup samples.
 *
 * The BPF half counts context switches, CPU time, run-queue wait, runs and migrations per
 * cgroup v2 (struct gthulhu_cgroup_stats in bpf/intf.h); pod_metrics_bpf.c reads them and
 * hands them here as samples keyed by cgroup id. This module finds the pod of each cgroup
 * by walking the cgroup tree (a v2 cgroup's id is its directory's inode number, and
 * cgroup_pod_from_path() names the pod), adds up each pod's cgroups and keeps the sums
 * monotonic, so they can be exported as counters: a container that ended keeps its share
 * in its pod's total, and a new scheduler attach (the BPF counts start again from zero)
 * adds to what was counted before. Pure C: the unit tests feed it a temporary tree.
 *
 * Memory is bounded: ended cgroups are folded into their pod and forgotten, a pod whose
 * cgroups are all gone is forgotten a few updates later, and every table has a cap. The
 * reader learns which cgroup ids to delete from the BPF map: ended cgroups and those of
 * no pod (the host's), so the map holds little more than the pods' live cgroups.
 *
 * One thread updates (the control plane, every few seconds); any thread may read rows.
 * A mutex guards both: nothing here runs on the scheduling loop.
 */
#ifndef GTHULHU_POD_METRICS_H
#define GTHULHU_POD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "k8s/cgroup_pod.h"

#define POD_METRICS_CGROUP_ROOT "/sys/fs/cgroup"
#define POD_METRICS_MAX_PODS	1024  /* kubelet's max-pods is 110 by default */
#define POD_METRICS_MAX_CGROUPS 8192  /* live cgroups followed, over all pods */
#define POD_METRICS_MAX_DIRS	65536 /* cgroup directories one walk records */
#define POD_METRICS_GRACE	2     /* updates a pod stays listed after its last cgroup */

/* The figures of one cgroup or one pod; all running totals. */
struct pod_sched_counters {
	uint64_t nvcsw;	     /* voluntary context switches: blocked or slept */
	uint64_t nivcsw;     /* involuntary: preempted or slice over while runnable */
	uint64_t cpu_ns;     /* time on a CPU */
	uint64_t wait_ns;    /* time runnable, waiting for a CPU */
	uint64_t runs;	     /* times put on a CPU */
	uint64_t migrations; /* runs on another CPU than the previous one */
};

/* One cgroup's counts as the BPF map holds them (summed over CPUs). */
struct cgroup_sample {
	uint64_t cgid;
	struct pod_sched_counters c;
};

struct pod_metrics_row {
	char pod_uid[POD_UID_MAX];
	enum pod_qos qos;
	struct pod_sched_counters c;
	uint32_t containers; /* distinct containers among its live cgroups */
};

struct pod_metrics_stats {
	uint64_t updates;
	uint64_t walks;		 /* cgroup tree walks (one per update at most) */
	uint64_t walk_errors;	 /* walks that could not read the root */
	uint64_t walk_truncated; /* walks that stopped at max_dirs */
	uint64_t dropped;	 /* pod cgroups not followed: max_pods or max_cgroups reached */
	size_t pods;		 /* pods listed now */
	size_t cgroups;		 /* pod cgroups followed now */
	size_t dirs;		 /* cgroup directories known from the last walk */
};

/* Limits; 0 (or NULL) takes the default above. */
struct pod_metrics_opts {
	const char *cgroup_root;
	size_t max_pods;
	size_t max_cgroups;
	size_t max_dirs;
	unsigned int grace; /* 0 = POD_METRICS_GRACE; forgetting at once is not offered */
};

struct pod_metrics;

/* NULL root = POD_METRICS_CGROUP_ROOT. NULL when out of memory or the root is too long. */
struct pod_metrics *pod_metrics_new(const char *cgroup_root);
struct pod_metrics *pod_metrics_new_opts(const struct pod_metrics_opts *opts);
void pod_metrics_free(struct pod_metrics *pm);

/*
 * Take a full read of the per-cgroup counts: @n samples, one per cgroup id (a repeated id
 * counts once, its larger values win). @source_gen names the BPF map's lifetime: when it
 * changes, the counts start again from zero and what was counted before becomes a base.
 * A cgroup whose counts go backwards within one lifetime (its entry was deleted and made
 * again) is handled the same way, so pod totals never decrease.
 *
 * Fills @drop (at most @max_drop) with the cgroup ids whose BPF entries the reader should
 * delete: cgroups that ended, that do not exist, or that belong to no pod. Ids that do
 * not fit come again at a later update. Returns how many it wrote, or -EINVAL.
 */
int pod_metrics_update(struct pod_metrics *pm, const struct cgroup_sample *samples, size_t n,
		       uint64_t source_gen, uint64_t *drop, size_t max_drop);

/* Copy up to @max pods, sorted by UID; returns how many. Safe from any thread. */
size_t pod_metrics_rows(struct pod_metrics *pm, struct pod_metrics_row *out, size_t max);
void pod_metrics_get_stats(struct pod_metrics *pm, struct pod_metrics_stats *out); /* NULL pm: 0s */

#endif /* GTHULHU_POD_METRICS_H */
