/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategy snapshots: two open-addressing tables (thread id -> effect, process id ->
 * effect) built off the scheduling loop and then never changed, so the loop can read them
 * without locks, plus one counter block per rule (the only part written later: relaxed
 * atomic adds by the loop). See strategy.h for precedence.
 *
 * Rules with only pid/tid matchers go straight into the tables, so a new thread of a
 * chosen process is covered without a scan. The others (regex, cgroup) are matched
 * against every thread under /proc; each process's cmdline and cgroup are read once, and
 * only when some rule needs them. Pod matchers (selectors, namespaces) need pod metadata
 * that this file does not have yet: such rules match nothing here.
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	uint32_t mask; /* table size - 1 */
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

static void table_put(struct strategy_entry *table, uint32_t mask, int32_t id, int32_t tgid,
		      const struct strategy_effect *effect, size_t *entries)
{
	uint32_t i = slot_of(id, mask);

	while (table[i].id && table[i].id != id)
		i = (i + 1) & mask;
	if (table[i].id == id)
		return; /* an earlier, more specific entry stays */
	table[i].id = id;
	table[i].tgid = tgid;
	table[i].effect = *effect;
	(*entries)++;
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

static bool read_comm(const char *path, char *comm, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false; /* the thread exited mid-scan: nothing to match */
	ok = fgets(comm, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		comm[strcspn(comm, "\n")] = '\0';
	return ok;
}

static int32_t parse_id(const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);

	return (*end || v <= 0 || v > INT32_MAX) ? 0 : (int32_t)v;
}

struct scan_ctx {
	const struct strategy_rule *rules;
	const size_t *order;
	size_t n;
	regex_t *regexes; /* compiled per rule; only those with a regex are valid */
	struct strategy_snapshot *snap;
	bool need_cmdline, need_cgroup;
	/* The process being scanned: read once for all its threads. */
	char cmdline[4096];
	char cgroup[STRATEGY_CGROUP_MAX + 64];
};

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

static const struct strategy_rule *best_rule(const struct scan_ctx *c, int32_t tid, int32_t tgid,
					     const char *comm, size_t *index)
{
	size_t k;

	for (k = 0; k < c->n; k++) {
		const struct strategy_rule *r = &c->rules[c->order[k]];

		if (r->tid && r->tid != tid)
			continue;
		if (r->pid && r->pid != tgid)
			continue;
		if (strategy_rule_needs_pods(r))
			continue; /* no pod metadata here: see the top of this file */
		if (r->cgroup[0] && !cgroup_under(c->cgroup, r->cgroup))
			continue;
		if (r->command_regex[0] &&
		    regexec(&c->regexes[c->order[k]], r->match_cmdline ? c->cmdline : comm, 0, NULL,
			    0))
			continue;
		*index = c->order[k];
		return r;
	}
	return NULL;
}

/* The arguments joined by spaces; "" for kernel threads and processes that vanished. */
static void read_cmdline(const char *proc_root, const char *pid, char *out, size_t len)
{
	char path[4096];
	size_t n = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/cmdline", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(out, 1, len - 1, f);
	fclose(f);
	while (n > 0 && out[n - 1] == '\0')
		n--;
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[n] = '\0';
}

/* The cgroup v2 path ("0::/path" line); "" when there is none (v1 only, or gone). */
static void read_cgroup(const char *proc_root, const char *pid, char *out, size_t len)
{
	char path[4096], line[STRATEGY_CGROUP_MAX + 64];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/cgroup", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + 3);
			break;
		}
	}
	fclose(f);
}

static void scan_threads(struct scan_ctx *c, const char *proc_root)
{
	char path[4096], comm[64];
	struct dirent *pe, *te;
	DIR *proc, *tasks;

	proc = opendir(proc_root);
	if (!proc)
		return;
	while ((pe = readdir(proc))) {
		int32_t tgid = parse_id(pe->d_name);

		if (!tgid)
			continue;
		snprintf(path, sizeof(path), "%s/%s/task", proc_root, pe->d_name);
		tasks = opendir(path);
		if (!tasks)
			continue;
		c->cmdline[0] = c->cgroup[0] = '\0';
		if (c->need_cmdline)
			read_cmdline(proc_root, pe->d_name, c->cmdline, sizeof(c->cmdline));
		if (c->need_cgroup)
			read_cgroup(proc_root, pe->d_name, c->cgroup, sizeof(c->cgroup));
		while ((te = readdir(tasks))) {
			int32_t tid = parse_id(te->d_name);
			const struct strategy_rule *r;
			struct strategy_effect e;
			size_t idx = 0;

			if (!tid)
				continue;
			snprintf(path, sizeof(path), "%s/%s/task/%s/comm", proc_root, pe->d_name,
				 te->d_name);
			if (!read_comm(path, comm, sizeof(comm)))
				continue;
			r = best_rule(c, tid, tgid, comm, &idx);
			if (!r)
				continue;
			/* tid- and pid-only winners are in the tables (and counted) already. */
			if (!strategy_rule_needs_scan(r))
				continue;
			e = r->effect;
			e.rule = (uint32_t)idx;
			count_thread(c->snap, &e);
			table_put(c->snap->by_tid, c->snap->mask, tid, tgid, &e, &c->snap->entries);
		}
		closedir(tasks);
	}
	closedir(proc);
}

