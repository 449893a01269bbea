/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPU placement policy (the order is documented in cpu_select.h).
 *
 * This is on the per-task hot path, so it never loops over CPUs or cores: candidate sets are
 * computed word by word, only over the nr_words words the machine's CPUs occupy, and each
 * domain search scans only the words its domain spans. "Is this CPU's whole core idle" and
 * "does this CPU's sibling run a priority task" are answered for 64 CPUs at a time by
 * shifting the idle / priority-busy masks by the topology's sibling offsets.
 */
#include <stdint.h>

#include "sched/cpu_select.h"

/*
 * CPUs of cand with an online SMT sibling that is in m (want_set) or not in m (!want_set):
 * with m = idle, "the core is not fully idle"; with m = prio_busy, "a sibling runs a
 * priority task". Only the first nr_words words of out are written.
 */
static void sibling_match(const struct topology *t, const struct cpumask *cand,
			  const struct cpumask *m, bool want_set, struct cpumask *out)
{
	/* src[i + 1] is word i of m (inverted for !want_set), with a zero word at each end. */
	uint64_t src[GTHULHU_CPUMASK_WORDS + 2];
	uint64_t flip = want_set ? 0 : ~0ULL;
	int nw = t->nr_words;

	if (t->nr_smt_shifts < 0) {
		/* Irregular numbering: check each candidate's core. Rare, and still bounded. */
		for (int i = 0; i < nw; i++) {
			uint64_t c = cand->w[i], hit = 0;

			while (c) {
				int bit = __builtin_ctzll(c), cpu = i * 64 + bit;
				const struct topo_domain *d =
				    &t->domains[TOPO_CORE][t->dom[TOPO_CORE][cpu]];

				c &= c - 1;
				for (int j = d->lo_word; j <= d->hi_word; j++) {
					uint64_t sib = d->mask.w[j] & (m->w[j] ^ flip);

					if (j == i)
						sib &= ~(1ULL << bit);
					if (sib) {
						hit |= 1ULL << bit;
						break;
					}
				}
			}
			out->w[i] = hit;
		}
		return;
	}

	src[0] = 0;
	src[nw + 1] = 0;
	for (int i = 0; i < nw; i++) {
		src[i + 1] = m->w[i] ^ flip;
		out->w[i] = 0;
	}
	/*
	 * Bit c of the shifted word is bit c + delta of src. A shift's mask only holds CPUs
	 * whose CPU + delta exists, so within [lo_word, hi_word] the source words stay inside
	 * src, and the bits the padding feeds in are masked off.
	 */
	for (int s = 0; s < t->nr_smt_shifts; s++) {
		const struct topo_smt_shift *sh = &t->smt_shifts[s];
		int q = sh->q + 1, r = sh->r;

		if (!r) {
			for (int i = sh->lo_word; i <= sh->hi_word; i++)
				out->w[i] |= sh->mask.w[i] & src[i + q];
		} else {
			for (int i = sh->lo_word; i <= sh->hi_word; i++)
				out->w[i] |=
				    sh->mask.w[i] & (src[i + q] >> r | src[i + q + 1] << (64 - r));
		}
	}
	for (int i = 0; i < nw; i++)
		out->w[i] &= cand->w[i];
}

/*
 * First CPU in a & b after start, wrapping around, looking only at words lo..hi; start
 * itself is checked last. -1 if there is none.
 */
static int next_and_wrap(const struct cpumask *a, const struct cpumask *b, int start, int lo,
			 int hi)
{
	int sw = start / 64, sb = start % 64;
	uint64_t v;

	if (sw < lo || sw > hi) {
		for (int i = lo; i <= hi; i++)
			if ((v = a->w[i] & b->w[i]))
				return i * 64 + __builtin_ctzll(v);
		return -1;
	}
	v = a->w[sw] & b->w[sw];
	if (sb < 63 && (v & (~0ULL << (sb + 1))))
		return sw * 64 + __builtin_ctzll(v & (~0ULL << (sb + 1)));
	for (int i = sw + 1; i <= hi; i++)
		if (a->w[i] & b->w[i])
			return i * 64 + __builtin_ctzll(a->w[i] & b->w[i]);
	for (int i = lo; i < sw; i++)
		if (a->w[i] & b->w[i])
			return i * 64 + __builtin_ctzll(a->w[i] & b->w[i]);
	/* Bits up to and including start; 2 << 63 is 0, and 0 - 1 then keeps the whole word. */
	v &= (2ULL << sb) - 1;
	return v ? sw * 64 + __builtin_ctzll(v) : -1;
}

/* The CPU of m nearest to anchor: anchor, its core, L2, LLC, node, then anywhere. */
static int walk(const struct topology *t, const struct cpumask *m, int anchor)
{
	if (cpumask_test(m, anchor))
		return anchor;
	for (int level = 0; level < TOPO_NR_LEVELS; level++) {
		const struct topo_domain *d = &t->domains[level][t->dom[level][anchor]];
		int cpu = next_and_wrap(m, &d->mask, anchor, d->lo_word, d->hi_word);

		if (cpu >= 0)
			return cpu;
	}
	/* m is a subset of online, so online stands in for "anywhere". */
	return next_and_wrap(m, &t->online, anchor, 0, t->nr_words - 1);
}

static bool words_empty(const struct cpumask *m, int nw)
{
	uint64_t any = 0;

	for (int i = 0; i < nw; i++)
		any |= m->w[i];
	return !any;
}

