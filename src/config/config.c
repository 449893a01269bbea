// SPDX-License-Identifier: GPL-2.0
/*
 * The YAML configuration loader, and the `--explain` text.
 *
 * Both are driven by one table per struct (config_keys[] for struct gthulhu_config,
 * rule_keys[] for one strategies entry): key path, type, default, range, meaning and field
 * offset. config_set_defaults(), the parser and config_explain() all read the table, so
 * the documentation, the defaults and the checks cannot drift apart.
 *
 * libyaml's document API loads the whole tree first; the walk then checks it against the
 * table. Each node keeps its start mark, which gives every error its line number. The walk
 * only descends where the table says there is a section or a list, so its depth and work
 * are bounded by the schema, not by the input (aliases cannot make it blow up).
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/config.h"

#define FILE_MAX  (1 << 20) /* a config file is a few KiB; refuse surprises */
#define PATH_MAX_ 160	    /* longest key path we print */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum key_type {
	KT_U64,
	KT_U32,
	KT_BOOL,
	KT_ID,	       /* int32_t pid or tid, > 0 */
	KT_REGEX,      /* char[STRATEGY_REGEX_MAX], checked with regcomp() */
	KT_PRIO,       /* uint32_t level: true, false or 0..STRATEGY_PRIO_MAX */
	KT_RULES,      /* the strategies list (rule_keys[] describes an entry) */
	KT_STRING,     /* char[max + 1]; min = shortest allowed length */
	KT_CGROUP,     /* char[STRATEGY_CGROUP_MAX], an absolute cgroup path prefix */
	KT_SELECTORS,  /* a strategy's pod label selectors: a list of {key, value} */
	KT_NAMESPACES, /* a strategy's namespaces: a list of names */
};

struct cfg_key {
	const char *path; /* dotted; the part before a dot is a section (a nested map) */
	enum key_type type;
	size_t offset;	   /* of the field in the table's struct */
	uint64_t def;	   /* default; 0 for strings and lists */
	const char *sdef;  /* KT_STRING default */
	uint64_t min, max; /* inclusive range; for KT_REGEX, the length in bytes */
	bool zero_ok;	   /* 0 is also accepted (it means "use the default") */
	const char *unit;  /* for config_explain() */
	const char *note;  /* a constraint [min, max] cannot express, for config_explain() */
	const char *help;
};

/* offsetof() that refuses to compile when the field's C type does not match the key type. */
#define FIELD(T, f, ctype)                                                                         \
	(offsetof(T, f) +                                                                          \
	 0 * sizeof(char[__builtin_types_compatible_p(__typeof__(((T *)0)->f), ctype) ? 1 : -1]))
#define CFG(f, ctype)  FIELD(struct gthulhu_config, f, ctype)
#define RULE(f, ctype) FIELD(struct strategy_rule, f, ctype)

