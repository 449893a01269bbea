/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strategies as JSON (jansson): the REST API's bodies and the store's state file.
 *
 * One strategy object:
 *   {"id": "web", "priority": true | 0..20, "execution_time": ns,
 *    "pid": N, "tid": N, "command_regex": "ERE", "match_cmdline": bool,
 *    "cgroup": "/path/prefix",
 *    "selectors": [{"key": "app", "value": "x"}], "namespaces": ["default"]}
 * Every key is optional but the result must pass strategy_rule_validate(). Unknown keys
 * are errors (a typo must not silently widen a match). "source" is accepted on input only
 * as the value strategy_to_json() writes, and ignored: the store decides the source.
 *
 * Parsing is bounded: the text is at most STRATEGY_JSON_MAX_BYTES, nesting at most
 * STRATEGY_JSON_MAX_DEPTH, lists at most STRATEGY_MAX_RULES entries.
 */
#ifndef GTHULHU_STRATEGY_JSON_H
#define GTHULHU_STRATEGY_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "strategy/strategy.h"

#define STRATEGY_JSON_MAX_BYTES (1u << 20)
#define STRATEGY_JSON_MAX_DEPTH 8

/* Why a parse failed; the API maps these to HTTP statuses. */
enum strategy_json_status {
	SJ_OK = 0,
	SJ_SYNTAX,    /* not JSON, too deep, or not the expected shape of document: 400 */
	SJ_INVALID,   /* JSON, but a strategy is invalid (bad field or value): 422 */
	SJ_TOO_LARGE, /* too many bytes or strategies: 413 */
};

/* Parse the text of a JSON document; bounded depth. NULL + message on failure. */
json_t *strategy_json_parse_text(const char *text, size_t len, enum strategy_json_status *status,
				 char *err, size_t errlen);

/* One strategy object -> rule (source and line left 0). */
enum strategy_json_status strategy_from_json(const json_t *obj, struct strategy_rule *out,
					     char *err, size_t errlen);
/*
 * A document {"strategies": [ ... ]} -> rules. @allow_empty false: an empty list is an
 * error (SJ_INVALID), as in the original's POST. Messages name the entry: "strategies[2].pid:
 * ...".
 */
enum strategy_json_status strategies_from_json(const json_t *doc, struct strategy_rule *out,
					       size_t max, size_t *n, bool allow_empty, char *err,
					       size_t errlen);

/* rule -> a new object with every set field, plus "id" and "source"; NULL on ENOMEM. */
json_t *strategy_to_json(const struct strategy_rule *rule);
/* "config", "api" or "cluster". */
const char *strategy_source_name(enum strategy_source source);

#endif /* GTHULHU_STRATEGY_JSON_H */
