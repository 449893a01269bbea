/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategy snapshots: two open-addressing tables (thread id -> effect, process id ->
 * effect) built off the scheduling loop and then never changed, so the loop can read them
 * without locks, plus one counter block per rule (the only part written later: relaxed
 * atomic adds by the loop). See strategy.h for precedence.
 *
 * Rules with only pid/tid matchers go straight into the tables, so a new thread of a
 * chosen process is covered without a scan. The others (regex, cgroup, pod) are matched
 * in memory against the resolver's process table (proc_table.h), never against /proc
 * itself: a rebuild after a rule change or a process event costs microseconds per
 * process, not a walk of /proc.
 *
 * Matching is done once per process for what is the same for all its threads (pid,
 * cgroup, pod, command line), giving a bit set of candidate rules in specificity order;
 * each thread then only narrows it by tid and comm, and the lowest bit left wins. Regexes
 * on comm are evaluated once per distinct comm, and pod selectors once per pod
 * (pod_matches_rule(), pods.h, decides). A matcher (strategy_matcher_*) keeps all that
 * between builds, with each process's bit set for as long as its table entry is
 * unchanged: after a few process events the resolver re-evaluates those processes only
 * (with 100 rules over 10 000 processes, a few ms instead of tens; bench/proc_scan_bench).
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/pods.h"
#include "strategy/proc_table.h"
#include "strategy/strategy.h"

struct strategy_entry {
	int32_t id;   /* 0 = empty */
	int32_t tgid; /* by_tid entries found by the scan: the thread's process; else 0 */
	struct strategy_effect effect;
};

struct rule_counters {
	char id[STRATEGY_ID_MAX];
	uint64_t threads;
	uint64_t decisions; /* written by the loop: relaxed atomics */
};

struct strategy_snapshot {
	uint64_t generation; /* given by the resolver when it publishes the snapshot */
	uint32_t mask;	     /* table size - 1 */
	size_t entries;
	size_t nr_rules;
	struct rule_counters *rules; /* nr_rules, in the order the rules were given */
	struct strategy_entry *by_tid;
	struct strategy_entry *by_tgid;
	struct strategy_entry storage[];
};

int strategy_rule_specificity(const struct strategy_rule *rule)
{
	return (rule->tid ? 8 : 0) + (rule->pid ? 4 : 0) + (rule->command_regex[0] ? 1 : 0) +
	       (rule->cgroup[0] ? 1 : 0) + (strategy_rule_needs_pods(rule) ? 1 : 0);
}

static uint32_t slot_of(int32_t id, uint32_t mask)
{
	return ((uint32_t)id * 2654435769u) & mask;
}

/* false when @id is there already: an earlier, more specific entry stays. */
static bool table_put(struct strategy_entry *table, uint32_t mask, int32_t id, int32_t tgid,
		      const struct strategy_effect *effect, size_t *entries)
{
	uint32_t i = slot_of(id, mask);

	while (table[i].id && table[i].id != id)
		i = (i + 1) & mask;
	if (table[i].id == id)
		return false;
	table[i].id = id;
	table[i].tgid = tgid;
	table[i].effect = *effect;
	(*entries)++;
	return true;
}

static void count_thread(struct strategy_snapshot *snap, const struct strategy_effect *effect)
{
	if (effect->rule < snap->nr_rules)
		snap->rules[effect->rule].threads++;
}

static const struct strategy_entry *table_get(const struct strategy_entry *table, uint32_t mask,
					      int32_t id)
{
	uint32_t i = slot_of(id, mask);

	while (table[i].id) {
		if (table[i].id == id)
			return &table[i];
		i = (i + 1) & mask;
	}
	return NULL;
}

