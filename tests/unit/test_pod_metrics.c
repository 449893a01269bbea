// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/k8s/pod_metrics.c: per-cgroup samples folded into per-pod totals.
 *
 * Each test builds a cgroup-like directory tree under $TMPDIR (or /tmp): pods in the
 * cgroupfs and systemd layouts and a host service. Samples are keyed by the directories'
 * real inode numbers, as the BPF half keys them by cgroup id, so the module's walk is
 * exercised for real. Checked: per-pod sums and container counts, ended containers
 * keeping their share, totals that never go down (a new BPF map, a re-created entry),
 * pods forgotten after the grace period, at most one walk per update and none for a known
 * or dead id, the drop list, the caps, and readers on another thread seeing monotonic
 * totals while updates run.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture_tree.h"
#include "k8s/pod_metrics.h"

/* Two containers of a burstable pod, cgroupfs driver. */
#define UID_A  "0f2c6a4e-1b3d-4c5e-8f70-9a1b2c3d4e5f"
#define POD_A  "/kubepods/burstable/pod" UID_A
#define CID_A1 "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define CID_A2 "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"
#define CG_A1  POD_A "/" CID_A1
#define CG_A2  POD_A "/" CID_A2
/* A besteffort pod, systemd driver (the UID's dashes become underscores). */
#define UID_B "7d9e1f20-3a4b-4c5d-9e6f-708192a3b4c5"
#define POD_B                                                                                      \
	"/kubepods.slice/kubepods-besteffort.slice/"                                               \
	"kubepods-besteffort-pod7d9e1f20_3a4b_4c5d_9e6f_708192a3b4c5.slice"
#define CID_B1 "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
#define CG_B1  POD_B "/cri-containerd-" CID_B1 ".scope"
/* A nested cgroup inside container B1 (a systemd running in it): still B1. */
#define CG_B1_INNER CG_B1 "/init.scope"
/* A guaranteed pod, cgroupfs driver. */
#define UID_C  "c0c0c0c0-0000-4000-8000-000000000001"
#define POD_C  "/kubepods/pod" UID_C
#define CID_C1 "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define CG_C1  POD_C "/" CID_C1
/* A pod that only appears in the middle of a test. */
#define UID_D	"d0d0d0d0-0000-4000-8000-000000000002"
#define CG_D1	"/kubepods/besteffort/pod" UID_D "/" CID_C1
#define CG_HOST "/system.slice/sshd.service"

#define MAX_ROWS 16
#define MAX_DROP 64

static char root[PATH_MAX];
static struct pod_metrics_row rows[MAX_ROWS];
static uint64_t drop[MAX_DROP];

static void mkdirs(const char *rel)
{
	char path[2 * PATH_MAX];
	size_t len = strlen(root);

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = path + len + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void rmdir_rel(const char *rel)
{
	char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(rmdir(path), 0);
}

/* The cgroup id the BPF half would report: the directory's inode number. */
static uint64_t cgid(const char *rel)
{
	char path[2 * PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_ino;
}

static int setup_tree(void **state)
{
	if (tree_make(root, sizeof(root), "gthulhu-podm"))
		return -1;
	mkdirs(CG_A1);
	mkdirs(CG_A2);
	mkdirs(CG_B1_INNER);
	mkdirs(CG_C1);
	mkdirs(CG_HOST);
	return 0;
}

static int teardown_tree(void **state)
{
	return tree_remove(root);
}

static struct pod_sched_counters counts(uint64_t base)
{
	return (struct pod_sched_counters){.nvcsw = base + 1,
					   .nivcsw = base + 2,
					   .cpu_ns = base * 1000 + 3,
					   .wait_ns = base * 100 + 4,
					   .runs = base + 5,
					   .migrations = base + 6};
}

static struct pod_sched_counters sum(struct pod_sched_counters a, struct pod_sched_counters b)
{
	a.nvcsw += b.nvcsw;
	a.nivcsw += b.nivcsw;
	a.cpu_ns += b.cpu_ns;
	a.wait_ns += b.wait_ns;
	a.runs += b.runs;
	a.migrations += b.migrations;
	return a;
}

static struct cgroup_sample sample(const char *rel, uint64_t base)
{
	return (struct cgroup_sample){.cgid = cgid(rel), .c = counts(base)};
}

static void assert_counters(struct pod_sched_counters got, struct pod_sched_counters want)
{
	assert_int_equal(got.nvcsw, want.nvcsw);
	assert_int_equal(got.nivcsw, want.nivcsw);
	assert_int_equal(got.cpu_ns, want.cpu_ns);
	assert_int_equal(got.wait_ns, want.wait_ns);
	assert_int_equal(got.runs, want.runs);
	assert_int_equal(got.migrations, want.migrations);
}

static const struct pod_metrics_row *row_of(size_t n, const char *uid)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].pod_uid, uid))
			return &rows[i];
	return NULL;
}