/* a) then b) over a non-empty candidate set. */
static int place(const struct topology *t, const struct cpumask *cand, const struct cpumask *idle,
		 int anchor)
{
	struct cpumask half, full;
	int nw = t->nr_words;

	/* half: candidates with a busy online sibling; the rest have their whole core idle. */
	sibling_match(t, cand, idle, false, &half);
	for (int i = 0; i < nw; i++)
		full.w[i] = cand->w[i] & ~half.w[i];
	if (!words_empty(&full, nw))
		return walk(t, &full, anchor);
	return walk(t, cand, anchor);
}

/*
 * prev_cpu (online, in range) is idle and its whole core too, with no priority task beside
 * it: the full search would return it, so say so after looking at the core's words only.
 * This is the common case of a task waking up on a lightly loaded machine. Unsigned
 * arithmetic: prev is known to be a valid CPU, and / and % by 64 are then plain shifts.
 */
static inline bool prev_core_free(const struct topology *t, const struct cpumask *idle,
				  const struct cpumask *prio_busy, unsigned int prev)
{
	const struct topo_domain *d = &t->domains[TOPO_CORE][t->dom[TOPO_CORE][prev]];
	unsigned int prev_word = prev / 64;
	uint64_t prev_bit = 1ULL << (prev % 64);

	for (unsigned int i = d->lo_word; i <= d->hi_word; i++) {
		uint64_t sib = d->mask.w[i];

		if (sib & ~idle->w[i])
			return false;
		if (i == prev_word)
			sib &= ~prev_bit;
		if (prio_busy && (sib & prio_busy->w[i]))
			return false;
	}
	return true;
}

/*
 * The search proper, when prev_cpu's core is not simply free. Out of line so that the
 * common case above pays neither for its stack of masks nor for saving registers.
 */
static __attribute__((noinline)) int search(const struct topology *t, const struct cpumask *allowed,
					    const struct cpumask *idle,
					    const struct cpumask *prio_busy, int prev_cpu)
{
	/* Only the first nr_words words of these are ever written or read. */
	struct cpumask cand, near_prio, rest;
	int nw = t->nr_words, anchor = -1;
	uint64_t any = 0, prio_any = 0;
	bool prev_ok = prev_cpu >= 0 && prev_cpu < t->nr_cpus && cpumask_test(&t->online, prev_cpu);

	for (int i = 0; i < nw; i++) {
		cand.w[i] = idle->w[i] & t->online.w[i] & allowed->w[i];
		any |= cand.w[i];
		if (prio_busy)
			prio_any |= prio_busy->w[i];
	}
	if (!any)
		return -1;

	if (prev_ok) {
		anchor = prev_cpu;
	} else {
		for (int i = 0; i < nw; i++) {
			uint64_t v = t->online.w[i] & allowed->w[i];

			if (v) {
				anchor = i * 64 + __builtin_ctzll(v);
				break;
			}
		}
	}

	if (prio_any) {
		uint64_t some_near = 0, some_rest = 0;

		sibling_match(t, &cand, prio_busy, true, &near_prio);
		for (int i = 0; i < nw; i++) {
			rest.w[i] = cand.w[i] & ~near_prio.w[i];
			some_near |= near_prio.w[i];
			some_rest |= rest.w[i];
		}
		if (some_near)
			return place(t, some_rest ? &rest : &near_prio, idle, anchor);
	}
	return place(t, &cand, idle, anchor);
}

/* Stands in for a NULL allowed mask, so the loops need no test per word. */
static const struct cpumask all_cpus = {.w = {[0 ... GTHULHU_CPUMASK_WORDS - 1] = ~0ULL}};

int cpu_select(const struct topology *t, const struct cpumask *allowed, const struct cpumask *idle,
	       const struct cpumask *prio_busy, int prev_cpu, bool is_priority)
{
	if (!idle)
		return -1;
	if (!allowed)
		allowed = &all_cpus;
	if (is_priority)
		prio_busy = NULL;
	/* nr_cpus <= GTHULHU_MAX_CPUS, so an in-range prev_cpu indexes every mask safely. */
	if ((unsigned int)prev_cpu < (unsigned int)t->nr_cpus) {
		unsigned int prev = (unsigned int)prev_cpu, w = prev / 64;

		if ((t->online.w[w] & idle->w[w] & allowed->w[w] & (1ULL << (prev % 64))) &&
		    prev_core_free(t, idle, prio_busy, prev))
			return prev_cpu;
	}
	return search(t, allowed, idle, prio_busy, prev_cpu);
}

void cpu_select_build_masks(const struct gthulhu_cpu_state *state, int nr_cpus,
			    struct cpumask *idle, struct cpumask *prio_busy)
{
	if (nr_cpus > GTHULHU_MAX_CPUS)
		nr_cpus = GTHULHU_MAX_CPUS;
	cpumask_zero(idle);
	cpumask_zero(prio_busy);
	for (int cpu = 0; cpu < nr_cpus; cpu++) {
		/* One load per field: a torn or re-read value could set both bits or neither. */
		uint8_t is_idle = __atomic_load_n(&state[cpu].idle, __ATOMIC_RELAXED);
		uint8_t level = __atomic_load_n(&state[cpu].prio_level, __ATOMIC_RELAXED);

		if (is_idle)
			idle->w[cpu / 64] |= 1ULL << (cpu % 64);
		else if (level)
			prio_busy->w[cpu / 64] |= 1ULL << (cpu % 64);
	}
}
