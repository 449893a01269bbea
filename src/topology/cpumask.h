/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixed-size CPU bitmaps for the user-space policy.
 *
 * One layout for every CPU set the daemon handles: the topology's domains, a task's allowed
 * CPUs (queued_task.cpumask has the same GTHULHU_CPUMASK_WORDS words, so it can be copied
 * in as is), and the idle / priority-busy snapshots built from the BPF per-CPU state. The
 * size is fixed at GTHULHU_MAX_CPUS so nothing here allocates, and every operation is a
 * loop over at most GTHULHU_CPUMASK_WORDS words; the placement hot path in
 * sched/cpu_select.c bounds its own loops further by the machine's real word count.
 *
 * CPU numbers outside [0, GTHULHU_MAX_CPUS) are never members: setting or clearing one is
 * a no-op and testing one is false, so a bogus prev_cpu from the kernel cannot index out of
 * bounds.
 */
#ifndef GTHULHU_CPUMASK_H
#define GTHULHU_CPUMASK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bpf/intf.h"

struct cpumask {
	uint64_t w[GTHULHU_CPUMASK_WORDS];
};

static inline bool cpumask_cpu_valid(int cpu)
{
	return cpu >= 0 && cpu < GTHULHU_MAX_CPUS;
}

static inline void cpumask_zero(struct cpumask *m)
{
	memset(m, 0, sizeof(*m));
}

static inline void cpumask_set(struct cpumask *m, int cpu)
{
	if (cpumask_cpu_valid(cpu))
		m->w[cpu / 64] |= 1ULL << (cpu % 64);
}

static inline void cpumask_clear(struct cpumask *m, int cpu)
{
	if (cpumask_cpu_valid(cpu))
		m->w[cpu / 64] &= ~(1ULL << (cpu % 64));
}

static inline bool cpumask_test(const struct cpumask *m, int cpu)
{
	return cpumask_cpu_valid(cpu) && (m->w[cpu / 64] >> (cpu % 64)) & 1;
}

/* Set CPUs first..last inclusive (clipped to the valid range). */
static inline void cpumask_set_range(struct cpumask *m, int first, int last)
{
	for (int cpu = first < 0 ? 0 : first; cpu <= last && cpu < GTHULHU_MAX_CPUS; cpu++)
		m->w[cpu / 64] |= 1ULL << (cpu % 64);
}

/* dst = a & b; dst may be a or b. */
static inline void cpumask_and(struct cpumask *dst, const struct cpumask *a,
			       const struct cpumask *b)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		dst->w[i] = a->w[i] & b->w[i];
}

/* dst = a | b; dst may be a or b. */
static inline void cpumask_or(struct cpumask *dst, const struct cpumask *a, const struct cpumask *b)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		dst->w[i] = a->w[i] | b->w[i];
}

/* dst = a & ~b; dst may be a or b. */
static inline void cpumask_andnot(struct cpumask *dst, const struct cpumask *a,
				  const struct cpumask *b)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		dst->w[i] = a->w[i] & ~b->w[i];
}

static inline bool cpumask_empty(const struct cpumask *m)
{
	uint64_t any = 0;

	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		any |= m->w[i];
	return !any;
}

static inline bool cpumask_equal(const struct cpumask *a, const struct cpumask *b)
{
	return !memcmp(a->w, b->w, sizeof(a->w));
}

static inline bool cpumask_intersects(const struct cpumask *a, const struct cpumask *b)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		if (a->w[i] & b->w[i])
			return true;
	return false;
}

/* Every CPU of a is in b. */
static inline bool cpumask_subset(const struct cpumask *a, const struct cpumask *b)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		if (a->w[i] & ~b->w[i])
			return false;
	return true;
}

static inline int cpumask_weight(const struct cpumask *m)
{
	int n = 0;

	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		n += __builtin_popcountll(m->w[i]);
	return n;
}

/* Lowest CPU in m, or -1 if m is empty. */
static inline int cpumask_first(const struct cpumask *m)
{
	for (int i = 0; i < GTHULHU_CPUMASK_WORDS; i++)
		if (m->w[i])
			return i * 64 + __builtin_ctzll(m->w[i]);
	return -1;
}

/* Highest CPU in m, or -1 if m is empty. */
static inline int cpumask_last(const struct cpumask *m)
{
	for (int i = GTHULHU_CPUMASK_WORDS - 1; i >= 0; i--)
		if (m->w[i])
			return i * 64 + 63 - __builtin_clzll(m->w[i]);
	return -1;
}

