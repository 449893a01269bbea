/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Gthulhu's kernel half: a policy-agnostic sched_ext dispatcher.
 *
 * Every runnable task is parked in the PARKED dispatch queue and a record of it goes up
 * the `queued` ring buffer to the user-space policy. The policy answers through the
 * `dispatched` user ring buffer with a CPU, a slice and an ordering key; ops.dispatch()
 * drains those answers and moves each task out of PARKED (by pid, with a DSQ iterator)
 * to the CPU's local queue, the PRIO queue or the SHARED queue. Records do not each wake
 * the loop: while every CPU is busy they collect for one batch (decision_needed_now()).
 *
 * Why park instead of holding tasks in no queue at all (as scx_rustland does): a parked
 * task is always reachable. If user space stops answering while tasks wait, ops.dispatch()
 * simply consumes PARKED itself, in vtime order, until answers resume; a stopped or
 * deadlocked policy costs latency, never an ejection by the kernel's watchdog.
 *
 * The BPF half also keeps the machine safe on its own: the scheduler's own threads,
 * per-CPU kthreads and memory-reclaim threads are dispatched directly; a full ring sends
 * tasks to SHARED; a decision for an older enqueue (stale generation) is cancelled; a
 * decision for a CPU the task may no longer use is bounced; a heartbeat timer wakes user
 * space when records wait unread.
 *
 * One shortcut: a task whose last decision gave it a strategy priority is placed in PRIO
 * by ops.enqueue() itself when it wakes up, as long as the strategy snapshot that decision
 * used is still the published one (place_prio_wakeup()). The answer is user space's; only
 * the round trip is saved, on the path where a latency-critical task waits.
 *
 * With pod_metrics_enabled, the callbacks also count context switches, CPU time, run-queue
 * wait, runs and migrations per cgroup (cgroup_stats, see pm_report()), so per-pod figures
 * need no second BPF program. Off, the verifier drops that code: it costs nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "intf.h"
#include "compat.bpf.h"

char _license[] SEC("license") = "GPL";

/* Kernel #defines that BTF does not carry. */
#ifndef PF_KTHREAD
#define PF_KCOMPACTD 0x00010000
#define PF_KSWAPD    0x00020000
#define PF_KTHREAD   0x00200000
#endif
#define ENOENT		2
#define EEXIST		17
#define ENOMEM		12
#define CLOCK_MONOTONIC 1

#define BPF_STRUCT_OPS(name, args...)	    SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, ...) SEC("struct_ops.s/" #name) BPF_PROG(name, ##__VA_ARGS__)

/* Set by user space before load (__u64 and friends so the skeleton compiles in C). */
const volatile __s32 usersched_pid;  /* the scheduling loop's thread */
const volatile __s32 usersched_tgid; /* the scheduler's process: all its threads */
const volatile __s32 khugepaged_pid;
const volatile __u64 stall_timeout_ns = 1000000000;
const volatile __u64 heartbeat_ns = 100000000;
const volatile bool builtin_idle = true;
const volatile bool early_processing;
/* Count scheduling figures per cgroup for the pod metrics (see pm_report()). */
const volatile bool pod_metrics_enabled;

/*
 * The live knobs (slice_ns_default, slice_ns_min, debug): user space rewrites them here
 * when the config changes at run time (loader_set_live_knobs()), so that a slice means the
 * same to the policy and to the tasks this half places itself. Not rodata, which is
 * frozen at load; readers may see one knob changed before another, which is harmless.
 */
#define LIVE SEC(".data.live")
__u64 slice_max_ns LIVE = 5000000;
__u64 slice_min_ns LIVE = 500000;
/* SHARED is served at least this often, however busy priority tasks keep the CPUs. */
__u64 starvation_ns LIVE = 100000000;
bool debug LIVE;

/*
 * Written by user space: the generation of the published strategy snapshot (see
 * place_prio_wakeup()); 0 while none is.
 */
__u64 strategy_gen;
/*
 * Written by user space: the loop waits for room in the answer ring (it was full). Only
 * then does draining it need to wake anyone; otherwise each drain would raise an irq_work
 * (a self-IPI) for nobody.
 */
bool loop_waits_for_room;

/* Read by user space through the skeleton. */
struct gthulhu_counters counters;
struct gthulhu_cpu_state cpu_state[GTHULHU_MAX_CPUS];
struct gthulhu_exit_info exit_info;
char exit_dump[GTHULHU_EXIT_DUMP_LEN];
__s32 kfunc_api_in_use;

/* True while user space is declared stalled and PARKED is consumed here. */
static bool fallback_active;
/*
 * True while the loop thread sleeps somewhere other than its epoll_wait(): inside a system
 * call that waits on the kernel (seen in the test VM: synchronize_rcu(), for a second). Such
 * a wait can depend on a kernel thread, here RCU's grace-period kthread, that would itself
 * wait in PARKED for the loop: each waits for the other until the stall timeout. So while
 * it lasts, kernel threads do not go through the loop (see gthulhu_stopping()), and
 * those already parked leave PARKED at the next dispatch (rescue_parked()).
 */
static bool loop_blocked;
static u32 kthread_scan_wanted;
static __u64 fallback_since;
/* Last time user space showed progress (a decision arrived, or nothing waited). */
static __u64 last_progress_ns;
/* Last time SHARED was served (or seen empty), and PARKED last scanned for old tasks. */
static __u64 shared_served_ns;
static __u64 parked_scan_ns;
static __u32 nr_cpu_ids;

/*
 * Per CPU: the task running there (BPF-private), and the one the scheduling loop (or a
 * priority task, see preempt_for()) just preempted. A task preempted by the loop does not
 * go back up: that would wake the loop again and preempt the next task, a livelock that
 * on one CPU starves everything. It waits in SHARED instead (not at the head of this
 * CPU's queue: then the CPU would not ask ops.dispatch() for work when the loop sleeps,
 * and the loop's fresh decisions would wait for the end of its slice).
 */
struct cpu_ctx {
	s32 running_pid;
	s32 preempted_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GTHULHU_MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

/* SCX_ENQ_HEAD moved from bit 4 (6.12) to bit 16 (7.x): ask the running kernel. */
static u64 enq_head_flag(void)
{
	return bpf_core_enum_value(enum scx_enq_flags, SCX_ENQ_HEAD);
}

/* Set on tasks handed back by scx_bpf_reenqueue_local() (a higher class took the CPU). */
static u64 enq_reenq_flag(void)
{
	return bpf_core_enum_value(enum scx_enq_flags, SCX_ENQ_REENQ);
}

static struct cpu_ctx *cpu_ctx(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpu_ctxs, &key);
}