static const struct cfg_key config_keys[] = {
    {
	.path = "scheduler.slice_ns_default",
	.type = KT_U64,
	.offset = CFG(slice_ns_default, uint64_t),
	.def = 5000000,
	.min = SLICE_NS_LOW,
	.max = SLICE_NS_HIGH,
	.unit = "nanoseconds",
	.note = "and at least scheduler.slice_ns_min",
	.help = "Longest time slice a task gets; tasks get less when many are waiting.",
    },
    {
	.path = "scheduler.slice_ns_min",
	.type = KT_U64,
	.offset = CFG(slice_ns_min, uint64_t),
	.def = 500000,
	.min = SLICE_NS_LOW,
	.max = SLICE_NS_HIGH,
	.unit = "nanoseconds",
	.note = "and at most scheduler.slice_ns_default",
	.help = "Shortest time slice a task gets, however many tasks are waiting.",
    },
    {
	.path = "scheduler.stall_timeout_ms",
	.type = KT_U64,
	.offset = CFG(stall_timeout_ms, uint64_t),
	.def = 1000,
	.min = 20,
	.max = 10000,
	.unit = "milliseconds",
	.help = "Longest a task waits for a decision from user space: after this the BPF "
		"half schedules it itself, and while user space stays silent, every task.",
    },
    {
	.path = "stats.interval_s",
	.type = KT_U32,
	.offset = CFG(stats_interval_s, uint32_t),
	.def = 5,
	.min = 0,
	.max = 86400,
	.unit = "seconds",
	.help = "A stats log record every this many seconds; 0 turns them off.",
    },
    {
	.path = "api.enabled",
	.type = KT_BOOL,
	.offset = CFG(api_enabled, bool),
	.def = true,
	.help = "Serve the REST API (gthulhuctl talks to it) on api.socket, and on api.listen "
		"when set.",
    },
    {
	.path = "api.socket",
	.type = KT_STRING,
	.offset = CFG(api_socket, char[108]),
	.sdef = "/run/gthulhu/api.sock",
	.min = 0,
	.max = 107,
	.note = "an absolute path; \"\" = no unix socket",
	.help = "Unix socket of the REST API, mode 0600: only root can use it, no token "
		"needed.",
    },
    {
	.path = "api.listen",
	.type = KT_STRING,
	.offset = CFG(api_listen, char[128]),
	.sdef = "",
	.min = 0,
	.max = 127,
	.note = "HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080; \"\" = none",
	.help = "Also serve the REST API over TCP at this address. Every request but GET "
		"/health then needs \"Authorization: Bearer <token>\" with the token from "
		"api.token_file.",
    },
    {
	.path = "api.token_file",
	.type = KT_STRING,
	.offset = CFG(api_token_file, char[256]),
	.sdef = "",
	.min = 0,
	.max = 255,
	.note = "required with api.listen unless api.loopback_no_auth",
	.help = "File holding the bearer token for the TCP listener (mode 0600 or stricter; "
		"read once at start).",
    },
    {
	.path = "api.loopback_no_auth",
	.type = KT_BOOL,
	.offset = CFG(api_loopback_no_auth, bool),
	.def = false,
	.help = "Serve TCP without a token. Allowed only when api.listen is a loopback "
		"address (127.0.0.0/8 or [::1]).",
    },
    {
	.path = "api.state_file",
	.type = KT_STRING,
	.offset = CFG(api_state_file, char[256]),
	.sdef = "/var/lib/gthulhu/strategies.json",
	.min = 0,
	.max = 255,
	.note = "an absolute path; \"\" = API strategies are not kept",
	.help = "Where strategies made through the API are kept (written atomically) and "
		"reloaded from at start.",
    },
    {
	.path = "kubernetes.enabled",
	.type = KT_BOOL,
	.offset = CFG(k8s_enabled, bool),
	.def = false,
	.help = "Run as a Kubernetes node agent: learn this node's pods (labels, namespaces) "
		"from the API server so strategies can name them, and serve per-pod metrics.",
    },
    {
	.path = "kubernetes.node_name",
	.type = KT_STRING,
	.offset = CFG(k8s_node_name, char[254]),
	.sdef = "",
	.min = 0,
	.max = 253,
	.note = "\"\" = the NODE_NAME environment variable, else the host name",
	.help = "This node's name in Kubernetes: only pods scheduled here are listed.",
    },
    {
	.path = "kubernetes.kubeconfig",
	.type = KT_STRING,
	.offset = CFG(k8s_kubeconfig, char[256]),
	.sdef = "",
	.min = 0,
	.max = 255,
	.note = "an absolute path; \"\" = in-cluster (the pod's service account)",
	.help = "How to reach the API server: a kubeconfig file, or the service account "
		"Kubernetes mounts into the DaemonSet's pods.",
    },
    {
	.path = "kubernetes.strategies",
	.type = KT_BOOL,
	.offset = CFG(k8s_strategies, bool),
	.def = true,
	.help = "Apply cluster-wide SchedulingStrategy objects (gthulhu.io/v1alpha1) beside "
		"the local ones.",
    },
    {
	.path = "kubernetes.pod_metrics",
	.type = KT_BOOL,
	.offset = CFG(k8s_pod_metrics, bool),
	.def = true,
	.help = "Count context switches, CPU time, wait time, runs and migrations per pod "
		"(on /metrics and GET /api/v1/pods/metrics). Costs a little on every context "
		"switch.",
    },
    {
	.path = "kubernetes.cgroup_root",
	.type = KT_STRING,
	.offset = CFG(k8s_cgroup_root, char[256]),
	.sdef = "/sys/fs/cgroup",
	.min = 1,
	.max = 255,
	.note = "an absolute path",
	.help = "Where the cgroup v2 hierarchy is mounted (pods' cgroups are found below it).",
    },
    {
	.path = "debug",
	.type = KT_BOOL,
	.offset = CFG(debug, bool),
	.def = false,
	.help = "Debug-level logs and BPF trace output.",
    },
    {
	.path = "builtin_idle",
	.type = KT_BOOL,
	.offset = CFG(builtin_idle, bool),
	.def = true,
	.help = "A waking task that finds an idle CPU (the kernel's idle search) is "
		"dispatched there directly by the BPF half.",
    },
    {
	.path = "early_processing",
	.type = KT_BOOL,
	.offset = CFG(early_processing, bool),
	.def = false,
	.help = "A waking task whose previous CPU is idle is dispatched there directly "
		"by the BPF half (the cheapest path: no round trip to user space).",
    },
    {
	.path = "strategies",
	.type = KT_RULES,
	.offset = CFG(rules, struct strategy_rule[STRATEGY_MAX_RULES]),
	.max = STRATEGY_MAX_RULES,
	.help = "Strategies from this file (more come from the API). Each entry needs at "
		"least one matcher (pid, tid, command_regex, cgroup, selectors, namespaces; all "
		"it sets must match) and one effect (priority above 0, execution_time). When "
		"several match a thread, the most specific wins (tid > pid > the others), "
		"then the earliest; this file's entries come before the API's.",
    },
};

static const struct cfg_key rule_keys[] = {
    {
	.path = "pid",
	.type = KT_ID,
	.offset = RULE(pid, int32_t),
	.min = 1,
	.max = STRATEGY_PID_MAX,
	.help = "Matcher: a whole process (all its threads).",
    },
    {
	.path = "tid",
	.type = KT_ID,
	.offset = RULE(tid, int32_t),
	.min = 1,
	.max = STRATEGY_PID_MAX,
	.help = "Matcher: one thread.",
    },
    {
	.path = "command_regex",
	.type = KT_REGEX,
	.offset = RULE(command_regex, char[STRATEGY_REGEX_MAX]),
	.min = 1,
	.max = STRATEGY_REGEX_MAX - 1,
	.help = "Matcher: tasks whose command name (comm) matches this POSIX extended "
		"regular expression (no back-references, repetition counts up to 255).",
    },
    {
	.path = "match_cmdline",
	.type = KT_BOOL,
	.offset = RULE(match_cmdline, bool),
	.def = false,
	.help = "command_regex sees the full command line (arguments joined by spaces) "
		"instead of comm.",
    },
    {
	.path = "cgroup",
	.type = KT_CGROUP,
	.offset = RULE(cgroup, char[STRATEGY_CGROUP_MAX]),
	.min = 1,
	.max = STRATEGY_CGROUP_MAX - 1,
	.help = "Matcher: tasks in this cgroup (v2 path as in /proc/PID/cgroup, e.g. "
		"/system.slice/nginx.service) or below it.",
    },
    {
	.path = "selectors",
	.type = KT_SELECTORS,
	.offset = RULE(selectors, struct strategy_selector[STRATEGY_SELECTORS_MAX]),
	.max = STRATEGY_SELECTORS_MAX,
	.help = "Matcher (Kubernetes): pod labels, a list of {key: K, value: V}; all must "
		"match. Needs the Kubernetes integration: until pod metadata is known, such a "
		"strategy matches nothing.",
    },
    {
	.path = "namespaces",
	.type = KT_NAMESPACES,
	.offset = RULE(namespaces, char[STRATEGY_NAMESPACES_MAX][STRATEGY_NAMESPACE_MAX]),
	.max = STRATEGY_NAMESPACES_MAX,
	.help = "Matcher (Kubernetes): pods in any of these namespaces. Needs the Kubernetes "
		"integration, as selectors.",
    },
    {
	.path = "priority",
	.type = KT_PRIO,
	.offset = RULE(effect.priority, uint32_t),
	.min = 0,
	.max = STRATEGY_PRIO_MAX,
	.help = "Effect: priority level. 0 is a normal task (ordered by weighted virtual "
		"runtime); 1..20 run before every normal task and every lower level, and may "
		"preempt a normal task when no CPU is idle. true = 20, false = 0.",
    },
    {
	.path = "execution_time",
	.type = KT_U64,
	.offset = RULE(effect.execution_time_ns, uint64_t),
	.min = SLICE_NS_LOW,
	.max = SLICE_NS_HIGH,
	.zero_ok = true,
	.unit = "nanoseconds",
	.help = "Effect: the task's own time slice; 0 means the default slice.",
    },
};

