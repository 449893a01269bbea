/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategies: which tasks an operator singles out, and what they get.
 *
 * A rule matches tasks (by process, thread, command regex, cgroup, or Kubernetes pod
 * labels and namespaces) and gives them an effect (a priority level and/or their own
 * time slice). Rules come from the config file, the REST API (kept by the strategy
 * store, store.h) and Kubernetes; all produce the same struct and pass the same checks.
 *
 * The scheduling loop never evaluates rules itself (regex matching allocates and is slow).
 * A resolver thread keeps a table of the processes (proc_table.h), current through
 * process events (proc_events.h) with a periodic full rescan of /proc as a safety net,
 * matches rules against it in memory and publishes an immutable snapshot, a hash from
 * thread id to effect, swapped in atomically (liburcu QSBR). The loop asks
 * strategy_lookup() once per task: O(1), no locks, no allocation.
 */
#ifndef GTHULHU_STRATEGY_H
#define GTHULHU_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/cgroup_pod.h"

struct proc_table;
struct pod_set;
struct pod_table;

/*
 * Priority levels. One meaning everywhere (config, API, BPF):
 *   0            a normal task, ordered by weighted virtual runtime (deadline);
 *   1 .. 20      a priority task: runs before every normal task, and before every
 *                task of a lower level; may preempt a normal task when no CPU is idle.
 * The original's boolean maps onto this scale: false = 0, true = 20 (the highest).
 */
#define STRATEGY_PRIO_NONE 0
#define STRATEGY_PRIO_MAX  20

/*
 * Time slices anywhere (scheduler.slice_ns_*, a strategy's execution_time): below the
 * minimum, dispatch overhead dominates; above the maximum, a task could hog a CPU.
 */
#define SLICE_NS_LOW  10000ULL
#define SLICE_NS_HIGH 1000000000ULL /* 1 s */

/* Largest pid or tid (the kernel's PID_MAX_LIMIT on 64-bit). */
#define STRATEGY_PID_MAX 4194304

/* Bounds on one strategy: every source (config file, API, Kubernetes) obeys the same. */
#define STRATEGY_MAX_RULES	 256 /* all sources together */
#define STRATEGY_ID_MAX		 64  /* bytes incl. NUL: [A-Za-z0-9._-], 1..63 */
#define STRATEGY_REGEX_MAX	 256 /* bytes incl. NUL */
#define STRATEGY_CGROUP_MAX	 512 /* bytes incl. NUL: an absolute cgroup v2 path prefix */
#define STRATEGY_SELECTORS_MAX	 8
#define STRATEGY_LABEL_KEY_MAX	 320 /* Kubernetes: 253 prefix + '/' + 63 name, + NUL */
#define STRATEGY_LABEL_VALUE_MAX 64  /* Kubernetes: 63 + NUL */
#define STRATEGY_NAMESPACES_MAX	 8
#define STRATEGY_NAMESPACE_MAX	 64 /* Kubernetes: 63 + NUL */

/* Ids of cluster strategies: the prefix, then the SchedulingStrategy object's name. */
#define STRATEGY_CLUSTER_ID_PREFIX "k8s-"

/* Where a strategy came from: config-file ones are replaced on reload, API ones persist. */
enum strategy_source {
	STRATEGY_SRC_CONFIG = 0,
	STRATEGY_SRC_API = 1,
	STRATEGY_SRC_CLUSTER = 2, /* a Kubernetes SchedulingStrategy object */
};

struct strategy_effect {
	uint32_t priority;	    /* 0 .. STRATEGY_PRIO_MAX */
	uint32_t rule;		    /* index of the winning rule in its snapshot, for counters */
	uint64_t execution_time_ns; /* the task's own time slice; 0 = the default */
};

struct strategy_selector {
	char key[STRATEGY_LABEL_KEY_MAX];
	char value[STRATEGY_LABEL_VALUE_MAX];
};

/*
 * A rule matches a thread when every matcher it sets matches (unset matchers match
 * anything); at least one matcher must be set.
 */
