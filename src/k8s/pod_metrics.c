/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-pod scheduling figures (see pod_metrics.h).
 *
 * Three tables, all behind one mutex:
 *   dirs  every cgroup directory the last walk found, sorted by id: host, pod (with the
 *         parsed pod and the path), or dead (an id that names no directory any more);
 *   cgs   the pod cgroups that sent samples, sorted by id: their latest counts;
 *   pods  fixed slots: each pod's base (what ended cgroups and earlier map lifetimes
 *         counted) and its total as of the last update.
 * A sample whose id is in none of them makes the module walk the tree again, once per
 * update at most; an id the fresh walk does not find either is marked dead, so a stale
 * BPF entry does not make every update walk. Followed cgroups are checked for having
 * ended by a stat() of their path, only when their counts stood still: a cgroup with
 * tasks that ran still exists, or will stand still at the next update.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/pod_metrics.h"

/* Kubernetes trees are 4 to 6 deep; nested runtimes add a few. Bounds the fds a walk holds. */
#define WALK_MAX_DEPTH 32

enum dir_kind {
	DIR_HOST, /* belongs to no pod */
	DIR_POD,
	DIR_DEAD, /* not in the tree (any more): its id will never be used again */
};

struct pod_dir {
	struct cgroup_pod cp;
	char path[]; /* relative to the root, "/kubepods.slice/..." */
};

struct dir {
	uint64_t cgid;
	enum dir_kind kind;
	struct pod_dir *pod; /* DIR_POD only (and kept when it turns dead) */
};

struct cg {
	uint64_t cgid;
	uint32_t pod;  /* slot in pods */
	uint64_t seen; /* update that brought the latest sample */
	bool changed;  /* the latest sample differed from the one before */
	struct pod_sched_counters last;
	char container_id[CONTAINER_ID_MAX];
	char *path;
};

struct pod {
	bool used;
	char uid[POD_UID_MAX];
	enum pod_qos qos;
	struct pod_sched_counters base;
	struct pod_sched_counters total;
	uint32_t containers;
	uint32_t ncg;	    /* cgroups followed */
	unsigned int empty; /* updates without any cgroup */
};

struct pod_metrics {
	pthread_mutex_t lock;
	char root[PATH_MAX];
	size_t max_pods, max_cgroups, max_dirs;
	unsigned int grace;

	struct dir *dirs;
	size_t ndirs, dirs_cap;
	struct cg *cgs;
	size_t ncgs, cgs_cap;
	struct pod *pods;	  /* max_pods slots */
	const struct pod **order; /* scratch for pod_metrics_rows() */
	size_t npods;

	bool have_gen;
	uint64_t gen;
	uint64_t update;
	struct pod_metrics_stats st;
};

/* The drop list of one update. */
struct drops {
	uint64_t *ids;
	size_t n, max;
};

static void drop_add(struct drops *d, uint64_t cgid)
{
	if (d->n < d->max)
		d->ids[d->n++] = cgid;
}

/* --- counters ------------------------------------------------------------------------ */

#define FOR_EACH_FIELD(X) X(nvcsw) X(nivcsw) X(cpu_ns) X(wait_ns) X(runs) X(migrations)

static void counters_add(struct pod_sched_counters *a, const struct pod_sched_counters *b)
{
#define PM_ADD(f) a->f += b->f;
	FOR_EACH_FIELD(PM_ADD)
#undef PM_ADD
}

static void counters_max(struct pod_sched_counters *a, const struct pod_sched_counters *b)
{
#define PM_MAX(f) a->f = a->f > b->f ? a->f : b->f;
	FOR_EACH_FIELD(PM_MAX)
#undef PM_MAX
}

/* Did any figure go down from @old to @new? Then the source started again from zero. */
static bool counters_went_back(const struct pod_sched_counters *new,
			       const struct pod_sched_counters *old)
{
	bool back = false;

#define PM_BACK(f) back |= new->f < old->f;
	FOR_EACH_FIELD(PM_BACK)
#undef PM_BACK
	return back;
}