static bool dropped(int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (drop[i] == id)
			return true;
	return false;
}

/* A pod_metrics over the tree's root followed by @suffix ("": the root itself). */
static struct pod_metrics *new_pm_at(const char *suffix)
{
	char path[PATH_MAX + 16];
	struct pod_metrics *pm;

	snprintf(path, sizeof(path), "%s%s", root, suffix);
	pm = pod_metrics_new(path);
	assert_non_null(pm);
	return pm;
}

static struct pod_metrics *new_pm(void)
{
	return new_pm_at("");
}

/* A pod_metrics over the tree with the caps of @caps (its cgroup_root is not read). */
static struct pod_metrics *new_pm_capped(struct pod_metrics_opts caps)
{
	struct pod_metrics *pm;

	caps.cgroup_root = root;
	pm = pod_metrics_new_opts(&caps);
	assert_non_null(pm);
	return pm;
}

static struct pod_metrics_stats stats_of(struct pod_metrics *pm)
{
	struct pod_metrics_stats st;

	pod_metrics_get_stats(pm, &st);
	return st;
}

static void test_per_pod_sums(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample
	    s[] =
		{
		    sample(CG_A1, 10),	     sample(CG_A2, 20), sample(CG_B1, 30),
		    sample(CG_B1_INNER, 40), sample(CG_C1, 50), sample(CG_HOST, 60),
		    sample(POD_A, 70), /* the pod's own cgroup counts too (container "") */
		};
	const struct pod_metrics_row *a, *b, *c;
	int nd;
	size_t n;

	nd = pod_metrics_update(pm, s, sizeof(s) / sizeof(s[0]), 1, drop, MAX_DROP);
	/* The host's cgroup is of no interest: its entry goes; the pods' stay. */
	assert_int_equal(nd, 1);
	assert_true(dropped(nd, cgid(CG_HOST)));

	n = pod_metrics_rows(pm, rows, MAX_ROWS);
	assert_int_equal(n, 3);
	/* Sorted by UID. */
	assert_string_equal(rows[0].pod_uid, UID_A);
	assert_string_equal(rows[1].pod_uid, UID_B);
	assert_string_equal(rows[2].pod_uid, UID_C);

	a = row_of(n, UID_A);
	assert_non_null(a);
	assert_int_equal(a->qos, POD_QOS_BURSTABLE);
	assert_counters(a->c, sum(sum(counts(10), counts(20)), counts(70)));
	assert_int_equal(a->containers, 2);

	b = row_of(n, UID_B);
	assert_non_null(b);
	assert_int_equal(b->qos, POD_QOS_BESTEFFORT);
	assert_counters(b->c, sum(counts(30), counts(40)));
	assert_int_equal(b->containers, 1); /* the nested cgroup is the same container */

	c = row_of(n, UID_C);
	assert_non_null(c);
	assert_int_equal(c->qos, POD_QOS_GUARANTEED);
	assert_counters(c->c, counts(50));
	assert_int_equal(c->containers, 1);

	assert_int_equal(stats_of(pm).walks, 1);
	assert_int_equal(stats_of(pm).pods, 3);
	assert_int_equal(stats_of(pm).cgroups, 6);
	pod_metrics_free(pm);
}

static void test_counts_follow_samples(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[] = {sample(CG_A1, 10), sample(CG_A2, 20)};

	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 0);
	s[0].c = counts(15);
	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(counts(15), counts(20)));
	/* Known cgroups: no second walk. */
	assert_int_equal(stats_of(pm).walks, 1);
	pod_metrics_free(pm);
}

static void test_ended_container_keeps_counts(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[] = {sample(CG_A1, 10), sample(CG_A2, 20)};
	uint64_t a2 = s[1].cgid;
	int nd;

	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 0);
	/* A2 ends: its directory goes, its BPF entry is still there with its last counts. */
	rmdir_rel(CG_A2);
	nd = pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP);
	assert_int_equal(nd, 1);
	assert_int_equal(drop[0], a2);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(counts(10), counts(20)));
	assert_int_equal(rows[0].containers, 1);
	assert_int_equal(stats_of(pm).cgroups, 1);

	/* The reader deleted the entry; A1 goes on. */
	s[0].c = counts(11);
	assert_int_equal(pod_metrics_update(pm, s, 1, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(counts(11), counts(20)));

	/* A stale entry of the ended cgroup is never counted twice, nor walked for. */
	nd = pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP);
	assert_int_equal(nd, 1);
	assert_int_equal(drop[0], a2);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(counts(11), counts(20)));
	assert_int_equal(stats_of(pm).walks, 1);
	pod_metrics_free(pm);
}

