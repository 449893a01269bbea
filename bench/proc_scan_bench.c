/* SPDX-License-Identifier: GPL-2.0 */
/*
 * proc_scan_bench: what keeping the strategy resolver's process table current costs with
 * PROCS processes (10 000 by default), natively (no kernel work beyond procfs, no BPF).
 *
 * Synthetic: a proc tree of PROCS processes in a temporary directory, as the resolver
 * reads it (stat, comm, cmdline, cgroup, task/<tid>/comm), every other process with a
 * second thread, half of them in the kubepods cgroups of 100 pods (cgroupfs and systemd
 * layouts). On it: a full scan (the periodic resync; every scan without events), one
 * event-driven refresh of one process (what an exec or a new process costs), a snapshot
 * rebuild in memory with 1, 10 and 100 rules including label, namespace, regex, cmdline,
 * cgroup and pid rules over a pod set of 100 pods, from scratch (a rule change) and by
 * the resolver's matcher after one process changed (a pass after events), and the
 * table's memory.
 *
 * Real procfs (unless -R 0): REAL children that fork from this process and pause(), then
 * the same full scan and refresh over this machine's /proc, which adds procfs's own cost
 * (its files are generated on every read). The children are killed by pid afterwards,
 * and by the kernel if this process dies first (PR_SET_PDEATHSIG).
 *
 * usage: proc_scan_bench [-n PROCS (10000)] [-R REAL (= PROCS; 0: skip)] [-r ROUNDS (5)]
 *                        [--procs N]  (sets both -n and -R)
 * stdout: CSV rows as decision_bench prints them, one per round:
 *   proc_scan_<synthetic|procfs>_n<N>,native,<round>,<metric>,<value>
 * with metrics full_scan_ms, refresh_us, rebuild_<K>_rules_ms and
 * event_rebuild_<K>_rules_ms (synthetic), table_bytes, threads (per run); stderr: a table.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "k8s/pods.h"
#include "strategy/proc_table.h"
#include "strategy/strategy.h"

#define NR_PODS	   100
#define NR_COMMS   200 /* distinct command names */
#define REFRESHES  2000
#define WANTS	   (PROC_WANT_CMDLINE | PROC_WANT_CGROUP | PROC_WANT_POD)
#define FIRST_PID  1000
#define MAX_ROUNDS 101

static char root[PATH_MAX];
static unsigned long rounds = 5;

const char bench_usage[] = "proc_scan_bench [-n PROCS] [-R REAL_PROCS] [-r ROUNDS] [--procs N]";

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "proc_scan_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the synthetic tree ----------------------------------------------------------------- */

static void put(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		die(path);
	close(fd);
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		die(path);
}

static void pod_uid(unsigned int pod, char *out, size_t len, char sep)
{
	snprintf(out, len, "%08x%c%04x%c4%03x%c8%03x%c%012x", 0x5eed0000u + pod, sep, pod, sep,
		 pod & 0xfff, sep, pod & 0xfff, sep, pod);
}

static void container_id(unsigned int pod, unsigned int c, char *out)
{
	/* 64 hex digits, as every CRI runtime makes them. */
	snprintf(out, 65, "%016x%016x%016x%016x", pod, c, 0xc0ffeeu, pod * 31 + c);
}