/* Rules ordered by specificity (stable), so the first match is the winner. */
static void order_rules(const struct strategy_rule *rules, size_t n, size_t *order)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = 1; i < n; i++) {
		size_t cur = order[i];

		for (j = i; j > 0 && strategy_rule_specificity(&rules[order[j - 1]]) <
					 strategy_rule_specificity(&rules[cur]);
		     j--)
			order[j] = order[j - 1];
		order[j] = cur;
	}
}

/* Does @path lie at or below @prefix? ("/a/b" covers "/a/b" and "/a/b/c", not "/a/bc") */
static bool cgroup_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (strncmp(path, prefix, n) != 0)
		return false;
	return n == 1 || path[n] == '\0' || path[n] == '/';
}

unsigned int strategy_rules_wants(const struct strategy_rule *rules, size_t n)
{
	unsigned int wants = 0;

	for (size_t i = 0; i < n; i++) {
		if (rules[i].command_regex[0] && rules[i].match_cmdline)
			wants |= PROC_WANT_CMDLINE;
		if (rules[i].cgroup[0])
			wants |= PROC_WANT_CGROUP;
		if (strategy_rule_needs_pods(&rules[i]))
			wants |= PROC_WANT_POD;
	}
	return wants;
}

/* ---- matching in memory ------------------------------------------------------------- */

/*
 * A set of rules as bits, one per position in specificity order: the lowest bit set is
 * the winner. STRATEGY_MAX_RULES bounds the width.
 */
#define RMASK_WORDS ((STRATEGY_MAX_RULES + 63) / 64)
struct rmask {
	uint64_t w[RMASK_WORDS];
};

static void rmask_set(struct rmask *m, size_t bit)
{
	m->w[bit / 64] |= 1ull << (bit % 64);
}

static void rmask_clear(struct rmask *m, size_t bit)
{
	m->w[bit / 64] &= ~(1ull << (bit % 64));
}

static bool rmask_has(const struct rmask *m, size_t bit)
{
	return m->w[bit / 64] & (1ull << (bit % 64));
}

static bool rmask_any(const struct rmask *m)
{
	for (size_t i = 0; i < RMASK_WORDS; i++)
		if (m->w[i])
			return true;
	return false;
}