#define dbg(fmt, args...)                                                                          \
	do {                                                                                       \
		if (debug)                                                                         \
			bpf_printk(fmt, ##args);                                                   \
	} while (0)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GTHULHU_QUEUED_BYTES);
} queued SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, GTHULHU_DISPATCH_BYTES);
} dispatched SEC(".maps");

/*
 * The doorbell: a ring that never carries data. A discarded reservation still wakes the
 * loop (it polls both rings), and unlike a reservation on `queued` it cannot fail because
 * that ring is full.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} doorbell SEC(".maps");

static void ring_doorbell(void)
{
	u64 *rec = bpf_ringbuf_reserve(&doorbell, sizeof(*rec), 0);

	if (rec)
		bpf_ringbuf_discard(rec, BPF_RB_FORCE_WAKEUP);
}

/*
 * Written by the loop: 1 from just before its last look at the ring until it sleeps and is
 * woken (loop.c, announce_sleep()). Whoever wakes it swaps it back to 0, so one wake-up
 * serves every record that came before. The swap is a full barrier and follows the
 * record's submit; the loop's store precedes its last look: either BPF sees 1 and wakes
 * it, or the loop sees the record and does not sleep.
 */
__u32 loop_sleeping;

/* Decisions that arrived before their task reached PARKED; retried on the next dispatch. */
struct retry_entry {
	struct dispatched_task d;
	u64 since; /* the first attempt */
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, GTHULHU_RING_RECORDS);
	__type(value, struct retry_entry);
} retries SEC(".maps");

/*
 * How long a decision is retried. Its task is normally in PARKED microseconds after the
 * record went up, but the CPU that enqueued it can be stopped in between (a hypervisor
 * preempting the vCPU, an emulator's round-robin) while the other CPUs dispatch, and
 * burn through any fixed number of tries; a given-up decision leaves its task to the
 * stall rescue, a second or more later. Time, not tries, bounds it.
 */
#define RETRY_NS (50 * 1000 * 1000ull)
/* Entries in `retries`: an empty queue is not popped (its lock) on every dispatch. */
static u64 nr_retries_queued;

/* Decisions drained from the ring in one ops.dispatch(), handled after the drain. */
#define DRAIN_BATCH 64
struct drain_buf {
	u32 n;
	struct dispatched_task d[DRAIN_BATCH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct drain_buf);
} drain_bufs SEC(".maps");

struct task_ctx {
	u64 enq_cnt;	  /* generation of the last record sent up */
	u64 vtime;	  /* virtual runtime, as the policy last set it */
	u64 ran_ns;	  /* run time not yet reported to the policy */
	u64 exec_runtime; /* run time since the task last slept */
	u64 start_ts;
	u64 stop_ts;
	u64 slice_ns;	  /* the slice of the last decision (0 = default) */
	u32 prio_level;	  /* priority level of the last decision */
	u64 strategy_gen; /* strategy snapshot generation of the last decision */
	u64 parked_at;	  /* when it was parked */
	bool parked;	  /* in PARKED (or on its way there) awaiting a decision */
	bool sync_wakeup; /* its waker said it would sleep soon (SCX_WAKE_SYNC) */
	/* Pod metrics of the current run, not reported to its cgroup yet (see pm_report()). */
	bool pm_open;	   /* a run started here and has not been reported to its end */
	bool pm_new_run;   /* the run itself is not counted yet */
	bool pm_migrated;  /* it is on another CPU than the previous run */
	u32 pm_last_cpu;   /* CPU of the previous run + 1; 0 before the first */
	u64 pm_exec_seen;  /* the kernel's sum_exec_runtime, as far as reported */
	u64 pm_delay_seen; /* the kernel's sched_info.run_delay, as far as reported */
	u64 pm_wait_start; /* own clock, without CONFIG_SCHED_INFO: became runnable (0: unknown) */
	u64 pm_waited;	   /* own clock: the wait that ended when this run started */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/*
 * Pod metrics per cgroup v2 id. Per-CPU so concurrent context switches in one busy pod
 * never share a cache line; not preallocated, because a preallocated per-CPU hash costs
 * max_entries * nr_possible_cpus values up front (hundreds of MiB on a big machine)
 * while a node has a few hundred cgroups that run tasks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, GTHULHU_CGROUP_STATS_MAX);
	__type(key, u64);
	__type(value, struct gthulhu_cgroup_stats);
} cgroup_stats SEC(".maps");

struct heartbeat {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct heartbeat);
} heartbeats SEC(".maps");

static struct task_ctx *task_ctx(const struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, (struct task_struct *)p, 0, 0);
}

/*
 * Has @span passed since @since? Timestamps come from several CPUs and callers sample
 * "now" before others store newer times: compare signed, or a stamp a few ns in the
 * future reads as an eternity.
 */
static __always_inline bool elapsed(u64 now, u64 since, u64 span)
{
	return (s64)(now - since) >= (s64)span;
}

static __always_inline void count(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

static void wake_sleeping_loop(void)
{
	if (__sync_val_compare_and_swap(&loop_sleeping, 1, 0) == 1) {
		ring_doorbell();
		count(&counters.nr_loop_wakeups);
	}
}

static bool is_scheduler_thread(const struct task_struct *p)
{
	return p->tgid == usersched_tgid;
}

/* Tasks the kernel needs to make progress: they never wait for user space. */
static bool is_critical_kthread(const struct task_struct *p)
{
	if (!(p->flags & PF_KTHREAD))
		return false;
	if (p->nr_cpus_allowed == 1)
		return true;
	if (p->flags & (PF_KSWAPD | PF_KCOMPACTD))
		return true;
	return khugepaged_pid && p->pid == khugepaged_pid;
}

static bool is_migration_disabled(const struct task_struct *p)
{
	if (bpf_core_field_exists(p->migration_disabled))
		return BPF_CORE_READ(p, migration_disabled) > 1 ||
		       (BPF_CORE_READ(p, migration_disabled) == 1 &&
			p != (void *)bpf_get_current_task_btf());
	return false;
}

static struct gthulhu_cpu_state *cpu_state_of(s32 cpu)
{
	u32 idx = cpu;

	if (idx >= GTHULHU_MAX_CPUS)
		return NULL;
	/*
	 * The mask is what the verifier trusts: clang may compute the address on a register
	 * whose bounds the verifier no longer links to the check above. The empty asm hides
	 * the check from clang, so it cannot drop the mask as redundant.
	 */
	asm volatile("" : "+r"(idx));
	return &cpu_state[idx & (GTHULHU_MAX_CPUS - 1)];
}

static u64 slice_of(const struct task_ctx *tctx)
{
	return tctx && tctx->slice_ns ? tctx->slice_ns : slice_max_ns;
}

/*
 * The BPF half's own ordering key, used when it schedules without user space: plain
 * weighted vtime. Strategy priorities are user space's to apply; a safety mode that let a
 * CPU-bound priority task win every round would starve the kernel's own threads.
 */
static u64 fallback_vtime(const struct task_struct *p, const struct task_ctx *tctx)
{
	u64 weight = p->scx.weight ? p->scx.weight : 100;

	if (!tctx)
		return 0;
	return tctx->vtime + tctx->ran_ns * 100 / weight;
}

/* Wake an idle CPU @p may use; false when none is idle. */
static bool kick_idle_cpu(const struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu < 0)
		return false;
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	return true;
}

static bool has_waiting_work(void)
{
	return scx_bpf_dsq_nr_queued(GTHULHU_DSQ_PARKED) ||
	       scx_bpf_dsq_nr_queued(GTHULHU_DSQ_SHARED) ||
	       scx_bpf_dsq_nr_queued(GTHULHU_DSQ_PRIO) ||
	       bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA) || counters.nr_scheduled;
}

