// SPDX-License-Identifier: GPL-2.0
/*
 * Strategies as JSON: the REST API's bodies and the strategy store's state file (see
 * strategy_json.h for the format). Input is untrusted: the text is bounded in size and
 * nesting before jansson sees it, every key is known, every value has one type and a
 * range, and the finished rule goes through strategy_rule_validate() like any other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "strategy/strategy_json.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const strategy_keys[] = {
    "id",     "priority",  "execution_time", "pid",    "tid", "command_regex", "match_cmdline",
    "cgroup", "selectors", "namespaces",     "source",
};
#define STRATEGY_KEYS_TEXT                                                                         \
	"id, priority, execution_time, pid, tid, command_regex, match_cmdline, cgroup, "           \
	"selectors, namespaces, source"

const char *strategy_source_name(enum strategy_source source)
{
	switch (source) {
	case STRATEGY_SRC_CONFIG:
		return "config";
	case STRATEGY_SRC_API:
		return "api";
	case STRATEGY_SRC_CLUSTER:
		return "cluster";
	}
	return "unknown";
}

/* "a string", "an integer", ... for "expected X, got Y" messages. */
static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/*
 * Deepest nesting of arrays and objects in @text, stopping as soon as it passes @limit.
 * Brackets inside strings do not count; an escaped quote does not end a string. Runs
 * before jansson, whose parser recurses once per level.
 */
static size_t nesting_depth(const char *text, size_t len, size_t limit, size_t *where)
{
	size_t depth = 0, deepest = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character, whatever it is */
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > deepest)
				deepest = depth;
			if (deepest > limit) {
				*where = i;
				return deepest;
			}
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return deepest;
}

json_t *strategy_json_parse_text(const char *text, size_t len, enum strategy_json_status *status,
				 char *err, size_t errlen)
{
	json_error_t jerr;
	size_t where = 0;
	json_t *doc;

	*status = SJ_OK;
	if (len > STRATEGY_JSON_MAX_BYTES) {
		*status = SJ_TOO_LARGE;
		err_printf(err, errlen, "document is %zu bytes, at most %u", len,
			   STRATEGY_JSON_MAX_BYTES);
		return NULL;
	}
	if (nesting_depth(text, len, STRATEGY_JSON_MAX_DEPTH, &where) > STRATEGY_JSON_MAX_DEPTH) {
		*status = SJ_SYNTAX;
		err_printf(err, errlen, "nested deeper than %d levels (at byte %zu)",
			   STRATEGY_JSON_MAX_DEPTH, where);
		return NULL;
	}
	/* Shape (an object, which keys) is the caller's check, with a clearer message. */
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!doc) {
		*status = SJ_SYNTAX;
		err_printf(err, errlen, "line %d, column %d: %s", jerr.line, jerr.column,
			   jerr.text);
		return NULL;
	}
	return doc;
}

/* ---- one strategy ----------------------------------------------------------------------- */

/*
 * Copy a JSON string of at most @size - 1 bytes into @dst. jansson strings may hold NUL
 * (from \u0000 with JSON_ALLOW_NUL, or when built in code); C strings cannot, so refuse.
 */
static int get_string(const json_t *v, const char *field, char *dst, size_t size, char *err,
		      size_t errlen)
{
	const char *s;
	size_t len;

	if (!json_is_string(v)) {
		err_printf(err, errlen, "%s: expected a string, got %s", field, type_name(v));
		return -1;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len != strlen(s)) {
		err_printf(err, errlen, "%s: contains a NUL character", field);
		return -1;
	}
	if (len >= size) {
		err_printf(err, errlen, "%s: %zu bytes, at most %zu", field, len, size - 1);
		return -1;
	}
	memcpy(dst, s, len + 1);
	return 0;
}

/* A pid or tid: an integer 0 .. PID_MAX_LIMIT (0 = unset, as the original's clients send). */
static int get_task_id(const json_t *v, const char *field, int32_t *dst, char *err, size_t errlen)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		err_printf(err, errlen, "%s: expected an integer, got %s", field, type_name(v));
		return -1;
	}
	n = json_integer_value(v);
	if (n < 0 || n > STRATEGY_PID_MAX) {
		err_printf(err, errlen, "%s: %lld is out of range (1 to %d, 0 = any)", field,
			   (long long)n, STRATEGY_PID_MAX);
		return -1;
	}
	*dst = (int32_t)n;
	return 0;
}

