/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The strategy resolver: owns the published snapshot and the process table it is built
 * from (proc_table.h).
 *
 * While some rule needs the table (regex, cgroup, pod) or pods are tracked, the table is
 * kept current one of two ways. With an event source (proc_events.c feeding
 * strategy_resolver_note()), each event marks its process dirty; the resolver waits
 * STRATEGY_COALESCE_MS after the first one (a fork storm is one pass), re-reads only the
 * dirty processes, rebuilds the snapshot in memory and publishes it; a full rescan runs
 * every STRATEGY_RESYNC_MS, and at once after lost events. Without one, it rescans
 * everything every interval, as before events existed. Rule changes are applied on the
 * caller's thread (the API's or the reload's: "published before the call returns"), in
 * memory when the table already carries what the new rules need. Pod table changes only
 * wake the resolver: their rebuild runs on its thread.
 *
 * Locks, in the order they nest:
 *   lock       the rules, the table, the pod set; held while scanning and building, by
 *              the resolver thread and by set_rules (never by the loop);
 *   ev.lock    what is pending (dirty processes, flags) and the wake-up; held for a few
 *              instructions, so the event source never waits behind a scan;
 *   view.lock  what readers copy (the snapshot's figures, the pod process list).
 * Publishing uses liburcu's QSBR flavour: readers pay nothing; the scheduling loop reports
 * quiescent states once per batch and goes offline while it sleeps. The old snapshot is
 * freed only after synchronize_rcu(), when the loop can no longer hold it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu-qsbr.h>

#include "k8s/pods.h"
#include "log/log.h"
#include "strategy/proc_table.h"
#include "strategy/strategy.h"
#include "thread.h"

/* Distinct dirty processes held between two passes; more at once: a full rescan. */
#define DIRTY_MAX   8192
#define DIRTY_SLOTS (2 * DIRTY_MAX)

struct dirty {
	int32_t tgid;  /* 0 = free slot */
	uint32_t what; /* enum proc_refresh */
	int32_t tid;   /* one renamed thread (0: none); two or more set PROC_REFRESH_COMMS */
};

struct dirty_set {
	struct dirty *slots; /* DIRTY_SLOTS */
	size_t n;
};

static struct strategy_snapshot *current_snapshot;

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	bool running;
	struct strategy_rule *rules; /* STRATEGY_MAX_RULES slots */
	size_t n;
	unsigned int interval_ms;
	struct proc_table *procs;
	bool table_live; /* holds every process, with what the rules and pods want */
	struct pod_table *pod_table;
	const struct pod_set *pod_set; /* acquired from pod_table; NULL without */
	/* Compiled rules and what they gave per process: NULL after a rule or table change. */
	struct strategy_matcher *matcher;
	struct dirty_set spare; /* the set being worked on: under lock */
} resolver = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the resolver: something to do */
	pthread_cond_t idle; /* idle_wait(): a pass ended */
	bool stop;
	bool tracking;	    /* notes are wanted */
	bool *tracking_to;  /* where to mirror it (the event source's gate) */
	bool events_active; /* an event source runs */
	bool force_scan;
	bool pods_changed;
	bool busy;
	struct dirty_set set; /* what note() fills */
	bool overflow;
	struct timespec pending_since; /* the first of what is pending */
	struct timespec last_scan;
	struct strategy_resolver_info info;
} ev = {.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER};

/* With ev.lock held. Opened before the scan that follows, so no event falls between. */
static void set_tracking(bool on)
{
	ev.tracking = on;
	if (ev.tracking_to)
		__atomic_store_n(ev.tracking_to, on, __ATOMIC_RELEASE);
}

void strategy_resolver_mirror_tracking(bool *where)
{
	pthread_mutex_lock(&ev.lock);
	ev.tracking_to = where;
	if (where)
		__atomic_store_n(where, ev.tracking, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ev.lock);
}

static struct {
	pthread_mutex_t lock;
	struct pod_process *pod_procs;
	size_t nr_pod_procs;
	uint64_t generation;	 /* of the published snapshot */
	uint64_t *generation_to; /* where to mirror it (the BPF half's copy) */
} view = {.lock = PTHREAD_MUTEX_INITIALIZER};

const struct strategy_snapshot *strategy_current(void)
{
	return rcu_dereference(current_snapshot);
}

static uint64_t ts_us(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000u + (uint64_t)ts->tv_nsec / 1000u;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_us(&ts);
}