/* Lowest CPU in m above cpu, or -1. cpu < 0 means "from the start", so loops can begin at -1. */
static inline int cpumask_next(const struct cpumask *m, int cpu)
{
	int start = cpu < 0 ? 0 : cpu + 1;
	int i = start / 64;

	if (start >= GTHULHU_MAX_CPUS)
		return -1;
	/* Bits at or below cpu in its own word are masked off; later words count whole. */
	uint64_t v = m->w[i] & (~0ULL << (start % 64));

	for (;;) {
		if (v)
			return i * 64 + __builtin_ctzll(v);
		if (++i >= GTHULHU_CPUMASK_WORDS)
			return -1;
		v = m->w[i];
	}
}

/*
 * The CPU of m nearest after cpu, wrapping around past the end; cpu itself comes last. -1 if
 * m is empty. Searching "after" rather than "from the lowest" spreads successive picks over a
 * domain instead of piling them onto its first CPU.
 */
static inline int cpumask_next_wrap(const struct cpumask *m, int cpu)
{
	int next = cpumask_next(m, cpu);

	return next >= 0 ? next : cpumask_first(m);
}

/* Digits only: strtoul would also take signs, blanks and hex, which no cpulist contains. */
static inline const char *cpumask__parse_num(const char *s, int *out, bool *range_err)
{
	long v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	while (*s >= '0' && *s <= '9') {
		/* Stop growing once out of range so a long digit string cannot overflow. */
		if (v < GTHULHU_MAX_CPUS)
			v = v * 10 + (*s - '0');
		s++;
	}
	if (v >= GTHULHU_MAX_CPUS)
		*range_err = true;
	*out = (int)v;
	return s;
}

/*
 * Parse a kernel cpulist ("0-3,8,10-11", as in /sys/devices/system/cpu/online) into m.
 * An empty list (a memory-only NUMA node's cpulist) is valid. Trailing whitespace, such as
 * the newline sysfs appends, is allowed; anything else that is not the grammar is junk.
 * Returns 0, -EINVAL on junk (including a reversed range "3-1"), or -ERANGE when a CPU is
 * >= GTHULHU_MAX_CPUS. m is empty after an error.
 */
static inline int cpumask_parse(struct cpumask *m, const char *s)
{
	bool range_err = false;
	int first, last;

	cpumask_zero(m);
	while (*s && !(*s == ' ' || *s == '\t' || *s == '\n')) {
		s = cpumask__parse_num(s, &first, &range_err);
		if (!s)
			goto junk;
		last = first;
		if (*s == '-') {
			s = cpumask__parse_num(s + 1, &last, &range_err);
			if (!s || last < first)
				goto junk;
		}
		if (range_err) {
			cpumask_zero(m);
			return -ERANGE;
		}
		cpumask_set_range(m, first, last);
		if (*s == ',') {
			s++;
			/* "1," and "1,,2" are junk: a comma must be followed by a number. */
			if (*s < '0' || *s > '9')
				goto junk;
		} else if (*s && !(*s == ' ' || *s == '\t' || *s == '\n')) {
			goto junk;
		}
	}
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (*s)
		goto junk;
	return 0;
junk:
	cpumask_zero(m);
	return -EINVAL;
}

/*
 * Write m as a cpulist ("0-3,8") into buf, always NUL-terminated when len > 0. Returns the
 * length the full list needs (like snprintf), so a return >= len means it was truncated.
 */
static inline int cpumask_format(const struct cpumask *m, char *buf, size_t len)
{
	size_t n = 0;
	int cpu = cpumask_first(m);

	if (len)
		buf[0] = '\0';
	while (cpu >= 0) {
		int last = cpu;

		while (cpumask_test(m, last + 1))
			last++;
		/* Once full, keep counting with snprintf(NULL, 0) to report the length needed. */
		char *p = buf && n < len ? buf + n : NULL;
		size_t room = n < len ? len - n : 0;
		const char *sep = n ? "," : "";
		int w = last == cpu ? snprintf(p, room, "%s%d", sep, cpu)
				    : snprintf(p, room, "%s%d-%d", sep, cpu, last);

		n += (size_t)w;
		cpu = cpumask_next(m, last);
	}
	return (int)n;
}

#endif /* GTHULHU_CPUMASK_H */
