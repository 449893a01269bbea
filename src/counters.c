/* SPDX-License-Identifier: GPL-2.0 */
/* The counter table (see counters.h). Order: the original's counters first, then ours. */
#include <stddef.h>

#include "counters.h"

#define C(field, is_gauge, text)                                                                   \
	{                                                                                          \
		.name = #field, .help = text, .offset = offsetof(struct gthulhu_counters, field),  \
		.gauge = is_gauge                                                                  \
	}

const struct counter_desc counter_descs[] = {
    C(usersched_last_run_at, true, "When the scheduling loop last ran (ns, CLOCK_MONOTONIC)."),
    C(nr_queued, true, "Tasks sent to user space and not read yet."),
    C(nr_scheduled, true, "Tasks user space holds without a decision yet."),
    C(nr_running, true, "Tasks running on a CPU now."),
    C(nr_online_cpus, true, "CPUs online."),
    C(nr_user_dispatches, false, "Tasks placed as user space decided."),
    C(nr_kernel_dispatches, false, "Tasks the BPF half placed directly."),
    C(nr_cancel_dispatches, false, "Decisions dropped: the task had been queued again."),
    C(nr_bounce_dispatches, false, "Decisions whose CPU the task may not use: sent elsewhere."),
    C(nr_failed_dispatches, false, "Decisions that could not be carried out."),
    C(nr_sched_congested, false, "Tasks sent to the shared queue because the ring was full."),
    C(nr_prio_dispatches, false, "Tasks placed with a priority level (user space or fast path)."),
    C(nr_prio_fast_wakeups, false,
      "Priority wake-ups BPF placed itself, from the task's last decision."),
    C(nr_fallback_dispatches, false, "Tasks the BPF half ran itself while user space stalled."),
    C(nr_fallback_episodes, false, "Times user space was declared stalled."),
    C(nr_retry_dispatches, false, "Decisions that arrived before their task was parked."),
    C(nr_heartbeat_wakeups, false, "Times the heartbeat had to wake user space."),
    C(nr_slice_refills, false, "Running tasks that kept their CPU: nothing else waited."),
    C(nr_reenqueued, false, "Tasks handed back after an RT or deadline task took a CPU."),
    C(nr_parked_rescued, false, "Tasks that waited longer than the stall timeout: rescued."),
    C(nr_starvation_guards, false, "Times the shared queue was served before priority tasks."),
    C(nr_metrics_dropped, false, "Pod metrics reports lost: the per-cgroup map was full."),
    C(nr_loop_wakeups, false, "Times the BPF half woke the sleeping scheduling loop."),
    C(nr_records_deferred, false,
      "Tasks sent up without waking the loop: every CPU was busy, they waited for a batch."),
    C(nr_loop_blocked_kthreads, false,
      "Kernel threads that bypassed the loop while it slept inside the kernel, not in epoll."),
    C(nr_shared_local, false,
      "Tasks taken from the shared queue by the CPU they were already on: no migration."),
    C(nr_hog_wakeups, false,
      "Wake-ups beside a CPU hog: the loop came at once, to preempt the hog for them."),
};

const size_t nr_counter_descs = sizeof(counter_descs) / sizeof(counter_descs[0]);

uint64_t counter_read(const struct gthulhu_counters *c, const struct counter_desc *d)
{
	const uint64_t *v = (const uint64_t *)((const char *)c + d->offset);

	return __atomic_load_n(v, __ATOMIC_RELAXED);
}
