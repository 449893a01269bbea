/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduling loop (see loop.h).
 *
 * One round: epoll says records wait -> read at most as many as the pool can take (the
 * rest stays in the kernel's ring, where the BPF half can still reach them) -> dispatch
 * every pooled task in policy order, one idle CPU per task, the rest to the shared queue
 * -> publish how many tasks are still held. If the answer ring is full, the loop keeps
 * the remaining tasks and also waits for the ring to have room (EPOLLOUT).
 *
 * BPF does not wake the loop for every record: while every CPU is busy, records collect
 * until a CPU runs out of work, and the loop takes them in one batch (the doorbell ring,
 * announce_sleep(), and decision_needed_now() in gthulhu.bpf.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include <bpf/libbpf.h>

#include "bpf_skel.h"
#include "log/log.h"
#include "loop.h"
#include "sched/cpu_select.h"
#include "stats.h"
#include "strategy/strategy.h"

/* Wake at least this often to notice an exit whose wake-up was lost: a backstop only. */
#define EXIT_CHECK_MS 1000

enum { EV_RING = 1, EV_SIGNAL, EV_ANSWER_ROOM };

/*
 * Policy knobs handed over from other threads without a lock the loop could wait on: a
 * sequence counter, odd while a writer is mid-update (writers are serialised by their
 * caller). The loop copies the knobs when the sequence moved and is even, and keeps the
 * old ones if a writer raced the copy; it will see the change next batch.
 */
struct policy_handoff {
	uint64_t seq;
	uint64_t slice_max_ns;
	uint64_t slice_min_ns;
};

struct sched_loop {
	struct loader *ld;
	const struct topology *topo;
	struct policy_config pcfg;
	struct policy_handoff handoff;
	uint64_t applied_seq;
	struct policy_state pst;
	struct ring_buffer *queued; /* the `queued` ring, then the doorbell */
	struct ring *queued_ring;
	struct user_ring_buffer *answers;
	const struct strategy_snapshot *snap; /* valid during one batch */
	int epfd;
	int signal_fd;
	int answer_fd;
	bool waiting_for_room;
	struct loop_stats stats;
	struct task_pool pool;
};

static void stat_add(uint64_t *v, uint64_t n)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct sched_loop *l = ctx;
	const struct queued_task *rec = data;
	struct strategy_effect effect;
	struct policy_task t;
	bool has_effect;

	if (size < sizeof(*rec))
		return 0;
	has_effect = strategy_lookup(l->snap, rec->pid, rec->tgid, &effect);
	if (has_effect)
		strategy_snapshot_count(l->snap, &effect);
	policy_account(&l->pcfg, &l->pst, rec, has_effect ? &effect : NULL, &t);
	/* consume_n() never reads more than the pool has room for, so FULL cannot happen. */
	if (task_pool_push(&l->pool, &t) == TASK_POOL_REPLACED)
		stat_add(&l->stats.replaced, 1);
	stat_add(&l->stats.records, 1);
	return 0;
}

/* The doorbell ring only wakes the loop; it never holds a record. */
static int on_doorbell(void *ctx, void *data, size_t size)
{
	return 0;
}

static void dispatch_pool(struct sched_loop *l)
{
	const struct gthulhu_bpf *skel = l->ld->skel;
	struct cpumask idle, prio_busy;
	const struct policy_task *next;
	uint64_t sent = 0, generation = strategy_snapshot_generation(l->snap);

	cpu_select_build_masks(skel->bss->cpu_state, l->topo->nr_cpus, &idle, &prio_busy);

	while ((next = task_pool_peek(&l->pool))) {
		struct dispatched_task *d;
		struct policy_task t;
		int cpu = -1;

		d = user_ring_buffer__reserve(l->answers, sizeof(*d));
		if (!d)
			break; /* full: keep the rest, wait for room */
		task_pool_pop(&l->pool, &t);
		if (!cpumask_empty(&idle)) {
			cpu = cpu_select(l->topo, t.restricted ? &t.allowed : &l->topo->online,
					 &idle, &prio_busy, t.prev_cpu, t.prio_level > 0);
			if (cpu >= 0)
				cpumask_clear(&idle, cpu); /* one task per idle CPU per round */
		}
		policy_decide(&l->pcfg, &l->pst, &t, cpu >= 0 ? cpu : GTHULHU_CPU_ANY,
			      task_pool_count(&l->pool), d);
		d->strategy_gen = generation;
		user_ring_buffer__submit(l->answers, d);
		sent++;
	}
	stat_add(&l->stats.decisions, sent);
	__atomic_store_n(&l->ld->skel->bss->counters.nr_scheduled, task_pool_count(&l->pool),
			 __ATOMIC_RELEASE);
}

static void wait_for_room(struct sched_loop *l, bool wait)
{
	struct epoll_event ev = {.events = wait ? EPOLLOUT : 0, .data.u32 = EV_ANSWER_ROOM};

	if (wait == l->waiting_for_room)
		return;
	/*
	 * Tell BPF before asking epoll: a drain after this store wakes us, and one before it
	 * left room that EPOLL_CTL_MOD sees at once.
	 */
	__atomic_store_n(&l->ld->skel->bss->loop_waits_for_room, wait, __ATOMIC_SEQ_CST);
	if (!epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->answer_fd, &ev))
		l->waiting_for_room = wait;
}

