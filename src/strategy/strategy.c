/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategy snapshots: two open-addressing tables (thread id -> effect, process id ->
 * effect) built off the scheduling loop and then never changed, so the loop can read them
 * without locks. See strategy.h for precedence.
 */
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy/strategy.h"

struct strategy_entry {
	int32_t id; /* 0 = empty */
	struct strategy_effect effect;
};

struct strategy_snapshot {
	uint32_t mask; /* table size - 1 */
	size_t entries;
	struct strategy_entry *by_tid;
	struct strategy_entry *by_tgid;
	struct strategy_entry storage[];
};

int strategy_rule_specificity(const struct strategy_rule *rule)
{
	return (rule->tid ? 4 : 0) + (rule->pid ? 2 : 0) + (rule->command_regex[0] ? 1 : 0);
}

static uint32_t slot_of(int32_t id, uint32_t mask)
{
	return ((uint32_t)id * 2654435769u) & mask;
}

static void table_put(struct strategy_entry *table, uint32_t mask, int32_t id,
		      const struct strategy_effect *effect, size_t *entries)
{
	uint32_t i = slot_of(id, mask);

	while (table[i].id && table[i].id != id)
		i = (i + 1) & mask;
	if (table[i].id == id)
		return; /* an earlier, more specific entry stays */
	table[i].id = id;
	table[i].effect = *effect;
	(*entries)++;
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
};

static const struct strategy_rule *best_rule(const struct scan_ctx *c, int32_t tid, int32_t tgid,
					     const char *comm)
{
	size_t k;

	for (k = 0; k < c->n; k++) {
		const struct strategy_rule *r = &c->rules[c->order[k]];

		if (r->tid && r->tid != tid)
			continue;
		if (r->pid && r->pid != tgid)
			continue;
		if (r->command_regex[0] && regexec(&c->regexes[c->order[k]], comm, 0, NULL, 0))
			continue;
		return r;
	}
	return NULL;
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
		while ((te = readdir(tasks))) {
			int32_t tid = parse_id(te->d_name);
			const struct strategy_rule *r;

			if (!tid)
				continue;
			snprintf(path, sizeof(path), "%s/%s/task/%s/comm", proc_root, pe->d_name,
				 te->d_name);
			if (!read_comm(path, comm, sizeof(comm)))
				continue;
			r = best_rule(c, tid, tgid, comm);
			/* tid- and pid-only winners are in the tables already. */
			if (r && r->command_regex[0])
				table_put(c->snap->by_tid, c->snap->mask, tid, &r->effect,
					  &c->snap->entries);
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

static size_t count_threads(const char *proc_root)
{
	char path[4096];
	struct dirent *pe, *te;
	DIR *proc, *tasks;
	size_t n = 0;

	proc = opendir(proc_root);
	if (!proc)
		return 0;
	while ((pe = readdir(proc))) {
		if (!parse_id(pe->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/task", proc_root, pe->d_name);
		tasks = opendir(path);
		if (!tasks)
			continue;
		while ((te = readdir(tasks)))
			n += parse_id(te->d_name) != 0;
		closedir(tasks);
	}
	closedir(proc);
	return n;
}

struct strategy_snapshot *strategy_snapshot_build(const struct strategy_rule *rules, size_t n,
						  const char *proc_root)
{
	struct strategy_snapshot *snap;
	bool need_scan = false;
	size_t i, capacity = n;
	size_t *order = NULL;
	regex_t *regexes = NULL;
	uint32_t size;

	for (i = 0; i < n; i++)
		need_scan |= rules[i].command_regex[0] != '\0';
	/* Threads appear during the scan too; leave room so the table stays sparse. */
	if (need_scan)
		capacity += count_threads(proc_root) + 1024;
	size = table_size_for(capacity);

	snap = calloc(1, sizeof(*snap) + 2 * (size_t)size * sizeof(struct strategy_entry));
	order = calloc(n ? n : 1, sizeof(*order));
	regexes = calloc(n ? n : 1, sizeof(*regexes));
	if (!snap || !order || !regexes)
		goto fail;
	snap->mask = size - 1;
	snap->by_tid = snap->storage;
	snap->by_tgid = snap->storage + size;

	order_rules(rules, n, order);
	for (i = 0; i < n; i++) {
		const struct strategy_rule *r = &rules[order[i]];

		if (r->command_regex[0])
			continue;
		if (r->tid)
			table_put(snap->by_tid, snap->mask, r->tid, &r->effect, &snap->entries);
		else if (r->pid)
			table_put(snap->by_tgid, snap->mask, r->pid, &r->effect, &snap->entries);
	}
	if (need_scan) {
		struct scan_ctx c = {rules, order, n, regexes, snap};
		size_t compiled = 0;

		for (i = 0; i < n; i++) {
			/* The config parser validated every regex; a failure here is memory. */
			if (rules[i].command_regex[0] &&
			    regcomp(&regexes[i], rules[i].command_regex, REG_EXTENDED | REG_NOSUB))
				goto fail_regex;
			compiled = i + 1;
		}
		scan_threads(&c, proc_root);
		for (i = 0; i < compiled; i++)
			if (rules[i].command_regex[0])
				regfree(&regexes[i]);
		goto done;
	fail_regex:
		for (i = 0; i < compiled; i++)
			if (rules[i].command_regex[0])
				regfree(&regexes[i]);
		goto fail;
	}
done:
	free(order);
	free(regexes);
	return snap;
fail:
	free(order);
	free(regexes);
	free(snap);
	return NULL;
}

void strategy_snapshot_free(struct strategy_snapshot *snap)
{
	free(snap);
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