/* One struct being filled from one table. */
struct table {
	const struct cfg_key *keys;
	size_t nr;
	void *base;
	/* Per key, the node that set it (NULL: default), for cross-field messages. */
	const yaml_node_t **where;
};

struct ctx {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
};

/* ---- messages --------------------------------------------------------------------------- */

static size_t node_line(const yaml_node_t *n)
{
	return n ? n->start_mark.line + 1 : 1;
}

static void set_err(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->err || !x->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
}

/* "<file>:<line>: <path>: <what>"; always returns -1 so callers can `return fail(...)`. */
static int fail(struct ctx *x, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct ctx *x, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	set_err(x, "%s:%zu: %s: %s", x->name, node_line(n), path[0] ? path : "top level", what);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML's null: an empty or ~/null plain scalar (a key with nothing after the colon). */
static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (!is_plain(n))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strcmp(scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

/* @s in double quotes, escaped and shortened, for messages. */
static void quote(const unsigned char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '"';
	for (size_t i = 0; i < n && o + 8 < len; i++) {
		/* Stop at a character boundary once long enough; the rest is noise. */
		if (i >= 48 && (s[i] & 0xc0) != 0x80) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (s[i] == '"' || s[i] == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", s[i]);
		else
			buf[o++] = (char)s[i];
	}
	snprintf(buf + o, len - o, "\"");
}

/*
 * What the user wrote, for "got ..." messages: a scalar in quotes, otherwise the kind of
 * node. Quoted scalars say so, because `"5"` is a string in YAML, and that is the whole
 * problem when a number was expected.
 */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
	size_t o;

	if (!n || is_null(n))
		return "nothing (null)";
	if (n->type == YAML_MAPPING_NODE)
		return "a map";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	o = (size_t)snprintf(buf, len, "%s", is_plain(n) ? "" : "the string ");
	quote(n->data.scalar.value, n->data.scalar.length, buf + o, len - o);
	return buf;
}

/* a.b, or a, or b; non-printable bytes in user-written keys become '?'. */
static void join(char *out, size_t len, const char *a, const char *b, size_t blen)
{
	size_t o = (size_t)snprintf(out, len, "%s%s", a, a[0] ? "." : "");

	for (size_t i = 0; i < blen && o + 1 < len; i++) {
		unsigned char c = (unsigned char)b[i];

		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o < len ? o : len - 1] = '\0';
}

static void range_text(const struct cfg_key *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s[%llu, %llu]", k->zero_ok ? "0 or " : "", (unsigned long long)k->min,
		 (unsigned long long)k->max);
}

/* ---- scalars ---------------------------------------------------------------------------- */

/*
 * Decimal digits only. Returns NULL and *v (saturated, with *overflow) on success, or why
 * the text is not a number ("" when no specific reason helps).
 */
static const char *scan_u64(const char *s, size_t n, uint64_t *v, bool *overflow)
{
	size_t i = 0;

	*v = 0;
	*overflow = false;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (*v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			*v = *v * 10 + d;
		i++;
	}
	if (i == 0) {
		if (n > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9')
			return "negative numbers are not allowed";
		if (n > 1 && s[0] == '+' && s[1] >= '0' && s[1] <= '9')
			return "write the number without a sign";
		return "";
	}
	if (i < n) {
		if (s[i] == '_')
			return "underscores are not allowed";
		if (i == 1 && s[0] == '0' && strchr("xXoObB", s[i]))
			return "only decimal numbers are allowed";
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			return "only whole numbers in plain decimal digits are allowed";
		return "unexpected characters after the number";
	}
	if (s[0] == '0' && n > 1)
		return "leading zeros are not allowed: YAML 1.1 reads them as octal";
	return NULL;
}

/* 1 = true, 0 = false, -1 = YAML 1.1 spelling (yes/no/on/off...), -2 = not a boolean. */
static int scan_bool(const yaml_node_t *n)
{
	static const char *const yaml11[] = {"y", "yes", "n", "no", "on", "off"};
	const char *s;

	if (!is_plain(n))
		return -2;
	s = scalar(n);
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(yaml11); i++)
		if (!strcasecmp(s, yaml11[i]))
			return -1;
	return -2;
}

static const char *const yaml11_hint = " (write true or false; YAML 1.1's yes/no/on/off are not "
				       "accepted)";

static int parse_uint(struct ctx *x, const struct cfg_key *k, const yaml_node_t *n,
		      const char *path, const char *expected, uint64_t *out)
{
	char got[128], range[64];
	const char *why;
	bool overflow;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(x, n, path, "expected %s, got %s", expected,
			    describe(n, got, sizeof(got)));
	if (!is_plain(n))
		return fail(x, n, path, "expected %s, got %s (write numbers without quotes)",
			    expected, describe(n, got, sizeof(got)));
	why = scan_u64(scalar(n), n->data.scalar.length, out, &overflow);
	if (why)
		return fail(x, n, path, "expected %s, got %s%s%s%s", expected,
			    describe(n, got, sizeof(got)), why[0] ? " (" : "", why,
			    why[0] ? ")" : "");
	if (overflow || ((*out < k->min || *out > k->max) && !(k->zero_ok && *out == 0))) {
		range_text(k, range, sizeof(range));
		/* Only digits get here, so the text can be shown as is. */
		return fail(x, n, path, "got %.40s%s, must be %s%s", scalar(n),
			    n->data.scalar.length > 40 ? "..." : "", k->zero_ok ? "" : "in ",
			    range);
	}
	return 0;
}

static int parse_regex(struct ctx *x, const struct cfg_key *k, const yaml_node_t *n,
		       const char *path, char *field)
{
	char got[128], why[256];
	regex_t re;
	size_t len;
	int rc;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(x, n, path, "expected a regular expression (a string), got %s",
			    describe(n, got, sizeof(got)));
	len = n->data.scalar.length;
	if (len == 0)
		return fail(x, n, path,
			    "must not be empty (leave the key out to match any command)");
	if (strlen(scalar(n)) != len)
		return fail(x, n, path, "must not contain a NUL character");
	if (len > k->max)
		return fail(x, n, path, "is %zu bytes long, at most %llu are allowed", len,
			    (unsigned long long)k->max);
	/* Compile once here so a typo fails at load time, not silently in the resolver. */
	rc = regcomp(&re, scalar(n), REG_EXTENDED | REG_NOSUB);
	if (rc) {
		regerror(rc, &re, why, sizeof(why));
		quote(n->data.scalar.value, len, got, sizeof(got));
		return fail(x, n, path, "invalid regular expression %s: %s", got, why);
	}
	regfree(&re);
	/* The bounds every source shares (no back-references, bounded repetition...). */
	if (strategy_regex_check(scalar(n), why, sizeof(why)))
		return fail(x, n, path, "%s", why);
	memcpy(field, scalar(n), len + 1);
	return 0;
}

/* A string scalar of k->min..k->max bytes into @field (char[k->max + 1]). */
static int parse_string(struct ctx *x, const struct cfg_key *k, const yaml_node_t *n,
			const char *path, char *field)
{
	char got[128];
	size_t len;

	if (!n || n->type != YAML_SCALAR_NODE)
		return fail(x, n, path, "expected a string, got %s", describe(n, got, sizeof(got)));
	/* Plain null ("key:" alone) is the empty string: "nothing here". */
	len = is_null(n) ? 0 : n->data.scalar.length;
	if (len && strlen(scalar(n)) != len)
		return fail(x, n, path, "must not contain a NUL character");
	if (len < k->min)
		return fail(x, n, path, "must not be empty");
	if (len > k->max)
		return fail(x, n, path, "is %zu bytes long, at most %llu are allowed", len,
			    (unsigned long long)k->max);
	memcpy(field, len ? scalar(n) : "", len);
	field[len] = '\0';
	return 0;
}

/* The strategy checks every source shares, for one field of a rule being parsed. */
static int check_rule_field(struct ctx *x, const yaml_node_t *n, const char *path,
			    const struct strategy_rule *r)
{
	char why[256];

	if (!strategy_rule_validate(r, why, sizeof(why)))
		return 0;
	return fail(x, n, path, "%s", why);
}

static int parse_selectors(struct ctx *x, const yaml_node_t *n, const char *path,
			   struct strategy_rule *r)
{
	const struct cfg_key kk = {.min = 1, .max = STRATEGY_LABEL_KEY_MAX - 1};
	const struct cfg_key kv = {.min = 0, .max = STRATEGY_LABEL_VALUE_MAX - 1};
	char got[128], ipath[PATH_MAX_ + 32];

	r->nr_selectors = 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, path, "expected a list of {key: K, value: V}, got %s",
			    describe(n, got, sizeof(got)));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		const yaml_node_t *item = yaml_document_get_node(x->doc, *it);
		struct strategy_selector *sel = &r->selectors[r->nr_selectors];
		bool have_key = false, have_value = false;

		snprintf(ipath, sizeof(ipath), "%s[%u]", path, r->nr_selectors);
		if (r->nr_selectors == STRATEGY_SELECTORS_MAX)
			return fail(x, item, path, "at most %d selectors are allowed",
				    STRATEGY_SELECTORS_MAX);
		if (!item || item->type != YAML_MAPPING_NODE)
			return fail(x, item, ipath, "expected {key: K, value: V}, got %s",
				    describe(item, got, sizeof(got)));
		for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
		     p < item->data.mapping.pairs.top; p++) {
			const yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
			const yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
			char fpath[PATH_MAX_ + 48];

			if (kn && kn->type == YAML_SCALAR_NODE && !strcmp(scalar(kn), "key") &&
			    !have_key) {
				snprintf(fpath, sizeof(fpath), "%s.key", ipath);
				if (parse_string(x, &kk, vn, fpath, sel->key))
					return -1;
				have_key = true;
			} else if (kn && kn->type == YAML_SCALAR_NODE &&
				   !strcmp(scalar(kn), "value") && !have_value) {
				snprintf(fpath, sizeof(fpath), "%s.value", ipath);
				if (parse_string(x, &kv, vn, fpath, sel->value))
					return -1;
				have_value = true;
			} else {
				return fail(x, kn, ipath,
					    "unknown or repeated key %s (expected key and value)",
					    describe(kn, got, sizeof(got)));
			}
		}
		if (!have_key)
			return fail(x, item, ipath, "needs a key");
		r->nr_selectors++;
	}
	return 0;
}