static int get_priority(const json_t *v, uint32_t *dst, char *err, size_t errlen)
{
	json_int_t n;

	if (json_is_boolean(v)) {
		*dst = json_is_true(v) ? STRATEGY_PRIO_MAX : STRATEGY_PRIO_NONE;
		return 0;
	}
	if (!json_is_integer(v)) {
		err_printf(err, errlen,
			   "priority: expected true, false or an integer 0 to %d, got %s",
			   STRATEGY_PRIO_MAX, type_name(v));
		return -1;
	}
	n = json_integer_value(v);
	if (n < 0 || n > STRATEGY_PRIO_MAX) {
		err_printf(err, errlen, "priority: %lld is out of range (0 to %d, or true/false)",
			   (long long)n, STRATEGY_PRIO_MAX);
		return -1;
	}
	*dst = (uint32_t)n;
	return 0;
}

static int get_execution_time(const json_t *v, uint64_t *dst, char *err, size_t errlen)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		err_printf(err, errlen, "execution_time: expected an integer (nanoseconds), got %s",
			   type_name(v));
		return -1;
	}
	n = json_integer_value(v);
	if (n < 0) {
		err_printf(err, errlen, "execution_time: %lld is negative", (long long)n);
		return -1;
	}
	*dst = (uint64_t)n; /* the range is strategy_rule_validate()'s */
	return 0;
}