s32 BPF_STRUCT_OPS(gthulhu_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx;
	bool is_idle = false;
	s32 cpu = prev_cpu;

	if (builtin_idle && bpf_ksym_exists(scx_bpf_select_cpu_dfl___compat)) {
		cpu = scx_bpf_select_cpu_dfl___compat(p, prev_cpu, wake_flags, &is_idle);
	} else if (early_processing || is_scheduler_thread(p)) {
		if (bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
		    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
			is_idle = true;
	}
	tctx = task_ctx(p);
	if (tctx)
		tctx->sync_wakeup = wake_flags & SCX_WAKE_SYNC;
	if (!is_idle)
		return cpu;

	/* The wake-up found an idle CPU: run there now, no round trip to user space. */
	dsq_insert(p, SCX_DSQ_LOCAL, slice_of(tctx), 0);
	count(&counters.nr_kernel_dispatches);
	return cpu;
}

/*
 * Does @p's record need the loop now, or can it wait for the next batch? Waking the loop
 * for every record costs a wake-up and, with every CPU busy, a preemption: under a
 * messaging load that was most of Gthulhu's CPU time. A record waits when a decision now
 * would change nothing soon: every CPU @p may use is busy and the task on this CPU is not
 * one a wake-up should preempt. The loop is then woken by the first CPU that runs out of
 * work (ops.dispatch()), with every record that arrived meanwhile, or once it has not run
 * for BATCH_WAIT_SLICES max slices.
 *
 * Now, on the other hand: when an idle CPU could take @p; when @p had a priority level
 * (its first wake-up under a new snapshot); and when @p wakes up while this CPU runs a
 * task that has not slept for slice_max_ns: a CPU hog. The loop's arrival preempts it and
 * the CPU chooses again in deadline order, where the waking task comes first, as the
 * kernel's own scheduler preempts a long runner for a task that slept. Not when the hog
 * woke @p itself and said it would sleep soon (SCX_WAKE_SYNC, as pipe and socket writers
 * do): under a messaging load that was most of the loop's wake-ups, each a preemption of
 * a writer in the middle of its burst. Such a record waits for the batch like the others,
 * at most BATCH_WAIT_SLICES max slices.
 *
 * The bound is what a deferred task may lose, and under a messaging load about half the
 * loop's wake-ups came from it. Eight slices (40 ms by default) against four took the
 * loop's wake-ups under hackbench from ~330 to ~230 a run and its CPU share from 2.7 % to
 * 1.9 %, hackbench no slower (A/B in one boot, bench/README.md); twelve bought little more.
 */
#define BATCH_WAIT_SLICES 8

static bool decision_needed_now(const struct task_struct *p, const struct task_ctx *tctx,
				u64 enq_flags)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	const struct cpumask *idle;
	struct task_ctx *cctx;
	bool any_idle;

	if (tctx->prio_level)
		return true;
	if ((enq_flags & SCX_ENQ_WAKEUP) && !tctx->sync_wakeup && cur != p && cur->pid &&
	    !is_scheduler_thread(cur)) {
		cctx = task_ctx(cur);
		/* Its run so far, plus what it ran before this run since it last slept. */
		if (cctx && cctx->start_ts &&
		    (s64)(cctx->exec_runtime + tctx->parked_at - cctx->start_ts) >=
			(s64)slice_max_ns) {
			count(&counters.nr_hog_wakeups);
			return true;
		}
	}
	idle = scx_bpf_get_idle_cpumask();
	any_idle = bpf_cpumask_intersects(idle, p->cpus_ptr);
	scx_bpf_put_idle_cpumask(idle);
	return any_idle;
}

/* Send @p up to the policy and park it; false when the ring is full. */
static bool queue_to_user(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	struct queued_task *rec;

	rec = bpf_ringbuf_reserve(&queued, sizeof(*rec), 0);
	if (!rec)
		return false;

	tctx->enq_cnt++;
	tctx->parked = true;
	tctx->parked_at = bpf_ktime_get_ns();

	rec->pid = p->pid;
	rec->tgid = p->tgid;
	rec->cpu = scx_bpf_task_cpu(p);
	rec->nr_cpus_allowed = p->nr_cpus_allowed;
	rec->flags = (enq_flags & SCX_ENQ_WAKEUP) ? GTHULHU_QF_WAKEUP : 0;
	rec->weight = p->scx.weight;
	rec->enq_flags = enq_flags;
	rec->start_ts = tctx->start_ts;
	rec->stop_ts = tctx->stop_ts;
	rec->exec_runtime = tctx->exec_runtime;
	rec->vtime = tctx->vtime;
	rec->ran_ns = tctx->ran_ns;
	rec->enq_cnt = tctx->enq_cnt;
	rec->enq_ts = tctx->parked_at;
	bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), p->comm);
	__builtin_memset(rec->cpumask, 0, sizeof(rec->cpumask));
	if (p->nr_cpus_allowed < nr_cpu_ids) {
		/* Only the words the kernel's cpumask really has (nr_cpu_ids <= NR_CPUS). */
		u32 bytes = (nr_cpu_ids + 63) / 64 * 8;

		if (bytes > sizeof(rec->cpumask))
			bytes = sizeof(rec->cpumask);
		rec->flags |= GTHULHU_QF_RESTRICTED;
		bpf_probe_read_kernel(rec->cpumask, bytes, p->cpus_ptr);
	}
	tctx->ran_ns = 0;

	/*
	 * Park before the record becomes visible would be ideal, but an insert from
	 * ops.enqueue() only takes effect after it returns; a decision that beats it is
	 * retried (see handle_decision()).
	 */
	dsq_insert_vtime(p, GTHULHU_DSQ_PARKED, slice_of(tctx), fallback_vtime(p, tctx), enq_flags);
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	if (decision_needed_now(p, tctx, enq_flags))
		wake_sleeping_loop();
	else
		count(&counters.nr_records_deferred);
	return true;
}