static int parse_namespaces(struct ctx *x, const yaml_node_t *n, const char *path,
			    struct strategy_rule *r)
{
	const struct cfg_key kn = {.min = 1, .max = STRATEGY_NAMESPACE_MAX - 1};
	char got[128], ipath[PATH_MAX_ + 32];

	r->nr_namespaces = 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, path, "expected a list of namespace names, got %s",
			    describe(n, got, sizeof(got)));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		const yaml_node_t *item = yaml_document_get_node(x->doc, *it);

		snprintf(ipath, sizeof(ipath), "%s[%u]", path, r->nr_namespaces);
		if (r->nr_namespaces == STRATEGY_NAMESPACES_MAX)
			return fail(x, item, path, "at most %d namespaces are allowed",
				    STRATEGY_NAMESPACES_MAX);
		if (parse_string(x, &kn, item, ipath, r->namespaces[r->nr_namespaces]))
			return -1;
		r->nr_namespaces++;
	}
	return 0;
}

/* ---- the walk --------------------------------------------------------------------------- */

static int parse_rules(struct ctx *x, struct gthulhu_config *c, const yaml_node_t *n,
		       const char *path);

static int set_value(struct ctx *x, const struct table *t, const struct cfg_key *k,
		     const yaml_node_t *n, const char *path)
{
	char *field = (char *)t->base + k->offset;
	char got[128], expected[64];
	uint64_t v;
	int b;

	switch (k->type) {
	case KT_U64:
	case KT_U32:
		if (parse_uint(x, k, n, path, "an unsigned integer", &v))
			return -1;
		if (k->type == KT_U64)
			*(uint64_t *)field = v;
		else
			*(uint32_t *)field = (uint32_t)v;
		return 0;
	case KT_ID:
		if (parse_uint(x, k, n, path, "a positive integer", &v))
			return -1;
		*(int32_t *)field = (int32_t)v;
		return 0;
	case KT_BOOL:
		b = scan_bool(n);
		if (b < 0)
			return fail(x, n, path, "expected true or false, got %s%s",
				    describe(n, got, sizeof(got)), b == -1 ? yaml11_hint : "");
		*(bool *)field = b;
		return 0;
	case KT_PRIO:
		/* The original's boolean, or a level on the same scale. */
		b = scan_bool(n);
		snprintf(expected, sizeof(expected), "true, false or a level 0..%d",
			 STRATEGY_PRIO_MAX);
		if (b == -1)
			return fail(x, n, path, "expected %s, got %s%s", expected,
				    describe(n, got, sizeof(got)), yaml11_hint);
		if (b >= 0)
			v = b ? STRATEGY_PRIO_MAX : STRATEGY_PRIO_NONE;
		else if (parse_uint(x, k, n, path, expected, &v))
			return -1;
		*(uint32_t *)field = (uint32_t)v;
		return 0;
	case KT_REGEX:
		return parse_regex(x, k, n, path, field);
	case KT_RULES:
		return parse_rules(x, t->base, n, path);
	case KT_STRING:
	case KT_CGROUP:
		return parse_string(x, k, n, path, field);
	case KT_SELECTORS:
		return parse_selectors(x, n, path, t->base);
	case KT_NAMESPACES:
		return parse_namespaces(x, n, path, t->base);
	}
	return fail(x, n, path, "internal error: unknown key type %d", (int)k->type);
}