/* A container restarted under the same name: a new directory, a new id. */
static void test_replaced_directory(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[2] = {sample(CG_A1, 10), sample(CG_A2, 20)};
	uint64_t old_id = s[0].cgid;
	char aside[2 * PATH_MAX], path[2 * PATH_MAX];

	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 0);
	/* Made while the old one still exists, so the file system cannot reuse its inode. */
	snprintf(aside, sizeof(aside), "%s/aside", root);
	snprintf(path, sizeof(path), "%s%s", root, CG_A1);
	assert_int_equal(mkdir(aside, 0755), 0);
	rmdir_rel(CG_A1);
	assert_int_equal(rename(aside, path), 0);
	assert_int_not_equal(cgid(CG_A1), old_id);

	/* The old id's counts stand still: the path now names another directory. */
	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 1);
	assert_int_equal(drop[0], old_id);
	s[0] = sample(CG_A1, 3);
	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(sum(counts(10), counts(20)), counts(3)));
	assert_int_equal(rows[0].containers, 2);
	pod_metrics_free(pm);
}

static void test_new_source_generation(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[] = {sample(CG_A1, 100), sample(CG_B1, 200)};
	struct pod_sched_counters a_before;

	assert_int_equal(pod_metrics_update(pm, s, 2, 7, drop, MAX_DROP), 0);
	/* Re-attached: a new map, counting from zero again. */
	s[0].c = counts(1);
	s[1].c = counts(2);
	assert_int_equal(pod_metrics_update(pm, s, 2, 8, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_counters(row_of(2, UID_A)->c, sum(counts(100), counts(1)));
	assert_counters(row_of(2, UID_B)->c, sum(counts(200), counts(2)));

	/* Within the new generation the samples simply grow. */
	s[0].c = counts(5);
	assert_int_equal(pod_metrics_update(pm, s, 2, 8, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_counters(row_of(2, UID_A)->c, sum(counts(100), counts(5)));

	/* A new map read late, when it has counted more than the old one: still a base. */
	s[1].c = counts(300);
	assert_int_equal(pod_metrics_update(pm, s, 2, 10, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_counters(row_of(2, UID_B)->c, sum(sum(counts(200), counts(2)), counts(300)));
	a_before = row_of(2, UID_A)->c;

	/* A generation where A1 has not run yet: no sample, nothing lost. */
	assert_int_equal(pod_metrics_update(pm, &s[1], 1, 11, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_counters(row_of(2, UID_A)->c, a_before);
	pod_metrics_free(pm);
}

/* An entry deleted and made again (by hand, say) within one generation counts on. */
static void test_counts_going_back(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s = sample(CG_C1, 40);

	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 0);
	s.c = counts(0);
	s.c.cpu_ns = 1; /* only one field need go back */
	s.c.runs = counts(40).runs;
	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_int_equal(rows[0].c.cpu_ns, counts(40).cpu_ns + 1);
	assert_int_equal(rows[0].c.runs, 2 * counts(40).runs);
	pod_metrics_free(pm);
}

static void test_duplicate_ids_count_once(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[] = {sample(CG_A1, 10), sample(CG_A1, 12), sample(CG_A1, 11)};

	assert_int_equal(pod_metrics_update(pm, s, 3, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, counts(12));
	pod_metrics_free(pm);
}

static void test_ended_pod_forgotten_after_grace(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[] = {sample(CG_A1, 10), sample(CG_A2, 20), sample(CG_C1, 5),
				    sample(POD_A, 1)};
	struct pod_sched_counters a_total = sum(sum(counts(10), counts(20)), counts(1));
	int nd;

	assert_int_equal(pod_metrics_update(pm, s, 4, 1, drop, MAX_DROP), 0);
	/* Pod A is deleted: all its cgroups go. */
	rmdir_rel(CG_A1);
	rmdir_rel(CG_A2);
	rmdir_rel(POD_A);
	nd = pod_metrics_update(pm, s, 4, 1, drop, MAX_DROP);
	assert_int_equal(nd, 3);
	assert_true(dropped(nd, s[0].cgid) && dropped(nd, s[1].cgid) && dropped(nd, s[3].cgid));
	/* Still listed, with its final totals, for POD_METRICS_GRACE updates. */
	for (int i = 0; i < POD_METRICS_GRACE; i++) {
		if (i)
			assert_int_equal(pod_metrics_update(pm, &s[2], 1, 1, drop, MAX_DROP), 0);
		assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
		assert_non_null(row_of(2, UID_A));
		assert_counters(row_of(2, UID_A)->c, a_total);
		assert_int_equal(row_of(2, UID_A)->containers, 0);
	}
	assert_int_equal(pod_metrics_update(pm, &s[2], 1, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_string_equal(rows[0].pod_uid, UID_C);
	assert_int_equal(stats_of(pm).pods, 1);
	assert_int_equal(stats_of(pm).cgroups, 1);
	pod_metrics_free(pm);
}

/* A pod that gets a new container during its grace period stays. */
static void test_pod_back_within_grace(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s = sample(CG_A1, 10), s2;

	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 0);
	rmdir_rel(CG_A1);
	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 1);
	s2 = sample(CG_A2, 20);
	for (int i = 0; i < POD_METRICS_GRACE + 2; i++)
		assert_int_equal(pod_metrics_update(pm, &s2, 1, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	assert_counters(rows[0].c, sum(counts(10), counts(20)));
	pod_metrics_free(pm);
}

static void test_unknown_ids_walk_once(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[4] = {sample(CG_HOST, 1), sample(CG_A1, 2)};
	struct cgroup_sample late;
	int nd;

	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 1);
	assert_int_equal(stats_of(pm).walks, 1);
	/* Known ids, a host one included: no walk. */
	assert_int_equal(pod_metrics_update(pm, s, 2, 1, drop, MAX_DROP), 1);
	assert_int_equal(stats_of(pm).walks, 1);

	/* Two ids no directory has: one walk for both, both dropped. */
	s[2] = (struct cgroup_sample){.cgid = UINT64_MAX - 1, .c = counts(3)};
	s[3] = (struct cgroup_sample){.cgid = UINT64_MAX - 2, .c = counts(4)};
	nd = pod_metrics_update(pm, s, 4, 1, drop, MAX_DROP);
	assert_int_equal(stats_of(pm).walks, 2);
	assert_int_equal(nd, 3);
	assert_true(dropped(nd, UINT64_MAX - 1) && dropped(nd, UINT64_MAX - 2));
	/* Their entries linger (the reader has not deleted them yet): known dead, no walk. */
	nd = pod_metrics_update(pm, s, 4, 1, drop, MAX_DROP);
	assert_int_equal(stats_of(pm).walks, 2);
	assert_int_equal(nd, 3);

	/* A pod that appears later is found by the next walk, dead ids and all. */
	mkdirs(CG_D1);
	late = sample(CG_D1, 9);
	s[2] = late;
	nd = pod_metrics_update(pm, s, 4, 1, drop, MAX_DROP);
	assert_int_equal(stats_of(pm).walks, 3);
	assert_false(dropped(nd, late.cgid));
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_counters(row_of(2, UID_D)->c, counts(9));
	assert_counters(row_of(2, UID_A)->c, counts(2));
	pod_metrics_free(pm);
}

static void test_drop_list_bounded(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct cgroup_sample s[3] = {sample(CG_HOST, 1), sample("", 2), sample(CG_A1, 3)};

	/* Two host cgroups (the root's id too), room for one: no overflow. */
	assert_int_equal(pod_metrics_update(pm, s, 3, 1, drop, 1), 1);
	/* The other comes again next time. */
	assert_int_equal(pod_metrics_update(pm, s, 3, 1, drop, MAX_DROP), 2);
	assert_int_equal(pod_metrics_update(pm, s, 3, 1, NULL, 0), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	pod_metrics_free(pm);
}

static void test_caps(void **state)
{
	struct pod_metrics *pm = new_pm_capped((struct pod_metrics_opts){.max_pods = 2});
	struct cgroup_sample s[] = {sample(CG_A1, 1), sample(CG_B1, 2), sample(CG_C1, 3)};
	int nd;

	/* Room for two pods: the third is not followed, and its entry is kept for later. */
	nd = pod_metrics_update(pm, s, 3, 1, drop, MAX_DROP);
	assert_int_equal(nd, 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 2);
	assert_int_equal(stats_of(pm).dropped, 1);
	assert_null(row_of(2, UID_C));
	/* Rows never exceed what the caller has room for (the lowest UIDs first). */
	assert_int_equal(pod_metrics_rows(pm, rows, 1), 1);
	assert_string_equal(rows[0].pod_uid, UID_A);
	pod_metrics_free(pm);

	/* Room for two cgroups in all. */
	pm = new_pm_capped((struct pod_metrics_opts){.max_cgroups = 2});
	assert_int_equal(pod_metrics_update(pm, s, 3, 1, drop, MAX_DROP), 0);
	assert_int_equal(stats_of(pm).cgroups, 2);
	assert_int_equal(stats_of(pm).dropped, 1);
	pod_metrics_free(pm);

	/* A walk stops at max_dirs: a tree bigger than that is only partly seen. */
	pm = new_pm_capped((struct pod_metrics_opts){.max_dirs = 3});
	pod_metrics_update(pm, s, 3, 1, drop, MAX_DROP);
	assert_int_equal(stats_of(pm).walk_truncated, 1);
	assert_true(stats_of(pm).dirs <= 3 + 3); /* the walk's, and the ids found dead */
	pod_metrics_free(pm);
}

static void test_missing_root(void **state)
{
	struct pod_metrics *pm = new_pm_at("/nothing");
	struct cgroup_sample s = sample(CG_A1, 1);

	/* Nothing can be named: the id is dropped, and no pod is made up. */
	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 1);
	assert_int_equal(stats_of(pm).walk_errors, 1);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 0);
	pod_metrics_free(pm);
}

static void test_trailing_slash_root(void **state)
{
	struct pod_metrics *pm = new_pm_at("/");
	struct cgroup_sample s = sample(CG_A1, 1);

	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 0);
	/* Still there: the liveness check joined root and path right. */
	assert_int_equal(pod_metrics_update(pm, &s, 1, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, rows, MAX_ROWS), 1);
	pod_metrics_free(pm);
}

static void test_bad_arguments(void **state)
{
	struct pod_metrics *pm = new_pm();
	struct pod_metrics_stats st;

	assert_int_equal(pod_metrics_update(NULL, NULL, 0, 1, drop, MAX_DROP), -EINVAL);
	assert_int_equal(pod_metrics_update(pm, NULL, 1, 1, drop, MAX_DROP), -EINVAL);
	assert_int_equal(pod_metrics_update(pm, NULL, 0, 1, drop, MAX_DROP), 0);
	assert_int_equal(pod_metrics_rows(pm, NULL, 4), 0);
	assert_int_equal(pod_metrics_rows(NULL, rows, 4), 0);
	memset(&st, 0xff, sizeof(st));
	pod_metrics_get_stats(NULL, &st);
	assert_int_equal(st.updates, 0);
	assert_int_equal(st.pods, 0);
	pod_metrics_free(NULL);
	pod_metrics_free(pm);
}

/* Readers on another thread only ever see totals that grow. */
struct reader {
	struct pod_metrics *pm;
	pthread_mutex_t lock; /* stop and reads: shared by the two threads */
	bool stop;
	uint64_t reads;
	bool went_back;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct pod_metrics_row mine[4];
	uint64_t last = 0;
	bool stop = false;

	while (!stop) {
		size_t n = pod_metrics_rows(r->pm, mine, 4);

		for (size_t i = 0; i < n; i++) {
			if (mine[i].c.cpu_ns < last)
				r->went_back = true;
			last = mine[i].c.cpu_ns;
		}
		pthread_mutex_lock(&r->lock);
		r->reads++;
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

static uint64_t reads_of(struct reader *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->reads;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void test_concurrent_readers(void **state)
{
	struct reader r = {.pm = new_pm(), .lock = PTHREAD_MUTEX_INITIALIZER};
	struct cgroup_sample s[] = {sample(CG_A1, 0), sample(CG_A2, 0)};
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	/* Growing counts, a new generation every 100 updates: the totals must only grow. */
	for (uint64_t i = 1; i <= 2000 || !reads_of(&r); i++) {
		s[0].c.cpu_ns = (i % 100) * 10;
		s[1].c.cpu_ns = (i % 100) * 5;
		pod_metrics_update(r.pm, s, 2, i / 100, drop, MAX_DROP);
	}
	pthread_mutex_lock(&r.lock);
	r.stop = true;
	pthread_mutex_unlock(&r.lock);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(r.went_back);
	pod_metrics_free(r.pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_per_pod_sums, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_counts_follow_samples, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_ended_container_keeps_counts, setup_tree,
					    teardown_tree),
	    cmocka_unit_test_setup_teardown(test_replaced_directory, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_new_source_generation, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_counts_going_back, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_duplicate_ids_count_once, setup_tree,
					    teardown_tree),
	    cmocka_unit_test_setup_teardown(test_ended_pod_forgotten_after_grace, setup_tree,
					    teardown_tree),
	    cmocka_unit_test_setup_teardown(test_pod_back_within_grace, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_unknown_ids_walk_once, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_drop_list_bounded, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_caps, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_missing_root, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_trailing_slash_root, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(test_concurrent_readers, setup_tree, teardown_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