/* Another CPU @p may use, idle if there is one; -1 when it may only run here. */
static s32 other_cpu_for(const struct task_struct *p, s32 here)
{
	s32 cpu;

	if (p->nr_cpus_allowed < 2 || is_migration_disabled(p))
		return -1;
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		return cpu;
	bpf_for(cpu, 0, nr_cpu_ids)
	{
		if (cpu != here && bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			return cpu;
	}
	return -1;
}

/*
 * Dispatch @p straight to a CPU, without user space. A task handed back because an RT or
 * deadline task took this CPU (cpu_release) must not simply queue here again: it would
 * wait for the moments the RT task leaves, be handed back at the next takeover, and after
 * 256 rounds the kernel ends the scheduler ("reenqueue limit" on 7.x). So it moves to
 * another CPU if it may, and otherwise goes first here.
 */
static void insert_direct(struct task_struct *p, u64 slice, u64 enq_flags)
{
	s32 here = scx_bpf_task_cpu(p), cpu;

	if (enq_flags & enq_reenq_flag()) {
		cpu = other_cpu_for(p, here);
		if (cpu >= 0 && cpu != here) {
			dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice, enq_flags);
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
			count(&counters.nr_kernel_dispatches);
			return;
		}
		enq_flags |= enq_head_flag();
	}
	dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags);
	count(&counters.nr_kernel_dispatches);
}

/* @cpu runs no priority task and @p may use it. */
static bool runs_normal_task_for(s32 cpu, const struct task_struct *p)
{
	struct gthulhu_cpu_state *st = cpu_state_of(cpu);

	return st && !st->prio_level && bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/*
 * A priority task found no idle CPU: take one from a normal task, its own first. The
 * normal task it displaces waits in SHARED like one the loop preempted (see cpu_ctx): a
 * round trip to user space would leave the CPU idle once the priority task sleeps again.
 */
static void preempt_for(const struct task_struct *p)
{
	s32 cpu, victim = scx_bpf_task_cpu(p);
	struct cpu_ctx *cctx;

	if (!runs_normal_task_for(victim, p)) {
		victim = -1;
		bpf_for(cpu, 0, nr_cpu_ids)
		{
			if (runs_normal_task_for(cpu, p)) {
				victim = cpu;
				break;
			}
		}
	}
	if (victim < 0)
		return;
	cctx = cpu_ctx(victim);
	if (cctx && cctx->running_pid != usersched_pid)
		cctx->preempted_pid = cctx->running_pid;
	scx_bpf_kick_cpu(victim, SCX_KICK_PREEMPT);
}

static u64 prio_key(u32 level, u64 enq_ts)
{
	return ((u64)(GTHULHU_PRIO_MAX - level) << GTHULHU_PRIO_KEY_SHIFT) |
	       (enq_ts & ((1ull << GTHULHU_PRIO_KEY_SHIFT) - 1));
}

/*
 * The fast path for priority wake-ups. A wake-up is where a latency-critical task loses
 * time, and a round trip through user space costs two context switches on some CPU
 * before the task can run. When user space's last decision for the task gave it a
 * priority level under the strategy snapshot that is still the published one, user space
 * would answer the same again: place it in PRIO now and take a CPU for it. A new snapshot
 * (a rule changed, a process came or went) ends the shortcut until user space decides
 * again; so do the fallback mode, where priorities are not applied, and any enqueue that
 * is not a wake-up (a slice ran out), which goes up as usual and keeps user space's
 * accounting of the task current.
 */
static bool place_prio_wakeup(struct task_struct *p, struct task_ctx *tctx, u64 enq_flags)
{
	u64 gen = strategy_gen;
	u32 level = tctx->prio_level;

	if (!(enq_flags & SCX_ENQ_WAKEUP) || fallback_active || !gen || tctx->strategy_gen != gen ||
	    !level || level > GTHULHU_PRIO_MAX)
		return false;
	tctx->parked = false;
	dsq_insert_vtime(p, GTHULHU_DSQ_PRIO, slice_of(tctx), prio_key(level, bpf_ktime_get_ns()),
			 enq_flags);
	count(&counters.nr_kernel_dispatches);
	count(&counters.nr_prio_dispatches);
	count(&counters.nr_prio_fast_wakeups);
	if (!kick_idle_cpu(p))
		preempt_for(p);
	return true;
}

void BPF_STRUCT_OPS(gthulhu_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx;

	if (enq_flags & enq_reenq_flag())
		count(&counters.nr_reenqueued);

	if (p->pid == usersched_pid) {
		/* The loop thread preempts whatever runs: every other task waits for it. */
		struct cpu_ctx *cctx = cpu_ctx(scx_bpf_task_cpu(p));

		if (enq_flags & enq_reenq_flag()) {
			insert_direct(p, slice_max_ns, enq_flags);
			return;
		}
		if (cctx)
			cctx->preempted_pid = cctx->running_pid;
		dsq_insert(p, SCX_DSQ_LOCAL, slice_max_ns, enq_flags | SCX_ENQ_PREEMPT);
		count(&counters.nr_kernel_dispatches);
		return;
	}
	if (is_scheduler_thread(p)) {
		insert_direct(p, slice_max_ns, enq_flags);
		return;
	}
	if (!(enq_flags & SCX_ENQ_WAKEUP)) {
		struct cpu_ctx *cctx = cpu_ctx(scx_bpf_task_cpu(p));

		if (cctx && cctx->preempted_pid == p->pid) {
			struct task_ctx *pctx = task_ctx(p);

			cctx->preempted_pid = 0;
			if (pctx && pctx->prio_level) {
				/* First among its level: it was running already. */
				pctx->parked = false;
				dsq_insert_vtime(p, GTHULHU_DSQ_PRIO, slice_of(pctx),
						 prio_key(pctx->prio_level, 0), enq_flags);
			} else if (pctx) {
				pctx->parked = false;
				dsq_insert_vtime(p, GTHULHU_DSQ_SHARED, slice_of(pctx),
						 fallback_vtime(p, pctx), enq_flags);
			} else {
				dsq_insert(p, SCX_DSQ_LOCAL, slice_min_ns,
					   enq_flags | enq_head_flag());
			}
			count(&counters.nr_kernel_dispatches);
			return;
		}
	}
	if (loop_blocked && (p->flags & PF_KTHREAD) && !is_critical_kthread(p)) {
		count(&counters.nr_loop_blocked_kthreads);
		insert_direct(p, slice_max_ns, enq_flags);
		return;
	}
	if (is_critical_kthread(p) || is_migration_disabled(p)) {
		insert_direct(p, slice_max_ns, enq_flags);
		return;
	}

	tctx = task_ctx(p);
	if (!tctx) {
		insert_direct(p, slice_max_ns, enq_flags);
		return;
	}

	if (place_prio_wakeup(p, tctx, enq_flags))
		return;
	if (!fallback_active && queue_to_user(p, tctx, enq_flags))
		return;

	/* Ring full, or user space stalled: schedule it here, in vtime order. */
	if (fallback_active)
		count(&counters.nr_fallback_dispatches);
	else
		count(&counters.nr_sched_congested);
	tctx->parked = false;
	dsq_insert_vtime(p, GTHULHU_DSQ_SHARED, slice_of(tctx), fallback_vtime(p, tctx), enq_flags);
	kick_idle_cpu(p);
}

/* Carry out one decision; false when the task was not in PARKED yet. */
static bool handle_decision(const struct dispatched_task *d)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	bool prio = d->flags & GTHULHU_DF_PRIORITY;
	u64 slice = d->slice_ns ? d->slice_ns : slice_max_ns;
	struct scx_dispatch_q *src;
	s32 cpu = d->cpu;
	bool moved = false;
	u64 dsq;

	p = bpf_task_from_pid(d->pid);
	if (!p) {
		count(&counters.nr_cancel_dispatches);
		return true;
	}
	tctx = task_ctx(p);
	if (!tctx || !tctx->parked || tctx->enq_cnt != d->enq_cnt) {
		count(&counters.nr_cancel_dispatches);
		bpf_task_release(p);
		return true;
	}

	if (cpu != GTHULHU_CPU_ANY &&
	    (cpu < 0 || cpu >= nr_cpu_ids || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr) ||
	     (is_migration_disabled(p) && cpu != scx_bpf_task_cpu(p)))) {
		count(&counters.nr_bounce_dispatches);
		cpu = GTHULHU_CPU_ANY;
	}
	/* The policy saw the CPU idle; claim it, or queue the task where any CPU finds it. */
	if (cpu != GTHULHU_CPU_ANY && !scx_bpf_test_and_clear_cpu_idle(cpu))
		cpu = GTHULHU_CPU_ANY;

	if (cpu != GTHULHU_CPU_ANY)
		dsq = SCX_DSQ_LOCAL_ON | cpu;
	else
		dsq = prio ? GTHULHU_DSQ_PRIO : GTHULHU_DSQ_SHARED;

	/* Not in PARKED yet (still being enqueued): a cheap no before the move's locks. */
	src = BPF_CORE_READ(p, scx.dsq);
	if (src && BPF_CORE_READ(src, id) == GTHULHU_DSQ_PARKED) {
		if (!bpf_iter_scx_dsq_new(&it, GTHULHU_DSQ_PARKED, 0))
			moved =
			    dsq_move(&it, p, dsq, slice, d->deadline, cpu == GTHULHU_CPU_ANY, 0);
		bpf_iter_scx_dsq_destroy(&it);
	}

	if (!moved && cpu != GTHULHU_CPU_ANY) {
		/* We cleared its idle bit: kick it, or it sleeps unseen by every idle search. */
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	if (moved) {
		tctx->vtime = d->vtime;
		tctx->slice_ns = d->slice_ns;
		tctx->prio_level = d->prio_level;
		tctx->strategy_gen = d->strategy_gen;
		count(&counters.nr_user_dispatches);
		if (prio)
			count(&counters.nr_prio_dispatches);
		if (cpu != GTHULHU_CPU_ANY)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		else if (prio && (d->flags & GTHULHU_DF_PREEMPT))
			preempt_for(p);
		else
			kick_idle_cpu(p);
	}
	bpf_task_release(p);
	return moved;
}