/* The names allowed directly under @rel, for "unknown key" messages. */
static void children(const struct table *t, const char *rel, char *buf, size_t len)
{
	size_t rl = strlen(rel), o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->nr; i++) {
		const char *p = t->keys[i].path, *name, *end;
		bool seen = false;

		if (rl && (strncmp(p, rel, rl) != 0 || p[rl] != '.'))
			continue;
		name = rl ? p + rl + 1 : p;
		end = strchrnul(name, '.');
		/* Sections hold several keys: name each once. */
		for (size_t j = 0; j < i && !seen; j++) {
			const char *q = t->keys[j].path;

			seen = strncmp(q, p, (size_t)(end - p)) == 0 &&
			       (q[end - p] == '.' || q[end - p] == '\0');
		}
		if (!seen && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%.*s", o ? ", " : "",
					      (int)(end - name), name);
	}
}

static int walk_map(struct ctx *x, const struct table *t, const yaml_node_t *map, const char *rel,
		    const char *disp)
{
	char here[PATH_MAX_], got[128];

	join(here, sizeof(here), disp, rel, strlen(rel));
	/* An empty section ("scheduler:" and nothing under it) keeps every default. */
	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return fail(x, map, here, "expected a map, got %s",
			    describe(map, got, sizeof(got)));

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		char childrel[PATH_MAX_], path[PATH_MAX_], list[256];
		const struct cfg_key *k = NULL;
		size_t klen;

		if (!kn || kn->type != YAML_SCALAR_NODE)
			return fail(x, kn, here, "keys must be plain names, got %s",
				    describe(kn, got, sizeof(got)));
		klen = kn->data.scalar.length;
		join(childrel, sizeof(childrel), rel, scalar(kn), klen);
		join(path, sizeof(path), disp, childrel, strlen(childrel));

		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			const yaml_node_t *qn = yaml_document_get_node(x->doc, q->key);

			if (qn && qn->type == YAML_SCALAR_NODE && qn->data.scalar.length == klen &&
			    memcmp(qn->data.scalar.value, kn->data.scalar.value, klen) == 0)
				return fail(x, kn, path, "duplicate key (first set on line %zu)",
					    node_line(qn));
		}

		/* A NUL inside a quoted key would make it look like a shorter, valid key. */
		if (strlen(scalar(kn)) == klen) {
			for (size_t i = 0; i < t->nr && !k; i++)
				if (strcmp(t->keys[i].path, childrel) == 0)
					k = &t->keys[i];
		}
		if (k) {
			if (set_value(x, t, k, vn, path))
				return -1;
			t->where[k - t->keys] = vn;
			continue;
		}
		for (size_t i = 0; i < t->nr && strlen(scalar(kn)) == klen; i++) {
			const char *kp = t->keys[i].path;
			size_t cl = strlen(childrel);

			if (strncmp(kp, childrel, cl) == 0 && kp[cl] == '.') {
				k = &t->keys[i];
				break;
			}
		}
		if (k) {
			if (walk_map(x, t, vn, childrel, disp))
				return -1;
			continue;
		}
		children(t, rel, list, sizeof(list));
		return fail(x, kn, path, "unknown key (expected one of: %s)", list);
	}
	return 0;
}

