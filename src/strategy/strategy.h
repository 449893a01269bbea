/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategies: which tasks an operator singles out, and what they get.
 *
 * A rule matches tasks (by process, thread or command regex) and gives them an effect
 * (a priority level and/or their own time slice). Rules come from the config file today;
 * the REST API and Kubernetes add more sources later, all producing the same rules.
 *
 * The scheduling loop never evaluates rules itself (regex matching allocates and is slow).
 * A resolver thread matches rules against /proc and publishes an immutable snapshot, a
 * hash from thread id to effect, swapped in atomically (liburcu QSBR). The loop asks
 * strategy_lookup() once per task: O(1), no locks, no allocation.
 */
#ifndef GTHULHU_STRATEGY_H
#define GTHULHU_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Priority levels. One meaning everywhere (config, API, BPF):
 *   0            a normal task, ordered by weighted virtual runtime (deadline);
 *   1 .. 20      a priority task: runs before every normal task, and before every
 *                task of a lower level; may preempt a normal task when no CPU is idle.
 * The original's boolean maps onto this scale: false = 0, true = 20 (the highest).
 */
#define STRATEGY_PRIO_NONE 0
#define STRATEGY_PRIO_MAX  20

#define STRATEGY_REGEX_MAX 256
#define STRATEGY_MAX_RULES 256

struct strategy_effect {
	uint32_t priority;	    /* 0 .. STRATEGY_PRIO_MAX */
	uint64_t execution_time_ns; /* the task's own time slice; 0 = the default */
};

struct strategy_rule {
	int32_t pid;				/* a whole process (all threads); 0 = any */
	int32_t tid;				/* one thread; 0 = any */
	char command_regex[STRATEGY_REGEX_MAX]; /* POSIX ERE on comm; "" = any */
	struct strategy_effect effect;
	int line; /* where it was defined, for messages */
};

struct strategy_snapshot;

/*
 * Several rules may match one thread; the most specific wins: a rule naming the thread
 * (tid) beats one naming its process (pid), which beats a command regex alone; a rule
 * with more matchers beats one with fewer; among equals, the earlier rule wins.
 */
int strategy_rule_specificity(const struct strategy_rule *rule);

/*
 * Build a snapshot for @rules: tid and pid rules apply directly (so a new thread of a
 * chosen process is covered at once); rules with a regex are matched against every
 * thread under @proc_root ("/proc" in production). Returns NULL on allocation failure.
 */
struct strategy_snapshot *strategy_snapshot_build(const struct strategy_rule *rules, size_t n,
						  const char *proc_root);
void strategy_snapshot_free(struct strategy_snapshot *snap);
/* Threads and processes the snapshot names. */
size_t strategy_snapshot_entries(const struct strategy_snapshot *snap);

/* Effect for a task, from @snap (may be NULL); false when no rule covers it. O(1). */
bool strategy_lookup(const struct strategy_snapshot *snap, int32_t tid, int32_t tgid,
		     struct strategy_effect *out);

/*
 * The resolver: a thread that rebuilds the snapshot every @interval_ms (only while some
 * rule needs /proc) and publishes it with RCU. The scheduling loop registers as a QSBR
 * reader (liburcu) and reads strategy_current() without locks.
 */
int strategy_resolver_start(const struct strategy_rule *rules, size_t n, const char *proc_root,
			    unsigned int interval_ms);
void strategy_resolver_stop(void);
const struct strategy_snapshot *strategy_current(void);

#endif /* GTHULHU_STRATEGY_H */
