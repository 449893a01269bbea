// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for strategy JSON (src/strategy/strategy_json.c and rule.c): the REST
 * API's bodies and the state file are untrusted text. Any input must be accepted or
 * refused without a crash, a leak or unbounded work; and whatever is accepted must survive
 * a round trip through strategy_to_json() unchanged, or the state file would drift.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strategy/strategy_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @r was accepted: writing it out and reading it back must give the same rule. */
static void check_round_trip(const struct strategy_rule *r)
{
	static struct strategy_rule again;
	json_t *obj = strategy_to_json(r);
	char err[512], *text;
	enum strategy_json_status st;
	json_t *doc;

	if (!obj)
		abort(); /* a valid rule is always valid JSON */
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		abort();
	doc = strategy_json_parse_text(text, strlen(text), &st, err, sizeof(err));
	free(text);
	if (!doc || strategy_from_json(doc, &again, err, sizeof(err)) != SJ_OK)
		abort();
	json_decref(doc);
	again.source = r->source;
	if (memcmp(r, &again, sizeof(again)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* ~1 MiB: static, not on the fuzzer's stack. */
	static struct strategy_rule rules[STRATEGY_MAX_RULES], one;
	enum strategy_json_status st;
	char err[1024];
	json_t *doc;
	size_t n = 0;

	doc = strategy_json_parse_text((const char *)data, size, &st, err, sizeof(err));
	if (!doc)
		return 0;
	/* The last byte picks allow_empty, so both paths are explored. */
	if (strategies_from_json(doc, rules, STRATEGY_MAX_RULES, &n, size && (data[size - 1] & 1),
				 err, sizeof(err)) == SJ_OK) {
		for (size_t i = 0; i < n; i++)
			check_round_trip(&rules[i]);
	} else if (n != 0) {
		abort(); /* a refused list reports no entries */
	}
	if (strategy_from_json(doc, &one, err, sizeof(err)) == SJ_OK)
		check_round_trip(&one);
	json_decref(doc);
	return 0;
}