static struct timespec ts_after(const struct timespec *from, unsigned int ms)
{
	struct timespec ts = *from;

	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- publishing ----------------------------------------------------------------------- */

/* With resolver.lock held. */
static void publish(struct strategy_snapshot *snap)
{
	struct strategy_snapshot *old;

	pthread_mutex_lock(&view.lock);
	old = rcu_dereference(current_snapshot);
	/* Counts made under the old snapshot until the swap may be lost: figures only. */
	strategy_snapshot_inherit_counts(snap, old);
	strategy_snapshot_set_generation(snap, snap ? ++view.generation : 0);
	old = rcu_xchg_pointer(&current_snapshot, snap);
	if (view.generation_to)
		__atomic_store_n(view.generation_to, strategy_snapshot_generation(snap),
				 __ATOMIC_RELEASE);
	if (old) {
		synchronize_rcu();
		strategy_snapshot_free(old);
	}
	pthread_mutex_unlock(&view.lock);
}

void strategy_resolver_mirror_generation(uint64_t *where)
{
	pthread_mutex_lock(&view.lock);
	view.generation_to = where;
	if (where)
		__atomic_store_n(where, strategy_snapshot_generation(strategy_current()),
				 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&view.lock);
}

static int pod_process_order(const void *a, const void *b)
{
	const struct pod_process *x = a, *y = b;
	int c = strcmp(x->pod_uid, y->pod_uid);

	return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

/* The pod process list, from the table. With resolver.lock held. */
static void publish_pod_processes(void)
{
	const struct proc_entry *e;
	struct pod_process *list = NULL, *old;
	size_t n = 0, cursor = 0;

	if (resolver.table_live && (proc_table_wants(resolver.procs) & PROC_WANT_POD)) {
		while ((e = proc_table_next(resolver.procs, &cursor)))
			n += e->pod != NULL;
		list = calloc(n ? n : 1, sizeof(*list));
		if (!list) {
			log_msg(LOG_WARN, "strategy resolver: out of memory listing pod processes");
			return;
		}
		n = 0;
		cursor = 0;
		while ((e = proc_table_next(resolver.procs, &cursor))) {
			if (!e->pod)
				continue;
			memcpy(list[n].pod_uid, e->pod->pod_uid, sizeof(list[n].pod_uid));
			memcpy(list[n].container_id, e->pod->container_id,
			       sizeof(list[n].container_id));
			list[n].pid = e->tgid;
			list[n].ppid = e->ppid;
			memcpy(list[n].comm, e->comm, sizeof(list[n].comm));
			n++;
		}
		qsort(list, n, sizeof(*list), pod_process_order);
	}
	pthread_mutex_lock(&view.lock);
	old = view.pod_procs;
	view.pod_procs = list;
	view.nr_pod_procs = n;
	pthread_mutex_unlock(&view.lock);
	free(old);
}

/* With resolver.lock held. */
static int rebuild(void)
{
	struct strategy_snapshot *snap;

	if (!resolver.matcher)
		resolver.matcher = strategy_matcher_new(resolver.rules, resolver.n);
	if (!resolver.matcher)
		return -ENOMEM;
	snap = strategy_matcher_build(resolver.matcher, resolver.procs, resolver.pod_set);
	if (!snap)
		return -ENOMEM;
	publish(snap);
	pthread_mutex_lock(&ev.lock);
	ev.info.rebuilds++;
	pthread_mutex_unlock(&ev.lock);
	return 0;
}

/* ---- what the table must hold --------------------------------------------------------- */

/* With resolver.lock held. Does the snapshot depend on the table beyond pid rules' thread counts?
 */
static bool rules_scan(void)
{
	for (size_t i = 0; i < resolver.n; i++)
		if (strategy_rule_needs_scan(&resolver.rules[i]))
			return true;
	return false;
}

/* With resolver.lock held. */
static bool needs_table(void)
{
	return resolver.pod_table || rules_scan();
}

static unsigned int wanted(void)
{
	return strategy_rules_wants(resolver.rules, resolver.n) |
	       (resolver.pod_table ? PROC_WANT_POD : 0);
}

/* Swap the pending dirty set for the (empty) spare one. With resolver.lock and ev.lock. */
static void take_dirty(void)
{
	struct dirty_set t = ev.set;

	ev.set = resolver.spare;
	resolver.spare = t;
}

static void clear_dirty(struct dirty_set *s)
{
	if (s->n)
		memset(s->slots, 0, DIRTY_SLOTS * sizeof(*s->slots));
	s->n = 0;
}

/* A full scan of the table with what is wanted now. With resolver.lock held. */
static int full_scan(void)
{
	uint64_t t0 = now_us();
	int err;

	proc_table_set_wants(resolver.procs, wanted());
	err = proc_table_scan(resolver.procs);
	resolver.table_live = err != -ENOMEM;
	pthread_mutex_lock(&ev.lock);
	clock_gettime(CLOCK_MONOTONIC, &ev.last_scan);
	ev.info.full_scans++;
	ev.info.last_scan_us = now_us() - t0;
	pthread_mutex_unlock(&ev.lock);
	return err == -ENOMEM ? err : 0;
}

/* Re-read the processes of resolver.spare. With resolver.lock held. */
static int apply_dirty(void)
{
	struct dirty_set *s = &resolver.spare;
	size_t done = 0;
	int err = 0;

	for (size_t i = 0; i < DIRTY_SLOTS && done < s->n && !err; i++) {
		const struct dirty *d = &s->slots[i];
		int rc = 0;

		if (!d->tgid)
			continue;
		done++;
		if (d->what)
			rc = proc_table_refresh(resolver.procs, d->tgid, d->what);
		/* A rename of a known thread: its comm alone, unless all was read anyway. */
		if (rc >= 0 && d->tid && !(d->what & (PROC_REFRESH_ALL | PROC_REFRESH_COMMS)))
			rc = proc_table_refresh_thread(resolver.procs, d->tgid, d->tid);
		if (rc == -ENOMEM)
			err = rc;
	}
	pthread_mutex_lock(&ev.lock);
	ev.info.refreshes += done;
	pthread_mutex_unlock(&ev.lock);
	clear_dirty(s);
	return err;
}

/*
 * The non-tracking state: only the processes pid rules name, for their thread counts
 * (read when the rules are set, as before there was a table). With resolver.lock held.
 */
static int load_pid_rule_processes(void)
{
	resolver.table_live = false;
	proc_table_clear(resolver.procs);
	proc_table_set_wants(resolver.procs, 0);
	for (size_t i = 0; i < resolver.n; i++)
		if (resolver.rules[i].pid &&
		    proc_table_refresh(resolver.procs, resolver.rules[i].pid, PROC_REFRESH_ALL) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * Bring the table to what the rules and pods need, applying what is pending, then build
 * and publish. @force: rescan in any case; @rules_changed: publish even when no rule
 * looks at the table (pods alone need no new snapshot). With resolver.lock held.
 */
static int refresh_and_rebuild(bool force, bool rules_changed)
{
	bool tracking = needs_table(), scan;
	int err;

	pthread_mutex_lock(&ev.lock);
	set_tracking(tracking);
	take_dirty();
	scan = force || ev.overflow || ev.force_scan;
	ev.overflow = false;
	ev.force_scan = false;
	pthread_mutex_unlock(&ev.lock);

	if (!tracking) {
		clear_dirty(&resolver.spare);
		err = load_pid_rule_processes();
	} else if (scan || !resolver.table_live || (wanted() & ~proc_table_wants(resolver.procs))) {
		/* The scan reads every process after the events taken above happened. */
		clear_dirty(&resolver.spare);
		err = full_scan();
	} else {
		err = apply_dirty();
	}
	if (err)
		return err;
	if (rules_changed || rules_scan())
		err = rebuild();
	publish_pod_processes();
	return err;
}

/* Swap in the pod table's current set. With resolver.lock held. */
static void take_pod_set(void)
{
	if (resolver.pod_set)
		pod_set_release(resolver.pod_set);
	resolver.pod_set = resolver.pod_table ? pod_table_acquire(resolver.pod_table) : NULL;
}

/* ---- the thread ----------------------------------------------------------------------- */

/*
 * Is a pass due now? Else, until when to sleep (@until NULL: until woken). With
 * ev.lock held.
 */
static bool pass_due(struct timespec *until, bool *has_until)
{
	struct timespec now, t;
	unsigned int period = ev.events_active ? STRATEGY_RESYNC_MS : resolver.interval_ms;

	*has_until = false;
	if (!ev.tracking) {
		/* Nothing changes by itself; the rules or the pods will wake us. */
		ev.force_scan = ev.pods_changed = false;
		return false;
	}
	if (ev.force_scan || ev.overflow)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	*until = ts_after(&ev.last_scan, period);
	*has_until = true;
	if (ev.set.n || ev.pods_changed) {
		t = ts_after(&ev.pending_since, STRATEGY_COALESCE_MS);
		if (ts_before(&t, until))
			*until = t;
	}
	return !ts_before(&now, until);
}

static void *resolver_main(void *arg)
{
	struct timespec until;
	bool has_until;

	pthread_mutex_lock(&ev.lock);
	while (!ev.stop) {
		bool periodic, pods_changed, events;
		uint64_t started, since;
		int err;

		if (!pass_due(&until, &has_until)) {
			ev.busy = false;
			pthread_cond_broadcast(&ev.idle);
			if (has_until)
				pthread_cond_timedwait(&ev.wake, &ev.lock, &until);
			else
				pthread_cond_wait(&ev.wake, &ev.lock);
			continue;
		}
		ev.busy = true;
		/* Due by the clock, with nothing pending: the periodic full scan. */
		periodic = !ev.set.n && !ev.pods_changed && !ev.force_scan && !ev.overflow;
		pods_changed = ev.pods_changed;
		events = ev.set.n > 0;
		since = ts_us(&ev.pending_since);
		ev.pods_changed = false;
		pthread_mutex_unlock(&ev.lock);

		pthread_mutex_lock(&resolver.lock);
		started = now_us();
		if (pods_changed)
			take_pod_set();
		err = refresh_and_rebuild(periodic, false);
		pthread_mutex_unlock(&resolver.lock);
		if (err)
			log_msg(LOG_WARN, "strategy resolver: out of memory, keeping old snapshot");

		pthread_mutex_lock(&ev.lock);
		if (events && !err) {
			struct strategy_resolver_info info;
			struct log_rec *r;

			ev.info.last_event_us = now_us() - since;
			info = ev.info;
			/* Never write a log line with the lock the event source takes. */
			pthread_mutex_unlock(&ev.lock);
			r = log_begin(LOG_DEBUG, "strategy resolver pass");
			log_u64(r, "pass_us", now_us() - started);
			log_u64(r, "first_event_to_publish_us", info.last_event_us);
			log_u64(r, "refreshes", info.refreshes);
			log_u64(r, "full_scans", info.full_scans);
			log_end(r);
			pthread_mutex_lock(&ev.lock);
		}
	}
	ev.busy = false;
	pthread_cond_broadcast(&ev.idle);
	pthread_mutex_unlock(&ev.lock);
	return NULL;
}

/* ---- events --------------------------------------------------------------------------- */

static uint32_t dirty_slot(int32_t tgid)
{
	return ((uint32_t)tgid * 2654435769u) & (DIRTY_SLOTS - 1);
}

/* With ev.lock held: the first of what is pending starts the coalescing delay. */
static void mark_pending(void)
{
	if (!ev.set.n && !ev.pods_changed)
		clock_gettime(CLOCK_MONOTONIC, &ev.pending_since);
}

void strategy_resolver_note(enum strategy_proc_event kind, int32_t pid, int32_t tgid)
{
	static const uint32_t what[STRATEGY_EV_MAX + 1] = {
	    [STRATEGY_EV_FORK] = PROC_REFRESH_ALL,
	    [STRATEGY_EV_THREAD] = PROC_REFRESH_THREADS,
	    [STRATEGY_EV_EXEC] = PROC_REFRESH_ALL,
	    [STRATEGY_EV_EXIT] = PROC_REFRESH_EXITED,
	    [STRATEGY_EV_THREAD_EXIT] = PROC_REFRESH_THREADS,
	    [STRATEGY_EV_RENAME] = 0, /* the thread, below */
	    [STRATEGY_EV_CGROUP] = PROC_REFRESH_CGROUP,
	};
	struct dirty *d;
	uint32_t i;

	if (kind < STRATEGY_EV_FORK || kind > STRATEGY_EV_MAX || tgid <= 0 || pid <= 0)
		return;
	pthread_mutex_lock(&ev.lock);
	if (!ev.tracking || ev.stop || !ev.set.slots)
		goto out;
	ev.info.events++;
	if (ev.overflow)
		goto out; /* a full rescan is coming anyway */
	for (i = dirty_slot(tgid); ev.set.slots[i].tgid && ev.set.slots[i].tgid != tgid;
	     i = (i + 1) & (DIRTY_SLOTS - 1))
		;
	d = &ev.set.slots[i];
	if (!d->tgid) {
		if (ev.set.n == DIRTY_MAX) {
			/* A storm of distinct processes: one rescan is cheaper than each. */
			ev.overflow = true;
			ev.info.resyncs++;
			pthread_cond_signal(&ev.wake);
			goto out;
		}
		mark_pending();
		d->tgid = tgid;
		ev.set.n++;
		pthread_cond_signal(&ev.wake);
	}
	d->what |= what[kind];
	if (kind == STRATEGY_EV_RENAME) {
		if (!d->tid)
			d->tid = pid;
		else if (d->tid != pid)
			d->what |= PROC_REFRESH_COMMS;
	}
out:
	pthread_mutex_unlock(&ev.lock);
}

void strategy_resolver_events(bool active)
{
	pthread_mutex_lock(&ev.lock);
	/* Whatever happened before the source started was not seen: rescan once. */
	if (active && !ev.events_active)
		ev.force_scan = true;
	ev.events_active = active;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
}

void strategy_resolver_resync(void)
{
	pthread_mutex_lock(&ev.lock);
	ev.force_scan = true;
	ev.info.resyncs++;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
}

static void pods_changed(void *ctx)
{
	pthread_mutex_lock(&ev.lock);
	mark_pending();
	ev.pods_changed = true;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
}

int strategy_resolver_set_pods(struct pod_table *pods)
{
	pthread_mutex_lock(&resolver.lock);
	if (!resolver.rules) {
		pthread_mutex_unlock(&resolver.lock);
		return -ESRCH;
	}
	if (resolver.pod_table && resolver.pod_table != pods)
		pod_table_on_change(resolver.pod_table, NULL, NULL);
	resolver.pod_table = pods;
	if (pods)
		pod_table_on_change(pods, pods_changed, NULL);
	/* Let go of the old table's set now: the caller may free that table next. */
	take_pod_set();
	/* Its pod memo was for the old table's sets. */
	strategy_matcher_free(resolver.matcher);
	resolver.matcher = NULL;
	pthread_mutex_lock(&ev.lock);
	/* The thread takes the new set, rescans if the table lacks pods, and rebuilds. */
	set_tracking(needs_table());
	mark_pending();
	ev.pods_changed = true;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
	pthread_mutex_unlock(&resolver.lock);
	return 0;
}

/* ---- life cycle ----------------------------------------------------------------------- */

static void reset_events(void)
{
	pthread_mutex_lock(&ev.lock);
	free(ev.set.slots);
	ev.set = (struct dirty_set){0};
	ev.stop = ev.force_scan = ev.pods_changed = ev.busy = ev.overflow = false;
	set_tracking(false);
	memset(&ev.info, 0, sizeof(ev.info));
	pthread_mutex_unlock(&ev.lock);
}

static void free_state(void)
{
	strategy_matcher_free(resolver.matcher);
	resolver.matcher = NULL;
	free(resolver.rules);
	resolver.rules = NULL;
	resolver.n = 0;
	proc_table_free(resolver.procs);
	resolver.procs = NULL;
	free(resolver.spare.slots);
	resolver.spare = (struct dirty_set){0};
	resolver.table_live = false;
	reset_events();
}

int strategy_resolver_start(const struct strategy_rule *rules, size_t n, const char *proc_root,
			    unsigned int interval_ms)
{
	pthread_condattr_t cattr;
	struct dirty *slots;
	int err;

	if (n > STRATEGY_MAX_RULES)
		return -E2BIG;
	resolver.rules = calloc(STRATEGY_MAX_RULES, sizeof(*resolver.rules));
	resolver.procs = proc_table_new(proc_root, 0);
	resolver.spare.slots = calloc(DIRTY_SLOTS, sizeof(*resolver.spare.slots));
	slots = calloc(DIRTY_SLOTS, sizeof(*slots));
	if (!resolver.rules || !resolver.procs || !resolver.spare.slots || !slots) {
		free(slots);
		free_state();
		return -ENOMEM;
	}
	/* Timed waits on the monotonic clock: a wall-clock jump must not stall rescans. */
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&ev.wake);
	pthread_cond_init(&ev.wake, &cattr);
	pthread_cond_destroy(&ev.idle);
	pthread_cond_init(&ev.idle, &cattr);
	pthread_condattr_destroy(&cattr);

	pthread_mutex_lock(&ev.lock);
	ev.set.slots = slots;
	ev.set.n = 0;
	ev.stop = false;
	clock_gettime(CLOCK_MONOTONIC, &ev.last_scan);
	pthread_mutex_unlock(&ev.lock);

	pthread_mutex_lock(&resolver.lock);
	if (n)
		memcpy(resolver.rules, rules, n * sizeof(*rules));
	resolver.n = n;
	resolver.interval_ms = interval_ms ? interval_ms : 100;
	err = refresh_and_rebuild(false, true);
	pthread_mutex_unlock(&resolver.lock);
	if (err)
		goto fail;

	err = -thread_start(&resolver.thread, "gt-resolver", resolver_main, NULL);
	if (err)
		goto fail;
	resolver.running = true;
	return 0;
fail:
	pthread_mutex_lock(&resolver.lock);
	publish(NULL);
	free_state();
	pthread_mutex_unlock(&resolver.lock);
	return err;
}

int strategy_resolver_set_rules(const struct strategy_rule *rules, size_t n)
{
	int err;

	if (n > STRATEGY_MAX_RULES)
		return -E2BIG;
	pthread_mutex_lock(&resolver.lock);
	if (!resolver.rules) {
		pthread_mutex_unlock(&resolver.lock);
		return -ESRCH;
	}
	/* The matcher points into the rules: gone before they change. */
	strategy_matcher_free(resolver.matcher);
	resolver.matcher = NULL;
	if (n)
		memcpy(resolver.rules, rules, n * sizeof(*rules));
	resolver.n = n;
	/* In memory when the table has what the new rules need; a scan when it does not. */
	err = refresh_and_rebuild(false, true);
	pthread_mutex_lock(&ev.lock);
	/* The thread may need to start (or stop) its passes. */
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
	pthread_mutex_unlock(&resolver.lock);
	return err;
}

size_t strategy_resolver_stats(struct strategy_rule_stats *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&view.lock);
	/* Snapshots are freed only under this lock, so this one stays valid. */
	n = strategy_snapshot_rule_stats(rcu_dereference(current_snapshot), out, max);
	pthread_mutex_unlock(&view.lock);
	return n;
}

size_t strategy_resolver_pids(struct strategy_pid *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&view.lock);
	n = strategy_snapshot_pids(rcu_dereference(current_snapshot), out, max);
	pthread_mutex_unlock(&view.lock);
	return n;
}

size_t strategy_resolver_pod_processes(struct pod_process *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&view.lock);
	n = view.nr_pod_procs < max ? view.nr_pod_procs : max;
	if (n)
		memcpy(out, view.pod_procs, n * sizeof(*out));
	pthread_mutex_unlock(&view.lock);
	return n;
}