/*
 * About to sleep: tell BPF before the last look at the ring, so that a record BPF sends
 * without a wake-up (it may, see decision_needed_now() in gthulhu.bpf.c) is either seen
 * here or answered with a wake-up. False when records wait that the pool can take: then
 * the loop must not sleep.
 */
static bool announce_sleep(struct sched_loop *l)
{
	__atomic_store_n(&l->ld->skel->bss->loop_sleeping, 1, __ATOMIC_SEQ_CST);
	if (ring__avail_data_size(l->queued_ring) &&
	    task_pool_count(&l->pool) < TASK_POOL_CAPACITY) {
		__atomic_store_n(&l->ld->skel->bss->loop_sleeping, 0, __ATOMIC_RELAXED);
		return false;
	}
	return true;
}

static void record_latency(struct sched_loop *l, uint64_t ns)
{
	uint64_t us = ns / 1000;
	int bucket = 0;

	while (us && bucket < LOOP_LATENCY_BUCKETS - 1) {
		us >>= 1;
		bucket++;
	}
	stat_add(&l->stats.latency_hist[bucket], 1);
}

static void run_batch(struct sched_loop *l)
{
	uint64_t start = now_ns(), before = l->stats.records, n;
	size_t room = TASK_POOL_CAPACITY - task_pool_count(&l->pool);

	l->snap = strategy_current();
	if (room)
		ring_buffer__consume_n(l->queued, room);
	dispatch_pool(l);
	l->snap = NULL;

	n = l->stats.records - before;
	stat_add(&l->stats.batches, 1);
	if (n > l->stats.max_batch)
		__atomic_store_n(&l->stats.max_batch, n, __ATOMIC_RELAXED);
	if (task_pool_count(&l->pool))
		stat_add(&l->stats.held_full, 1);
	wait_for_room(l, task_pool_count(&l->pool) > 0);
	record_latency(l, now_ns() - start);
}

