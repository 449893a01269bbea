/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The resolver's process table (see proc_table.h): an open-addressing hash from tgid to a
 * heap-allocated entry, filled from files under the proc root.
 *
 * Reading /proc is the cost that matters (an open and a read per file, ~several us each),
 * so a process costs as few files as it can: stat gives comm, parent, start time, state
 * and thread count in one read; a process with one live thread needs no task/ listing
 * (its only thread is the leader, whose comm stat gave); the command line, the cgroup
 * and the pod are read only when wanted; a refresh after "threads came or went" reads the
 * comm of new threads only. A full scan reads everything again: it is the safety net for
 * whatever events did not say (a command line rewritten in place, a lost event).
 *
 * Fixture trees without a stat file are accepted (comm then comes from task/<tid>/comm,
 * parent and start time are 0), so the same tests cover both.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strategy/proc_table.h"

struct proc_table {
	char root[256];
	unsigned int wants;
	size_t max_threads;
	struct proc_entry **slots; /* mask + 1 of them; NULL = free */
	uint32_t mask;
	size_t count;	/* processes */
	size_t threads; /* threads over all processes */
	uint64_t skipped_threads, skipped_processes;
	uint64_t scan;	  /* generation of the current full scan */
	uint64_t version; /* the last entry version handed out */
	/* Scratch for one process's thread list, reused between refreshes. */
	struct proc_thread *scratch;
	size_t scratch_cap;
};

/* What one read of stat tells. */
struct stat_info {
	bool ok;
	char state;
	int32_t ppid;
	uint32_t nr_threads;
	uint64_t start_time;
	char comm[PROC_COMM_MAX];
};

static uint32_t slot_of(int32_t tgid, uint32_t mask)
{
	return ((uint32_t)tgid * 2654435769u) & mask;
}

static int32_t parse_id(const char *name)
{
	long v = 0;

	/* Digits only: "self", "thread-self" and friends are not processes. */
	if (!*name)
		return 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return 0;
	}
	return (int32_t)v;
}

/* Read a whole small file into @buf (NUL-terminated). Bytes read, or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n < len - 1) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/*
 * "pid (comm) S ppid ... num_threads(20) itrealvalue starttime(22) ...". The comm may
 * hold spaces and parentheses, so the fields start after the last ')'.
 */
static void parse_stat(const char *buf, struct stat_info *st)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	const char *p;
	size_t len;
	int field;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open || !close[1])
		return;
	len = (size_t)(close - open - 1);
	if (len >= PROC_COMM_MAX)
		len = PROC_COMM_MAX - 1;
	memcpy(st->comm, open + 1, len);
	st->comm[len] = '\0';
	p = close + 2;
	st->state = *p;
	for (field = 3; *p && field <= 22; field++) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);

		if (field == 4)
			st->ppid = (int32_t)v;
		else if (field == 20)
			st->nr_threads = (uint32_t)v;
		else if (field == 22) {
			st->start_time = v;
			st->ok = true;
		}
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
}

/* A thread's comm; false when it could not be read (the thread exited). */
static bool read_comm(const char *path, char *comm)
{
	char buf[64];
	ssize_t n = read_file(path, buf, sizeof(buf));

	comm[0] = '\0';
	if (n < 0)
		return false;
	n = (ssize_t)strcspn(buf, "\n");
	if (n >= PROC_COMM_MAX)
		n = PROC_COMM_MAX - 1;
	memcpy(comm, buf, (size_t)n);
	comm[n] = '\0';
	return true;
}

/* The arguments joined by spaces; NULL for "" (kernel threads) and vanished processes. */
static char *read_cmdline(const char *base)
{
	char path[512], *buf;
	ssize_t n;
	char *out;

	buf = malloc(PROC_CMDLINE_MAX);
	if (!buf)
		return NULL;
	snprintf(path, sizeof(path), "%s/cmdline", base);
	n = read_file(path, buf, PROC_CMDLINE_MAX);
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	out = n > 0 ? strndup(buf, (size_t)n) : NULL;
	free(buf);
	return out;
}

/* The cgroup v2 path (the "0::/path" line) of a cgroup file's text; NULL when none. */
static char *v2_path_of(const char *buf)
{
	const char *line;

	for (line = buf; *line;) {
		const char *next = strchr(line, '\n');

		if (strncmp(line, "0::", 3) == 0)
			return strndup(line + 3, strcspn(line + 3, "\n"));
		if (!next)
			break;
		line = next + 1;
	}
	return NULL;
}

/* ---- the hash ------------------------------------------------------------------------- */

static struct proc_entry **lookup_slot(const struct proc_table *t, int32_t tgid)
{
	uint32_t i = slot_of(tgid, t->mask);