struct strategy_rule {
	char id[STRATEGY_ID_MAX]; /* unique across sources; config rules get "config-N" */
	enum strategy_source source;
	int32_t pid;				/* a whole process (all threads); 0 = any */
	int32_t tid;				/* one thread; 0 = any */
	char command_regex[STRATEGY_REGEX_MAX]; /* POSIX ERE; "" = any */
	bool match_cmdline;			/* the regex sees the full command line, not comm */
	char
	    cgroup[STRATEGY_CGROUP_MAX]; /* cgroup v2 path prefix, e.g. "/system.slice"; "" = any */
	/* Kubernetes pod labels (all must match) and namespaces (any may match). */
	struct strategy_selector selectors[STRATEGY_SELECTORS_MAX];
	uint32_t nr_selectors;
	char namespaces[STRATEGY_NAMESPACES_MAX][STRATEGY_NAMESPACE_MAX];
	uint32_t nr_namespaces;
	struct strategy_effect effect;
	int line; /* config file line it was defined on, 0 for other sources */
};

/* True when the rule needs the process table (regex, cgroup or pod matchers). */
bool strategy_rule_needs_scan(const struct strategy_rule *rule);
/* True when the rule names Kubernetes pods (selectors or namespaces). */
bool strategy_rule_needs_pods(const struct strategy_rule *rule);
/* What the process table must carry for @rules: enum proc_want bits (proc_table.h). */
unsigned int strategy_rules_wants(const struct strategy_rule *rules, size_t n);

/*
 * Check one rule against the bounds above: id charset, at least one matcher and one
 * effect, ranges, string lengths, and the regex: it must compile (REG_EXTENDED) and stay
 * simple enough to match in bounded time (no back-references, bounded repetition
 * counts, limited nesting). Every source calls this, so a rule means the same wherever
 * it was written. 0, or -1 with "<field>: <what is wrong>" in @err.
 */
int strategy_rule_validate(const struct strategy_rule *rule, char *err, size_t errlen);
/* The regex part of the above, for parsers that check fields one by one. */
int strategy_regex_check(const char *regex, char *err, size_t errlen);
/* The id part: 1..63 bytes of [A-Za-z0-9._-]. */
bool strategy_id_valid(const char *id);

struct strategy_snapshot;

/*
 * Several rules may match one thread; the most specific wins: a rule naming the thread
 * (tid) beats one naming its process (pid), which beats the rest (regex, cgroup, pod);
 * then a rule with more matchers beats one with fewer; among equals, the earlier rule
 * (in the store's order: config file, then API, then cluster) wins. The score is
 * tid 8 + pid 4 + 1 each for regex, cgroup and pod matchers.
 */
int strategy_rule_specificity(const struct strategy_rule *rule);

/*
 * Build a snapshot for @rules: tid and pid rules apply directly (so a new thread of a
 * chosen process is covered at once); the others are matched in memory against every
 * thread of @procs, which must carry what they need (strategy_rules_wants()). A rule with
 * selectors or namespaces matches the threads of processes in a pod (cgroup_pod) that
 * @pods knows and pod_matches_rule() accepts; with @pods NULL such rules match nothing.
 * Returns NULL on allocation failure.
 */
struct strategy_snapshot *strategy_snapshot_build_from(const struct strategy_rule *rules, size_t n,
						       const struct proc_table *procs,
						       const struct pod_set *pods);
/* The same over a one-off scan of @proc_root ("/proc"), without pod metadata. */
struct strategy_snapshot *strategy_snapshot_build(const struct strategy_rule *rules, size_t n,
						  const char *proc_root);

/*
 * The same, step by step, for a caller that rebuilds often from one table (the resolver):
 * a matcher compiles @rules once (which must stay unchanged while it lives) and remembers,
 * per process, what the process-wide matchers (pid, cgroup, pod, command line) gave, for
 * as long as the process's table entry keeps its version (proc_table.h). A rebuild after
 * a few events thus re-evaluates only the processes that changed. Its pod sets must all
 * come from one pod table (a new table: a new matcher). NULL on allocation failure.
 */
struct strategy_matcher;
struct strategy_matcher *strategy_matcher_new(const struct strategy_rule *rules, size_t n);
struct strategy_snapshot *strategy_matcher_build(struct strategy_matcher *m,
						 const struct proc_table *procs,
						 const struct pod_set *pods);