static void retry_later(const struct dispatched_task *d, u64 since)
{
	struct retry_entry e = {.d = *d, .since = since};

	if (elapsed(bpf_ktime_get_ns(), since, RETRY_NS) || bpf_map_push_elem(&retries, &e, 0))
		count(&counters.nr_failed_dispatches);
	else
		__sync_fetch_and_add(&nr_retries_queued, 1);
}

static long collect_decision(struct bpf_dynptr *dynptr, void *ctx)
{
	u32 key = 0, n;
	struct drain_buf *buf = bpf_map_lookup_elem(&drain_bufs, &key);

	if (!buf)
		return 1;
	n = buf->n;

	if (n >= DRAIN_BATCH)
		return 1;
	if (bpf_dynptr_read(&buf->d[n], sizeof(buf->d[n]), dynptr, 0, 0))
		return 0;
	buf->n = n + 1;
	return buf->n >= DRAIN_BATCH;
}

static void run_retries(void)
{
	struct retry_entry e;
	u32 i;

	bpf_for(i, 0, 16)
	{
		if (!nr_retries_queued || bpf_map_pop_elem(&retries, &e))
			break;
		__sync_fetch_and_sub(&nr_retries_queued, 1);
		if (!handle_decision(&e.d)) {
			count(&counters.nr_retry_dispatches);
			retry_later(&e.d, e.since);
		}
	}
}

