/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The machine's CPU topology, read once from sysfs at startup.
 *
 * The placement policy (sched/cpu_select.c) walks outwards from a task's previous CPU:
 * its SMT core, the CPUs sharing its L2, its last-level cache (LLC), its NUMA node, then
 * anything. This module turns sysfs into those domains so each lookup on that path is an
 * array index: every online CPU has, per level, the index of its domain, and each domain
 * holds its mask of online CPUs plus the range of mask words that can be non-zero.
 *
 * Sources, all under a root directory (production passes "/", tests pass fixture trees):
 *   sys/devices/system/cpu/possible           required; nr_cpus = highest id + 1
 *   sys/devices/system/cpu/online             the CPUs that may ever be chosen
 *   sys/devices/system/cpu/cpuN/topology/thread_siblings_list (or core_cpus_list)
 *   sys/devices/system/cpu/cpuN/cache/indexK/{level,shared_cpu_list}  level 2 and 3 only
 *   sys/devices/system/node/nodeN/cpulist
 *
 * Fallbacks (a missing piece never fails the load; t->fallbacks records which were used):
 *   - online missing: every possible CPU is taken as online (TOPO_FB_ONLINE).
 *   - neither sibling file: the CPU is a core of its own, no SMT (TOPO_FB_CORE).
 *   - no level-2 cache entry: the CPU's L2 domain is its SMT core (TOPO_FB_L2).
 *   - no level-3 cache entry: its LLC domain is its NUMA node (TOPO_FB_LLC); with no node
 *     information either, that is all online CPUs.
 *   - no node directory, or no nodeN with online CPUs: one node holding every online CPU
 *     (TOPO_FB_NODE). Online CPUs that no nodeN lists share one extra node
 *     (TOPO_FB_NODE_REST, node_id -1).
 * A file that exists but cannot be read or parsed (junk, CPU >= GTHULHU_MAX_CPUS) is an
 * error: it means sysfs is not what we think, and guessing would misplace every task.
 *
 * Offline CPUs (possible but not online at load time) belong to no domain and are never in
 * any domain mask, so they can never be chosen. The topology is not refreshed on hotplug; a
 * CPU that comes online later is simply not used until the daemon reloads it.
 *
 * The struct is large (a few hundred KiB: four levels of up to GTHULHU_MAX_CPUS domains),
 * so keep it static or on the heap, not on the stack. It is read-only after topology_load(),
 * so any number of threads may use it without locking.
 */
#ifndef GTHULHU_TOPOLOGY_H
#define GTHULHU_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "topology/cpumask.h"

/* Domain levels, innermost first: the order cpu_select() widens its search in. */
enum topo_level {
	TOPO_CORE, /* SMT siblings: one physical core */
	TOPO_L2,   /* CPUs sharing an L2 cache */
	TOPO_LLC,  /* CPUs sharing the last-level (L3) cache */
	TOPO_NODE, /* a NUMA node */
	TOPO_NR_LEVELS,
};

/* t->fallbacks bits: which pieces of sysfs were missing (see the list above). */
enum topo_fallback {
	TOPO_FB_ONLINE = 1u << 0,
	TOPO_FB_CORE = 1u << 1,
	TOPO_FB_L2 = 1u << 2,
	TOPO_FB_LLC = 1u << 3,
	TOPO_FB_NODE = 1u << 4,
	TOPO_FB_NODE_REST = 1u << 5,
};

struct topo_domain {
	struct cpumask mask; /* online CPUs in the domain */
	uint16_t lo_word;    /* mask.w[] outside [lo_word, hi_word] is zero: scans skip it */
	uint16_t hi_word;
	int node_id; /* TOPO_NODE only: the N of sysfs nodeN, -1 if synthesised */
};

/*
 * The SMT sibling relation as bit shifts, so cpu_select() can tell which idle CPUs sit on a
 * fully idle core with a few word operations instead of a loop over cores. For each distinct
 * offset d = sibling - cpu, mask holds the CPUs whose CPU+d is an online sibling. Regular
 * numberings need two offsets for 2-way SMT (Intel: +-N/2, AMD: +-1).
 */
#define TOPO_MAX_SMT_SHIFTS 8

struct topo_smt_shift {
	int delta; /* sibling - cpu */
	int q;	   /* delta = 64 * q + r with 0 <= r < 64 (q rounds down) */
	int r;
	int lo_word; /* mask.w[] outside [lo_word, hi_word] is zero */
	int hi_word;
	struct cpumask mask;
};

struct topology {
	int nr_cpus;  /* highest possible CPU + 1 */
	int nr_words; /* words of a cpumask that can hold a CPU below nr_cpus */
	struct cpumask possible;
	struct cpumask online;
	unsigned int fallbacks; /* TOPO_FB_* */
	int nr_domains[TOPO_NR_LEVELS];
	/* dom[level][cpu]: index into domains[level], -1 for CPUs that are not online. */
	int16_t dom[TOPO_NR_LEVELS][GTHULHU_MAX_CPUS];
	struct topo_domain domains[TOPO_NR_LEVELS][GTHULHU_MAX_CPUS];
	/* -1 when the numbering needs more than TOPO_MAX_SMT_SHIFTS: checked core by core. */
	int nr_smt_shifts;
	struct topo_smt_shift smt_shifts[TOPO_MAX_SMT_SHIFTS];
};

/*
 * Read the topology under root ("/" in production; "" means the same). Returns 0, or -1
 * with a message naming the offending file in err (if errlen > 0); *t is then unusable.
 */
int topology_load(struct topology *t, const char *root, char *err, size_t errlen);

/* Print the topology, one line per domain plus a summary and any fallbacks, for logs. */
void topology_describe(const struct topology *t, FILE *out);

/*
 * The fallbacks t used, as a comma-separated list of short names ("online", "core", "l2",
 * "llc", "node", "node_rest"; "" for none) in buf, always NUL-terminated when len > 0.
 */
void topology_fallback_names(const struct topology *t, char *buf, size_t len);

/* Domain of an online CPU at a level, or NULL for offline or out-of-range CPUs. O(1). */
static inline const struct topo_domain *topology_domain(const struct topology *t,
							enum topo_level level, int cpu)
{
	if (cpu < 0 || cpu >= t->nr_cpus || t->dom[level][cpu] < 0)
		return NULL;
	return &t->domains[level][t->dom[level][cpu]];
}

/* The CPUs sharing a domain with cpu (cpu included), or NULL as above. O(1). */
static inline const struct cpumask *topology_mask(const struct topology *t, enum topo_level level,
						  int cpu)
{
	const struct topo_domain *d = topology_domain(t, level, cpu);

	return d ? &d->mask : NULL;
}

static inline const char *topology_level_name(enum topo_level level)
{
	static const char *const names[TOPO_NR_LEVELS] = {"core", "l2", "llc", "node"};

	return level < TOPO_NR_LEVELS ? names[level] : "?";
}

#endif /* GTHULHU_TOPOLOGY_H */
