/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Topology loader: sysfs -> struct topology (topology.h lists the sources and fallbacks).
 *
 * Runs once at startup, before the scheduling loop, so it is written for clarity rather
 * than speed. It allocates nothing of its own: every buffer is bounded by GTHULHU_MAX_CPUS.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "topology/topology.h"

#define TOPO_PATH_LEN 512
/* The longest cpulist for 1024 CPUs ("0,2,4,...,1022") is under 2.5 KiB. */
#define TOPO_FILE_LEN 8192
/* Linux caps MAX_NUMNODES at 1024; anything above this is not a node directory we know. */
#define TOPO_MAX_NODE_IDS 4096

#define CPU_DIR	 "sys/devices/system/cpu"
#define NODE_DIR "sys/devices/system/node"

struct topo_loader {
	struct topology *t;
	char root[TOPO_PATH_LEN]; /* without a trailing '/', so "/" becomes "" */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct topo_loader *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->errlen) {
		va_start(ap, fmt);
		vsnprintf(ld->err, ld->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

__attribute__((format(printf, 4, 5))) static int make_path(struct topo_loader *ld, char *path,
							   size_t len, const char *fmt, ...)
{
	char rel[TOPO_PATH_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rel) ||
	    (size_t)snprintf(path, len, "%s/%s", ld->root, rel) >= len)
		return fail(ld, "%s/%s: path too long", ld->root, rel);
	return 0;
}

/* A missing file is not an error here: the caller decides whether it is optional. */
static bool is_missing(int err)
{
	return err == ENOENT || err == ENOTDIR;
}

/* Read a small text file whole. 0 on success, 1 if it does not exist, -1 on error. */
static int read_text(struct topo_loader *ld, const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		if (is_missing(errno))
			return 1;
		return fail(ld, "%s: %s", path, strerror(errno));
	}
	n = fread(buf, 1, len - 1, f);
	if (ferror(f)) {
		int e = errno;

		fclose(f);
		return fail(ld, "%s: %s", path, strerror(e));
	}
	/* A full buffer means more may follow: a truncated cpulist would silently lose CPUs. */
	if (n == len - 1 && fgetc(f) != EOF) {
		fclose(f);
		return fail(ld, "%s: longer than %zu bytes", path, len - 1);
	}
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* Quote at most a short, newline-free prefix of bad content in messages. */
static const char *excerpt(char *buf)
{
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) > 40)
		strcpy(buf + 37, "...");
	return buf;
}

/* Read a cpulist file into m. 0, 1 if missing, -1 on error (message names the file). */
static int read_cpulist(struct topo_loader *ld, const char *path, struct cpumask *m)
{
	char buf[TOPO_FILE_LEN];
	int ret = read_text(ld, path, buf, sizeof(buf));

	if (ret)
		return ret;
	ret = cpumask_parse(m, buf);
	if (ret == -ERANGE)
		return fail(ld,
			    "%s: lists CPUs numbered >= GTHULHU_MAX_CPUS (%d), more than this "
			    "build supports: \"%s\"",
			    path, GTHULHU_MAX_CPUS, excerpt(buf));
	if (ret)
		return fail(ld, "%s: not a CPU list: \"%s\"", path, excerpt(buf));
	return 0;
}

/* Read a file holding one small decimal number. 0, 1 if missing, -1 on error. */
static int read_uint(struct topo_loader *ld, const char *path, int *out)
{
	char buf[64];
	const char *s = buf;
	int ret = read_text(ld, path, buf, sizeof(buf));
	long v = 0;

	if (ret)
		return ret;
	if (*s < '0' || *s > '9')
		goto junk;
	while (*s >= '0' && *s <= '9' && v < 1000000)
		v = v * 10 + (*s++ - '0');
	while (*s == ' ' || *s == '\n')
		s++;
	if (*s)
		goto junk;
	*out = (int)v;
	return 0;
junk:
	return fail(ld, "%s: not a number: \"%s\"", path, excerpt(buf));
}

static void set_span(struct topo_domain *d)
{
	int first = cpumask_first(&d->mask), last = cpumask_last(&d->mask);

	d->lo_word = first < 0 ? 0 : (uint16_t)(first / 64);
	d->hi_word = last < 0 ? 0 : (uint16_t)(last / 64);
}

static int new_domain(struct topology *t, enum topo_level level, const struct cpumask *m)
{
	int idx = t->nr_domains[level]++;
	struct topo_domain *d = &t->domains[level][idx];

	d->mask = *m;
	d->node_id = -1;
	set_span(d);
	return idx;
}