/* The lowest bit set, or SIZE_MAX. */
static size_t rmask_first(const struct rmask *m)
{
	for (size_t i = 0; i < RMASK_WORDS; i++)
		if (m->w[i])
			return i * 64 + (size_t)__builtin_ctzll(m->w[i]);
	return SIZE_MAX;
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static uint32_t pow2_at_least(size_t n)
{
	uint32_t size = 16;

	while (size < n && size < (1u << 30))
		size <<= 1;
	return size;
}

/* Which pod rules a pod satisfies, decided once per pod (not per thread). */
struct pod_memo {
	char uid[POD_UID_MAX]; /* "" = free slot */
	struct rmask bits;
};

/* Which comm-regex rules a comm matches: threads share a few hundred names at most. */
struct comm_memo {
	char comm[PROC_COMM_MAX];
	bool used;
	struct rmask bits;
};

/* Distinct comms remembered; past this (a pathological system) the memo starts over. */
#define COMM_MEMO_MAX 65536

/*
 * Which scanning rules a process satisfies through its process-wide matchers, valid while
 * the process's table entry keeps its version. Stored as @words words after the header.
 */
struct proc_memo {
	int32_t tgid;	/* 0 = free slot */
	uint32_t build; /* the build that last saw it, to sweep processes gone */
	uint64_t version;
	uint64_t bits[];
};

/* A non-scan rule (pid or tid only) by the id it names, for precedence against scans. */
struct id_pos {
	int32_t id;
	uint32_t pos;
};

/* A thread won by a scanning rule. */
struct hit {
	int32_t tid, tgid;
	uint32_t rule;
};

struct strategy_matcher {
	const struct strategy_rule *rules;
	size_t n;
	size_t *order;	  /* position -> rule index */
	regex_t *regexes; /* per rule index; valid where command_regex is set */
	bool compiled;
	size_t *scan_pos; /* positions of rules that need the process table */
	size_t nscan;
	size_t *tid_pos; /* positions of scanning rules that also name a tid */
	size_t ntid;
	struct rmask comm_rx; /* positions with a regex on comm */
	struct id_pos *tids, *pids;
	size_t ntids, npids;
	/* Pod memo, for the pod set of one generation. */
	struct pod_memo *pods;
	uint32_t pod_mask;
	bool pods_valid;
	bool had_pods;
	uint64_t pod_generation;
	/* Comm memo. */
	struct comm_memo *comms;
	uint32_t comm_mask;
	size_t ncomms;
	/* Process memo: stride bytes per slot. */
	unsigned char *procs;
	uint32_t proc_mask;
	size_t nprocs, stride, words;
	uint32_t build;
	/* This build's winners. */
	struct hit *hits;
	size_t nhits, cap_hits;
	struct strategy_matcher_stats stats;
};

static int id_pos_order(const void *a, const void *b)
{
	const struct id_pos *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The best (lowest) position of a non-scan rule naming @id, or SIZE_MAX. */
static size_t id_pos_find(const struct id_pos *v, size_t n, int32_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].id == id ? v[lo].pos : SIZE_MAX;
}

static const struct rmask *pod_bits(const struct strategy_matcher *m, const char *uid)
{
	uint32_t i;

	if (!m->pods)
		return NULL;
	for (i = hash_str(uid) & m->pod_mask; m->pods[i].uid[0]; i = (i + 1) & m->pod_mask)
		if (strcmp(m->pods[i].uid, uid) == 0)
			return &m->pods[i].bits;
	return NULL;
}

static void proc_memo_clear(struct strategy_matcher *m)
{
	if (m->procs)
		memset(m->procs, 0, ((size_t)m->proc_mask + 1) * m->stride);
	m->nprocs = 0;
}

/*
 * The pod memo for @pods; kept while the pod set's generation is the same (the resolver
 * hands one table's sets to one matcher). A change invalidates every process's memo.
 */
static int memo_pods(struct strategy_matcher *m, const struct pod_set *pods)
{
	size_t npods = pod_set_count(pods);
	uint32_t mask;

	if (m->pods_valid && m->had_pods == (pods != NULL) &&
	    m->pod_generation == pod_set_generation(pods))
		return 0;
	free(m->pods);
	m->pods = NULL;
	m->pods_valid = false;
	proc_memo_clear(m);
	if (npods) {
		mask = pow2_at_least(npods * 2) - 1;
		m->pods = calloc((size_t)mask + 1, sizeof(*m->pods));
		if (!m->pods)
			return -1;
		m->pod_mask = mask;
	}
	for (size_t k = 0; k < npods; k++) {
		const struct pod_meta *pod = pod_set_at(pods, k);
		uint32_t i = hash_str(pod->uid) & m->pod_mask;

		if (!pod->uid[0])
			continue;
		while (m->pods[i].uid[0] && strcmp(m->pods[i].uid, pod->uid) != 0)
			i = (i + 1) & m->pod_mask;
		if (m->pods[i].uid[0])
			continue; /* one uid, one pod: the first stays */
		memcpy(m->pods[i].uid, pod->uid, sizeof(m->pods[i].uid));
		for (size_t p = 0; p < m->n; p++) {
			const struct strategy_rule *r = &m->rules[m->order[p]];

			/* pods.h decides; this only remembers the answer. */
			if (strategy_rule_needs_pods(r) && pod_matches_rule(pod, r))
				rmask_set(&m->pods[i].bits, p);
		}
	}
	m->pods_valid = true;
	m->had_pods = pods != NULL;
	m->pod_generation = pod_set_generation(pods);
	return 0;
}

static int comm_memo_grow(struct strategy_matcher *m)
{
	uint32_t size = (m->comm_mask + 1) * 2, i;
	struct comm_memo *old = m->comms, *grown;

	if (m->ncomms >= COMM_MEMO_MAX) {
		memset(m->comms, 0, ((size_t)m->comm_mask + 1) * sizeof(*m->comms));
		m->ncomms = 0;
		return 0;
	}
	grown = calloc(size, sizeof(*grown));
	if (!grown)
		return -1;
	for (uint32_t k = 0; k <= m->comm_mask; k++) {
		if (!old[k].used)
			continue;
		for (i = hash_str(old[k].comm) & (size - 1); grown[i].used;
		     i = (i + 1) & (size - 1))
			;
		grown[i] = old[k];
	}
	free(old);
	m->comms = grown;
	m->comm_mask = size - 1;
	return 0;
}

static const struct rmask *comm_bits(struct strategy_matcher *m, const char *comm)
{
	uint32_t i;

	for (i = hash_str(comm) & m->comm_mask; m->comms[i].used; i = (i + 1) & m->comm_mask)
		if (strcmp(m->comms[i].comm, comm) == 0)
			return &m->comms[i].bits;
	if ((m->ncomms + 1) * 2 > (size_t)m->comm_mask + 1) {
		if (comm_memo_grow(m))
			return NULL;
		for (i = hash_str(comm) & m->comm_mask; m->comms[i].used;
		     i = (i + 1) & m->comm_mask)
			;
	}
	snprintf(m->comms[i].comm, sizeof(m->comms[i].comm), "%s", comm);
	m->comms[i].used = true;
	m->ncomms++;
	for (size_t p = 0; p < m->n; p++)
		if (rmask_has(&m->comm_rx, p) &&
		    !regexec(&m->regexes[m->order[p]], comm, 0, NULL, 0))
			rmask_set(&m->comms[i].bits, p);
	return &m->comms[i].bits;
}

/* Scanning rules whose process-wide matchers (pid, cgroup, pod, cmdline) @e satisfies. */
static struct rmask process_rules(const struct strategy_matcher *m, const struct proc_entry *e)
{
	const struct rmask *pod = e->pod ? pod_bits(m, e->pod->pod_uid) : NULL;
	struct rmask bits = {{0}};

	for (size_t k = 0; k < m->nscan; k++) {
		size_t p = m->scan_pos[k];
		const struct strategy_rule *r = &m->rules[m->order[p]];

		if (r->pid && r->pid != e->tgid)
			continue;
		if (r->cgroup[0] && (!e->cgroup || !cgroup_under(e->cgroup, r->cgroup)))
			continue;
		/* A pod the pod set does not know (yet, or any more) matches no pod rule. */
		if (strategy_rule_needs_pods(r) && (!pod || !rmask_has(pod, p)))
			continue;
		if (r->command_regex[0] && r->match_cmdline &&
		    regexec(&m->regexes[m->order[p]], e->cmdline ? e->cmdline : "", 0, NULL, 0))
			continue;
		rmask_set(&bits, p);
	}
	return bits;
}

static struct proc_memo *proc_slot(const struct strategy_matcher *m, uint32_t i)
{
	return (struct proc_memo *)(m->procs + (size_t)i * m->stride);
}

static struct proc_memo *proc_memo_find(const struct strategy_matcher *m, int32_t tgid)
{
	uint32_t i = ((uint32_t)tgid * 2654435769u) & m->proc_mask;

	while (proc_slot(m, i)->tgid && proc_slot(m, i)->tgid != tgid)
		i = (i + 1) & m->proc_mask;
	return proc_slot(m, i);
}

/*
 * A table of at least @size slots (a power of two) holding the memo of every process
 * the current build or the last one saw: processes gone since are swept here.
 */
static int proc_memo_rehash(struct strategy_matcher *m, size_t size)
{
	uint32_t old_size = m->procs ? m->proc_mask + 1 : 0;
	unsigned char *old = m->procs;

	m->procs = calloc(size, m->stride);
	if (!m->procs) {
		m->procs = old;
		return -1;
	}
	m->proc_mask = (uint32_t)size - 1;
	m->nprocs = 0;
	for (uint32_t i = 0; i < old_size; i++) {
		const struct proc_memo *e = (const struct proc_memo *)(old + (size_t)i * m->stride);

		if (!e->tgid || e->build < m->build)
			continue;
		memcpy(proc_memo_find(m, e->tgid), e, m->stride);
		m->nprocs++;
	}
	free(old);
	return 0;
}

/* Room for one more process; NULL on allocation failure. */
static struct proc_memo *proc_memo_insert(struct strategy_matcher *m, int32_t tgid)
{
	size_t kept = 0;

	if ((m->nprocs + 1) * 2 > (size_t)m->proc_mask + 1) {
		for (uint32_t i = 0; i <= m->proc_mask; i++)
			kept += proc_slot(m, i)->tgid && proc_slot(m, i)->build >= m->build;
		if (proc_memo_rehash(m, pow2_at_least((kept + 1) * 2 + 1)))
			return NULL;
	}
	return proc_memo_find(m, tgid);
}

/* The process-wide matches of @e: from the memo when @e has not changed since. */
static int process_rules_memo(struct strategy_matcher *m, const struct proc_entry *e,
			      struct rmask *bits)
{
	struct proc_memo *slot = proc_memo_find(m, e->tgid);

	memset(bits, 0, sizeof(*bits));
	if (slot->tgid && slot->version == e->version) {
		memcpy(bits->w, slot->bits, m->words * sizeof(uint64_t));
		slot->build = m->build + 1;
		m->stats.reused++;
		return 0;
	}
	*bits = process_rules(m, e);
	m->stats.evaluated++;
	if (!slot->tgid) {
		slot = proc_memo_insert(m, e->tgid);
		if (!slot)
			return -1;
		m->nprocs++;
	}
	slot->tgid = e->tgid;
	slot->version = e->version;
	slot->build = m->build + 1;
	memcpy(slot->bits, bits->w, m->words * sizeof(uint64_t));
	return 0;
}

static int add_hit(struct strategy_matcher *m, int32_t tid, int32_t tgid, size_t rule)
{
	if (m->nhits == m->cap_hits) {
		size_t cap = m->cap_hits ? m->cap_hits * 2 : 256;
		struct hit *h = realloc(m->hits, cap * sizeof(*h));

		if (!h)
			return -1;
		m->hits = h;
		m->cap_hits = cap;
	}
	m->hits[m->nhits++] = (struct hit){tid, tgid, (uint32_t)rule};
	return 0;
}

static int match_process(struct strategy_matcher *m, const struct proc_entry *e)
{
	struct rmask pm;
	size_t pid_best;

	if (process_rules_memo(m, e, &pm))
		return -1;
	if (!rmask_any(&pm))
		return 0;
	pid_best = id_pos_find(m->pids, m->npids, e->tgid);
	for (uint32_t k = 0; k < e->nr_threads; k++) {
		const struct proc_thread *th = &e->threads[k];
		struct rmask tm = pm;
		uint64_t need_comm = 0;
		size_t p;

		for (size_t j = 0; j < m->ntid; j++)
			if (m->rules[m->order[m->tid_pos[j]]].tid != th->tid)
				rmask_clear(&tm, m->tid_pos[j]);
		for (size_t w = 0; w < RMASK_WORDS; w++)
			need_comm |= tm.w[w] & m->comm_rx.w[w];
		if (need_comm) {
			const struct rmask *cm = comm_bits(m, th->comm);

			if (!cm)
				return -1;
			for (size_t w = 0; w < RMASK_WORDS; w++)
				tm.w[w] &= ~m->comm_rx.w[w] | cm->w[w];
		}
		p = rmask_first(&tm);
		if (p == SIZE_MAX)
			continue;
		/* A pid or tid rule that is more specific wins: it is in the tables already. */
		if (pid_best < p || id_pos_find(m->tids, m->ntids, th->tid) < p)
			continue;
		if (add_hit(m, th->tid, e->tgid, m->order[p]))
			return -1;
	}
	return 0;
}

static uint32_t table_size_for(size_t n)
{
	uint32_t size = 64;

	while (size < n * 2 && size < (1u << 24))
		size <<= 1;
	return size;
}

void strategy_matcher_free(struct strategy_matcher *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->compiled && i < m->n; i++)
		if (m->rules[i].command_regex[0])
			regfree(&m->regexes[i]);
	free(m->order);
	free(m->regexes);
	free(m->scan_pos);
	free(m->tid_pos);
	free(m->tids);
	free(m->pids);
	free(m->pods);
	free(m->comms);
	free(m->procs);
	free(m->hits);
	free(m);
}