void strategy_matcher_free(struct strategy_matcher *m);
struct strategy_matcher_stats {
	uint64_t evaluated; /* processes matched against the rules */
	uint64_t reused;    /* processes whose earlier result still held */
};
void strategy_matcher_stats(const struct strategy_matcher *m, struct strategy_matcher_stats *out);
void strategy_snapshot_free(struct strategy_snapshot *snap);
/* Threads and processes the snapshot names. */
size_t strategy_snapshot_entries(const struct strategy_snapshot *snap);

/* Effect for a task, from @snap (may be NULL); false when no rule covers it. O(1). */
bool strategy_lookup(const struct strategy_snapshot *snap, int32_t tid, int32_t tgid,
		     struct strategy_effect *out);

/*
 * A snapshot's generation: 0 until the resolver publishes it, then one more than the
 * snapshot before. Decisions carry it down to BPF, which reuses a task's last priority
 * decision for its wake-ups only while that generation is the published one (see
 * strategy_resolver_mirror_generation()).
 */
void strategy_snapshot_set_generation(struct strategy_snapshot *snap, uint64_t generation);
uint64_t strategy_snapshot_generation(const struct strategy_snapshot *snap);

/* Count one decision made under @effect (the scheduling loop calls it; lock-free). */
void strategy_snapshot_count(const struct strategy_snapshot *snap,
			     const struct strategy_effect *effect);

/* Carry decision counts over from @old for rules with the same id (resolver use). */
void strategy_snapshot_inherit_counts(struct strategy_snapshot *snap,
				      const struct strategy_snapshot *old);
/* Per-rule figures of @snap, in rule order (at most @max); returns how many. */
struct strategy_rule_stats;
size_t strategy_snapshot_rule_stats(const struct strategy_snapshot *snap,
				    struct strategy_rule_stats *out, size_t max);

/*
 * The resolver: a thread that owns the published snapshot and the process table. It
 * rebuilds the snapshot at once when the rules change (strategy_resolver_set_rules) and,
 * while some rule needs the process table (or pods are tracked), whenever processes
 * change: from events (strategy_resolver_note) when an event source runs, coalesced over
 * STRATEGY_COALESCE_MS, with a full rescan every STRATEGY_RESYNC_MS and after any lost
 * event; without events, by a full rescan every @interval_ms. It publishes with RCU: the
 * scheduling loop registers as a QSBR reader (liburcu) and reads strategy_current()
 * without locks. The other functions may block briefly (a mutex, a grace period) and are
 * for every thread but the loop's.
 */
#define STRATEGY_COALESCE_MS 15	   /* a fork storm costs one rebuild, not one per fork */
#define STRATEGY_RESYNC_MS   30000 /* full rescans while events flow: the safety net */
int strategy_resolver_start(const struct strategy_rule *rules, size_t n, const char *proc_root,
			    unsigned int interval_ms);
/* Replace the rules; the new snapshot is published before this returns. 0 or -errno. */
int strategy_resolver_set_rules(const struct strategy_rule *rules, size_t n);
void strategy_resolver_stop(void);
const struct strategy_snapshot *strategy_current(void);
/*
 * Keep *@where equal to the published snapshot's generation (0: none): written now and
 * at every publish, before the publish returns. The BPF half's copy, so that a rule change
 * also ends the priority wake-ups BPF places on its own. NULL stops the mirroring.
 */
void strategy_resolver_mirror_generation(uint64_t *where);

/* What one rule does now, for the API: threads it covers and decisions made under it. */
struct strategy_rule_stats {
	char id[STRATEGY_ID_MAX];
	uint64_t threads;   /* threads this rule covers (a pid rule: its process's threads) */
	uint64_t decisions; /* decisions made under it since the rule was set */
};
/* Fill @out for the current rules (at most @max); returns how many were written. */
size_t strategy_resolver_stats(struct strategy_rule_stats *out, size_t max);

/* One process a rule covers now (the original's GET /api/v1/scheduling/strategies). */
struct strategy_pid {
	uint32_t rule; /* index in the rules the snapshot was built from */
	int32_t pid;   /* the process (tgid); a tid rule gives its thread id */
	struct strategy_effect effect;
};
/* Every (rule, process) pair of @snap, sorted by rule then pid, at most @max. */
size_t strategy_snapshot_pids(const struct strategy_snapshot *snap, struct strategy_pid *out,
			      size_t max);
/* The same for the published snapshot. */
size_t strategy_resolver_pids(struct strategy_pid *out, size_t max);

