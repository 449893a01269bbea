// SPDX-License-Identifier: GPL-2.0
/*
 * The checks every strategy passes, whatever its source (config file, REST API, state
 * file, Kubernetes): field ranges, string syntax and a regex that matches in bounded time.
 *
 * Parsers fill a struct strategy_rule and call strategy_rule_validate(); its messages are
 * "<field>: <what is wrong>" with the JSON/YAML key names, so each parser only prefixes
 * where the rule came from ("t.yaml:4: strategies[1].", "strategies[2].").
 */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"
#include "strategy/strategy.h"

/* Regex complexity bounds, see strategy_regex_check(). */
#define RE_COUNT_MAX	255
#define RE_GROUPS_MAX	16
#define RE_DEPTH_MAX	4
#define RE_EXPANDED_MAX 1024

#define K8S_NAME_MAX   63
#define K8S_PREFIX_MAX 253

bool strategy_rule_needs_pods(const struct strategy_rule *rule)
{
	return rule->nr_selectors > 0 || rule->nr_namespaces > 0;
}

bool strategy_rule_needs_scan(const struct strategy_rule *rule)
{
	return rule->command_regex[0] || rule->cgroup[0] || strategy_rule_needs_pods(rule);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_name_char(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '-';
}

bool strategy_id_valid(const char *id)
{
	size_t len = strnlen(id, STRATEGY_ID_MAX);

	if (len == 0 || len >= STRATEGY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(id[i]))
			return false;
	return true;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): JSON needs it. */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned int cp, need;

		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			need = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			need = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			need = 3;
		} else {
			return false;
		}
		p++;
		for (unsigned int k = 0; k < need; k++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false; /* also stops at the terminating NUL */
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

/* ---- regex complexity ------------------------------------------------------------------ */

/*
 * Skip a bracket expression starting at s[i] == '['; returns the index just past its ']',
 * or 0 when it is not closed (regcomp() then reports the error). Inside brackets a
 * backslash is an ordinary character, ']' right after '[' or '[^' is a member, and
 * "[:alpha:]", "[=a=]", "[.-.]" are single items.
 */
static size_t skip_bracket(const char *s, size_t i)
{
	i++;
	if (s[i] == '^')
		i++;
	if (s[i] == ']')
		i++;
	while (s[i] && s[i] != ']') {
		if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '=' || s[i + 1] == '.')) {
			char kind = s[i + 1];

			i += 2;
			while (s[i] && !(s[i] == kind && s[i + 1] == ']'))
				i++;
			if (!s[i])
				return 0;
			i += 2;
			continue;
		}
		i++;
	}
	return s[i] == ']' ? i + 1 : 0;
}

/* Parse digits at s[*i], saturating at RE_COUNT_MAX + 1; false when there are none. */
static bool parse_count(const char *s, size_t *i, unsigned int *out)
{
	unsigned int v = 0;
	size_t start = *i;

	while (s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (unsigned int)(s[*i] - '0');
		if (v > RE_COUNT_MAX)
			v = RE_COUNT_MAX + 1;
		(*i)++;
	}
	*out = v;
	return *i > start;
}

/*
 * An interval "{n}", "{n,}", "{,m}", "{n,m}" or "{,}" at s[*i] == '{' (the forms glibc's ERE
 * accepts). On success *i is past the '}', *min and *max are set (*max = 0: unbounded).
 * False when it is not an interval; regcomp() decides what that '{' is.
 */
static bool parse_interval(const char *s, size_t *i, unsigned int *min, unsigned int *max,
			   bool *unbounded)
{
	size_t j = *i + 1;
	bool have_min, have_max = false, comma = false;

	have_min = parse_count(s, &j, min);
	if (!have_min)
		*min = 0;
	*max = *min;
	if (s[j] == ',') {
		comma = true;
		j++;
		have_max = parse_count(s, &j, max);
	}
	/* glibc reads "{,}" as {0,}: unbounded. */
	if (s[j] != '}' || (!have_min && !comma))
		return false;
	*unbounded = comma && !have_max;
	*i = j + 1;
	return true;
}

struct re_frame {
	bool has_rep;  /* something inside can repeat more than once */
	size_t weight; /* atoms inside, with every bounded repetition written out */
};