struct strategy_matcher *strategy_matcher_new(const struct strategy_rule *rules, size_t n)
{
	struct strategy_matcher *m;
	size_t k = n ? n : 1, i;

	if (n > STRATEGY_MAX_RULES)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->rules = rules;
	m->n = n;
	m->order = calloc(k, sizeof(*m->order));
	m->regexes = calloc(k, sizeof(*m->regexes));
	m->scan_pos = calloc(k, sizeof(*m->scan_pos));
	m->tid_pos = calloc(k, sizeof(*m->tid_pos));
	m->tids = calloc(k, sizeof(*m->tids));
	m->pids = calloc(k, sizeof(*m->pids));
	m->comm_mask = 63;
	m->comms = calloc((size_t)m->comm_mask + 1, sizeof(*m->comms));
	if (!m->order || !m->regexes || !m->scan_pos || !m->tid_pos || !m->tids || !m->pids ||
	    !m->comms)
		goto fail;
	/* Every source validated the regexes; a failure here is memory. */
	for (i = 0; i < n; i++)
		if (rules[i].command_regex[0] &&
		    regcomp(&m->regexes[i], rules[i].command_regex, REG_EXTENDED | REG_NOSUB))
			break;
	if (i < n) {
		while (i-- > 0)
			if (rules[i].command_regex[0])
				regfree(&m->regexes[i]);
		goto fail;
	}
	m->compiled = true;
	m->words = (n + 63) / 64;
	m->stride = (sizeof(struct proc_memo) + m->words * sizeof(uint64_t) + 7) & ~(size_t)7;
	order_rules(rules, n, m->order);
	for (size_t p = 0; p < n; p++) {
		const struct strategy_rule *r = &rules[m->order[p]];

		if (!strategy_rule_needs_scan(r)) {
			if (r->tid)
				m->tids[m->ntids++] = (struct id_pos){r->tid, (uint32_t)p};
			else if (r->pid)
				m->pids[m->npids++] = (struct id_pos){r->pid, (uint32_t)p};
			continue;
		}
		m->scan_pos[m->nscan++] = p;
		if (r->tid)
			m->tid_pos[m->ntid++] = p;
		if (r->command_regex[0] && !r->match_cmdline)
			rmask_set(&m->comm_rx, p);
	}
	qsort(m->tids, m->ntids, sizeof(*m->tids), id_pos_order);
	qsort(m->pids, m->npids, sizeof(*m->pids), id_pos_order);
	return m;
fail:
	strategy_matcher_free(m);
	return NULL;
}