/*
 * Put cpu in the domain at level whose CPUs are m. CPUs of one domain normally list the
 * same CPUs, so the domain an earlier member created is reused; a CPU whose list disagrees
 * gets its own domain, so every CPU sees exactly what sysfs says for it and each level
 * never holds more domains than CPUs.
 */
static void assign(struct topology *t, enum topo_level level, int cpu, struct cpumask *m)
{
	int first;

	/* Offline CPUs must never be reachable; a CPU always shares a domain with itself. */
	cpumask_and(m, m, &t->online);
	cpumask_set(m, cpu);
	first = cpumask_first(m);
	if (first != cpu && t->dom[level][first] >= 0 &&
	    cpumask_equal(&t->domains[level][t->dom[level][first]].mask, m)) {
		t->dom[level][cpu] = t->dom[level][first];
		return;
	}
	t->dom[level][cpu] = (int16_t)new_domain(t, level, m);
}

/* Nodes are disjoint by construction: each CPU goes to the lowest-numbered node listing it. */
static int load_nodes(struct topo_loader *ld)
{
	struct topology *t = ld->t;
	uint64_t seen[TOPO_MAX_NODE_IDS / 64] = {0};
	char path[TOPO_PATH_LEN];
	struct cpumask assigned, m;
	struct dirent *de;
	DIR *dir;
	int cpu;

	if (make_path(ld, path, sizeof(path), NODE_DIR))
		return -1;
	dir = opendir(path);
	if (!dir && !is_missing(errno))
		return fail(ld, "%s: %s", path, strerror(errno));
	/* readdir order is arbitrary; collect the numbers so nodes are numbered in order. */
	while (dir && (de = readdir(dir))) {
		const char *s = de->d_name + 4;
		long n = 0;

		if (strncmp(de->d_name, "node", 4) || !*s)
			continue;
		for (; *s >= '0' && *s <= '9'; s++)
			if (n < TOPO_MAX_NODE_IDS) /* stop growing: no overflow */
				n = n * 10 + (*s - '0');
		if (*s)
			continue; /* not nodeN */
		if (n >= TOPO_MAX_NODE_IDS) {
			closedir(dir);
			return fail(ld, "%s/%s: node number above %d", path, de->d_name,
				    TOPO_MAX_NODE_IDS - 1);
		}
		seen[n / 64] |= 1ULL << (n % 64);
	}
	if (dir)
		closedir(dir);

	cpumask_zero(&assigned);
	for (int n = 0; n < TOPO_MAX_NODE_IDS; n++) {
		int idx, ret;

		if (!(seen[n / 64] >> (n % 64) & 1))
			continue;
		if (make_path(ld, path, sizeof(path), NODE_DIR "/node%d/cpulist", n))
			return -1;
		ret = read_cpulist(ld, path, &m);
		if (ret < 0)
			return -1;
		if (ret)
			continue;
		cpumask_and(&m, &m, &t->online);
		cpumask_andnot(&m, &m, &assigned);
		/* Memory-only nodes (empty cpulist) and offline-only nodes are not domains. */
		if (cpumask_empty(&m))
			continue;
		idx = new_domain(t, TOPO_NODE, &m);
		t->domains[TOPO_NODE][idx].node_id = n;
		for (cpu = cpumask_first(&m); cpu >= 0; cpu = cpumask_next(&m, cpu))
			t->dom[TOPO_NODE][cpu] = (int16_t)idx;
		cpumask_or(&assigned, &assigned, &m);
	}

	cpumask_andnot(&m, &t->online, &assigned);
	if (!cpumask_empty(&m)) {
		int idx = new_domain(t, TOPO_NODE, &m);

		t->fallbacks |= t->nr_domains[TOPO_NODE] == 1 ? TOPO_FB_NODE : TOPO_FB_NODE_REST;
		for (cpu = cpumask_first(&m); cpu >= 0; cpu = cpumask_next(&m, cpu))
			t->dom[TOPO_NODE][cpu] = (int16_t)idx;
	}
	return 0;
}

static int load_core(struct topo_loader *ld, int cpu)
{
	static const char *const files[] = {"thread_siblings_list", "core_cpus_list"};
	struct topology *t = ld->t;
	char path[TOPO_PATH_LEN];
	struct cpumask m;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int ret;

		if (make_path(ld, path, sizeof(path), CPU_DIR "/cpu%d/topology/%s", cpu, files[i]))
			return -1;
		ret = read_cpulist(ld, path, &m);
		if (ret < 0)
			return -1;
		if (!ret) {
			assign(t, TOPO_CORE, cpu, &m);
			return 0;
		}
	}
	t->fallbacks |= TOPO_FB_CORE;
	cpumask_zero(&m);
	assign(t, TOPO_CORE, cpu, &m);
	return 0;
}