/*
 * The complexity rule (checked before regcomp() sees the pattern):
 *  - no back-references \1 .. \9: they are the one ERE feature glibc can only match by
 *    backtracking, exponential in the worst case;
 *  - repetition counts {n,m} at most 255: glibc writes a count out as that many copies;
 *  - at most 16 groups, nested at most 4 deep;
 *  - nothing that repeats (*, +, {n,} or {n,m} with m > 1) may be repeated again, as in
 *    (a+)+, (a*)*, (ab+){2,5} or a+*: ambiguous nesting is what makes matching explode;
 *    '?' and {0,1} do not count as repeating;
 *  - at most 1024 atoms once every bounded repetition is written out ("x{255}" is 255),
 *    which bounds the automaton glibc builds and so the time per matched string.
 * 0, or -1 with the reason in @err.
 */
static int regex_complexity(const char *s, char *err, size_t errlen)
{
	struct re_frame frames[RE_DEPTH_MAX + 1] = {{false, 0}};
	unsigned int depth = 0, groups = 0;
	bool atom = false, atom_rep = false;
	size_t atom_weight = 0, i = 0;

	while (s[i]) {
		unsigned int min = 0, max = 0;
		bool unbounded = false, is_quant = true;
		char c = s[i];

		switch (c) {
		case '\\':
			if (s[i + 1] >= '1' && s[i + 1] <= '9') {
				err_printf(err, errlen,
					   "back-reference \\%c at byte %zu is not allowed",
					   s[i + 1], i);
				return -1;
			}
			if (!s[i + 1])
				return 0; /* a trailing backslash: regcomp() says so */
			i += 2;
			is_quant = false;
			atom = true;
			break;
		case '[': {
			size_t end = skip_bracket(s, i);

			if (!end)
				return 0;
			i = end;
			is_quant = false;
			atom = true;
			break;
		}
		case '(':
			if (++groups > RE_GROUPS_MAX) {
				err_printf(err, errlen, "more than %d groups", RE_GROUPS_MAX);
				return -1;
			}
			if (depth + 1 > RE_DEPTH_MAX) {
				err_printf(err, errlen, "groups nested more than %d deep",
					   RE_DEPTH_MAX);
				return -1;
			}
			depth++;
			frames[depth].has_rep = false;
			frames[depth].weight = 0;
			atom = false;
			i++;
			continue;
		case ')':
			i++;
			if (!depth) {
				is_quant = false; /* an unmatched ')' is an ordinary character */
				atom = true;
				break;
			}
			atom = true;
			atom_rep = frames[depth].has_rep;
			atom_weight = frames[depth].weight;
			depth--;
			frames[depth].has_rep |= atom_rep;
			frames[depth].weight += atom_weight;
			goto check_weight;
		case '|':
		case '^':
		case '$':
			atom = false;
			i++;
			continue;
		case '*':
		case '+':
			unbounded = true;
			min = c == '+';
			i++;
			break;
		case '?':
			max = 1;
			i++;
			break;
		case '{':
			if (parse_interval(s, &i, &min, &max, &unbounded)) {
				if (min > RE_COUNT_MAX || max > RE_COUNT_MAX) {
					err_printf(err, errlen, "repetition count above %d",
						   RE_COUNT_MAX);
					return -1;
				}
				break;
			}
			i++;
			is_quant = false;
			atom = true;
			break;
		default:
			i++;
			is_quant = false;
			atom = true;
			break;
		}

		if (!is_quant) {
			/* An ordinary atom: one character, an escape or a bracket. */
			atom_rep = false;
			atom_weight = 1;
			frames[depth].weight += 1;
		} else if (atom) {
			bool repeats = unbounded || max > 1;
			size_t copies = unbounded ? (min > 1 ? min : 1) : (max > 1 ? max : 1);

			if (repeats && atom_rep) {
				err_printf(err, errlen,
					   "a repeated expression is repeated again at byte %zu "
					   "(like (a+)+), which can take exponential time",
					   i - 1);
				return -1;
			}
			atom_rep |= repeats;
			frames[depth].has_rep |= repeats;
			frames[depth].weight += atom_weight * (copies - 1);
			atom_weight *= copies;
		}
	check_weight:
		if (frames[depth].weight > RE_EXPANDED_MAX) {
			err_printf(err, errlen, "more than %d atoms once repetitions are expanded",
				   RE_EXPANDED_MAX);
			return -1;
		}
	}
	return 0;
}

int strategy_regex_check(const char *regex, char *err, size_t errlen)
{
	size_t len = strnlen(regex, STRATEGY_REGEX_MAX);
	regex_t re;
	int rc;

	if (len == 0) {
		err_printf(err, errlen, "must not be empty");
		return -1;
	}
	if (len >= STRATEGY_REGEX_MAX) {
		err_printf(err, errlen, "longer than %d bytes", STRATEGY_REGEX_MAX - 1);
		return -1;
	}
	if (!utf8_valid(regex)) {
		err_printf(err, errlen, "not valid UTF-8");
		return -1;
	}
	if (regex_complexity(regex, err, errlen))
		return -1;
	rc = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
	if (rc) {
		char why[128];

		regerror(rc, &re, why, sizeof(why));
		err_printf(err, errlen, "does not compile: %s", why);
		return -1;
	}
	regfree(&re);
	return 0;
}