/* Process i: pid FIRST_PID + 2i, a second thread (pid + 1) for odd i, a pod for even i. */
static void make_process(unsigned int i)
{
	int32_t pid = FIRST_PID + 2 * (int32_t)i;
	unsigned int nthreads = (i % 2) ? 2 : 1, pod = (i / 2) % NR_PODS;
	char dir[PATH_MAX + 32], path[PATH_MAX + 96], buf[1024], comm[32], uid[64], cid[80];
	int n;

	snprintf(comm, sizeof(comm), "worker-%u", i % NR_COMMS);
	snprintf(dir, sizeof(dir), "%s/%d", root, pid);
	make_dir(dir);
	n = snprintf(buf, sizeof(buf),
		     "%d (%s) S 1 %d %d 0 -1 4194560 120 0 0 0 15 7 0 0 20 0 %u 0 %u 12345678 "
		     "300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		     pid, comm, pid, pid, nthreads, 1000 + i);
	snprintf(path, sizeof(path), "%s/stat", dir);
	put(path, buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "%s\n", comm);
	snprintf(path, sizeof(path), "%s/comm", dir);
	put(path, buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "/usr/bin/%s%c--id=%u%c--config%c/etc/app.conf%c", comm, 0,
		     i, 0, 0, 0);
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	put(path, buf, (size_t)n);
	if (i % 2 == 0) {
		container_id(pod, (i / (2 * NR_PODS)) % 2, cid);
		if (pod % 2) {
			pod_uid(pod, uid, sizeof(uid), '_');
			n = snprintf(buf, sizeof(buf),
				     "0::/kubepods.slice/kubepods-burstable.slice/"
				     "kubepods-burstable-pod%s.slice/cri-containerd-%s.scope\n",
				     uid, cid);
		} else {
			pod_uid(pod, uid, sizeof(uid), '-');
			n = snprintf(buf, sizeof(buf), "0::/kubepods/burstable/pod%s/%s\n", uid,
				     cid);
		}
	} else {
		n = snprintf(buf, sizeof(buf), "0::/system.slice/app-%u.service\n", i % 50);
	}
	snprintf(path, sizeof(path), "%s/cgroup", dir);
	put(path, buf, (size_t)n);
	snprintf(path, sizeof(path), "%s/task", dir);
	make_dir(path);
	for (unsigned int t = 0; t < nthreads; t++) {
		snprintf(path, sizeof(path), "%s/task/%d", dir, pid + (int32_t)t);
		make_dir(path);
		snprintf(path, sizeof(path), "%s/task/%d/comm", dir, pid + (int32_t)t);
		n = snprintf(buf, sizeof(buf), t ? "%s-io\n" : "%s\n", comm);
		put(path, buf, (size_t)n);
	}
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* ---- pods and rules --------------------------------------------------------------------- */

static struct pod_table *make_pods(void)
{
	static struct strategy_selector labels[NR_PODS][4];
	static struct pod_meta pods[NR_PODS];
	struct pod_table *t = pod_table_new();

	if (!t)
		die("pod_table_new");
	for (unsigned int p = 0; p < NR_PODS; p++) {
		pod_uid(p, pods[p].uid, sizeof(pods[p].uid), '-');
		snprintf(pods[p].name, sizeof(pods[p].name), "app-%u-%u", p % 10, p);
		snprintf(pods[p].namespace, sizeof(pods[p].namespace), "ns-%u", p % 5);
		snprintf(labels[p][0].key, sizeof(labels[p][0].key), "app");
		snprintf(labels[p][0].value, sizeof(labels[p][0].value), "app-%u", p % 10);
		snprintf(labels[p][1].key, sizeof(labels[p][1].key), "tier");
		snprintf(labels[p][1].value, sizeof(labels[p][1].value), "%s",
			 p % 3 ? "backend" : "frontend");
		snprintf(labels[p][2].key, sizeof(labels[p][2].key), "pod-template-hash");
		snprintf(labels[p][2].value, sizeof(labels[p][2].value), "%08x", p * 2654435761u);
		snprintf(labels[p][3].key, sizeof(labels[p][3].key),
			 "app.kubernetes.io/managed-by");
		snprintf(labels[p][3].value, sizeof(labels[p][3].value), "helm");
		pods[p].labels = labels[p];
		pods[p].nr_labels = 4;
	}
	if (pod_table_replace(t, pods, NR_PODS))
		die("pod_table_replace");
	return t;
}

/* Rule k of a mix of every matcher; rule 0 is a label rule. */
static void make_rule(struct strategy_rule *r, unsigned int k, unsigned int procs)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "bench-%u", k);
	r->effect.priority = 1 + k % STRATEGY_PRIO_MAX;
	switch (k % 10) {
	case 0: /* a label */
	case 5:
		snprintf(r->selectors[0].key, sizeof(r->selectors[0].key), "app");
		snprintf(r->selectors[0].value, sizeof(r->selectors[0].value), "app-%u", k % 10);
		r->nr_selectors = 1;
		break;
	case 1: /* a namespace */
		snprintf(r->namespaces[0], sizeof(r->namespaces[0]), "ns-%u", k % 5);
		r->nr_namespaces = 1;
		break;
	case 2: /* labels and namespace */
		snprintf(r->selectors[0].key, sizeof(r->selectors[0].key), "tier");
		snprintf(r->selectors[0].value, sizeof(r->selectors[0].value), "backend");
		snprintf(r->selectors[1].key, sizeof(r->selectors[1].key), "app");
		snprintf(r->selectors[1].value, sizeof(r->selectors[1].value), "app-%u",
			 (k / 10) % 10);
		r->nr_selectors = 2;
		snprintf(r->namespaces[0], sizeof(r->namespaces[0]), "ns-%u", k % 5);
		r->nr_namespaces = 1;
		break;
	case 3: /* a regex on comm */
	case 6:
		snprintf(r->command_regex, sizeof(r->command_regex), "^worker-%u[0-9]$",
			 (k / 10) % 10);
		break;
	case 4: /* a regex on the command line */
		snprintf(r->command_regex, sizeof(r->command_regex), "--id=%u[0-9]* ", k);
		r->match_cmdline = true;
		break;
	case 7: /* a cgroup */
		snprintf(r->cgroup, sizeof(r->cgroup), "/system.slice/app-%u.service",
			 (k / 10) % 50);
		break;
	case 8: /* a label and a regex */
		snprintf(r->selectors[0].key, sizeof(r->selectors[0].key), "tier");
		snprintf(r->selectors[0].value, sizeof(r->selectors[0].value), "frontend");
		r->nr_selectors = 1;
		snprintf(r->command_regex, sizeof(r->command_regex), "-io$");
		break;
	default: /* a process */
		r->pid = FIRST_PID + 2 * (int32_t)((k * 97) % procs);
		break;
	}
}

