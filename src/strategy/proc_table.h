/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The strategy resolver's process table: what it knows about every process under a proc
 * root ("/proc", or a fixture tree in tests), so rules can be matched in memory instead
 * of by walking /proc each time.
 *
 * Per process: tgid, parent, start time (to tell a reused pid from the process that had
 * it), comm, and what some rule needs: the command line, the cgroup v2 path, the
 * Kubernetes pod (k8s/cgroup_pod.h); and its threads with their own comm. A full scan
 * builds it; the resolver then keeps it current from process events, refreshing only the
 * processes that changed, with a periodic full scan as the safety net.
 *
 * Pure C over files, no locking: one owner (the resolver, under its lock) at a time.
 * Bounded: at most max_threads threads (and so processes) are kept; what did not fit is
 * counted, never silently lost.
 */
#ifndef GTHULHU_PROC_TABLE_H
#define GTHULHU_PROC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/cgroup_pod.h"

#define PROC_COMM_MAX	       16 /* TASK_COMM_LEN: 15 bytes + NUL */
#define PROC_CMDLINE_MAX       4096
#define PROC_TABLE_THREADS_MAX (1u << 20) /* the default cap on threads kept */

/* What to read beyond stat and the threads: only what some rule or consumer needs. */
enum proc_want {
	PROC_WANT_CMDLINE = 1 << 0,
	PROC_WANT_CGROUP = 1 << 1, /* the cgroup v2 path */
	PROC_WANT_POD = 1 << 2,	   /* the pod and container (cgroup_pod_from_file) */
};

/* What changed in one process, so a refresh re-reads no more than that. */
enum proc_refresh {
	PROC_REFRESH_ALL = 1 << 0,     /* new, exec'ed or unknown: read everything */
	PROC_REFRESH_THREADS = 1 << 1, /* threads came or went: list them, read new ones */
	PROC_REFRESH_COMMS = 1 << 2,   /* some thread renamed itself: read every comm */
	PROC_REFRESH_CGROUP = 1 << 3,  /* moved to another cgroup */
	PROC_REFRESH_EXITED = 1 << 4,  /* the whole process exited: drop it if still there */
};

struct proc_thread {
	int32_t tid;
	char comm[PROC_COMM_MAX];
};

struct proc_entry {
	int32_t tgid;
	int32_t ppid;	     /* 0 when stat is missing (fixtures) */
	uint64_t start_time; /* stat field 22, clock ticks after boot; 0 when unknown */
	char comm[PROC_COMM_MAX];
	char *cmdline;		/* arguments joined by spaces; NULL = "" or not wanted */
	char *cgroup;		/* cgroup v2 path; NULL = none or not wanted */
	struct cgroup_pod *pod; /* NULL = not in a pod, or not wanted */
	uint32_t nr_threads, cap_threads;
	struct proc_thread *threads; /* sorted by tid */
	uint64_t seen;		     /* the scan that last found it */
	/*
	 * Changes whenever the entry is (re)read, and is never reused within a table: what
	 * was derived from an entry stays valid while its version does (the strategy
	 * matcher caches per-process rule matches on it).
	 */
	uint64_t version;
};

struct proc_table_stats {
	size_t processes, threads;
	/* Left out for want of room (max_threads): each scan or refresh counts them anew. */
	uint64_t skipped_threads;
	uint64_t skipped_processes;
	size_t bytes; /* memory held by the table */
};

struct proc_table;

/* An empty table over @proc_root; @max_threads 0 = PROC_TABLE_THREADS_MAX. NULL: memory. */
struct proc_table *proc_table_new(const char *proc_root, size_t max_threads);
void proc_table_free(struct proc_table *t);
const char *proc_table_root(const struct proc_table *t);

/*
 * What entries carry (enum proc_want). Entries read before a change keep what they had:
 * the caller rescans when it starts wanting more.
 */
void proc_table_set_wants(struct proc_table *t, unsigned int wants);
unsigned int proc_table_wants(const struct proc_table *t);

/* Read every process under the root again; processes gone are dropped. 0 or -errno. */
int proc_table_scan(struct proc_table *t);
/*
 * Re-read process @tgid for @what (enum proc_refresh); a process that is gone, or whose
 * start time changed (pid reuse: then everything is read), is handled as such. 1 when
 * the process is in the table afterwards, 0 when not, -ENOMEM.
 */
int proc_table_refresh(struct proc_table *t, int32_t tgid, unsigned int what);
/* Re-read the comm of thread @tid of @tgid (a rename); adds the thread when new. */
int proc_table_refresh_thread(struct proc_table *t, int32_t tgid, int32_t tid);
void proc_table_remove(struct proc_table *t, int32_t tgid);
void proc_table_clear(struct proc_table *t);

const struct proc_entry *proc_table_find(const struct proc_table *t, int32_t tgid);
/* Iterate: *cursor starts at 0; NULL at the end. The table must not change meanwhile. */
const struct proc_entry *proc_table_next(const struct proc_table *t, size_t *cursor);
size_t proc_table_count(const struct proc_table *t);
size_t proc_table_threads(const struct proc_table *t);
void proc_table_stats(const struct proc_table *t, struct proc_table_stats *out);

/* The comm of thread @tid of @e; NULL when the process has no such thread. */
const char *proc_entry_thread_comm(const struct proc_entry *e, int32_t tid);

#endif /* GTHULHU_PROC_TABLE_H */