struct sched_loop *sched_loop_new(struct loader *ld, const struct topology *topo,
				  const struct policy_config *pcfg, int signal_fd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct sched_loop *l = calloc(1, sizeof(*l));

	if (!l) {
		log_msg(LOG_ERROR, "out of memory for the scheduling loop");
		return NULL;
	}
	l->ld = ld;
	l->topo = topo;
	l->pcfg = *pcfg;
	l->signal_fd = signal_fd;
	task_pool_init(&l->pool);

	l->queued = ring_buffer__new(bpf_map__fd(ld->skel->maps.queued), on_record, l, NULL);
	if (l->queued &&
	    ring_buffer__add(l->queued, bpf_map__fd(ld->skel->maps.doorbell), on_doorbell, NULL)) {
		ring_buffer__free(l->queued);
		l->queued = NULL;
	}
	if (l->queued)
		l->queued_ring = ring_buffer__ring(l->queued, 0);
	l->answers = user_ring_buffer__new(bpf_map__fd(ld->skel->maps.dispatched), NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!l->queued || !l->answers || l->epfd < 0) {
		log_msg(LOG_ERROR, "cannot set up the rings: %s", strerror(errno));
		goto fail;
	}
	l->answer_fd = bpf_map__fd(ld->skel->maps.dispatched);

	ev.data.u32 = EV_RING;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(l->queued), &ev))
		goto fail_epoll;
	ev.data.u32 = EV_SIGNAL;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, signal_fd, &ev))
		goto fail_epoll;
	ev.events = 0;
	ev.data.u32 = EV_ANSWER_ROOM;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->answer_fd, &ev))
		goto fail_epoll;
	return l;

fail_epoll:
	log_msg(LOG_ERROR, "epoll_ctl: %s", strerror(errno));
fail:
	sched_loop_free(l);
	return NULL;
}

void sched_loop_free(struct sched_loop *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	ring_buffer__free(l->queued);
	user_ring_buffer__free(l->answers);
	free(l);
}

void sched_loop_request_policy(struct sched_loop *l, const struct policy_config *pcfg)
{
	struct policy_handoff *h = &l->handoff;

	__atomic_fetch_add(&h->seq, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&h->slice_max_ns, pcfg->slice_max_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&h->slice_min_ns, pcfg->slice_min_ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->seq, 1, __ATOMIC_RELEASE);
}

/* On the loop thread, once per batch: never waits. */
static void take_policy(struct sched_loop *l)
{
	struct policy_handoff *h = &l->handoff;
	uint64_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
	struct policy_config next;

	if (seq == l->applied_seq || (seq & 1))
		return;
	next.slice_max_ns = __atomic_load_n(&h->slice_max_ns, __ATOMIC_RELAXED);
	next.slice_min_ns = __atomic_load_n(&h->slice_min_ns, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) != seq)
		return;
	l->pcfg = next;
	l->applied_seq = seq;
}

void sched_loop_stats(const struct sched_loop *l, struct loop_stats *out)
{
	const uint64_t *src = (const uint64_t *)&l->stats;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* SIGINT/SIGTERM end the loop; SIGHUP reloads; SIGUSR1 asks for a stats record. */
static int handle_signals(struct sched_loop *l, void (*on_reload)(struct sched_loop *l))
{
	struct signalfd_siginfo si;

	while (read(l->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (on_reload)
				on_reload(l);
			continue;
		}
		if (si.ssi_signo == SIGUSR1) {
			stats_request_dump();
			continue;
		}
		log_msg(LOG_INFO, "signal %d: detaching", (int)si.ssi_signo);
		return 1;
	}
	return 0;
}

enum loop_result sched_loop_run(struct sched_loop *l, void (*on_reload)(struct sched_loop *l))
{
	struct epoll_event events[4];
	enum loop_result result = LOOP_ERROR;

	rcu_register_thread();
	for (;;) {
		int n, i;

		if (loader_kernel_exited(l->ld)) {
			result = LOOP_KERNEL_EXIT;
			break;
		}
		rcu_thread_offline();
		n = epoll_wait(l->epfd, events, 4, announce_sleep(l) ? EXIT_CHECK_MS : 0);
		__atomic_store_n(&l->ld->skel->bss->loop_sleeping, 0, __ATOMIC_RELAXED);
		rcu_thread_online();
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			if (events[i].data.u32 == EV_SIGNAL && handle_signals(l, on_reload)) {
				result = LOOP_SIGNAL_EXIT;
				goto out;
			}
		}
		take_policy(l);
		run_batch(l);
		rcu_quiescent_state();
	}
out:
	rcu_unregister_thread();
	return result;
}