/* ---- measurements ----------------------------------------------------------------------- */

static void row(const char *workload, unsigned long round, const char *metric, double v)
{
	printf("%s,native,%lu,%s,%.3f\n", workload, round, metric, v);
}

/* Full scans of @t (rescans: the table is full from the start), median in ms. */
static double bench_scan(struct proc_table *t, const char *workload)
{
	double v[MAX_ROUNDS] = {0};

	for (unsigned long r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();

		if (proc_table_scan(t))
			die("proc_table_scan");
		v[r] = (double)(now_ns() - t0) / 1e6;
		row(workload, r + 1, "full_scan_ms", v[r]);
	}
	return median(v, rounds);
}

/* Refreshes of @n pids picked over @pids, as after an exec: median per round, in us. */
static double bench_refresh(struct proc_table *t, const int32_t *pids, size_t n,
			    const char *workload)
{
	double v[MAX_ROUNDS] = {0};
	uint64_t rng = 88172645463325252ull;

	for (unsigned long r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();

		for (unsigned int k = 0; k < REFRESHES; k++)
			if (proc_table_refresh(t, pids[xorshift64(&rng) % n], PROC_REFRESH_ALL) < 0)
				die("proc_table_refresh");
		v[r] = (double)(now_ns() - t0) / 1e3 / REFRESHES;
		row(workload, r + 1, "refresh_us", v[r]);
	}
	return median(v, rounds);
}

/*
 * Snapshot rebuilds with @nrules rules, medians in ms: @cold from scratch (new rules:
 * compile, evaluate every process), @warm by the resolver's matcher after one process
 * changed (what each pass after events costs).
 */
