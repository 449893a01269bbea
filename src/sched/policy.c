/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policy arithmetic (see policy.h for the model). Pure and allocation-free: it runs on the
 * scheduling loop for every task and is unit-tested without a kernel.
 */
#include <string.h>

#include "sched/policy.h"

/* sched_ext's weight for nice 0; a task of weight w advances 100/w times as fast. */
#define WEIGHT_NICE0 100

uint64_t policy_charge(uint64_t vtime, uint64_t ran_ns, uint32_t weight)
{
	if (!weight)
		weight = WEIGHT_NICE0;
	return vtime + ran_ns * WEIGHT_NICE0 / weight;
}

uint64_t policy_clamp_sleep_credit(uint64_t vtime, uint64_t min_vruntime, uint64_t slice_max_ns)
{
	uint64_t floor = min_vruntime > slice_max_ns ? min_vruntime - slice_max_ns : 0;

	/* Signed difference: vruntime may wrap after centuries, comparisons must not care. */
	return (int64_t)(vtime - floor) < 0 ? floor : vtime;
}

uint64_t policy_deadline(uint64_t vtime, uint64_t exec_runtime, uint64_t slice_max_ns)
{
	uint64_t cap = 100 * slice_max_ns;

	return vtime + (exec_runtime < cap ? exec_runtime : cap);
}

uint64_t policy_slice(const struct policy_config *cfg, uint64_t nr_waiting)
{
	uint64_t slice = cfg->slice_max_ns / (nr_waiting + 1);

	return slice < cfg->slice_min_ns ? cfg->slice_min_ns : slice;
}

void policy_account(const struct policy_config *cfg, struct policy_state *st,
		    const struct queued_task *rec, const struct strategy_effect *effect,
		    struct policy_task *out)
{
	uint64_t vtime = policy_clamp_sleep_credit(rec->vtime, st->min_vruntime, cfg->slice_max_ns);

	vtime = policy_charge(vtime, rec->ran_ns, rec->weight);

	out->pid = rec->pid;
	out->tgid = rec->tgid;
	out->prev_cpu = rec->cpu;
	out->enq_cnt = rec->enq_cnt;
	out->vtime = vtime;
	out->prio_level = effect ? effect->priority : 0;
	out->slice_ns = effect ? effect->execution_time_ns : 0;
	if (out->prio_level > STRATEGY_PRIO_MAX)
		out->prio_level = STRATEGY_PRIO_MAX;
	/* Enqueue time, the clock BPF's own priority placements use too (intf.h). */
	if (out->prio_level)
		out->key = rec->enq_ts;
	else
		out->key = policy_deadline(vtime, rec->exec_runtime, cfg->slice_max_ns);
	out->restricted = rec->flags & GTHULHU_QF_RESTRICTED;
	if (out->restricted)
		memcpy(out->allowed.w, rec->cpumask, sizeof(out->allowed.w));
}

bool policy_before(const struct policy_task *a, const struct policy_task *b)
{
	if (a->prio_level != b->prio_level)
		return a->prio_level > b->prio_level;
	return (int64_t)(a->key - b->key) < 0;
}

/*
 * Priority tasks share one vtime-ordered queue in BPF (see GTHULHU_PRIO_KEY_SHIFT).
 */
_Static_assert(STRATEGY_PRIO_MAX == GTHULHU_PRIO_MAX, "one priority scale everywhere");

void policy_decide(const struct policy_config *cfg, struct policy_state *st,
		   const struct policy_task *t, int cpu, uint64_t nr_waiting,
		   struct dispatched_task *out)
{
	memset(out, 0, sizeof(*out));
	out->pid = t->pid;
	out->cpu = cpu;
	out->enq_cnt = t->enq_cnt;
	out->vtime = t->vtime;
	out->prio_level = t->prio_level;
	out->slice_ns = t->slice_ns ? t->slice_ns : policy_slice(cfg, nr_waiting);
	if (t->prio_level) {
		out->flags = GTHULHU_DF_PRIORITY | GTHULHU_DF_PREEMPT;
		out->deadline =
		    ((uint64_t)(GTHULHU_PRIO_MAX - t->prio_level) << GTHULHU_PRIO_KEY_SHIFT) |
		    (t->key & ((1ull << GTHULHU_PRIO_KEY_SHIFT) - 1));
	} else {
		out->deadline = t->key;
		if ((int64_t)(t->vtime - st->min_vruntime) > 0)
			st->min_vruntime = t->vtime;
	}
}