static int get_selectors(const json_t *v, struct strategy_rule *out, char *err, size_t errlen)
{
	size_t i, n;

	if (!json_is_array(v)) {
		err_printf(err, errlen, "selectors: expected an array, got %s", type_name(v));
		return -1;
	}
	n = json_array_size(v);
	if (n > STRATEGY_SELECTORS_MAX) {
		err_printf(err, errlen, "selectors: %zu entries, at most %d", n,
			   STRATEGY_SELECTORS_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const json_t *sel = json_array_get(v, i), *val;
		struct strategy_selector *dst = &out->selectors[i];
		char field[48];
		const char *key;

		if (!json_is_object(sel)) {
			err_printf(err, errlen,
				   "selectors[%zu]: expected an object {\"key\", \"value\"}, "
				   "got %s",
				   i, type_name(sel));
			return -1;
		}
		json_object_foreach((json_t *)sel, key, val)
		{
			if (strcmp(key, "key") && strcmp(key, "value")) {
				err_printf(
				    err, errlen,
				    "selectors[%zu]: unknown key '%s' (expected: key, value)", i,
				    key);
				return -1;
			}
		}
		val = json_object_get(sel, "key");
		snprintf(field, sizeof(field), "selectors[%zu].key", i);
		if (!val) {
			err_printf(err, errlen, "%s: missing", field);
			return -1;
		}
		if (get_string(val, field, dst->key, sizeof(dst->key), err, errlen))
			return -1;
		val = json_object_get(sel, "value");
		snprintf(field, sizeof(field), "selectors[%zu].value", i);
		if (!val) {
			err_printf(err, errlen, "%s: missing", field);
			return -1;
		}
		if (get_string(val, field, dst->value, sizeof(dst->value), err, errlen))
			return -1;
	}
	out->nr_selectors = (uint32_t)n;
	return 0;
}

static int get_namespaces(const json_t *v, struct strategy_rule *out, char *err, size_t errlen)
{
	size_t i, n;

	if (!json_is_array(v)) {
		err_printf(err, errlen, "namespaces: expected an array of strings, got %s",
			   type_name(v));
		return -1;
	}
	n = json_array_size(v);
	if (n > STRATEGY_NAMESPACES_MAX) {
		err_printf(err, errlen, "namespaces: %zu entries, at most %d", n,
			   STRATEGY_NAMESPACES_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char field[32];

		snprintf(field, sizeof(field), "namespaces[%zu]", i);
		if (get_string(json_array_get(v, i), field, out->namespaces[i],
			       sizeof(out->namespaces[i]), err, errlen))
			return -1;
	}
	out->nr_namespaces = (uint32_t)n;
	return 0;
}

static int get_field(const char *key, const json_t *v, struct strategy_rule *out, char *err,
		     size_t errlen)
{
	if (!strcmp(key, "id"))
		return get_string(v, key, out->id, sizeof(out->id), err, errlen);
	if (!strcmp(key, "priority"))
		return get_priority(v, &out->effect.priority, err, errlen);
	if (!strcmp(key, "execution_time"))
		return get_execution_time(v, &out->effect.execution_time_ns, err, errlen);
	if (!strcmp(key, "pid"))
		return get_task_id(v, key, &out->pid, err, errlen);
	if (!strcmp(key, "tid"))
		return get_task_id(v, key, &out->tid, err, errlen);
	if (!strcmp(key, "command_regex"))
		return get_string(v, key, out->command_regex, sizeof(out->command_regex), err,
				  errlen);
	if (!strcmp(key, "match_cmdline")) {
		if (!json_is_boolean(v)) {
			err_printf(err, errlen, "match_cmdline: expected true or false, got %s",
				   type_name(v));
			return -1;
		}
		out->match_cmdline = json_is_true(v);
		return 0;
	}
	if (!strcmp(key, "cgroup"))
		return get_string(v, key, out->cgroup, sizeof(out->cgroup), err, errlen);
	if (!strcmp(key, "selectors"))
		return get_selectors(v, out, err, errlen);
	if (!strcmp(key, "namespaces"))
		return get_namespaces(v, out, err, errlen);
	if (!strcmp(key, "source")) {
		/* Only what strategy_to_json() writes; the store decides the real source. */
		char name[16];

		if (get_string(v, key, name, sizeof(name), err, errlen))
			return -1;
		if (strcmp(name, "config") && strcmp(name, "api") && strcmp(name, "cluster")) {
			err_printf(err, errlen,
				   "source: expected \"config\", \"api\" or \"cluster\"");
			return -1;
		}
		return 0;
	}
	err_printf(err, errlen, "unknown key '%s' (expected one of: " STRATEGY_KEYS_TEXT ")", key);
	return -1;
}

enum strategy_json_status strategy_from_json(const json_t *obj, struct strategy_rule *out,
					     char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		err_printf(err, errlen, "expected a strategy object, got %s",
			   obj ? type_name(obj) : "nothing");
		return SJ_SYNTAX;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		if (get_field(key, v, out, err, errlen))
			return SJ_INVALID;
	}
	if (strategy_rule_validate(out, err, errlen))
		return SJ_INVALID;
	return SJ_OK;
}

/* True when @msg starts with one of a strategy's keys, so "strategies[i]." can prefix it. */
static bool starts_with_field(const char *msg)
{
	size_t len = strcspn(msg, ".:[");

	for (size_t k = 0; k < ARRAY_SIZE(strategy_keys); k++)
		if (strlen(strategy_keys[k]) == len && !strncmp(msg, strategy_keys[k], len))
			return true;
	return false;
}

enum strategy_json_status strategies_from_json(const json_t *doc, struct strategy_rule *out,
					       size_t max, size_t *n, bool allow_empty, char *err,
					       size_t errlen)
{
	const json_t *list;
	const char *key;
	size_t i, count;
	json_t *v;

	*n = 0;
	if (!json_is_object(doc)) {
		err_printf(err, errlen, "expected an object {\"strategies\": [...]}, got %s",
			   doc ? type_name(doc) : "nothing");
		return SJ_SYNTAX;
	}
	json_object_foreach((json_t *)doc, key, v)
	{
		if (strcmp(key, "strategies")) {
			err_printf(err, errlen, "unknown key '%s' (expected: strategies)", key);
			return SJ_INVALID;
		}
	}
	list = json_object_get(doc, "strategies");
	if (!list) {
		err_printf(err, errlen, "strategies: missing (expected {\"strategies\": [...]})");
		return SJ_SYNTAX;
	}
	if (!json_is_array(list)) {
		err_printf(err, errlen, "strategies: expected an array, got %s", type_name(list));
		return SJ_SYNTAX;
	}
	count = json_array_size(list);
	if (count > max || count > STRATEGY_MAX_RULES) {
		err_printf(err, errlen, "strategies: %zu entries, at most %zu", count,
			   max < STRATEGY_MAX_RULES ? max : (size_t)STRATEGY_MAX_RULES);
		return SJ_TOO_LARGE;
	}
	if (!count && !allow_empty) {
		err_printf(err, errlen, "strategies: the list is empty");
		return SJ_INVALID;
	}
	for (i = 0; i < count; i++) {
		enum strategy_json_status st;
		char why[512];

		st = strategy_from_json(json_array_get(list, i), &out[i], why, sizeof(why));
		if (st != SJ_OK) {
			err_printf(err, errlen, "strategies[%zu]%s%s", i,
				   starts_with_field(why) ? "." : ": ", why);
			return st;
		}
		/* Ids name strategies in the API: two with one id would shadow each other. */
		for (size_t j = 0; out[i].id[0] && j < i; j++)
			if (!strcmp(out[j].id, out[i].id)) {
				err_printf(err, errlen,
					   "strategies[%zu].id: '%s' also in strategies[%zu]", i,
					   out[i].id, j);
				return SJ_INVALID;
			}
	}
	*n = count;
	return SJ_OK;
}

/* ---- output ----------------------------------------------------------------------------- */

/* A fixed-size field as a JSON string; NULL (a failure) when it is not valid UTF-8. */
static json_t *field_string(const char *s, size_t size)
{
	return json_stringn(s, strnlen(s, size));
}

/* json_object_set_new() that remembers a failure (NULL value or no memory). */
static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
	if (!value || json_object_set_new(obj, key, value))
		*ok = false;
}