static void bench_rebuild(struct proc_table *t, const struct pod_set *pods, const int32_t *pids,
			  unsigned int nrules, unsigned int procs, const char *workload,
			  double *cold, double *warm, size_t *entries)
{
	static struct strategy_rule rules[STRATEGY_MAX_RULES];
	struct strategy_matcher *m;
	char metric[64];
	double v[MAX_ROUNDS] = {0}, w[MAX_ROUNDS] = {0};
	struct strategy_snapshot *s;

	for (unsigned int k = 0; k < nrules; k++)
		make_rule(&rules[k], k, procs);
	snprintf(metric, sizeof(metric), "rebuild_%u_rules_ms", nrules);
	for (unsigned long r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();

		s = strategy_snapshot_build_from(rules, nrules, t, pods);
		v[r] = (double)(now_ns() - t0) / 1e6;
		if (!s)
			die("strategy_snapshot_build_from");
		*entries = strategy_snapshot_entries(s);
		strategy_snapshot_free(s);
		row(workload, r + 1, metric, v[r]);
	}
	*cold = median(v, rounds);

	m = strategy_matcher_new(rules, nrules);
	s = m ? strategy_matcher_build(m, t, pods) : NULL;
	if (!s)
		die("strategy_matcher_build");
	strategy_snapshot_free(s);
	snprintf(metric, sizeof(metric), "event_rebuild_%u_rules_ms", nrules);
	for (unsigned long r = 0; r < rounds; r++) {
		uint64_t t0;

		if (proc_table_refresh(t, pids[(r * 7919) % procs], PROC_REFRESH_ALL) < 0)
			die("proc_table_refresh");
		t0 = now_ns();
		s = strategy_matcher_build(m, t, pods);
		w[r] = (double)(now_ns() - t0) / 1e6;
		if (!s)
			die("strategy_matcher_build");
		strategy_snapshot_free(s);
		row(workload, r + 1, metric, w[r]);
	}
	*warm = median(w, rounds);
	strategy_matcher_free(m);
}