void strategy_matcher_stats(const struct strategy_matcher *m, struct strategy_matcher_stats *out)
{
	*out = m->stats;
}

/* The winners among the scanning rules, into m->hits. */
static int match_table(struct strategy_matcher *m, const struct proc_table *procs,
		       const struct pod_set *pods)
{
	const struct proc_entry *e;
	size_t cursor = 0;

	m->nhits = 0;
	if (!m->nscan || !procs)
		return 0;
	if (memo_pods(m, pods))
		return -1;
	if (!m->procs && proc_memo_rehash(m, pow2_at_least(proc_table_count(procs) * 2 + 1)))
		return -1;
	while ((e = proc_table_next(procs, &cursor)))
		if (match_process(m, e))
			return -1;
	m->build++; /* what this build saw is marked build + 1: the new m->build */
	return 0;
}

struct strategy_snapshot *strategy_matcher_build(struct strategy_matcher *m,
						 const struct proc_table *procs,
						 const struct pod_set *pods)
{
	const struct strategy_rule *rules = m->rules;
	struct strategy_snapshot *snap;
	size_t n = m->n;
	uint32_t size;

	if (match_table(m, procs, pods))
		return NULL;
	/* Sized for what it holds, so the loop's lookups touch as little memory as can be. */
	size = table_size_for(n + m->nhits);
	snap = calloc(1, sizeof(*snap) + 2 * (size_t)size * sizeof(struct strategy_entry));
	if (!snap)
		return NULL;
	snap->rules = calloc(n ? n : 1, sizeof(*snap->rules));
	if (!snap->rules) {
		strategy_snapshot_free(snap);
		return NULL;
	}
	snap->nr_rules = n;
	snap->mask = size - 1;
	snap->by_tid = snap->storage;
	snap->by_tgid = snap->storage + size;
	for (size_t i = 0; i < n; i++)
		memcpy(snap->rules[i].id, rules[i].id, sizeof(rules[i].id));

	/* pid and tid rules apply directly: a new thread of the process is covered at once. */
	for (size_t p = 0; p < n; p++) {
		const struct strategy_rule *r = &rules[m->order[p]];
		struct strategy_effect eff = r->effect;
		const struct proc_entry *pe;

		if (strategy_rule_needs_scan(r))
			continue;
		eff.rule = (uint32_t)m->order[p];
		if (r->tid) {
			table_put(snap->by_tid, snap->mask, r->tid, 0, &eff, &snap->entries);
			snap->rules[m->order[p]].threads = 1;
		} else if (r->pid) {
			table_put(snap->by_tgid, snap->mask, r->pid, 0, &eff, &snap->entries);
			pe = procs ? proc_table_find(procs, r->pid) : NULL;
			snap->rules[m->order[p]].threads = pe ? pe->nr_threads : 0;
		}
	}
	for (size_t i = 0; i < m->nhits; i++) {
		struct strategy_effect eff = rules[m->hits[i].rule].effect;

		eff.rule = m->hits[i].rule;
		if (table_put(snap->by_tid, snap->mask, m->hits[i].tid, m->hits[i].tgid, &eff,
			      &snap->entries))
			count_thread(snap, &eff);
	}
	return snap;
}