static void drain_decisions(void)
{
	struct drain_buf *buf;
	u32 key = 0, i, n;
	u64 now;

	buf = bpf_map_lookup_elem(&drain_bufs, &key);
	if (!buf)
		return;
	buf->n = 0;
	bpf_user_ringbuf_drain(&dispatched, collect_decision, NULL,
			       loop_waits_for_room ? 0 : BPF_RB_NO_WAKEUP);
	n = buf->n;
	if (!n)
		return;

	now = bpf_ktime_get_ns();
	last_progress_ns = now;
	if (fallback_active) {
		fallback_active = false;
		dbg("gthulhu: user space answers again, fallback off");
	}
	bpf_for(i, 0, DRAIN_BATCH)
	{
		if (i >= n)
			break;
		if (!handle_decision(&buf->d[i])) {
			count(&counters.nr_retry_dispatches);
			retry_later(&buf->d[i], now);
		}
	}
	/* More answers wait: make sure some CPU comes back for them soon. */
	if (n == DRAIN_BATCH) {
		const struct cpumask *online = scx_bpf_get_online_cpumask();
		s32 cpu = scx_bpf_pick_idle_cpu(online, 0);

		scx_bpf_put_cpumask(online);
		if (cpu >= 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
}

/*
 * User space silent for too long while tasks wait: schedule them here. The episode ends
 * when a decision arrives (drain_decisions()) or the loop thread runs again.
 */
static bool check_stall(u64 now)
{
	if (fallback_active) {
		if (!elapsed(counters.usersched_last_run_at, fallback_since, 1))
			return true;
		fallback_active = false;
		last_progress_ns = now;
	}
	if (!scx_bpf_dsq_nr_queued(GTHULHU_DSQ_PARKED)) {
		last_progress_ns = now;
		return false;
	}
	if (!elapsed(now, last_progress_ns, stall_timeout_ns))
		return false;
	fallback_active = true;
	fallback_since = now;
	count(&counters.nr_fallback_episodes);
	bpf_printk("gthulhu: user space stalled, BPF schedules parked tasks");
	return true;
}

/*
 * A decision can be lost (retries exhausted, a task user space never answered for): no
 * parked task may wait longer than stall_timeout_ns. One CPU at a time scans PARKED, at
 * most twice per timeout, and sends tasks that waited too long to SHARED. When the loop
 * has just blocked in the kernel (loop_blocked), the next scan comes at once and also
 * sends every kernel thread: one parked before the loop blocked may be what it waits for.
 */
#define PARKED_SCAN_MAX 1024

static void rescue_parked(u64 now)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	u64 last = parked_scan_ns;
	bool kthreads;
	u32 i;

	if (!scx_bpf_dsq_nr_queued(GTHULHU_DSQ_PARKED))
		return;
	kthreads = kthread_scan_wanted && __sync_bool_compare_and_swap(&kthread_scan_wanted, 1, 0);
	/* Concurrent scans are safe (a task moves once), just wasted: the periodic one is alone. */
	if (!kthreads && (!elapsed(now, last, stall_timeout_ns / 2) ||
			  !__sync_bool_compare_and_swap(&parked_scan_ns, last, now)))
		return;
	if (bpf_iter_scx_dsq_new(&it, GTHULHU_DSQ_PARKED, 0))
		goto out;
	bpf_for(i, 0, PARKED_SCAN_MAX)
	{
		bool old, kthread;
		struct task_ctx *tctx;

		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		tctx = task_ctx(p);
		if (!tctx)
			continue;
		old = elapsed(now, tctx->parked_at, stall_timeout_ns);
		kthread = kthreads && (p->flags & PF_KTHREAD);
		if ((!old && !kthread) || !dsq_move(&it, p, GTHULHU_DSQ_SHARED, slice_of(tctx),
						    fallback_vtime(p, tctx), true, 0))
			continue;
		tctx->parked = false;
		count(old ? &counters.nr_parked_rescued : &counters.nr_loop_blocked_kthreads);
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
}

/*
 * Priority tasks come first, but like real-time tasks under the kernel's RT throttling
 * they cannot take everything: when SHARED has not been served for starvation_ns, it goes
 * first once. A CPU-bound priority task then leaves normal tasks (and the kthreads the
 * kernel's own watchdog relies on) a slice every starvation_ns.
 */
static bool shared_starving(u64 now)
{
	if (!scx_bpf_dsq_nr_queued(GTHULHU_DSQ_SHARED)) {
		shared_served_ns = now;
		return false;
	}
	return elapsed(now, shared_served_ns, starvation_ns);
}

/*
 * SHARED is one queue in deadline order, but the task at its head often last ran on another
 * CPU, and taking it is a migration: both run queues locked, the task moved, its cache
 * left behind. Under a messaging load that was most of the BPF half's time. So a CPU looks
 * at the first LOCAL_SCAN tasks and takes the first that is already its own, as long as
 * its deadline is within slice_min_ns of the head's (an inversion of at most that much);
 * otherwise, or if none is, the head goes first.
 */
#define LOCAL_SCAN 4

static bool consume_own_shared(void)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	s32 here = bpf_get_smp_processor_id();
	bool moved = false;
	u64 head_key = 0;
	u32 i;

	if (bpf_iter_scx_dsq_new(&it, GTHULHU_DSQ_SHARED, 0))
		goto out;
	bpf_for(i, 0, LOCAL_SCAN)
	{
		p = bpf_iter_scx_dsq_next(&it);
		if (!p)
			break;
		if (!i)
			head_key = p->scx.dsq_vtime;
		else if ((s64)(p->scx.dsq_vtime - head_key) > (s64)slice_min_ns)
			break;
		if (scx_bpf_task_cpu(p) == here) {
			moved = dsq_move(&it, p, SCX_DSQ_LOCAL, p->scx.slice, 0, false, 0);
			if (moved)
				count(&counters.nr_shared_local);
			break;
		}
	}
out:
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

static bool consume_shared(u64 now)
{
	if (!scx_bpf_dsq_nr_queued(GTHULHU_DSQ_SHARED) ||
	    (!consume_own_shared() && !dsq_move_to_local(GTHULHU_DSQ_SHARED)))
		return false;
	shared_served_ns = now;
	return true;
}

/*
 * Pod metrics. ops.running() opens a run; pm_report() adds it to the task's cgroup when it
 * ends (ops.stopping()), or so far when the task keeps its CPU for another slice
 * (ops.dispatch()), so a task that never leaves its CPU still shows its CPU time. Figures
 * land in the cgroup as they happen: an exiting task has nothing left to fold.
 *
 * CPU time and run-queue wait are the kernel's own clocks (se.sum_exec_runtime, which
 * sched_ext keeps up to date before ops.stopping(), and sched_info.run_delay), read as
 * deltas: the same figures as /proc/<pid>/schedstat and the cpu controller, so the time
 * a CPU spends picking the next task counts where the kernel counts it. A kernel built
 * without CONFIG_SCHED_INFO has no run_delay: the wait is then timed from ops.runnable()
 * (or the preemption) to ops.running().
 */
#define TASK_RUNNING 0

enum pm_end {
	PM_CONTINUES, /* slice refilled: still running */
	PM_BLOCKED,   /* left the CPU to sleep: a voluntary switch */
	PM_PREEMPTED, /* left it still runnable: an involuntary switch */
	PM_REQUEUED,  /* dequeued while running to change affinity, nice or cgroup: no switch */
};

static __always_inline bool pm_kernel_wait(const struct task_struct *p)
{
	/* Not sched_info itself: task_struct has it always, empty without SCHED_INFO. */
	return bpf_core_field_exists(p->sched_info.run_delay);
}

static struct gthulhu_cgroup_stats *cgroup_stats_of(const struct task_struct *p)
{
	struct gthulhu_cgroup_stats *st, zero = {};
	/*
	 * The v2 (default hierarchy) cgroup: its id is its directory's inode number. Plain
	 * loads, which the verifier turns into fault-safe ones, cost less than four
	 * bpf_probe_read_kernel() calls (BPF_CORE_READ) on every context switch.
	 */
	u64 cgid = p->cgroups->dfl_cgrp->kn->id;
	long err;

	st = bpf_map_lookup_elem(&cgroup_stats, &cgid);
	if (st)
		return st;
	err = bpf_map_update_elem(&cgroup_stats, &cgid, &zero, BPF_NOEXIST);
	/* -EEXIST: another CPU added it first; anything else (full) loses this report. */
	if (err && err != -EEXIST) {
		count(&counters.nr_metrics_dropped);
		return NULL;
	}
	return bpf_map_lookup_elem(&cgroup_stats, &cgid);
}

/* From ops.init_task(): what the task waited before it was ours is not counted. */
static void pm_init(const struct task_struct *p, struct task_ctx *tctx)
{
	if (pm_kernel_wait(p))
		tctx->pm_delay_seen = p->sched_info.run_delay;
}

static void pm_running(const struct task_struct *p, struct task_ctx *tctx, u64 now)
{
	u32 cpu = scx_bpf_task_cpu(p) + 1;

	tctx->pm_open = true;
	tctx->pm_new_run = true;
	tctx->pm_migrated = tctx->pm_last_cpu && tctx->pm_last_cpu != cpu;
	tctx->pm_last_cpu = cpu;
	tctx->pm_exec_seen = p->se.sum_exec_runtime;
	if (!pm_kernel_wait(p)) {
		tctx->pm_waited = 0;
		if (tctx->pm_wait_start && elapsed(now, tctx->pm_wait_start, 0))
			tctx->pm_waited = now - tctx->pm_wait_start;
		tctx->pm_wait_start = 0;
	}
}

static void pm_report(const struct task_struct *p, struct task_ctx *tctx, u64 now, enum pm_end end)
{
	struct gthulhu_cgroup_stats *st;
	u64 exec, cpu_ns, wait_ns = 0;

	if (!pm_kernel_wait(p) && (end == PM_PREEMPTED || end == PM_REQUEUED))
		tctx->pm_wait_start = now;
	/* No open run: it started before the scheduler attached. */
	if (!tctx->pm_open)
		return;
	tctx->pm_open = end == PM_CONTINUES;
	exec = p->se.sum_exec_runtime;
	cpu_ns = exec - tctx->pm_exec_seen;
	tctx->pm_exec_seen = exec;
	if (tctx->pm_new_run) {
		/* The kernel added this run's wait when the task came on the CPU. */
		if (pm_kernel_wait(p)) {
			u64 delay = p->sched_info.run_delay;

			wait_ns = delay - tctx->pm_delay_seen;
			tctx->pm_delay_seen = delay;
		} else {
			wait_ns = tctx->pm_waited;
		}
	}

	st = cgroup_stats_of(p);
	if (!st)
		return;
	/* Only this CPU writes its copy, with interrupts off: no atomics needed. */
	if (tctx->pm_new_run) {
		tctx->pm_new_run = false;
		st->runs++;
		st->migrations += tctx->pm_migrated;
		st->wait_ns += wait_ns;
	}
	st->cpu_ns += cpu_ns;
	if (end == PM_BLOCKED)
		st->nvcsw++;
	else if (end == PM_PREEMPTED)
		st->nivcsw++;
}

static enum pm_end pm_end_of(const struct task_struct *p, bool runnable)
{
	if (runnable)
		return PM_PREEMPTED;
	/* Sleeping, a task has set its state before it is dequeued; requeued, it has not. */
	return p->__state == TASK_RUNNING ? PM_REQUEUED : PM_BLOCKED;
}

void BPF_STRUCT_OPS(gthulhu_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();

	run_retries();
	drain_decisions();
	rescue_parked(now);
	/* A record waits for a batch no longer than a few slices (decision_needed_now()). */
	if (elapsed(now, counters.usersched_last_run_at, BATCH_WAIT_SLICES * slice_max_ns) &&
	    bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA))
		wake_sleeping_loop();

	if (shared_starving(now) && consume_shared(now)) {
		count(&counters.nr_starvation_guards);
		return;
	}
	if (dsq_move_to_local(GTHULHU_DSQ_PRIO))
		return;
	/*
	 * While user space is stalled, new tasks go to SHARED and PARKED only shrinks:
	 * drain it first, or a busy SHARED queue would starve what waited longest.
	 */
	if (check_stall(now) && dsq_move_to_local(GTHULHU_DSQ_PARKED)) {
		count(&counters.nr_fallback_dispatches);
		return;
	}
	if (consume_shared(now))
		return;

	/* Nothing to serve here: the records waiting up the ring are needed now. */
	if (bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA))
		wake_sleeping_loop();

	/*
	 * If nothing waits anywhere, the running task keeps its CPU for a full slice; if tasks
	 * wait for decisions from user space, for a short one, so the CPU stays busy until
	 * they arrive (never zero: newer kernels warn about that).
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		struct task_ctx *pctx = NULL;

		if (has_waiting_work()) {
			prev->scx.slice = slice_min_ns;
		} else {
			pctx = task_ctx(prev);
			prev->scx.slice = slice_of(pctx);
			count(&counters.nr_slice_refills);
		}
		if (pod_metrics_enabled) {
			if (!pctx)
				pctx = task_ctx(prev);
			if (pctx)
				pm_report(prev, pctx, now, PM_CONTINUES);
		}
	}
}

void BPF_STRUCT_OPS(gthulhu_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx(p);

	if (p->pid == usersched_pid)
		loop_blocked = false;
	if (tctx && (enq_flags & SCX_ENQ_WAKEUP))
		tctx->exec_runtime = 0;
	if (pod_metrics_enabled && tctx && !pm_kernel_wait(p))
		tctx->pm_wait_start = bpf_ktime_get_ns();
}

void BPF_STRUCT_OPS(gthulhu_running, struct task_struct *p)
{
	struct gthulhu_cpu_state *st = cpu_state_of(scx_bpf_task_cpu(p));
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns();

	struct cpu_ctx *cctx = cpu_ctx(scx_bpf_task_cpu(p));

	if (cctx)
		cctx->running_pid = p->pid;
	if (st)
		st->nr_started++;
	if (p->pid == usersched_pid) {
		counters.usersched_last_run_at = now;
		/* Gthulhu's own loop counts too: in Kubernetes it runs in a pod of its own. */
		if (pod_metrics_enabled) {
			tctx = task_ctx(p);
			if (tctx)
				pm_running(p, tctx, now);
		}
		return;
	}
	__sync_fetch_and_add(&counters.nr_running, 1);
	tctx = task_ctx(p);
	if (!tctx)
		return;
	if (pod_metrics_enabled)
		pm_running(p, tctx, now);
	tctx->start_ts = now;
	tctx->parked = false;
	tctx->sync_wakeup = false; /* select_cpu() sets it again at the next wake-up */
	if (st)
		st->prio_level = tctx->prio_level;
}