static int parse_rules(struct ctx *x, struct gthulhu_config *c, const yaml_node_t *n,
		       const char *path)
{
	const yaml_node_t *where[ARRAY_SIZE(rule_keys)];
	char got[128], ipath[PATH_MAX_ + 16];
	size_t nr = 0, total;

	c->nr_rules = 0;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, path, "expected a list of strategies, got %s",
			    describe(n, got, sizeof(got)));
	total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);

	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		const yaml_node_t *item = yaml_document_get_node(x->doc, *it);
		struct strategy_rule *r = &c->rules[nr];
		struct table t = {rule_keys, ARRAY_SIZE(rule_keys), r, where};

		if (nr == STRATEGY_MAX_RULES)
			return fail(x, item, path, "%zu entries, at most %d are allowed", total,
				    STRATEGY_MAX_RULES);
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, nr);
		if (!item || item->type != YAML_MAPPING_NODE)
			return fail(
			    x, item, ipath,
			    "expected a map with a matcher (pid, tid, command_regex, cgroup, "
			    "selectors, namespaces) and an effect (priority, execution_time), "
			    "got %s",
			    describe(item, got, sizeof(got)));
		memset(r, 0, sizeof(*r));
		memset(where, 0, sizeof(where));
		r->line = (int)node_line(item);
		if (walk_map(x, &t, item, "", ipath))
			return -1;
		r->source = STRATEGY_SRC_CONFIG;
		if (!r->pid && !r->tid && !r->command_regex[0] && !r->cgroup[0] &&
		    !r->nr_selectors && !r->nr_namespaces)
			return fail(x, item, ipath,
				    "needs a matcher: pid, tid, command_regex, cgroup, selectors "
				    "or namespaces");
		if (!r->effect.priority && !r->effect.execution_time_ns)
			return fail(x, item, ipath,
				    "needs an effect: priority above 0 or execution_time above 0");
		/* What is left (match_cmdline without a regex, label syntax...): shared checks. */
		if (check_rule_field(x, item, ipath, r))
			return -1;
		nr++;
	}
	c->nr_rules = nr;
	return 0;
}

static const struct cfg_key *key_at(const char *path, size_t *idx)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		if (strcmp(config_keys[i].path, path) == 0) {
			*idx = i;
			return &config_keys[i];
		}
	}
	return NULL;
}

/*
 * "HOST:PORT" with a literal IPv4 address or a bracketed IPv6 one; *loopback tells whether
 * only this machine can reach it. Names are refused: what a name resolves to can change.
 */
static bool parse_listen(const char *s, bool *loopback)
{
	char host[64];
	const char *port;
	struct in6_addr a6;
	struct in_addr a4;
	size_t hl;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		hl = (size_t)(close - s - 1);
		port = close + 2;
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6);
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return false;
		hl = (size_t)(colon - s);
		port = colon + 1;
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, &a4) != 1)
			return false;
		*loopback = (ntohl(a4.s_addr) >> 24) == 127;
	}
	p = strtol(port, &end, 10);
	return port[0] >= '0' && port[0] <= '9' && !*end && p >= 0 && p <= 65535;
}

/*
 * Constraints between keys, checked once every key has its final value. Returns the path
 * of the key to blame (NULL when all is well) with what is wrong in @what.
 */
static const char *constraint_violation(const struct gthulhu_config *c, char *what, size_t len)
{
	bool loopback = false;

	if (c->slice_ns_min > c->slice_ns_default) {
		snprintf(what, len, "%llu is larger than scheduler.slice_ns_default (%llu)",
			 (unsigned long long)c->slice_ns_min,
			 (unsigned long long)c->slice_ns_default);
		return "scheduler.slice_ns_min";
	}
	if (c->api_socket[0] && c->api_socket[0] != '/') {
		snprintf(what, len, "must be an absolute path (or \"\" for no unix socket)");
		return "api.socket";
	}
	if (c->api_state_file[0] && c->api_state_file[0] != '/') {
		snprintf(what, len, "must be an absolute path (or \"\" to keep nothing)");
		return "api.state_file";
	}
	if (c->k8s_kubeconfig[0] && c->k8s_kubeconfig[0] != '/') {
		snprintf(what, len, "must be an absolute path (or \"\" for in-cluster)");
		return "kubernetes.kubeconfig";
	}
	if (c->k8s_cgroup_root[0] != '/') {
		snprintf(what, len, "must be an absolute path");
		return "kubernetes.cgroup_root";
	}
	if (c->api_listen[0] && !parse_listen(c->api_listen, &loopback)) {
		snprintf(what, len,
			 "expected HOST:PORT with a literal address, e.g. 127.0.0.1:8080 or "
			 "[::1]:8080");
		return "api.listen";
	}
	if (c->api_loopback_no_auth && c->api_listen[0] && !loopback) {
		snprintf(what, len,
			 "is only allowed when api.listen is a loopback address (it is %s): "
			 "anyone who can reach it could change the scheduler",
			 c->api_listen);
		return "api.loopback_no_auth";
	}
	if (c->api_listen[0] && !c->api_loopback_no_auth && !c->api_token_file[0]) {
		snprintf(what, len,
			 "needs api.token_file, the file holding the bearer token clients must "
			 "send (or api.loopback_no_auth: true on a loopback address)");
		return "api.listen";
	}
	return NULL;
}

int config_check(const struct gthulhu_config *c, char *err, size_t errlen)
{
	char what[512];
	const char *key = constraint_violation(c, what, sizeof(what));

	if (!key)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", key, what);
	return -1;
}

static int cross_check(struct ctx *x, const struct gthulhu_config *c, const yaml_node_t **where)
{
	size_t i_def = 0, i_key = 0;
	char what[512];
	const char *key = constraint_violation(c, what, sizeof(what));

	if (!key)
		return 0;
	if (!key_at(key, &i_key) || !key_at("scheduler.slice_ns_default", &i_def))
		return fail(x, NULL, "", "internal error: %s missing from the table", key);
	/* Blame the key the user wrote; a default is not something they can see. */
	if (where[i_key] || strcmp(key, "scheduler.slice_ns_min") != 0)
		return fail(x, where[i_key], key, "%s", what);
	return fail(x, where[i_def], config_keys[i_def].path,
		    "%llu is smaller than scheduler.slice_ns_min (%llu; set that too)",
		    (unsigned long long)c->slice_ns_default, (unsigned long long)c->slice_ns_min);
}

/* ---- loading ---------------------------------------------------------------------------- */

static int syntax_error(struct ctx *x, const yaml_parser_t *p, const char *yaml, size_t len)
{
	size_t line = 1;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		set_err(x, "%s: out of memory while parsing", x->name);
		break;
	case YAML_READER_ERROR:
		/* The reader reports a byte offset (bad encoding); turn it into a line. */
		for (size_t i = 0; i < p->problem_offset && i < len; i++)
			line += yaml[i] == '\n';
		set_err(x, "%s:%zu: invalid input: %s (byte %zu)", x->name, line, p->problem,
			p->problem_offset);
		break;
	default:
		if (p->context)
			set_err(x, "%s:%zu: YAML syntax error: %s (%s on line %zu)", x->name,
				p->problem_mark.line + 1, p->problem, p->context,
				p->context_mark.line + 1);
		else
			set_err(x, "%s:%zu: YAML syntax error: %s", x->name,
				p->problem_mark.line + 1,
				p->problem ? p->problem : "unknown error");
		break;
	}
	return -1;
}