json_t *strategy_to_json(const struct strategy_rule *rule)
{
	json_t *obj = json_object();
	bool ok = obj != NULL;

	if (!ok)
		return NULL;
	put(obj, "id", field_string(rule->id, sizeof(rule->id)), &ok);
	put(obj, "source", json_string(strategy_source_name(rule->source)), &ok);
	put(obj, "priority", json_integer(rule->effect.priority), &ok);
	put(obj, "execution_time", json_integer((json_int_t)rule->effect.execution_time_ns), &ok);
	if (rule->pid)
		put(obj, "pid", json_integer(rule->pid), &ok);
	if (rule->tid)
		put(obj, "tid", json_integer(rule->tid), &ok);
	if (rule->command_regex[0])
		put(obj, "command_regex",
		    field_string(rule->command_regex, sizeof(rule->command_regex)), &ok);
	if (rule->match_cmdline)
		put(obj, "match_cmdline", json_true(), &ok);
	if (rule->cgroup[0])
		put(obj, "cgroup", field_string(rule->cgroup, sizeof(rule->cgroup)), &ok);
	if (rule->nr_selectors) {
		json_t *arr = json_array();
		uint32_t n = rule->nr_selectors < STRATEGY_SELECTORS_MAX ? rule->nr_selectors
									 : STRATEGY_SELECTORS_MAX;

		for (uint32_t i = 0; arr && i < n; i++) {
			json_t *sel = json_object();

			if (sel) {
				put(sel, "key",
				    field_string(rule->selectors[i].key,
						 sizeof(rule->selectors[i].key)),
				    &ok);
				put(sel, "value",
				    field_string(rule->selectors[i].value,
						 sizeof(rule->selectors[i].value)),
				    &ok);
			}
			if (!sel || json_array_append_new(arr, sel))
				ok = false;
		}
		put(obj, "selectors", arr, &ok);
	}
	if (rule->nr_namespaces) {
		json_t *arr = json_array();
		uint32_t n = rule->nr_namespaces < STRATEGY_NAMESPACES_MAX
				 ? rule->nr_namespaces
				 : STRATEGY_NAMESPACES_MAX;

		for (uint32_t i = 0; arr && i < n; i++)
			if (json_array_append_new(arr, field_string(rule->namespaces[i],
								    sizeof(rule->namespaces[i]))))
				ok = false;
		put(obj, "namespaces", arr, &ok);
	}
	if (!ok) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}