struct strategy_snapshot *strategy_snapshot_build_from(const struct strategy_rule *rules, size_t n,
						       const struct proc_table *procs,
						       const struct pod_set *pods)
{
	struct strategy_matcher *m = strategy_matcher_new(rules, n);
	struct strategy_snapshot *snap;

	if (!m)
		return NULL;
	snap = strategy_matcher_build(m, procs, pods);
	strategy_matcher_free(m);
	return snap;
}

struct strategy_snapshot *strategy_snapshot_build(const struct strategy_rule *rules, size_t n,
						  const char *proc_root)
{
	struct strategy_snapshot *snap;
	struct proc_table *procs = proc_table_new(proc_root, 0);
	bool need_scan = false;

	if (!procs)
		return NULL;
	for (size_t i = 0; i < n; i++)
		need_scan |= strategy_rule_needs_scan(&rules[i]);
	proc_table_set_wants(procs, strategy_rules_wants(rules, n));
	/* A missing proc root is an empty table, not an error. */
	if (need_scan && proc_table_scan(procs) == -ENOMEM)
		goto fail;
	for (size_t i = 0; i < n && !need_scan; i++)
		if (rules[i].pid && proc_table_refresh(procs, rules[i].pid, PROC_REFRESH_ALL) < 0)
			goto fail;
	snap = strategy_snapshot_build_from(rules, n, procs, NULL);
	proc_table_free(procs);
	return snap;
fail:
	proc_table_free(procs);
	return NULL;
}

