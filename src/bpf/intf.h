/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract between Gthulhu's two halves.
 *
 * The BPF half (gthulhu.bpf.c) sends one `struct queued_task` per runnable task up the
 * `queued` ring buffer; the user-space policy answers with one `struct dispatched_task`
 * down the `dispatched` user ring buffer. Counters, per-CPU state and exit information
 * live in BPF global data that user space reads through the skeleton. Both sides include
 * this file, so every field has one definition and one meaning.
 */
#ifndef GTHULHU_INTF_H
#define GTHULHU_INTF_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define GTHULHU_MAX_CPUS      1024 /* a power of two: BPF masks indexes with it */
#define GTHULHU_CPUMASK_WORDS (GTHULHU_MAX_CPUS / 64)
#define GTHULHU_COMM_LEN      16
/* Records each ring holds; the ring sizes below fit this many with their headers. */
#define GTHULHU_RING_RECORDS   4096
#define GTHULHU_QUEUED_BYTES   (1u << 20)
#define GTHULHU_DISPATCH_BYTES (1u << 18)

/* Custom dispatch queues (ids below the kernel's built-in range). */
enum gthulhu_dsq {
	/* Normal tasks decided by user space with no idle CPU free, ordered by deadline. */
	GTHULHU_DSQ_SHARED = 0x1000,
	/* Priority tasks, ordered by level then arrival; consumed before SHARED. */
	GTHULHU_DSQ_PRIO = 0x1001,
	/*
	 * Tasks whose record went up the ring and that wait for a decision. They are
	 * moved out one by one as decisions arrive; when user space stalls, the BPF half
	 * consumes this queue itself in its own vtime order.
	 */
	GTHULHU_DSQ_PARKED = 0x1002,
};

/* queued_task.flags */
enum gthulhu_queued_flags {
	GTHULHU_QF_RESTRICTED = 1u << 0, /* cpumask[] holds the allowed CPUs */
	GTHULHU_QF_WAKEUP = 1u << 1,	 /* the task just woke up (was sleeping) */
};

/* The kernel half's view of a task that needs a decision. */
struct queued_task {
	__s32 pid;  /* thread id */
	__s32 tgid; /* process id */
	__s32 cpu;  /* CPU the task last ran on */
	__u32 nr_cpus_allowed;
	__u32 flags;	    /* GTHULHU_QF_* */
	__u32 weight;	    /* 100 for nice 0 (sched_ext's scale) */
	__u64 enq_flags;    /* the kernel's SCX_ENQ_* flags, for information */
	__u64 start_ts;	    /* when the task last started running (ns) */
	__u64 stop_ts;	    /* when it last stopped (ns) */
	__u64 exec_runtime; /* ns run since it last went to sleep */
	__u64 vtime;	    /* weighted virtual runtime kept for this task */
	__u64 ran_ns;	    /* ns run since the previous record: charge it once */
	__u64 enq_cnt;	    /* generation; a decision must echo it to be valid */
	__u64 enq_ts;	    /* when it was parked (ns): arrival order among priority tasks */
	char comm[GTHULHU_COMM_LEN];
	__u64 cpumask[GTHULHU_CPUMASK_WORDS];
};

#define GTHULHU_CPU_ANY (-1)

/* dispatched_task.flags */
enum gthulhu_dispatch_flags {
	GTHULHU_DF_PRIORITY = 1u << 0, /* goes to the priority queue, keyed by deadline */
	GTHULHU_DF_PREEMPT = 1u << 1,  /* may preempt a normal task when no CPU is idle */
};

/* The policy's decision for one queued task. */
/*
 * Priority tasks share one vtime-ordered queue (PRIO) in BPF; their key there is
 * (GTHULHU_PRIO_MAX - level) << GTHULHU_PRIO_KEY_SHIFT | enqueue time (low bits), so a
 * higher level sorts first and arrival order below it, whichever half placed the task.
 */
#define GTHULHU_PRIO_MAX       20
#define GTHULHU_PRIO_KEY_SHIFT 56

struct dispatched_task {
	__s32 pid;
	__s32 cpu;	    /* a CPU the task may use, or GTHULHU_CPU_ANY */
	__u32 flags;	    /* GTHULHU_DF_* */
	__u32 prio_level;   /* strategy priority level, 0 for normal tasks */
	__u64 slice_ns;	    /* time slice; 0 = the configured default */
	__u64 vtime;	    /* the task's updated virtual runtime, stored by BPF */
	__u64 deadline;	    /* ordering key in the dispatch queue */
	__u64 enq_cnt;	    /* echo of queued_task.enq_cnt */
	__u64 strategy_gen; /* generation of the strategy snapshot the decision used */
};

/*
 * Counters, one struct, in BPF .bss. BPF updates them with atomics; user space only
 * reads them, except nr_scheduled, which it writes.
 */