static void synthetic(unsigned int procs)
{
	const char *base = getenv("TMPDIR");
	struct proc_table *t;
	struct proc_table_stats st;
	struct pod_table *pt;
	const struct pod_set *pods;
	int32_t *pids;
	char workload[64];
	double scan, refresh, rebuild[3], event_rebuild[3];
	size_t entries[3];
	static const unsigned int nrules[3] = {1, 10, 100};
	uint64_t t0;

	snprintf(workload, sizeof(workload), "proc_scan_synthetic_n%u", procs);
	snprintf(root, sizeof(root), "%s/gthulhu-procbench.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(root))
		die("mkdtemp");
	t0 = now_ns();
	for (unsigned int i = 0; i < procs; i++)
		make_process(i);
	fprintf(stderr, "synthetic tree of %u processes in %s (%.1f s to write)\n", procs, root,
		(double)(now_ns() - t0) / 1e9);

	pids = calloc(procs, sizeof(*pids));
	t = proc_table_new(root, 0);
	pt = make_pods();
	if (!pids || !t)
		die("calloc");
	for (unsigned int i = 0; i < procs; i++)
		pids[i] = FIRST_PID + 2 * (int32_t)i;
	proc_table_set_wants(t, WANTS);
	if (proc_table_scan(t)) /* the first one fills the table */
		die("proc_table_scan");
	scan = bench_scan(t, workload);
	refresh = bench_refresh(t, pids, procs, workload);
	pods = pod_table_acquire(pt);
	for (int k = 0; k < 3; k++)
		bench_rebuild(t, pods, pids, nrules[k], procs, workload, &rebuild[k],
			      &event_rebuild[k], &entries[k]);
	proc_table_stats(t, &st);
	row(workload, 1, "table_bytes", (double)st.bytes);
	row(workload, 1, "threads", (double)st.threads);

	fprintf(stderr, "\n%-44s %12s\n", "synthetic tree (files under TMPDIR)", "median");
	fprintf(stderr, "%-44s %12.2f ms\n", "full scan", scan);
	fprintf(stderr, "%-44s %12.2f us\n", "refresh one process (event)", refresh);
	for (int k = 0; k < 3; k++) {
		char label[64];

		snprintf(label, sizeof(label), "snapshot rebuild, %u rule%s (%zu entries)",
			 nrules[k], nrules[k] > 1 ? "s" : "", entries[k]);
		fprintf(stderr, "%-44s %12.2f ms\n", label, rebuild[k]);
		snprintf(label, sizeof(label), "  the same after one event (matcher memo)");
		fprintf(stderr, "%-44s %12.2f ms\n", label, event_rebuild[k]);
	}
	fprintf(stderr, "%-44s %12zu B  (%zu processes, %zu threads, %.0f B/process)\n",
		"process table memory", st.bytes, st.processes, st.threads,
		(double)st.bytes / (double)(st.processes ? st.processes : 1));

	pod_set_release(pods);
	pod_table_free(pt);
	proc_table_free(t);
	free(pids);
	nftw(root, remove_entry, 64, FTW_DEPTH | FTW_PHYS);
}

/* ---- real procfs ------------------------------------------------------------------------ */

static void procfs(unsigned int real)
{
	struct proc_table *t = proc_table_new("/proc", 0);
	struct proc_table_stats st;
	pid_t *kids = calloc(real ? real : 1, sizeof(*kids));
	pid_t parent = getpid();
	unsigned int n = 0;
	char workload[64];
	double scan, refresh;
	uint64_t t0 = now_ns();

	if (!t || !kids)
		die("calloc");
	snprintf(workload, sizeof(workload), "proc_scan_procfs_n%u", real);
	for (; n < real; n++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "proc_scan_bench: fork %u of %u: %s\n", n + 1, real,
				strerror(errno));
			break;
		}
		if (pid == 0) {
			/* Dies with the bench, whatever happens to it. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		kids[n] = pid;
	}
	fprintf(stderr, "\n%u children pausing (%.1f s to fork)\n", n,
		(double)(now_ns() - t0) / 1e9);
	if (n == real) {
		proc_table_set_wants(t, WANTS);
		if (proc_table_scan(t))
			die("proc_table_scan /proc");
		scan = bench_scan(t, workload);
		refresh = bench_refresh(t, kids, n ? n : 1, workload);
		proc_table_stats(t, &st);
		row(workload, 1, "table_bytes", (double)st.bytes);
		row(workload, 1, "threads", (double)st.threads);
		fprintf(stderr, "%-44s %12s\n", "this machine's /proc (procfs)", "median");
		fprintf(stderr, "%-44s %12.2f ms  (%zu processes, %zu threads: %.1f us each)\n",
			"full scan", scan, st.processes, st.threads,
			scan * 1000 / (double)(st.threads ? st.threads : 1));
		fprintf(stderr, "%-44s %12.2f us\n", "refresh one process (event)", refresh);
	}
	for (unsigned int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (unsigned int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	proc_table_free(t);
	free(kids);
	if (n != real)
		exit(1);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"procs", required_argument, NULL, 'p'},
						 {NULL, 0, NULL, 0}};
	unsigned long procs = 10000, real = ULONG_MAX;
	int opt;

	while ((opt = getopt_long(argc, argv, "n:R:r:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			procs = real = parse_num(optarg);
			break;
		case 'n':
			procs = parse_num(optarg);
			break;
		case 'R':
			real = parse_num(optarg);
			break;
		case 'r':
			rounds = parse_num(optarg);
			break;
		default:
			usage();
		}
	}
	if (real == ULONG_MAX)
		real = procs;
	if (optind != argc || !procs || procs > 1000000 || real > 1000000 || !rounds ||
	    rounds > MAX_ROUNDS)
		usage();
	/* Real children first, while this process is small: each fork copies less. */
	if (real)
		procfs((unsigned int)real);
	synthetic((unsigned int)procs);
	return 0;
}