void BPF_STRUCT_OPS(gthulhu_stopping, struct task_struct *p, bool runnable)
{
	struct gthulhu_cpu_state *st = cpu_state_of(scx_bpf_task_cpu(p));
	struct task_ctx *tctx;
	u64 now = bpf_ktime_get_ns(), ran;

	if (p->pid == usersched_pid) {
		/* Asleep, but not where it announced it would sleep: blocked in the kernel. */
		loop_blocked = !runnable && !loop_sleeping;
		if (loop_blocked)
			kthread_scan_wanted = 1;
		if (pod_metrics_enabled) {
			tctx = task_ctx(p);
			if (tctx)
				pm_report(p, tctx, now, pm_end_of(p, runnable));
		}
		return;
	}
	__sync_fetch_and_sub(&counters.nr_running, 1);
	if (st)
		st->prio_level = 0;
	tctx = task_ctx(p);
	if (!tctx)
		return;
	if (pod_metrics_enabled)
		pm_report(p, tctx, now, pm_end_of(p, runnable));
	ran = now > tctx->start_ts ? now - tctx->start_ts : 0;
	tctx->ran_ns += ran;
	tctx->exec_runtime += ran;
	tctx->stop_ts = now;
}

void BPF_STRUCT_OPS(gthulhu_update_idle, s32 cpu, bool idle)
{
	struct gthulhu_cpu_state *st = cpu_state_of(cpu);

	if (st)
		st->idle = idle;
}