void strategy_snapshot_free(struct strategy_snapshot *snap)
{
	if (snap)
		free(snap->rules);
	free(snap);
}

void strategy_snapshot_set_generation(struct strategy_snapshot *snap, uint64_t generation)
{
	if (snap)
		snap->generation = generation;
}

uint64_t strategy_snapshot_generation(const struct strategy_snapshot *snap)
{
	return snap ? snap->generation : 0;
}

void strategy_snapshot_count(const struct strategy_snapshot *snap,
			     const struct strategy_effect *effect)
{
	uint64_t *v;

	if (!snap || effect->rule >= snap->nr_rules)
		return;
	/* One writer (the loop): a plain add, made tear-free for readers. */
	v = &snap->rules[effect->rule].decisions;
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void strategy_snapshot_inherit_counts(struct strategy_snapshot *snap,
				      const struct strategy_snapshot *old)
{
	if (!snap || !old)
		return;
	for (size_t i = 0; i < snap->nr_rules; i++) {
		for (size_t j = 0; j < old->nr_rules; j++) {
			if (strcmp(snap->rules[i].id, old->rules[j].id) != 0)
				continue;
			snap->rules[i].decisions =
			    __atomic_load_n(&old->rules[j].decisions, __ATOMIC_RELAXED);
			break;
		}
	}
}

size_t strategy_snapshot_rule_stats(const struct strategy_snapshot *snap,
				    struct strategy_rule_stats *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; snap && i < snap->nr_rules && n < max; i++, n++) {
		memcpy(out[n].id, snap->rules[i].id, sizeof(out[n].id));
		out[n].threads = snap->rules[i].threads;
		out[n].decisions = __atomic_load_n(&snap->rules[i].decisions, __ATOMIC_RELAXED);
	}
	return n;
}