	while (t->slots[i] && t->slots[i]->tgid != tgid)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

static int grow(struct proc_table *t)
{
	uint32_t size = (t->mask + 1) * 2;
	struct proc_entry **old = t->slots;
	uint32_t old_size = t->mask + 1;

	t->slots = calloc(size, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->mask = size - 1;
	for (uint32_t i = 0; i < old_size; i++)
		if (old[i])
			*lookup_slot(t, old[i]->tgid) = old[i];
	free(old);
	return 0;
}

static void entry_free(struct proc_entry *e)
{
	free(e->cmdline);
	free(e->cgroup);
	free(e->pod);
	free(e->threads);
	free(e);
}

/* Linear probing: close the gap so later entries of the same run stay reachable. */
static void remove_slot(struct proc_table *t, struct proc_entry **slot)
{
	uint32_t i = (uint32_t)(slot - t->slots), j = i;

	t->threads -= (*slot)->nr_threads;
	t->count--;
	entry_free(*slot);
	t->slots[i] = NULL;
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (!t->slots[j])
			return;
		home = slot_of(t->slots[j]->tgid, t->mask);
		/* Move it back when its home is not in (i, j] (cyclically). */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
}

/* ---- the table ------------------------------------------------------------------------ */

struct proc_table *proc_table_new(const char *proc_root, size_t max_threads)
{
	struct proc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->root, sizeof(t->root), "%s", proc_root);
	t->max_threads = max_threads ? max_threads : PROC_TABLE_THREADS_MAX;
	t->mask = 1023;
	t->slots = calloc(t->mask + 1, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void proc_table_clear(struct proc_table *t)
{
	for (uint32_t i = 0; i <= t->mask; i++) {
		if (t->slots[i])
			entry_free(t->slots[i]);
		t->slots[i] = NULL;
	}
	t->count = 0;
	t->threads = 0;
}

void proc_table_free(struct proc_table *t)
{
	if (!t)
		return;
	proc_table_clear(t);
	free(t->slots);
	free(t->scratch);
	free(t);
}

const char *proc_table_root(const struct proc_table *t)
{
	return t->root;
}

void proc_table_set_wants(struct proc_table *t, unsigned int wants)
{
	t->wants = wants;
}

unsigned int proc_table_wants(const struct proc_table *t)
{
	return t->wants;
}

const struct proc_entry *proc_table_find(const struct proc_table *t, int32_t tgid)
{
	return tgid > 0 ? *lookup_slot(t, tgid) : NULL;
}

void proc_table_remove(struct proc_table *t, int32_t tgid)
{
	struct proc_entry **slot;

	if (tgid <= 0)
		return;
	slot = lookup_slot(t, tgid);
	if (*slot)
		remove_slot(t, slot);
}

static int thread_order(const void *a, const void *b)
{
	const struct proc_thread *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

static const struct proc_thread *find_thread(const struct proc_entry *e, int32_t tid)
{
	struct proc_thread key = {.tid = tid};

	if (!e || !e->nr_threads)
		return NULL;
	return bsearch(&key, e->threads, e->nr_threads, sizeof(key), thread_order);
}

const char *proc_entry_thread_comm(const struct proc_entry *e, int32_t tid)
{
	const struct proc_thread *th = find_thread(e, tid);

	return th ? th->comm : NULL;
}

static int scratch_reserve(struct proc_table *t, size_t n)
{
	struct proc_thread *p;
	size_t cap = t->scratch_cap ? t->scratch_cap : 64;

	if (n <= t->scratch_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	p = realloc(t->scratch, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->scratch = p;
	t->scratch_cap = cap;
	return 0;
}

/*
 * The threads of the process at @base into t->scratch, sorted. Comms come from @old
 * (the cached entry) unless @fresh; the leader's from @st when stat was read.
 * Returns how many, or -errno (-ENOENT: the process is gone).
 */
static ssize_t list_threads(struct proc_table *t, const char *base, int32_t tgid,
			    const struct stat_info *st, const struct proc_entry *old, bool fresh)
{
	char path[512];
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	/* One live thread and not a zombie leader: it is the leader, stat named it. */
	if (st->ok && st->nr_threads == 1 && st->state != 'Z') {
		if (scratch_reserve(t, 1))
			return -ENOMEM;
		t->scratch[0].tid = tgid;
		memcpy(t->scratch[0].comm, st->comm, PROC_COMM_MAX);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/task", base);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((de = readdir(dir))) {
		int32_t tid = parse_id(de->d_name);
		const struct proc_thread *known;
		struct proc_thread *th;

		if (!tid)
			continue;
		if (scratch_reserve(t, n + 1)) {
			closedir(dir);
			return -ENOMEM;
		}
		th = &t->scratch[n];
		th->tid = tid;
		known = fresh ? NULL : find_thread(old, tid);
		if (tid == tgid && st->ok) {
			memcpy(th->comm, st->comm, PROC_COMM_MAX);
		} else if (known) {
			memcpy(th->comm, known->comm, PROC_COMM_MAX);
		} else {
			snprintf(path, sizeof(path), "%s/task/%d/comm", base, tid);
			if (!read_comm(path, th->comm))
				continue; /* it exited while we looked */
		}
		n++;
	}
	closedir(dir);
	qsort(t->scratch, n, sizeof(*t->scratch), thread_order);
	return (ssize_t)n;
}

/* Replace @e's threads with the first @n of t->scratch. */
static int set_threads(struct proc_table *t, struct proc_entry *e, size_t n)
{
	if (n > e->cap_threads || (e->cap_threads > 16 && n < e->cap_threads / 4)) {
		struct proc_thread *p = realloc(e->threads, (n ? n : 1) * sizeof(*p));

		if (!p)
			return -ENOMEM;
		e->threads = p;
		e->cap_threads = (uint32_t)(n ? n : 1);
	}
	memcpy(e->threads, t->scratch, n * sizeof(*e->threads));
	t->threads = t->threads - e->nr_threads + n;
	e->nr_threads = (uint32_t)n;
	return 0;
}

/*
 * The cgroup v2 path and the pod, each only when wanted, from one read of the cgroup file
 * (NULL both when it is gone).
 */
static void read_cgroup(struct proc_table *t, struct proc_entry *e, const char *base)
{
	char path[512], buf[8192];
	struct cgroup_pod pod;
	ssize_t n = 0;

	free(e->cgroup);
	e->cgroup = NULL;
	if (t->wants & (PROC_WANT_CGROUP | PROC_WANT_POD)) {
		snprintf(path, sizeof(path), "%s/cgroup", base);
		n = read_file(path, buf, sizeof(buf));
	}
	if (n > 0 && (t->wants & PROC_WANT_CGROUP))
		e->cgroup = v2_path_of(buf);
	/* A full buffer may have cut the last line short: then it is not trusted. */
	if (n > 0 && (t->wants & PROC_WANT_POD) &&
	    cgroup_pod_from_file(buf, (size_t)n < sizeof(buf) - 1, &pod) == 1) {
		if (!e->pod)
			e->pod = malloc(sizeof(*e->pod));
		if (e->pod)
			*e->pod = pod;
	} else {
		free(e->pod);
		e->pod = NULL;
	}
}

static int refresh_one(struct proc_table *t, int32_t tgid, unsigned int what)
{
	struct proc_entry **slot = lookup_slot(t, tgid), *e = *slot;
	bool is_new = !e, all;
	char base[320], path[352], buf[1024];
	struct stat_info st;
	size_t room;
	ssize_t n;

	snprintf(base, sizeof(base), "%s/%d", t->root, tgid);
	snprintf(path, sizeof(path), "%s/stat", base);
	memset(&st, 0, sizeof(st));
	if (read_file(path, buf, sizeof(buf)) > 0)
		parse_stat(buf, &st);
	/*
	 * A zombie whose threads are all gone: the process has exited, only its parent has
	 * not waited for it yet. The same process still exiting, when its exit was seen.
	 */
	if (st.ok && st.state == 'Z' && st.nr_threads <= 1)
		goto gone;
	if ((what & PROC_REFRESH_EXITED) && e && st.ok && st.start_time == e->start_time)
		goto gone;
	/* Another process under a reused pid: nothing cached is its. */
	all = is_new || (what & PROC_REFRESH_ALL) || (st.ok && st.start_time != e->start_time);

	n = list_threads(t, base, tgid, &st, e, all || (what & PROC_REFRESH_COMMS));
	if (n == -ENOMEM)
		return -ENOMEM;
	if (n <= 0)
		goto gone;
	/* Bounded: what does not fit is counted, and a process with no room is left out. */
	room = t->max_threads - (t->threads - (e ? e->nr_threads : 0));
	if ((size_t)n > room) {
		t->skipped_threads += (size_t)n - room;
		n = (ssize_t)room;
		if (!n) {
			t->skipped_processes++;
			goto gone;
		}
	}
	if (is_new) {
		if ((t->count + 1) * 2 > t->mask + 1) {
			if (grow(t))
				return -ENOMEM;
			slot = lookup_slot(t, tgid);
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->tgid = tgid;
		*slot = e;
		t->count++;
	}
	if (set_threads(t, e, (size_t)n))
		return -ENOMEM;
	e->ppid = st.ppid;
	e->start_time = st.start_time;
	if (st.ok) {
		memcpy(e->comm, st.comm, PROC_COMM_MAX);
	} else {
		const char *c = proc_entry_thread_comm(e, tgid);

		snprintf(e->comm, sizeof(e->comm), "%s", c ? c : e->threads[0].comm);
	}
	/*
	 * setproctitle() rewrites the command line without an exec; a rename often goes
	 * with it, so that is when it is read again (and at every full scan). What is not
	 * wanted any more goes when the rest is read again.
	 */
	if (all || (what & PROC_REFRESH_COMMS)) {
		free(e->cmdline);
		e->cmdline = (t->wants & PROC_WANT_CMDLINE) ? read_cmdline(base) : NULL;
	}
	if (all || (what & PROC_REFRESH_CGROUP))
		read_cgroup(t, e, base);
	e->seen = t->scan;
	e->version = ++t->version;
	return 1;
gone:
	slot = lookup_slot(t, tgid);
	if (*slot)
		remove_slot(t, slot);
	return 0;
}

int proc_table_refresh(struct proc_table *t, int32_t tgid, unsigned int what)
{
	if (tgid <= 0)
		return 0;
	return refresh_one(t, tgid, what);
}

int proc_table_refresh_thread(struct proc_table *t, int32_t tgid, int32_t tid)
{
	struct proc_entry *e;
	struct proc_thread *th;
	char path[352], comm[PROC_COMM_MAX];

	if (tgid <= 0 || tid <= 0)
		return 0;
	e = *lookup_slot(t, tgid);
	th = e ? (struct proc_thread *)find_thread(e, tid) : NULL;
	/* Unknown process or thread, or the leader (its comm is the process's): re-read. */
	if (!th || tid == tgid)
		return refresh_one(t, tgid,
				   tid == tgid ? PROC_REFRESH_COMMS : PROC_REFRESH_THREADS);
	snprintf(path, sizeof(path), "%s/%d/task/%d/comm", t->root, tgid, tid);
	if (!read_comm(path, comm))
		return refresh_one(t, tgid, PROC_REFRESH_THREADS); /* the thread is gone */
	memcpy(th->comm, comm, PROC_COMM_MAX);
	e->version = ++t->version;
	/* A renamed thread often comes with a rewritten command line (setproctitle). */
	if (t->wants & PROC_WANT_CMDLINE) {
		snprintf(path, sizeof(path), "%s/%d", t->root, tgid);
		free(e->cmdline);
		e->cmdline = read_cmdline(path);
	}
	return 1;
}

int proc_table_scan(struct proc_table *t)
{
	struct dirent *de;
	int32_t *stale = NULL;
	size_t nstale = 0;
	int err = 0;
	DIR *dir;

	t->scan++;
	dir = opendir(t->root);
	if (!dir) {
		err = -errno;
		proc_table_clear(t);
		return err;
	}
	while ((de = readdir(dir))) {
		int32_t tgid = parse_id(de->d_name);

		if (tgid && refresh_one(t, tgid, PROC_REFRESH_ALL) == -ENOMEM) {
			err = -ENOMEM;
			break;
		}
	}
	closedir(dir);
	if (err)
		return err;
	/* Sweep what this scan did not find (removing while walking would move entries). */
	if (t->count) {
		stale = malloc(t->count * sizeof(*stale));
		if (!stale)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->slots[i] && t->slots[i]->seen != t->scan)
			stale[nstale++] = t->slots[i]->tgid;
	for (size_t i = 0; i < nstale; i++)
		proc_table_remove(t, stale[i]);
	free(stale);
	return 0;
}

const struct proc_entry *proc_table_next(const struct proc_table *t, size_t *cursor)
{
	while (*cursor <= t->mask) {
		const struct proc_entry *e = t->slots[(*cursor)++];

		if (e)
			return e;
	}
	return NULL;
}

size_t proc_table_count(const struct proc_table *t)
{
	return t->count;
}

size_t proc_table_threads(const struct proc_table *t)
{
	return t->threads;
}

void proc_table_stats(const struct proc_table *t, struct proc_table_stats *out)
{
	size_t bytes =
	    sizeof(*t) + (t->mask + 1) * sizeof(*t->slots) + t->scratch_cap * sizeof(*t->scratch);

	for (uint32_t i = 0; i <= t->mask; i++) {
		const struct proc_entry *e = t->slots[i];

		if (!e)
			continue;
		bytes += sizeof(*e) + e->cap_threads * sizeof(*e->threads);
		bytes += e->cmdline ? strlen(e->cmdline) + 1 : 0;
		bytes += e->cgroup ? strlen(e->cgroup) + 1 : 0;
		bytes += e->pod ? sizeof(*e->pod) : 0;
	}
	*out = (struct proc_table_stats){
	    .processes = t->count,
	    .threads = t->threads,
	    .skipped_threads = t->skipped_threads,
	    .skipped_processes = t->skipped_processes,
	    .bytes = bytes,
	};
}