static int parse_doc(struct ctx *x, yaml_parser_t *p, const char *yaml, size_t len,
		     struct gthulhu_config *c)
{
	const yaml_node_t *where[ARRAY_SIZE(config_keys)] = {0};
	struct table t = {config_keys, ARRAY_SIZE(config_keys), c, where};
	yaml_document_t doc, more;
	const yaml_node_t *root;
	int ret = 0;

	if (!yaml_parser_load(p, &doc))
		return syntax_error(x, p, yaml, len);
	x->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	/* No root: an empty file, or only comments. Everything keeps its default. */
	if (root)
		ret = walk_map(x, &t, root, "", "");
	if (!ret) {
		if (!yaml_parser_load(p, &more)) {
			ret = syntax_error(x, p, yaml, len);
		} else {
			const yaml_node_t *extra = yaml_document_get_root_node(&more);

			if (extra)
				ret = fail(x, extra, "", "only one YAML document is allowed");
			yaml_document_delete(&more);
		}
	}
	if (!ret)
		ret = cross_check(x, c, where);
	yaml_document_delete(&doc);
	x->doc = NULL;
	return ret;
}

void config_set_defaults(struct gthulhu_config *c)
{
	/* Zero first: padding too, so two default configs compare equal with memcmp(). */
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		const struct cfg_key *k = &config_keys[i];
		char *field = (char *)c + k->offset;

		switch (k->type) {
		case KT_U64:
			*(uint64_t *)field = k->def;
			break;
		case KT_U32:
			*(uint32_t *)field = (uint32_t)k->def;
			break;
		case KT_BOOL:
			*(bool *)field = k->def != 0;
			break;
		case KT_STRING:
			snprintf(field, k->max + 1, "%s", k->sdef ? k->sdef : "");
			break;
		default:
			/* Rules, IDs and strings default to empty, which memset did. */
			break;
		}
	}
}

int config_load_buffer(const char *yaml, size_t len, const char *name, struct gthulhu_config *c,
		       char *err, size_t errlen)
{
	struct ctx x = {.name = name ? name : "<buffer>", .err = err, .errlen = errlen};
	struct gthulhu_config *tmp;
	yaml_parser_t parser;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	/* About a megabyte with the rule table: too big for any thread's stack. */
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		set_err(&x, "%s: out of memory", x.name);
		return -1;
	}
	config_set_defaults(tmp);
	if (!yaml_parser_initialize(&parser)) {
		free(tmp);
		set_err(&x, "%s: out of memory", x.name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(yaml ? yaml : ""),
				     yaml ? len : 0);
	ret = parse_doc(&x, &parser, yaml, yaml ? len : 0, tmp);
	yaml_parser_delete(&parser);
	if (!ret)
		memcpy(c, tmp, sizeof(*c));
	free(tmp);
	return ret;
}

int config_load_file(const char *path, struct gthulhu_config *c, char *err, size_t errlen)
{
	struct ctx x = {.name = path, .err = err, .errlen = errlen};
	char ebuf[128], *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(&x, "%s: cannot open: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		set_err(&x, "%s: cannot read: %s", path, strerror_r(EISDIR, ebuf, sizeof(ebuf)));
		close(fd);
		return -1;
	}
	/* Read to EOF rather than trusting st_size: pipes and /proc files report 0. */
	buf = malloc(FILE_MAX + 1);
	if (!buf) {
		set_err(&x, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, FILE_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(&x, "%s: cannot read: %s", path,
				strerror_r(errno, ebuf, sizeof(ebuf)));
			goto out_fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > FILE_MAX) {
			set_err(&x, "%s: larger than %d bytes; is this really the config file?",
				path, FILE_MAX);
			goto out_fail;
		}
	}
	close(fd);
	ret = config_load_buffer(buf, len, path, c, err, errlen);
	free(buf);
	return ret;
out_fail:
	close(fd);
	free(buf);
	return -1;
}

/* ---- --explain -------------------------------------------------------------------------- */

/* @text on lines of at most ~88 columns, indented by 4. */
static void wrap(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *end = p, *brk = NULL;

		while (*end && end - p < 84) {
			if (*end == ' ')
				brk = end;
			end++;
		}
		if (*end && brk)
			end = brk;
		fprintf(out, "    %.*s\n", (int)(end - p), p);
		p = *end == ' ' ? end + 1 : end;
	}
}

