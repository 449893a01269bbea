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
	/* api.*: see config_explain() */
	bool api_enabled;
	char api_socket[108]; /* sizeof(sun_path) */
	char api_listen[128]; /* "host:port"; "" = no TCP listener */
	char api_token_file[256];
	bool api_loopback_no_auth;
	char api_state_file[256]; /* "" = API strategies are not persisted */
	/* kubernetes.*: see config_explain() */
	bool k8s_enabled;
	char k8s_node_name[254];  /* "" = $NODE_NAME, else the host name */
	char k8s_kubeconfig[256]; /* "" = in-cluster (service account) */
	bool k8s_strategies;	  /* watch SchedulingStrategy objects */
	bool k8s_pod_metrics;
	char k8s_cgroup_root[256];
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

/*
 * Live knobs: keys that may change while Gthulhu runs (PATCH /api/v1/config): the slices,
 * stats.interval_s and debug. The others apply at the next start.
 */
bool config_key_is_live(const char *path);

/* One key's value, for GET /api/v1/config (strategies are not listed). */
struct config_value {
	const char *path; /* "scheduler.slice_ns_default" */
	enum { CONFIG_NUMBER, CONFIG_BOOL, CONFIG_STRING } kind;
	bool live;
	uint64_t number; /* CONFIG_NUMBER, and CONFIG_BOOL as 0/1 */
	const char *string;
};
/* Fill @out (at most @max) with every key of @c in table order; returns the count. */
size_t config_values(const struct gthulhu_config *c, struct config_value *out, size_t max);

/*
 * Set a live key in @c: a number (@is_bool false) or a boolean. Checks the key's type and
 * range; 0, or -1 with "<key>: <what is wrong>" in @err (unknown and not-live keys too).
 */
int config_set_live(struct gthulhu_config *c, const char *path, uint64_t value, bool is_bool,
		    char *err, size_t errlen);
/* Copy the value of key @path from @src to @dst: 0, or -1 for an unknown key. */
int config_copy_key(struct gthulhu_config *dst, const struct gthulhu_config *src, const char *path);
/* The constraints between keys (slice_ns_min <= slice_ns_default, ...): 0 or -1 + @err. */
int config_check(const struct gthulhu_config *c, char *err, size_t errlen);

/* Every key with its type, default, range and meaning (for `gthulhu --explain`). */
void config_explain(FILE *out);

#endif /* GTHULHU_CONFIG_H */