struct gthulhu_counters {
	__u64 usersched_last_run_at; /* ns, last time the scheduling loop ran */
	__u64 nr_queued;	     /* records sent up and not read yet */
	__u64 nr_scheduled;	     /* tasks user space holds undispatched (user-written) */
	__u64 nr_running;	     /* tasks running on a CPU now */
	__u64 nr_online_cpus;
	__u64 nr_user_dispatches;   /* tasks placed as user space decided */
	__u64 nr_kernel_dispatches; /* tasks placed by the BPF half directly */
	__u64 nr_cancel_dispatches; /* decisions dropped: stale generation */
	__u64 nr_bounce_dispatches; /* decisions whose CPU was not allowed: sent elsewhere */
	__u64 nr_failed_dispatches; /* decisions that could not be carried out */
	__u64 nr_sched_congested;   /* ring full: task went to the shared queue */
	/* Gthulhu's own, beyond the original's set. */
	__u64 nr_prio_dispatches;	/* priority placements: user decisions and fast wake-ups */
	__u64 nr_prio_fast_wakeups;	/* of which wake-ups BPF placed from the last decision */
	__u64 nr_fallback_dispatches;	/* tasks the BPF half ran itself while user space stalled */
	__u64 nr_fallback_episodes;	/* times user space was declared stalled */
	__u64 nr_retry_dispatches;	/* decisions that arrived before their task was parked */
	__u64 nr_heartbeat_wakeups;	/* times the heartbeat had to wake user space */
	__u64 nr_slice_refills;		/* running task kept its CPU: nothing else waited */
	__u64 nr_reenqueued;		/* tasks handed back after an RT/DL task took a CPU */
	__u64 nr_parked_rescued;	/* parked longer than the stall timeout: sent to SHARED */
	__u64 nr_starvation_guards;	/* SHARED served before PRIO: it waited too long */
	__u64 nr_metrics_dropped;	/* pod metrics lost: cgroup_stats was full */
	__u64 nr_loop_wakeups;		/* times BPF woke the sleeping scheduling loop */
	__u64 nr_records_deferred;	/* records that waited for the loop's next batch */
	__u64 nr_loop_blocked_kthreads; /* kthreads that bypassed the loop blocked in the kernel */
	__u64 nr_shared_local;		/* taken from SHARED by their own CPU: no migration */
	__u64 nr_hog_wakeups;		/* wake-ups beside a CPU hog: the loop came to preempt it */
};

/* Which generation of the kernel's kfunc names this kernel offered (set at init). */
enum gthulhu_kfunc_api {
	GTHULHU_KFUNC_DISPATCH = 1, /* 6.12: scx_bpf_dispatch*, scx_bpf_consume */
	GTHULHU_KFUNC_INSERT = 2,   /* 6.13+: scx_bpf_dsq_insert*, scx_bpf_dsq_move* */
	GTHULHU_KFUNC_INSERT_V2 = 3 /* 6.19+: scx_bpf_dsq_insert___v2 and friends */
};

/* Per-CPU state user space reads to place tasks (written by BPF, racy by design). */
struct gthulhu_cpu_state {
	__u8 idle;	 /* the CPU has nothing to run */
	__u8 prio_level; /* level of the priority task running there, 0 if none */
	__u8 pad[6];
	__u64 nr_started; /* tasks that started running here (only this CPU writes it) */
};

/*
 * Scheduling figures per cgroup v2 (the pod metrics), counted in ops.running/stopping when
 * the rodata switch pod_metrics_enabled is on. The per-CPU hash `cgroup_stats` maps a
 * cgroup id (the cgroup directory's inode number) to one of these per CPU: user space sums
 * the CPUs, folds cgroups into pods (k8s/pod_metrics.c) and deletes the entries of
 * cgroups that are gone or of no interest, which keeps the map small.
 */
#define GTHULHU_CGROUP_STATS_MAX 16384

struct gthulhu_cgroup_stats {
	__u64 nvcsw;	  /* left the CPU to block or sleep (voluntary switches) */
	__u64 nivcsw;	  /* left it still runnable: preempted, slice over, yield */
	__u64 cpu_ns;	  /* time on a CPU */
	__u64 wait_ns;	  /* time runnable and waiting for a CPU */
	__u64 runs;	  /* times put on a CPU */
	__u64 migrations; /* runs on a different CPU than the task's previous run */
};

#define GTHULHU_EXIT_REASON_LEN 128
#define GTHULHU_EXIT_MSG_LEN	1024
#define GTHULHU_EXIT_DUMP_LEN	32768

/* How and why the kernel ended the scheduler (copied in ops.exit). */
struct gthulhu_exit_info {
	__s32 kind; /* enum scx_exit_kind; 0 while attached */
	__s32 pad;
	__s64 exit_code; /* SCX_ECODE_* bits; ACT_RESTART asks for a re-attach */
	char reason[GTHULHU_EXIT_REASON_LEN];
	char msg[GTHULHU_EXIT_MSG_LEN];
};

#endif /* GTHULHU_INTF_H */