static uint32_t table_size_for(size_t n)
{
	uint32_t size = 64;

	while (size < n * 2 && size < (1u << 24))
		size <<= 1;
	return size;
}

/* Threads of process @pid (its /proc directory name) now; 0 when it is gone. */
static size_t count_process_threads(const char *proc_root, const char *pid)
{
	char path[4096];
	struct dirent *te;
	size_t n = 0;
	DIR *tasks;

	snprintf(path, sizeof(path), "%s/%s/task", proc_root, pid);
	tasks = opendir(path);
	if (!tasks)
		return 0;
	while ((te = readdir(tasks)))
		n += parse_id(te->d_name) != 0;
	closedir(tasks);
	return n;
}

static size_t count_threads(const char *proc_root)
{
	struct dirent *pe;
	size_t n = 0;
	DIR *proc;

	proc = opendir(proc_root);
	if (!proc)
		return 0;
	while ((pe = readdir(proc)))
		if (parse_id(pe->d_name))
			n += count_process_threads(proc_root, pe->d_name);
	closedir(proc);
	return n;
}

static int compile_regexes(const struct strategy_rule *rules, size_t n, regex_t *regexes)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/* Every source validated the regex; a failure here is memory. */
		if (rules[i].command_regex[0] &&
		    regcomp(&regexes[i], rules[i].command_regex, REG_EXTENDED | REG_NOSUB))
			break;
	}
	if (i == n)
		return 0;
	while (i-- > 0)
		if (rules[i].command_regex[0])
			regfree(&regexes[i]);
	return -1;
}

static void free_regexes(const struct strategy_rule *rules, size_t n, regex_t *regexes)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].command_regex[0])
			regfree(&regexes[i]);
}

struct strategy_snapshot *strategy_snapshot_build(const struct strategy_rule *rules, size_t n,
						  const char *proc_root)
{
	struct strategy_snapshot *snap;
	struct scan_ctx *c = NULL;
	bool need_scan = false;
	size_t i, capacity = n;
	size_t *order = NULL;
	regex_t *regexes = NULL;
	uint32_t size;

	for (i = 0; i < n; i++)
		need_scan |= strategy_rule_needs_scan(&rules[i]);
	/* Threads appear during the scan too; leave room so the table stays sparse. */
	if (need_scan)
		capacity += count_threads(proc_root) + 1024;
	size = table_size_for(capacity);

	snap = calloc(1, sizeof(*snap) + 2 * (size_t)size * sizeof(struct strategy_entry));
	order = calloc(n ? n : 1, sizeof(*order));
	regexes = calloc(n ? n : 1, sizeof(*regexes));
	c = calloc(1, sizeof(*c));
	if (!snap || !order || !regexes || !c)
		goto fail;
	snap->rules = calloc(n ? n : 1, sizeof(*snap->rules));
	if (!snap->rules)
		goto fail;
	snap->nr_rules = n;
	snap->mask = size - 1;
	snap->by_tid = snap->storage;
	snap->by_tgid = snap->storage + size;
	for (i = 0; i < n; i++)
		memcpy(snap->rules[i].id, rules[i].id, sizeof(rules[i].id));

	order_rules(rules, n, order);
	for (i = 0; i < n; i++) {
		const struct strategy_rule *r = &rules[order[i]];
		struct strategy_effect e = r->effect;

		if (strategy_rule_needs_scan(r))
			continue;
		e.rule = (uint32_t)order[i];
		if (r->tid) {
			table_put(snap->by_tid, snap->mask, r->tid, 0, &e, &snap->entries);
			snap->rules[order[i]].threads = 1;
		} else if (r->pid) {
			table_put(snap->by_tgid, snap->mask, r->pid, 0, &e, &snap->entries);
			char pid[16];

			snprintf(pid, sizeof(pid), "%d", r->pid);
			snap->rules[order[i]].threads = count_process_threads(proc_root, pid);
		}
	}
	if (need_scan) {
		*c = (struct scan_ctx){
		    .rules = rules, .order = order, .n = n, .regexes = regexes, .snap = snap};
		for (i = 0; i < n; i++) {
			c->need_cmdline |= rules[i].match_cmdline;
			c->need_cgroup |= rules[i].cgroup[0] != '\0';
		}
		if (compile_regexes(rules, n, regexes))
			goto fail;
		scan_threads(c, proc_root);
		free_regexes(rules, n, regexes);
	}
	free(c);
	free(order);
	free(regexes);
	return snap;
fail:
	free(c);
	free(order);
	free(regexes);
	strategy_snapshot_free(snap);
	return NULL;
}

void strategy_snapshot_free(struct strategy_snapshot *snap)
{
	if (snap)
		free(snap->rules);
	free(snap);
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