/*
 * Process events, from an event source (proc_events.c) to the resolver. The values are
 * also the kinds of the BPF records (src/bpf/proc_events.bpf.c): keep them in step.
 */
enum strategy_proc_event {
	STRATEGY_EV_FORK = 1,	     /* a new process: @pid = @tgid = the child */
	STRATEGY_EV_THREAD = 2,	     /* a new thread @pid in process @tgid */
	STRATEGY_EV_EXEC = 3,	     /* process @tgid exec'ed: new comm, command line */
	STRATEGY_EV_EXIT = 4,	     /* process @tgid exited: its last thread is gone */
	STRATEGY_EV_THREAD_EXIT = 5, /* thread @pid exited, its process lives on */
	STRATEGY_EV_RENAME = 6,	     /* thread @pid changed its comm */
	STRATEGY_EV_CGROUP = 7,	     /* process @tgid moved to another cgroup */
	STRATEGY_EV_MAX = STRATEGY_EV_CGROUP,
};
/*
 * Mark a process changed and wake the resolver. Cheap, never blocks for long (a small
 * lock, no I/O): the event source's thread calls it per event. Ignored while nothing
 * needs the process table.
 */
void strategy_resolver_note(enum strategy_proc_event kind, int32_t pid, int32_t tgid);
/*
 * An event source starts (true: periodic rescans give way to events, after one full
 * rescan that covers what happened before the source started) or stops (false: back to
 * rescans every interval). Safe to call whether the resolver runs or not.
 */
void strategy_resolver_events(bool active);
/* Events were lost: rescan everything soon. */
void strategy_resolver_resync(void);
/*
 * Keep *@where true exactly while notes are wanted (some rule or the pod tracking needs
 * the process table), so the event source can stop producing events nobody reads: an
 * idle daemon without strategies then wakes for none. Turned on before the rescan that
 * starts the tracking, so no event is missed. NULL stops the mirroring.
 */
void strategy_resolver_mirror_tracking(bool *where);

/*
 * Track Kubernetes pods with @pods (NULL: stop). While set, the resolver keeps the process
 * table current even without pod rules (for strategy_resolver_pod_processes), matches
 * label and namespace rules against the table's pods, and rebuilds on its own thread when
 * the table changes (pod_table_on_change: the resolver takes the table's only callback).
 * Set it back to NULL before freeing @pods. 0 or -ESRCH (the resolver is not running).
 */
int strategy_resolver_set_pods(struct pod_table *pods);

/* A process in a pod, for GET /api/v1/pods/pids (the caller joins names from the pods). */
struct pod_process {
	char pod_uid[POD_UID_MAX];
	char container_id[CONTAINER_ID_MAX]; /* "" for the pod's own cgroup */
	int32_t pid;			     /* the process (tgid) */
	int32_t ppid;
	char comm[16]; /* TASK_COMM_LEN */
};
/*
 * Every process the table places in a pod, sorted by pod uid then pid, at most @max;
 * returns how many were written. Empty unless pods are tracked (set_pods) or a pod rule
 * exists. From the resolver's last pass; never waits for a scan.
 */
size_t strategy_resolver_pod_processes(struct pod_process *out, size_t max);

/* How the resolver keeps up, for stats, benches and tests. */
struct strategy_resolver_info {
	bool tracking;	    /* the process table is kept (some rule or the pods need it) */
	bool events_active; /* an event source feeds it; else periodic rescans */
	size_t processes, threads;
	uint64_t skipped_threads; /* threads the table had no room for (each scan counts) */
	size_t table_bytes;
	uint64_t full_scans;	/* full /proc scans, including those of set_rules */
	uint64_t refreshes;	/* single-process refreshes from events */
	uint64_t events;	/* events noted */
	uint64_t resyncs;	/* forced rescans: lost events, too many at once */
	uint64_t rebuilds;	/* snapshots published */
	uint64_t last_scan_us;	/* the last full scan */
	uint64_t last_event_us; /* the last event-driven pass: first event to published */
};
void strategy_resolver_info(struct strategy_resolver_info *out);
/*
 * Wait until the resolver has nothing pending (events, pod changes, forced rescans) and
 * is not working: for tests, which must not guess with sleeps. false after @timeout_ms.
 */
bool strategy_resolver_idle_wait(unsigned int timeout_ms);

#endif /* GTHULHU_STRATEGY_H */