size_t strategy_snapshot_entries(const struct strategy_snapshot *snap)
{
	return snap ? snap->entries : 0;
}

bool strategy_lookup(const struct strategy_snapshot *snap, int32_t tid, int32_t tgid,
		     struct strategy_effect *out)
{
	const struct strategy_entry *e;

	if (!snap || !snap->entries)
		return false;
	e = table_get(snap->by_tid, snap->mask, tid);
	if (!e)
		e = table_get(snap->by_tgid, snap->mask, tgid);
	if (!e)
		return false;
	*out = e->effect;
	return true;
}

static int pid_order(const void *a, const void *b)
{
	const struct strategy_pid *x = a, *y = b;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

size_t strategy_snapshot_pids(const struct strategy_snapshot *snap, struct strategy_pid *out,
			      size_t max)
{
	size_t n = 0, kept = 0;

	if (!snap || !max)
		return 0;
	/* Process rules first, then threads folded into their processes. */
	for (uint32_t i = 0; i <= snap->mask && n < max; i++) {
		const struct strategy_entry *e = &snap->by_tgid[i];

		if (e->id)
			out[n++] = (struct strategy_pid){e->effect.rule, e->id, e->effect};
	}
	for (uint32_t i = 0; i <= snap->mask && n < max; i++) {
		const struct strategy_entry *e = &snap->by_tid[i];

		if (e->id)
			out[n++] = (struct strategy_pid){e->effect.rule, e->tgid ? e->tgid : e->id,
							 e->effect};
	}
	qsort(out, n, sizeof(*out), pid_order);
	for (size_t i = 0; i < n; i++)
		if (!kept || pid_order(&out[kept - 1], &out[i]))
			out[kept++] = out[i];
	return kept;
}