/* ---- the other fields ------------------------------------------------------------------- */

/*
 * A cgroup v2 path prefix: absolute, canonical (no empty, "." or ".." components; one
 * trailing '/' is allowed), printable, so prefix matching cannot be dodged or widened.
 */
static int cgroup_check(const char *cg, char *err, size_t errlen)
{
	size_t len = strnlen(cg, STRATEGY_CGROUP_MAX);

	if (len >= STRATEGY_CGROUP_MAX) {
		err_printf(err, errlen, "cgroup: longer than %d bytes", STRATEGY_CGROUP_MAX - 1);
		return -1;
	}
	if (cg[0] != '/') {
		err_printf(err, errlen, "cgroup: must be an absolute path (start with '/')");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cg[i];

		if (c < 0x20 || c == 0x7f) {
			err_printf(err, errlen, "cgroup: control character at byte %zu", i);
			return -1;
		}
	}
	if (!utf8_valid(cg)) {
		err_printf(err, errlen, "cgroup: not valid UTF-8");
		return -1;
	}
	for (const char *p = cg; *p; p++) {
		const char *comp = p + 1, *end;

		if (*p != '/')
			continue;
		end = strchr(comp, '/');
		if (!end)
			end = comp + strlen(comp);
		if (end == comp && *end == '/') {
			err_printf(err, errlen, "cgroup: empty component (\"//\")");
			return -1;
		}
		if ((end - comp == 1 && comp[0] == '.') ||
		    (end - comp == 2 && comp[0] == '.' && comp[1] == '.')) {
			err_printf(err, errlen,
				   "cgroup: \".\" and \"..\" components are not allowed");
			return -1;
		}
	}
	return 0;
}