/*
 * The L2 and LLC domains from cpuN/cache/index*. Entries of one level are merged: split
 * instruction/data caches at a level would both count as sharing that level.
 */
static int load_caches(struct topo_loader *ld, int cpu)
{
	struct topology *t = ld->t;
	char dirpath[TOPO_PATH_LEN], path[TOPO_PATH_LEN];
	struct cpumask l2, llc, m;
	bool has_l2 = false, has_llc = false;
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	cpumask_zero(&l2);
	cpumask_zero(&llc);
	if (make_path(ld, dirpath, sizeof(dirpath), CPU_DIR "/cpu%d/cache", cpu))
		return -1;
	dir = opendir(dirpath);
	if (!dir && !is_missing(errno))
		return fail(ld, "%s: %s", dirpath, strerror(errno));
	while (dir && (de = readdir(dir))) {
		int level = 0;

		if (strncmp(de->d_name, "index", 5))
			continue;
		if (make_path(ld, path, sizeof(path), CPU_DIR "/cpu%d/cache/%s/level", cpu,
			      de->d_name)) {
			ret = -1;
			break;
		}
		ret = read_uint(ld, path, &level);
		if (ret < 0)
			break;
		if (ret || (level != 2 && level != 3)) {
			ret = 0;
			continue;
		}
		if (make_path(ld, path, sizeof(path), CPU_DIR "/cpu%d/cache/%s/shared_cpu_list",
			      cpu, de->d_name)) {
			ret = -1;
			break;
		}
		ret = read_cpulist(ld, path, &m);
		if (ret < 0)
			break;
		if (ret) {
			ret = 0;
			continue;
		}
		if (level == 2) {
			cpumask_or(&l2, &l2, &m);
			has_l2 = true;
		} else {
			cpumask_or(&llc, &llc, &m);
			has_llc = true;
		}
	}
	if (dir)
		closedir(dir);
	if (ret < 0)
		return -1;

	if (!has_l2) {
		t->fallbacks |= TOPO_FB_L2;
		l2 = *topology_mask(t, TOPO_CORE, cpu);
	}
	if (!has_llc) {
		t->fallbacks |= TOPO_FB_LLC;
		llc = *topology_mask(t, TOPO_NODE, cpu);
	}
	assign(t, TOPO_L2, cpu, &l2);
	assign(t, TOPO_LLC, cpu, &llc);
	return 0;
}

/* Record that cpu + delta is a sibling of cpu. false once there are too many offsets. */
static bool add_smt_shift(struct topology *t, int cpu, int delta)
{
	struct topo_smt_shift *s;
	int i;

	for (i = 0; i < t->nr_smt_shifts; i++)
		if (t->smt_shifts[i].delta == delta)
			break;
	if (i == TOPO_MAX_SMT_SHIFTS)
		return false;
	s = &t->smt_shifts[i];
	if (i == t->nr_smt_shifts) {
		t->nr_smt_shifts++;
		s->delta = delta;
		/* Floor division: C rounds towards zero, which would break negative offsets. */
		s->q = delta >= 0 ? delta / 64 : -((-delta + 63) / 64);
		s->r = delta - 64 * s->q;
		cpumask_zero(&s->mask);
	}
	cpumask_set(&s->mask, cpu);
	return true;
}

static void build_smt_shifts(struct topology *t)
{
	int cpu, sib;

	t->nr_smt_shifts = 0;
	for (cpu = cpumask_first(&t->online); cpu >= 0; cpu = cpumask_next(&t->online, cpu)) {
		const struct cpumask *core = topology_mask(t, TOPO_CORE, cpu);

		for (sib = cpumask_first(core); sib >= 0; sib = cpumask_next(core, sib)) {
			if (sib != cpu && !add_smt_shift(t, cpu, sib - cpu)) {
				t->nr_smt_shifts = -1;
				return;
			}
		}
	}
	for (int i = 0; i < t->nr_smt_shifts; i++) {
		struct topo_smt_shift *s = &t->smt_shifts[i];

		s->lo_word = cpumask_first(&s->mask) / 64;
		s->hi_word = cpumask_last(&s->mask) / 64;
	}
}

