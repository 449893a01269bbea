/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the `cgroup_stats` map into the pod metrics (see pod_metrics_bpf.h).
 *
 * Key by key with get_next_key + lookup: two system calls per cgroup, for a few hundred
 * cgroups every few seconds, and the simplest walk that stays correct while the BPF half
 * keeps inserting (an insert may be seen or not; a restarted walk repeats keys, which
 * pod_metrics_update() takes once). Deletions wait until the walk is over, so the key the
 * walk stands on never disappears under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/intf.h"
#include "k8s/pod_metrics.h"
#include "pod_metrics_bpf.h"

/* A walk that restarts over and over (heavy churn) still ends. */
#define COLLECT_MAX_KEYS (2 * GTHULHU_CGROUP_STATS_MAX)

static void add_cpu(struct pod_sched_counters *sum, const struct gthulhu_cgroup_stats *v)
{
	sum->nvcsw += v->nvcsw;
	sum->nivcsw += v->nivcsw;
	sum->cpu_ns += v->cpu_ns;
	sum->wait_ns += v->wait_ns;
	sum->runs += v->runs;
	sum->migrations += v->migrations;
}

/* Append one key's counts, summed over @ncpus, to @out; 0, or -errno from the lookup. */
static int read_one(int map_fd, uint64_t key, struct gthulhu_cgroup_stats *values, int ncpus,
		    struct cgroup_sample *out)
{
	int err = bpf_map_lookup_elem(map_fd, &key, values);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->cgid = key;
	for (int cpu = 0; cpu < ncpus; cpu++)
		add_cpu(&out->c, &values[cpu]);
	return 0;
}

int pod_metrics_collect(struct pod_metrics *pm, int map_fd, uint64_t source_gen)
{
	/* The kernel lays per-CPU values out 8-byte aligned; this struct already is. */
	_Static_assert(sizeof(struct gthulhu_cgroup_stats) % 8 == 0, "per-CPU stride");
	struct gthulhu_cgroup_stats *values = NULL;
	struct cgroup_sample *samples = NULL;
	uint64_t key, *drop = NULL;
	size_t n = 0, cap = 0, tries = 0;
	int ncpus, err = 0, ndrop;
	void *prev = NULL;

	if (!pm || map_fd < 0)
		return -EINVAL;
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	values = calloc((size_t)ncpus, sizeof(*values));
	if (!values)
		return -ENOMEM;

	while (tries++ < COLLECT_MAX_KEYS) {
		err = bpf_map_get_next_key(map_fd, prev, &key);
		if (err) {
			err = err == -ENOENT ? 0 : err; /* -ENOENT: past the last key */
			break;
		}
		prev = &key;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct cgroup_sample *p = realloc(samples, ncap * sizeof(*samples));

			if (!p) {
				err = -ENOMEM;
				break;
			}
			samples = p;
			cap = ncap;
		}
		err = read_one(map_fd, key, values, ncpus, &samples[n]);
		if (err == -ENOENT) {
			err = 0; /* deleted meanwhile (not by us): nothing to read */
			continue;
		}
		if (err)
			break;
		n++;
	}
	if (err)
		goto out;

	/* Every id to delete is one of the samples: n entries always suffice. */
	if (n) {
		drop = malloc(n * sizeof(*drop));
		if (!drop) {
			err = -ENOMEM;
			goto out;
		}
	}
	ndrop = pod_metrics_update(pm, samples, n, source_gen, drop, n);
	if (ndrop < 0) {
		err = ndrop;
		goto out;
	}
	for (int i = 0; i < ndrop; i++)
		bpf_map_delete_elem(map_fd, &drop[i]); /* -ENOENT is fine: already gone */
	err = (int)n;
out:
	free(drop);
	free(samples);
	free(values);
	return err;
}
