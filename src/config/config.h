/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The YAML configuration file.
 *
 * The layout keeps the original Go Gthulhu's key names and places, so old configs load:
 * scheduler.{slice_ns_default,slice_ns_min,stall_timeout_ms}, stats.interval_s, debug,
 * builtin_idle, early_processing and a strategies list. `gthulhu --explain` (through
 * config_explain()) lists every key; config/gthulhu.example.yaml shows them all.
 *
 * Loading is strict: unknown keys, duplicate keys, wrong types and out-of-range values
 * are errors, reported as "<file>:<line>: <key.path>: <what is wrong>". Loading is
 * all-or-nothing: the result replaces *c only on success (missing keys take their
 * defaults, not the previous values), and a bad file leaves *c untouched, so a reload
 * with a broken file keeps the running configuration.
 */
#ifndef GTHULHU_CONFIG_H
#define GTHULHU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "strategy/strategy.h"

struct gthulhu_config {
	/* scheduler.slice_ns_default, scheduler.slice_ns_min, scheduler.stall_timeout_ms */
	uint64_t slice_ns_default;
	uint64_t slice_ns_min;
	uint64_t stall_timeout_ms;
	bool builtin_idle;
	bool early_processing;
	bool debug;
	/* stats.interval_s; 0 = no stats records */
	uint32_t stats_interval_s;
	/* strategies, in file order */
	struct strategy_rule rules[STRATEGY_MAX_RULES];
	size_t nr_rules;
};

void config_set_defaults(struct gthulhu_config *c);

/* 0, or -1 with a one-line message in @err (which may be NULL). */
int config_load_file(const char *path, struct gthulhu_config *c, char *err, size_t errlen);
/* As above from memory; @name (e.g. a file name) prefixes messages, NULL = "<buffer>". */
int config_load_buffer(const char *yaml, size_t len, const char *name, struct gthulhu_config *c,
		       char *err, size_t errlen);

/* Every key with its type, default, range and meaning (for `gthulhu --explain`). */
void config_explain(FILE *out);

#endif /* GTHULHU_CONFIG_H */