/*
 * An RT or deadline task took the CPU: hand its queued tasks back to be placed again
 * (they come to ops.enqueue() with SCX_ENQ_REENQ, see insert_direct()). Up to 6.18 the
 * kernel says so through ops.cpu_release(). 6.19+ deprecates that callback and lets the
 * hand-back be asked for from anywhere: there user space leaves ops.cpu_release() out
 * and loads this sched_switch hook instead (loader.c).
 */
void BPF_STRUCT_OPS(gthulhu_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	if (bpf_ksym_exists(scx_bpf_reenqueue_local___compat))
		scx_bpf_reenqueue_local___compat();
}

#define MAX_RT_PRIO 100

SEC("?tp_btf/sched_switch")
int BPF_PROG(gthulhu_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (next->prio < MAX_RT_PRIO && prev->prio >= MAX_RT_PRIO &&
	    bpf_ksym_exists(scx_bpf_reenqueue_local___v2___compat))
		scx_bpf_reenqueue_local___v2___compat();
	return 0;
}

void BPF_STRUCT_OPS(gthulhu_enable, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx(p);

	p->scx.dsq_vtime = 0;
	if (tctx)
		tctx->vtime = 0;
}

s32 BPF_STRUCT_OPS(gthulhu_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	if (pod_metrics_enabled)
		pm_init(p, tctx);
	return 0;
}

void BPF_STRUCT_OPS(gthulhu_exit_task, struct task_struct *p, struct scx_exit_task_args *args)
{
	bpf_task_storage_delete(&task_ctxs, p);
}

static int heartbeat_fn(void *map, int *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns();
	u64 avail = bpf_ringbuf_query(&queued, BPF_RB_AVAIL_DATA);
	s32 cpu;

	counters.nr_queued = avail / (sizeof(struct queued_task) + 8);

	if (avail && elapsed(now, counters.usersched_last_run_at, heartbeat_ns)) {
		ring_doorbell();
		count(&counters.nr_heartbeat_wakeups);
	}
	/*
	 * Work waits in a queue any CPU may serve: wake every idle CPU (SCX_KICK_IDLE
	 * leaves busy ones alone). Normally the enqueue path already did; this is the
	 * backstop for a CPU left idle with its idle bit cleared, which no idle search
	 * would ever pick again.
	 */
	if (check_stall(now) || scx_bpf_dsq_nr_queued(GTHULHU_DSQ_SHARED) ||
	    scx_bpf_dsq_nr_queued(GTHULHU_DSQ_PRIO)) {
		bpf_for(cpu, 0, nr_cpu_ids) scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	bpf_timer_start(timer, heartbeat_ns, 0);
	return 0;
}

static s32 count_online_cpus(void)
{
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	s32 cpu, n = 0;

	bpf_for(cpu, 0, nr_cpu_ids)
	{
		if (bpf_cpumask_test_cpu(cpu, online))
			n++;
	}
	scx_bpf_put_cpumask(online);
	return n;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(gthulhu_init)
{
	struct heartbeat *hb;
	u32 key = 0;
	s32 err;

	nr_cpu_ids = scx_bpf_nr_cpu_ids();
	counters.nr_online_cpus = count_online_cpus();
	kfunc_api_in_use = kfunc_api();
	last_progress_ns = bpf_ktime_get_ns();
	shared_served_ns = last_progress_ns;
	parked_scan_ns = last_progress_ns;

	err = scx_bpf_create_dsq(GTHULHU_DSQ_SHARED, -1);
	if (!err)
		err = scx_bpf_create_dsq(GTHULHU_DSQ_PRIO, -1);
	if (!err)
		err = scx_bpf_create_dsq(GTHULHU_DSQ_PARKED, -1);
	if (err)
		return err;

	hb = bpf_map_lookup_elem(&heartbeats, &key);
	if (!hb)
		return -ENOENT;
	bpf_timer_init(&hb->timer, &heartbeats, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&hb->timer, heartbeat_fn);
	return bpf_timer_start(&hb->timer, heartbeat_ns, 0);
}

void BPF_STRUCT_OPS(gthulhu_exit, struct scx_exit_info *ei)
{
	exit_info.exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(exit_info.reason, sizeof(exit_info.reason), ei->reason);
	bpf_probe_read_kernel_str(exit_info.msg, sizeof(exit_info.msg), ei->msg);
	bpf_probe_read_kernel_str(exit_dump, sizeof(exit_dump), ei->dump);
	/* kind last: user space reads it as "the rest is complete" (BPF has no fences; the
	 * compiler barrier keeps the order, and the stores reach memory in program order). */
	asm volatile("" ::: "memory");
	exit_info.kind = ei->kind;
	ring_doorbell();
}

SEC(".struct_ops.link")
struct sched_ext_ops gthulhu_ops = {
    .select_cpu = (void *)gthulhu_select_cpu,
    .enqueue = (void *)gthulhu_enqueue,
    .dispatch = (void *)gthulhu_dispatch,
    .runnable = (void *)gthulhu_runnable,
    .running = (void *)gthulhu_running,
    .stopping = (void *)gthulhu_stopping,
    .update_idle = (void *)gthulhu_update_idle,
    .cpu_release = (void *)gthulhu_cpu_release,
    .enable = (void *)gthulhu_enable,
    .init_task = (void *)gthulhu_init_task,
    .exit_task = (void *)gthulhu_exit_task,
    .init = (void *)gthulhu_init,
    .exit = (void *)gthulhu_exit,
    .exit_dump_len = GTHULHU_EXIT_DUMP_LEN,
    .timeout_ms = 30000,
    .name = "gthulhu",
};