void strategy_resolver_info(struct strategy_resolver_info *out)
{
	struct proc_table_stats st = {0};

	pthread_mutex_lock(&resolver.lock);
	if (resolver.procs)
		proc_table_stats(resolver.procs, &st);
	pthread_mutex_unlock(&resolver.lock);
	pthread_mutex_lock(&ev.lock);
	*out = ev.info;
	out->tracking = ev.tracking;
	out->events_active = ev.events_active;
	pthread_mutex_unlock(&ev.lock);
	out->processes = st.processes;
	out->threads = st.threads;
	out->skipped_threads = st.skipped_threads;
	out->table_bytes = st.bytes;
}

bool strategy_resolver_idle_wait(unsigned int timeout_ms)
{
	struct timespec now, until;
	bool idle;

	clock_gettime(CLOCK_MONOTONIC, &now);
	until = ts_after(&now, timeout_ms);
	pthread_mutex_lock(&ev.lock);
	for (;;) {
		bool pending =
		    ev.tracking && (ev.set.n || ev.pods_changed || ev.force_scan || ev.overflow);

		idle = !ev.busy && !pending;
		if (idle || pthread_cond_timedwait(&ev.idle, &ev.lock, &until) == ETIMEDOUT)
			break;
	}
	if (!idle)
		idle = !ev.busy && !(ev.tracking &&
				     (ev.set.n || ev.pods_changed || ev.force_scan || ev.overflow));
	pthread_mutex_unlock(&ev.lock);
	return idle;
}

void strategy_resolver_stop(void)
{
	pthread_mutex_lock(&ev.lock);
	ev.stop = true;
	pthread_cond_signal(&ev.wake);
	pthread_mutex_unlock(&ev.lock);
	if (resolver.running) {
		pthread_join(resolver.thread, NULL);
		resolver.running = false;
	}
	pthread_mutex_lock(&resolver.lock);
	publish(NULL);
	if (resolver.pod_table)
		pod_table_on_change(resolver.pod_table, NULL, NULL);
	resolver.pod_table = NULL;
	take_pod_set();
	free_state();
	pthread_mutex_unlock(&resolver.lock);
	pthread_mutex_lock(&view.lock);
	free(view.pod_procs);
	view.pod_procs = NULL;
	view.nr_pod_procs = 0;
	pthread_mutex_unlock(&view.lock);
}