static void explain_key(FILE *out, const char *prefix, const struct cfg_key *k)
{
	char range[96];

	fprintf(out, "%s%s\n", prefix, k->path);
	switch (k->type) {
	case KT_U64:
	case KT_U32:
		range_text(k, range, sizeof(range));
		fprintf(out, "    type:    unsigned integer%s%s\n", k->unit ? ", " : "",
			k->unit ? k->unit : "");
		if (prefix[0])
			fprintf(out, "    default: %llu (when absent)\n",
				(unsigned long long)k->def);
		else
			fprintf(out, "    default: %llu\n", (unsigned long long)k->def);
		fprintf(out, "    range:   %s%s%s\n", range, k->note ? ", " : "",
			k->note ? k->note : "");
		break;
	case KT_BOOL:
		fprintf(out, "    type:    boolean (true or false)\n");
		fprintf(out, "    default: %s\n", k->def ? "true" : "false");
		break;
	case KT_ID:
		fprintf(out, "    type:    positive integer\n");
		fprintf(out, "    default: absent (matches any)\n");
		fprintf(out, "    range:   [%llu, %llu]\n", (unsigned long long)k->min,
			(unsigned long long)k->max);
		break;
	case KT_REGEX:
		fprintf(out, "    type:    string, a POSIX extended regular expression\n");
		fprintf(out, "    default: absent (matches any)\n");
		fprintf(out, "    range:   %llu to %llu bytes; must compile with regcomp()\n",
			(unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case KT_PRIO:
		fprintf(out, "    type:    boolean or integer level\n");
		fprintf(out, "    default: 0 (a normal task)\n");
		fprintf(out, "    range:   false (= 0), true (= %d), or [%llu, %llu]\n",
			STRATEGY_PRIO_MAX, (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case KT_STRING:
		fprintf(out, "    type:    string\n");
		fprintf(out, "    default: \"%s\"\n", k->sdef ? k->sdef : "");
		fprintf(out, "    range:   %llu to %llu bytes%s%s\n", (unsigned long long)k->min,
			(unsigned long long)k->max, k->note ? "; " : "", k->note ? k->note : "");
		break;
	case KT_CGROUP:
		fprintf(out, "    type:    string, a cgroup path prefix starting with /\n");
		fprintf(out, "    default: absent (matches any)\n");
		fprintf(out, "    range:   %llu to %llu bytes\n", (unsigned long long)k->min,
			(unsigned long long)k->max);
		break;
	case KT_SELECTORS:
		fprintf(out, "    type:    list of {key: string, value: string}\n");
		fprintf(out, "    default: absent (matches any)\n");
		fprintf(out, "    range:   at most %llu entries; Kubernetes label syntax\n",
			(unsigned long long)k->max);
		break;
	case KT_NAMESPACES:
		fprintf(out, "    type:    list of strings\n");
		fprintf(out, "    default: absent (matches any)\n");
		fprintf(out, "    range:   at most %llu entries; Kubernetes namespace names\n",
			(unsigned long long)k->max);
		break;
	case KT_RULES:
		fprintf(out, "    type:    list of maps\n");
		fprintf(out, "    default: empty\n");
		fprintf(out, "    range:   at most %llu entries\n", (unsigned long long)k->max);
		break;
	}
	wrap(out, k->help);
	fputc('\n', out);
}

void config_explain(FILE *out)
{
	fprintf(out,
		"Gthulhu configuration file (YAML). Every key is optional: a missing key keeps\n"
		"its default. Unknown or duplicate keys, wrong types and out-of-range values are\n"
		"errors that name the file, line and key.\n"
		"  Integers:  plain decimal digits (no quotes, sign, underscores, leading zeros\n"
		"             or 0x).\n"
		"  Booleans:  true or false (also True/TRUE/False/FALSE). YAML 1.1's\n"
		"             yes/no/on/off are rejected: YAML libraries disagree on them.\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++) {
		explain_key(out, "", &config_keys[i]);
		if (config_keys[i].type != KT_RULES)
			continue;
		for (size_t j = 0; j < ARRAY_SIZE(rule_keys); j++)
			explain_key(out, "strategies[].", &rule_keys[j]);
	}
}

/* ---- live knobs ------------------------------------------------------------------------- */

/* Knobs the loop and the stats thread re-read at run time; the rest is read at attach. */
static const char *const live_keys[] = {
    "scheduler.slice_ns_default",
    "scheduler.slice_ns_min",
    "stats.interval_s",
    "debug",
};

bool config_key_is_live(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(live_keys); i++)
		if (!strcmp(live_keys[i], path))
			return true;
	return false;
}

size_t config_values(const struct gthulhu_config *c, struct config_value *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(config_keys) && n < max; i++) {
		const struct cfg_key *k = &config_keys[i];
		const char *field = (const char *)c + k->offset;
		struct config_value *v = &out[n];

		memset(v, 0, sizeof(*v));
		v->path = k->path;
		v->live = config_key_is_live(k->path);
		switch (k->type) {
		case KT_U64:
			v->kind = CONFIG_NUMBER;
			v->number = *(const uint64_t *)field;
			break;
		case KT_U32:
			v->kind = CONFIG_NUMBER;
			v->number = *(const uint32_t *)field;
			break;
		case KT_BOOL:
			v->kind = CONFIG_BOOL;
			v->number = *(const bool *)field;
			break;
		case KT_STRING:
			v->kind = CONFIG_STRING;
			v->string = field;
			break;
		default:
			continue; /* the strategies list has its own endpoints */
		}
		n++;
	}
	return n;
}

int config_set_live(struct gthulhu_config *c, const char *path, uint64_t value, bool is_bool,
		    char *err, size_t errlen)
{
	const struct cfg_key *k;
	char range[64];
	size_t i;

	k = key_at(path, &i);
	if (!k || k->type == KT_RULES) {
		snprintf(err, errlen, "%s: unknown key (see gthulhu --explain)", path);
		return -1;
	}
	if (!config_key_is_live(path)) {
		snprintf(err, errlen,
			 "%s: cannot change while Gthulhu runs: set it in the config file and "
			 "restart",
			 path);
		return -1;
	}
	if (k->type == KT_BOOL) {
		if (!is_bool) {
			snprintf(err, errlen, "%s: expected true or false", path);
			return -1;
		}
		*(bool *)((char *)c + k->offset) = value != 0;
		return 0;
	}
	if (is_bool) {
		snprintf(err, errlen, "%s: expected an unsigned integer, got a boolean", path);
		return -1;
	}
	if ((value < k->min || value > k->max) && !(k->zero_ok && value == 0)) {
		range_text(k, range, sizeof(range));
		snprintf(err, errlen, "%s: got %llu, must be %s%s", path, (unsigned long long)value,
			 k->zero_ok ? "" : "in ", range);
		return -1;
	}
	if (k->type == KT_U64)
		*(uint64_t *)((char *)c + k->offset) = value;
	else
		*(uint32_t *)((char *)c + k->offset) = (uint32_t)value;
	return 0;
}

int config_copy_key(struct gthulhu_config *dst, const struct gthulhu_config *src, const char *path)
{
	static const size_t width[] = {
	    [KT_U64] = sizeof(uint64_t), [KT_U32] = sizeof(uint32_t), [KT_BOOL] = sizeof(bool)};
	const struct cfg_key *k;
	size_t i;

	k = key_at(path, &i);
	if (!k)
		return -1;
	if (k->type == KT_STRING)
		memcpy((char *)dst + k->offset, (const char *)src + k->offset, k->max + 1);
	else if (k->type < ARRAY_SIZE(width) && width[k->type])
		memcpy((char *)dst + k->offset, (const char *)src + k->offset, width[k->type]);
	else
		return -1;
	return 0;
}