int topology_load(struct topology *t, const char *root, char *err, size_t errlen)
{
	struct topo_loader ld = {.t = t, .err = err, .errlen = errlen};
	char path[TOPO_PATH_LEN];
	size_t rootlen;
	int ret, cpu;

	memset(t, 0, sizeof(*t));
	memset(t->dom, 0xff, sizeof(t->dom)); /* -1: in no domain */
	if (errlen)
		err[0] = '\0';
	if (!root)
		root = "/";
	rootlen = strlen(root);
	while (rootlen && root[rootlen - 1] == '/')
		rootlen--;
	if (rootlen >= sizeof(ld.root))
		return fail(&ld, "%s: path too long", root);
	memcpy(ld.root, root, rootlen);
	ld.root[rootlen] = '\0';

	if (make_path(&ld, path, sizeof(path), CPU_DIR "/possible"))
		return -1;
	ret = read_cpulist(&ld, path, &t->possible);
	if (ret < 0)
		return -1;
	if (ret)
		return fail(&ld, "%s: missing; cannot tell which CPUs exist", path);
	if (cpumask_empty(&t->possible))
		return fail(&ld, "%s: lists no CPU", path);
	t->nr_cpus = cpumask_last(&t->possible) + 1;
	t->nr_words = (t->nr_cpus + 63) / 64;

	if (make_path(&ld, path, sizeof(path), CPU_DIR "/online"))
		return -1;
	ret = read_cpulist(&ld, path, &t->online);
	if (ret < 0)
		return -1;
	if (ret) {
		t->fallbacks |= TOPO_FB_ONLINE;
		t->online = t->possible;
	}
	cpumask_and(&t->online, &t->online, &t->possible);
	if (cpumask_empty(&t->online))
		return fail(&ld, "%s: no online CPU among the possible ones", path);

	/* Nodes first: they are the LLC fallback. Cores next: they are the L2 fallback. */
	if (load_nodes(&ld))
		return -1;
	for (cpu = cpumask_first(&t->online); cpu >= 0; cpu = cpumask_next(&t->online, cpu)) {
		if (load_core(&ld, cpu))
			return -1;
	}
	for (cpu = cpumask_first(&t->online); cpu >= 0; cpu = cpumask_next(&t->online, cpu)) {
		if (load_caches(&ld, cpu))
			return -1;
	}
	build_smt_shifts(t);
	return 0;
}

/* Every fallback (t->fallbacks bit): its short name for logs, and what it means. */
static const struct {
	unsigned int bit;
	const char *name;
	const char *what;
} fallbacks[] = {
    {TOPO_FB_ONLINE, "online", "no online file: all possible CPUs taken as online"},
    {TOPO_FB_CORE, "core", "no sibling list for some CPUs: each is its own core"},
    {TOPO_FB_L2, "l2", "no L2 info for some CPUs: L2 = SMT core"},
    {TOPO_FB_LLC, "llc", "no L3 info for some CPUs: LLC = NUMA node"},
    {TOPO_FB_NODE, "node", "no NUMA node info: one node of all online CPUs"},
    {TOPO_FB_NODE_REST, "node_rest", "online CPUs in no node: grouped in an extra node"},
};
#define NR_FALLBACKS (sizeof(fallbacks) / sizeof(fallbacks[0]))

void topology_fallback_names(const struct topology *t, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < NR_FALLBACKS; i++) {
		if (!(t->fallbacks & fallbacks[i].bit) || n >= len)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", fallbacks[i].name);
	}
}

void topology_describe(const struct topology *t, FILE *out)
{
	char buf[TOPO_FILE_LEN], buf2[TOPO_FILE_LEN];

	cpumask_format(&t->possible, buf, sizeof(buf));
	cpumask_format(&t->online, buf2, sizeof(buf2));
	fprintf(out, "topology: nr_cpus %d, possible %s, online %s, smt shifts ", t->nr_cpus, buf,
		buf2);
	if (t->nr_smt_shifts < 0)
		fprintf(out, "irregular");
	for (int i = 0; i < t->nr_smt_shifts; i++)
		fprintf(out, "%s%+d", i ? "," : "", t->smt_shifts[i].delta);
	fprintf(out, "%s\n", t->nr_smt_shifts == 0 ? "none" : "");

	for (int level = 0; level < TOPO_NR_LEVELS; level++) {
		for (int i = 0; i < t->nr_domains[level]; i++) {
			const struct topo_domain *d = &t->domains[level][i];

			cpumask_format(&d->mask, buf, sizeof(buf));
			fprintf(out, "topology: %s %d: %s", topology_level_name(level), i, buf);
			if (level == TOPO_NODE && d->node_id >= 0)
				fprintf(out, " (node%d)", d->node_id);
			fprintf(out, "\n");
		}
	}
	for (size_t i = 0; i < NR_FALLBACKS; i++)
		if (t->fallbacks & fallbacks[i].bit)
			fprintf(out, "topology: fallback: %s\n", fallbacks[i].what);
}