/* [A-Za-z0-9._-], starting and ending alphanumeric: a label name or value. */
static bool k8s_name_valid(const char *s, size_t len)
{
	if (!len || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
}

/* An RFC 1123 label: [a-z0-9-], 1..63, starting and ending alphanumeric. */
static bool dns_label_valid(const char *s, size_t len)
{
	if (!len || len > K8S_NAME_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* An RFC 1123 subdomain: dot-separated labels, at most 253 bytes. */
static bool dns_subdomain_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (!len || len > K8S_PREFIX_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (!dns_label_valid(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* A Kubernetes label key: [prefix/]name, prefix a DNS subdomain, name up to 63 bytes. */
static const char *label_key_problem(const char *key)
{
	size_t len = strnlen(key, STRATEGY_LABEL_KEY_MAX);
	const char *slash, *name = key;

	if (len == 0)
		return "must not be empty";
	if (len >= STRATEGY_LABEL_KEY_MAX)
		return "too long";
	slash = strchr(key, '/');
	if (slash) {
		if (!dns_subdomain_valid(key, (size_t)(slash - key)))
			return "prefix before '/' must be a DNS subdomain (lowercase letters, "
			       "digits, '-' and '.', at most 253 bytes)";
		name = slash + 1;
	}
	if (strlen(name) > K8S_NAME_MAX)
		return "name longer than 63 bytes";
	if (!k8s_name_valid(name, strlen(name)))
		return "name must be letters, digits, '-', '_' and '.', starting and ending "
		       "with a letter or digit";
	return NULL;
}

static int selectors_check(const struct strategy_rule *rule, char *err, size_t errlen)
{
	if (rule->nr_selectors > STRATEGY_SELECTORS_MAX) {
		err_printf(err, errlen, "selectors: %u entries, at most %d", rule->nr_selectors,
			   STRATEGY_SELECTORS_MAX);
		return -1;
	}
	for (uint32_t i = 0; i < rule->nr_selectors; i++) {
		const struct strategy_selector *s = &rule->selectors[i];
		const char *why = label_key_problem(s->key);
		size_t vlen = strnlen(s->value, STRATEGY_LABEL_VALUE_MAX);

		if (why) {
			err_printf(err, errlen, "selectors[%u].key: %s", i, why);
			return -1;
		}
		if (vlen >= STRATEGY_LABEL_VALUE_MAX) {
			err_printf(err, errlen, "selectors[%u].value: longer than %d bytes", i,
				   STRATEGY_LABEL_VALUE_MAX - 1);
			return -1;
		}
		if (vlen && !k8s_name_valid(s->value, vlen)) {
			err_printf(
			    err, errlen,
			    "selectors[%u].value: must be letters, digits, '-', '_' and '.', "
			    "starting and ending with a letter or digit",
			    i);
			return -1;
		}
		/* Two values for one key can never both match: surely a mistake. */
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(rule->selectors[j].key, s->key) == 0) {
				err_printf(err, errlen,
					   "selectors[%u].key: '%s' also in selectors[%u]", i,
					   s->key, j);
				return -1;
			}
	}
	return 0;
}

static int namespaces_check(const struct strategy_rule *rule, char *err, size_t errlen)
{
	if (rule->nr_namespaces > STRATEGY_NAMESPACES_MAX) {
		err_printf(err, errlen, "namespaces: %u entries, at most %d", rule->nr_namespaces,
			   STRATEGY_NAMESPACES_MAX);
		return -1;
	}
	for (uint32_t i = 0; i < rule->nr_namespaces; i++) {
		const char *ns = rule->namespaces[i];
		size_t len = strnlen(ns, STRATEGY_NAMESPACE_MAX);

		if (len == 0 || len >= STRATEGY_NAMESPACE_MAX || !dns_label_valid(ns, len)) {
			err_printf(
			    err, errlen,
			    "namespaces[%u]: must be 1 to 63 lowercase letters, digits and '-', "
			    "starting and ending with a letter or digit",
			    i);
			return -1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(rule->namespaces[j], ns) == 0) {
				err_printf(err, errlen,
					   "namespaces[%u]: '%s' also in namespaces[%u]", i, ns, j);
				return -1;
			}
	}
	return 0;
}

static int id_check(int32_t v, const char *field, char *err, size_t errlen)
{
	if (v < 0 || v > STRATEGY_PID_MAX) {
		err_printf(err, errlen, "%s: %d is out of range (1 to %d, 0 = any)", field, (int)v,
			   STRATEGY_PID_MAX);
		return -1;
	}
	return 0;
}

int strategy_rule_validate(const struct strategy_rule *rule, char *err, size_t errlen)
{
	const struct strategy_effect *e = &rule->effect;
	bool has_regex;

	if (rule->id[0] && !strategy_id_valid(rule->id)) {
		err_printf(err, errlen, "id: must be 1 to 63 characters of A-Z a-z 0-9 . _ -");
		return -1;
	}
	if (id_check(rule->pid, "pid", err, errlen) || id_check(rule->tid, "tid", err, errlen))
		return -1;
	/*
	 * Every string check below bounds its reads by the field's size (strnlen first), so a
	 * field that lacks its NUL is "too long", never a read past the struct.
	 */
	has_regex = rule->command_regex[0] != '\0';
	if (has_regex) {
		char why[256];

		if (strategy_regex_check(rule->command_regex, why, sizeof(why))) {
			err_printf(err, errlen, "command_regex: %s", why);
			return -1;
		}
	}
	if (rule->match_cmdline && !has_regex) {
		err_printf(err, errlen, "match_cmdline: needs command_regex");
		return -1;
	}
	if (rule->cgroup[0] && cgroup_check(rule->cgroup, err, errlen))
		return -1;
	if (selectors_check(rule, err, errlen) || namespaces_check(rule, err, errlen))
		return -1;
	if (!rule->pid && !rule->tid && !has_regex && !rule->cgroup[0] &&
	    !strategy_rule_needs_pods(rule)) {
		err_printf(
		    err, errlen,
		    "needs a matcher: pid, tid, command_regex, cgroup, selectors or namespaces");
		return -1;
	}
	if (e->priority > STRATEGY_PRIO_MAX) {
		err_printf(err, errlen, "priority: %u is out of range (0 to %d, or true/false)",
			   e->priority, STRATEGY_PRIO_MAX);
		return -1;
	}
	if (e->execution_time_ns &&
	    (e->execution_time_ns < SLICE_NS_LOW || e->execution_time_ns > SLICE_NS_HIGH)) {
		err_printf(err, errlen,
			   "execution_time: %llu ns is out of range (%llu to %llu, 0 = the default "
			   "slice)",
			   (unsigned long long)e->execution_time_ns, SLICE_NS_LOW, SLICE_NS_HIGH);
		return -1;
	}
	if (!e->priority && !e->execution_time_ns) {
		err_printf(err, errlen,
			   "needs an effect: priority above 0 or execution_time above 0");
		return -1;
	}
	return 0;
}
