/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPU placement: which idle CPU a runnable task should go to.
 *
 * The scheduling loop calls cpu_select() once per task the kernel sends up, so it is pure
 * bit arithmetic over the topology (topology/topology.h): no allocation, no syscalls, no
 * locks, and every step is a scan of a few mask words. The loop builds the idle and
 * priority-busy masks once per batch with cpu_select_build_masks() and, after placing a task
 * on a CPU, clears that CPU from its idle mask so the next task goes elsewhere.
 *
 * Order of preference, always within allowed & idle & online:
 *   a) a CPU on a fully idle SMT core (every online sibling idle), so the task gets the
 *      whole core: prev_cpu, then its core, L2, LLC, NUMA node, then anywhere;
 *   b) otherwise any idle CPU, in the same order.
 * Within a domain the CPU nearest after prev_cpu (wrapping around) wins: the result is
 * deterministic and successive placements spread over the domain.
 *
 * Priority tasks: for a normal task, idle CPUs whose SMT sibling runs a priority task are
 * taken only when no other idle CPU fits, so priority work does not share its core's
 * execution units with a newcomer. A priority task ignores this and follows a) and b).
 *
 * The anchor of the search is prev_cpu when it is an online CPU, even if the task may no
 * longer run there (its cache is still warm in prev_cpu's L2/LLC). When prev_cpu is -1, out
 * of range or offline, the first allowed online CPU stands in for it.
 */
#ifndef GTHULHU_CPU_SELECT_H
#define GTHULHU_CPU_SELECT_H

#include <stdbool.h>

#include "bpf/intf.h"
#include "topology/cpumask.h"
#include "topology/topology.h"

/*
 * Pick a CPU for a task, or return -1 when no idle CPU fits (queue it on the shared queue).
 *   allowed    CPUs the task may run on; NULL means no restriction. The result is always in
 *              it. (queued_task.cpumask has the same layout and can be copied in.)
 *   idle       CPUs with nothing to run; NULL means none.
 *   prio_busy  CPUs running a priority task; NULL means none.
 *   prev_cpu   where the task last ran; any value is accepted.
 * Cost: O(nr_words) word operations for t's machine (O(idle CPUs) if its SMT numbering is
 * irregular, see topology.h); t and the masks are only read.
 */
int cpu_select(const struct topology *t, const struct cpumask *allowed, const struct cpumask *idle,
	       const struct cpumask *prio_busy, int prev_cpu, bool is_priority);

/*
 * Turn the per-CPU state the BPF half exports into the two masks cpu_select() takes:
 * idle = CPUs flagged idle, prio_busy = CPUs not idle whose prio_level is non-zero (an idle
 * CPU's prio_level is stale). Entries past nr_cpus (or GTHULHU_MAX_CPUS) are not read.
 * Each field is read once with a relaxed atomic load, since BPF updates them concurrently.
 */
void cpu_select_build_masks(const struct gthulhu_cpu_state *state, int nr_cpus,
			    struct cpumask *idle, struct cpumask *prio_busy);

#endif /* GTHULHU_CPU_SELECT_H */
