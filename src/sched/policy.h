/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduling policy's arithmetic, as pure functions over plain structs.
 *
 * Tasks are ordered by deadline = weighted vruntime + min(time run since last sleep,
 * 100 x slice_max): fair in the long run (vruntime advances by ran_ns * 100 / weight, so
 * nice levels get their share), and quick to answer tasks that sleep often (their
 * exec_runtime stays small). A waking task keeps at most one max slice of sleep credit.
 * Strategy priority levels come before all of this: a higher level always runs first.
 */
#ifndef GTHULHU_POLICY_H
#define GTHULHU_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/intf.h"
#include "strategy/strategy.h"
#include "topology/cpumask.h"

struct policy_config {
	uint64_t slice_max_ns; /* scheduler.slice_ns_default */
	uint64_t slice_min_ns; /* scheduler.slice_ns_min */
};

struct policy_state {
	uint64_t min_vruntime; /* the vruntime "now": the largest dispatched so far */
};

/* A task waiting in user space: all a decision needs, nothing more. */
struct policy_task {
	int32_t pid;
	int32_t tgid;
	int32_t prev_cpu;
	uint32_t prio_level; /* 0 normal, 1..STRATEGY_PRIO_MAX priority */
	uint64_t enq_cnt;
	uint64_t vtime;	   /* updated vruntime, sent back to BPF */
	uint64_t key;	   /* deadline (normal) or enqueue time (priority) */
	uint64_t slice_ns; /* strategy's own slice, 0 = computed at dispatch */
	bool restricted;   /* allowed holds the cpumask; else every CPU is allowed */
	struct cpumask allowed;
};

uint64_t policy_charge(uint64_t vtime, uint64_t ran_ns, uint32_t weight);
uint64_t policy_clamp_sleep_credit(uint64_t vtime, uint64_t min_vruntime, uint64_t slice_max_ns);
uint64_t policy_deadline(uint64_t vtime, uint64_t exec_runtime, uint64_t slice_max_ns);
uint64_t policy_slice(const struct policy_config *cfg, uint64_t nr_waiting);

/* Turn a record from the kernel (and its strategy, if any) into a pooled task. */
void policy_account(const struct policy_config *cfg, struct policy_state *st,
		    const struct queued_task *rec, const struct strategy_effect *effect,
		    struct policy_task *out);

/* True when @a must run before @b. */
bool policy_before(const struct policy_task *a, const struct policy_task *b);

/* Fill the decision for @t, taking @nr_waiting (tasks still held) into account. */
void policy_decide(const struct policy_config *cfg, struct policy_state *st,
		   const struct policy_task *t, int cpu, uint64_t nr_waiting,
		   struct dispatched_task *out);

#endif /* GTHULHU_POLICY_H */
