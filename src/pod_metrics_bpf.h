/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's side of the pod metrics: reads the BPF half's per-cgroup counts (the
 * skeleton's `cgroup_stats` map, struct gthulhu_cgroup_stats per CPU) into a pod_metrics
 * object (k8s/pod_metrics.h), which maps cgroups to pods and keeps the totals, and
 * deletes the entries it no longer wants so the map stays small. Called every few
 * seconds from a control-plane thread, never from the scheduling loop.
 */
#ifndef GTHULHU_POD_METRICS_BPF_H
#define GTHULHU_POD_METRICS_BPF_H

#include <stdint.h>

struct pod_metrics;

/*
 * One full read of @map_fd: every cgroup's counts summed over the CPUs, handed to
 * pod_metrics_update() with @source_gen (change it whenever the scheduler is attached
 * again: the new map starts from zero), then the entries it names are deleted.
 * Returns how many cgroups were read, or a negative errno (nothing updated).
 */
int pod_metrics_collect(struct pod_metrics *pm, int map_fd, uint64_t source_gen);

#endif /* GTHULHU_POD_METRICS_BPF_H */