static bool counters_equal(const struct pod_sched_counters *a, const struct pod_sched_counters *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* --- lookups ------------------------------------------------------------------------- */

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int dir_cmp(const void *a, const void *b)
{
	return cmp_u64(((const struct dir *)a)->cgid, ((const struct dir *)b)->cgid);
}

/* Index of the first element with id >= @cgid in an array sorted by id (stride @size). */
static size_t lower_bound(const void *base, size_t n, size_t size, uint64_t cgid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		/* struct dir and struct cg both start with the id. */
		uint64_t id = *(const uint64_t *)((const char *)base + mid * size);

		if (id < cgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct dir *dir_find(struct pod_metrics *pm, uint64_t cgid)
{
	size_t i = lower_bound(pm->dirs, pm->ndirs, sizeof(*pm->dirs), cgid);

	return i < pm->ndirs && pm->dirs[i].cgid == cgid ? &pm->dirs[i] : NULL;
}

static struct cg *cg_find(struct pod_metrics *pm, uint64_t cgid)
{
	size_t i = lower_bound(pm->cgs, pm->ncgs, sizeof(*pm->cgs), cgid);

	return i < pm->ncgs && pm->cgs[i].cgid == cgid ? &pm->cgs[i] : NULL;
}

static bool grow(void **arr, size_t *cap, size_t size, size_t max)
{
	size_t n = *cap ? *cap * 2 : 64;
	void *p;

	if (*cap >= max)
		return false;
	if (n > max)
		n = max;
	p = realloc(*arr, n * size);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

/* Remember @cgid as dead (it names no directory): no walk for it again. */
static void dir_mark_dead(struct pod_metrics *pm, uint64_t cgid)
{
	size_t i = lower_bound(pm->dirs, pm->ndirs, sizeof(*pm->dirs), cgid);

	if (i < pm->ndirs && pm->dirs[i].cgid == cgid) {
		pm->dirs[i].kind = DIR_DEAD;
		return;
	}
	/* Beyond the cap it stays unknown: at worst one more walk, at the next update. */
	if (pm->ndirs == pm->dirs_cap &&
	    !grow((void **)&pm->dirs, &pm->dirs_cap, sizeof(*pm->dirs), pm->max_dirs))
		return;
	memmove(&pm->dirs[i + 1], &pm->dirs[i], (pm->ndirs - i) * sizeof(*pm->dirs));
	pm->dirs[i] = (struct dir){.cgid = cgid, .kind = DIR_DEAD};
	pm->ndirs++;
}

static void dirs_free(struct dir *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(dirs[i].pod);
	free(dirs);
}

/* --- the walk ------------------------------------------------------------------------ */

struct walk {
	struct pod_metrics *pm;
	struct dir *dirs;
	size_t n, cap;
	bool truncated;
	char path[PATH_MAX]; /* of the directory being read, relative to the root */
};

static void walk_add(struct walk *w, uint64_t ino, const char *rel)
{
	struct cgroup_pod cp;
	struct dir *d;

	if (w->n == w->cap &&
	    !grow((void **)&w->dirs, &w->cap, sizeof(*w->dirs), w->pm->max_dirs)) {
		w->truncated = true;
		return;
	}
	d = &w->dirs[w->n];
	*d = (struct dir){.cgid = ino, .kind = DIR_HOST};
	if (cgroup_pod_from_path(rel, &cp)) {
		size_t len = strlen(rel) + 1;

		d->pod = malloc(sizeof(*d->pod) + len);
		if (!d->pod)
			return; /* not recorded: it comes back as unknown, and dead for now */
		d->pod->cp = cp;
		memcpy(d->pod->path, rel, len);
		d->kind = DIR_POD;
	}
	w->n++;
}

/* Record every directory below the one open at @fd (consumed), whose path is w->path. */
static void walk_dir(struct walk *w, int fd, int depth)
{
	size_t len = strlen(w->path);
	struct dirent *de;
	DIR *d = fdopendir(fd);

	if (!d) {
		close(fd);
		return;
	}
	while (!w->truncated && (de = readdir(d))) {
		size_t nlen = strlen(de->d_name);
		struct stat st;
		int cfd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + nlen >= sizeof(w->path))
			continue;
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		if (fstat(cfd, &st)) {
			close(cfd);
			continue;
		}
		w->path[len] = '/';
		memcpy(w->path + len + 1, de->d_name, nlen + 1);
		walk_add(w, st.st_ino, w->path);
		if (depth < WALK_MAX_DEPTH)
			walk_dir(w, cfd, depth + 1);
		else
			close(cfd);
		w->path[len] = '\0';
	}
	closedir(d);
}

/* Replace the directory table with what the tree holds now. */
static void walk(struct pod_metrics *pm)
{
	struct walk w = {.pm = pm};
	struct stat st;
	int fd;

	pm->st.walks++;
	fd = open(pm->root[0] ? pm->root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		pm->st.walk_errors++;
		return; /* keep what we knew */
	}
	walk_add(&w, st.st_ino, "/");
	walk_dir(&w, fd, 1);
	if (w.truncated)
		pm->st.walk_truncated++;
	if (w.n)
		qsort(w.dirs, w.n, sizeof(*w.dirs), dir_cmp);
	dirs_free(pm->dirs, pm->ndirs);
	pm->dirs = w.dirs;
	pm->ndirs = w.n;
	pm->dirs_cap = w.cap;
}

/* --- pods and their cgroups ---------------------------------------------------------- */

static struct pod *pod_get(struct pod_metrics *pm, const struct cgroup_pod *cp, uint32_t *slot)
{
	size_t i, free_slot = pm->max_pods;

	for (i = 0; i < pm->max_pods; i++) {
		if (!pm->pods[i].used) {
			if (free_slot == pm->max_pods)
				free_slot = i;
		} else if (!strcmp(pm->pods[i].uid, cp->pod_uid)) {
			*slot = (uint32_t)i;
			return &pm->pods[i];
		}
	}
	if (free_slot == pm->max_pods)
		return NULL;
	pm->pods[free_slot] = (struct pod){.used = true, .qos = cp->qos};
	snprintf(pm->pods[free_slot].uid, sizeof(pm->pods[free_slot].uid), "%s", cp->pod_uid);
	pm->npods++;
	*slot = (uint32_t)free_slot;
	return &pm->pods[free_slot];
}

/* Start following the pod cgroup @d; NULL when a cap or memory says no. */
static struct cg *cg_add(struct pod_metrics *pm, const struct dir *d)
{
	struct pod *pod;
	struct cg *cg;
	uint32_t slot;
	size_t i;
	char *path;

	if (pm->ncgs == pm->cgs_cap &&
	    !grow((void **)&pm->cgs, &pm->cgs_cap, sizeof(*pm->cgs), pm->max_cgroups))
		return NULL;
	path = strdup(d->pod->path);
	if (!path)
		return NULL;
	pod = pod_get(pm, &d->pod->cp, &slot);
	if (!pod) {
		free(path);
		return NULL;
	}
	pod->ncg++;
	pod->empty = 0;
	i = lower_bound(pm->cgs, pm->ncgs, sizeof(*pm->cgs), d->cgid);
	memmove(&pm->cgs[i + 1], &pm->cgs[i], (pm->ncgs - i) * sizeof(*pm->cgs));
	pm->ncgs++;
	cg = &pm->cgs[i];
	*cg = (struct cg){.cgid = d->cgid, .pod = slot, .path = path};
	snprintf(cg->container_id, sizeof(cg->container_id), "%s", d->pod->cp.container_id);
	return cg;
}

static void cg_sample(struct pod_metrics *pm, struct cg *cg, const struct pod_sched_counters *c)
{
	if (cg->seen == pm->update) {
		/* The same id twice in one read (an iteration that restarted): the newer wins. */
		counters_max(&cg->last, c);
		return;
	}
	if (counters_went_back(c, &cg->last)) {
		counters_add(&pm->pods[cg->pod].base, &cg->last);
		memset(&cg->last, 0, sizeof(cg->last));
	}
	cg->changed = !counters_equal(c, &cg->last);
	cg->last = *c;
	cg->seen = pm->update;
}

/* Has the cgroup's directory gone (or been replaced by another with the same name)? */
static bool cg_ended(const struct pod_metrics *pm, const struct cg *cg)
{
	char path[2 * PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", pm->root, cg->path);
	if (stat(path, &st))
		return errno == ENOENT || errno == ENOTDIR;
	return (uint64_t)st.st_ino != cg->cgid;
}

/* Fold ended cgroups into their pods' bases and forget them. */
static void reap_cgroups(struct pod_metrics *pm, struct drops *drops)
{
	size_t i, j = 0;

	for (i = 0; i < pm->ncgs; i++) {
		struct cg *cg = &pm->cgs[i];
		bool quiet = cg->seen != pm->update || !cg->changed;

		if (!quiet || !cg_ended(pm, cg)) {
			pm->cgs[j++] = *cg;
			continue;
		}
		counters_add(&pm->pods[cg->pod].base, &cg->last);
		pm->pods[cg->pod].ncg--;
		/* Never followed again, even if a stale entry still carries its counts. */
		dir_mark_dead(pm, cg->cgid);
		if (cg->seen == pm->update)
			drop_add(drops, cg->cgid);
		free(cg->path);
	}
	pm->ncgs = j;
}

static int cg_container_cmp(const void *a, const void *b)
{
	const struct cg *x = *(const struct cg *const *)a, *y = *(const struct cg *const *)b;

	if (x->pod != y->pod)
		return x->pod < y->pod ? -1 : 1;
	return strcmp(x->container_id, y->container_id);
}

/* Totals and container counts from the bases and the followed cgroups; forget old pods. */
static void settle_pods(struct pod_metrics *pm)
{
	const struct cg **by_pod = NULL;
	size_t i, n = 0;

	for (i = 0; i < pm->max_pods; i++) {
		struct pod *pod = &pm->pods[i];

		pod->total = pod->base;
		pod->containers = 0;
		if (!pod->used || pod->ncg)
			continue;
		if (++pod->empty > pm->grace) {
			pod->used = false;
			pm->npods--;
		}
	}
	if (pm->ncgs)
		by_pod = malloc(pm->ncgs * sizeof(*by_pod));
	for (i = 0; i < pm->ncgs; i++) {
		counters_add(&pm->pods[pm->cgs[i].pod].total, &pm->cgs[i].last);
		if (by_pod && pm->cgs[i].container_id[0])
			by_pod[n++] = &pm->cgs[i];
	}
	if (!by_pod)
		return; /* out of memory: container counts read 0 until the next update */
	/* Nested cgroups of one container share its id: count distinct ids per pod. */
	qsort(by_pod, n, sizeof(*by_pod), cg_container_cmp);
	for (i = 0; i < n; i++)
		if (!i || cg_container_cmp(&by_pod[i - 1], &by_pod[i]))
			pm->pods[by_pod[i]->pod].containers++;
	free(by_pod);
}

/* --- the interface ------------------------------------------------------------------- */

struct pod_metrics *pod_metrics_new_opts(const struct pod_metrics_opts *opts)
{
	const char *root = opts && opts->cgroup_root ? opts->cgroup_root : POD_METRICS_CGROUP_ROOT;
	struct pod_metrics *pm;
	size_t len = strlen(root);

	if (len >= sizeof(pm->root))
		return NULL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	/* Paths are joined as root + "/a/b": no trailing slash ("/" becomes ""). */
	while (len && root[len - 1] == '/')
		len--;
	memcpy(pm->root, root, len);
	pm->max_pods = opts && opts->max_pods ? opts->max_pods : POD_METRICS_MAX_PODS;
	pm->max_cgroups = opts && opts->max_cgroups ? opts->max_cgroups : POD_METRICS_MAX_CGROUPS;
	pm->max_dirs = opts && opts->max_dirs ? opts->max_dirs : POD_METRICS_MAX_DIRS;
	pm->grace = opts && opts->grace ? opts->grace : POD_METRICS_GRACE;
	pm->pods = calloc(pm->max_pods, sizeof(*pm->pods));
	pm->order = calloc(pm->max_pods, sizeof(*pm->order));
	if (!pm->pods || !pm->order) {
		free(pm->pods);
		free(pm->order);
		free(pm);
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	return pm;
}

struct pod_metrics *pod_metrics_new(const char *cgroup_root)
{
	struct pod_metrics_opts opts = {.cgroup_root = cgroup_root};

	return pod_metrics_new_opts(&opts);
}

void pod_metrics_free(struct pod_metrics *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->ncgs; i++)
		free(pm->cgs[i].path);
	free(pm->cgs);
	dirs_free(pm->dirs, pm->ndirs);
	free(pm->pods);
	free(pm->order);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* A sample of a cgroup not followed yet: follow it if it is a pod's, else drop it. */
static void sample_new(struct pod_metrics *pm, const struct cgroup_sample *s, bool *walked,
		       struct drops *drops)
{
	struct dir *d = dir_find(pm, s->cgid);
	struct cg *cg;

	if (!d && !*walked) {
		walk(pm);
		*walked = true;
		d = dir_find(pm, s->cgid);
	}
	if (!d) {
		dir_mark_dead(pm, s->cgid);
		drop_add(drops, s->cgid);
		return;
	}
	if (d->kind != DIR_POD) {
		drop_add(drops, s->cgid);
		return;
	}
	cg = cg_add(pm, d);
	if (!cg) {
		/* Its BPF entry stays: its counts are whole when there is room again. */
		pm->st.dropped++;
		return;
	}
	cg_sample(pm, cg, &s->c);
}

int pod_metrics_update(struct pod_metrics *pm, const struct cgroup_sample *samples, size_t n,
		       uint64_t source_gen, uint64_t *drop, size_t max_drop)
{
	struct drops drops = {.ids = drop, .max = drop ? max_drop : 0};
	bool walked = false;
	size_t i;

	if (!pm || (n && !samples))
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->update++;
	pm->st.updates++;
	if (pm->have_gen && pm->gen != source_gen) {
		/* A new BPF map: its counts start at zero, ours continue from here. */
		for (i = 0; i < pm->ncgs; i++) {
			counters_add(&pm->pods[pm->cgs[i].pod].base, &pm->cgs[i].last);
			memset(&pm->cgs[i].last, 0, sizeof(pm->cgs[i].last));
		}
	}
	pm->have_gen = true;
	pm->gen = source_gen;

	for (i = 0; i < n; i++) {
		struct cg *cg = cg_find(pm, samples[i].cgid);

		if (cg)
			cg_sample(pm, cg, &samples[i].c);
		else
			sample_new(pm, &samples[i], &walked, &drops);
	}
	reap_cgroups(pm, &drops);
	settle_pods(pm);
	pthread_mutex_unlock(&pm->lock);
	return (int)drops.n;
}

static int pod_uid_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct pod *const *)a)->uid, (*(const struct pod *const *)b)->uid);
}

size_t pod_metrics_rows(struct pod_metrics *pm, struct pod_metrics_row *out, size_t max)
{
	size_t i, n = 0;

	if (!pm || !out)
		return 0;
	pthread_mutex_lock(&pm->lock);
	for (i = 0; i < pm->max_pods; i++)
		if (pm->pods[i].used)
			pm->order[n++] = &pm->pods[i];
	qsort(pm->order, n, sizeof(*pm->order), pod_uid_cmp);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		const struct pod *pod = pm->order[i];

		memset(&out[i], 0, sizeof(out[i]));
		memcpy(out[i].pod_uid, pod->uid, sizeof(out[i].pod_uid));
		out[i].qos = pod->qos;
		out[i].c = pod->total;
		out[i].containers = pod->containers;
	}
	pthread_mutex_unlock(&pm->lock);
	return n;
}

void pod_metrics_get_stats(struct pod_metrics *pm, struct pod_metrics_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!pm)
		return;
	pthread_mutex_lock(&pm->lock);
	*out = pm->st;
	out->pods = pm->npods;
	out->cgroups = pm->ncgs;
	out->dirs = pm->ndirs;
	pthread_mutex_unlock(&pm->lock);
}
