/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for src/strategy/proc_table.c, the resolver's process table, over the fixture
 * tree tests/unit/fixtures/proc-pods (see its README) and temporary copies of it that the
 * tests change: what a scan keeps and skips (exited mid-scan, zombies, non-pid entries),
 * stat parsing, threads whose comm differs from their process's (or is empty), the pod
 * of each process under several cgroup layouts, reading only what is wanted, refreshing
 * one process (cached comms, renames, pid reuse, exit) without a full scan, the bound on
 * threads, and the hash under many insertions and removals.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fixture_tree.h"
#include "strategy/proc_table.h"

#define PODS	"tests/unit/fixtures/proc-pods"
#define OLDPROC "tests/unit/fixtures/proc" /* no stat files: the fallback path */

#define UID_A "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define UID_B "6a3c1e52-7a8b-4c1d-9e2f-0123456789ab"
#define UID_C "9f8e7d6c-5b4a-4392-8a7b-6c5d4e3f2a1b"
#define UID_D "c0ffee00-1234-4abc-8def-00000000000d"
/* Container ids are 64 hex digits (k8s/cgroup_pod.c accepts nothing else). */
#define CID_NEW "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmp[PATH_MAX]; /* a private copy of PODS, for tests that change files */

static void put_n(const char *rel, const char *data, size_t len)
{
	assert_int_equal(tree_write(tmp, rel, data, len), 0);
}

static void put(const char *rel, const char *text)
{
	put_n(rel, text, strlen(text));
}

static void mkdir_in(const char *rel)
{
	assert_int_equal(tree_mkdir(tmp, rel), 0);
}

static void rm_in(const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	tree_remove(path);
}

static int setup_copy(void **state)
{
	return tree_make(tmp, sizeof(tmp), "gthulhu-pt") || tree_copy(PODS, tmp) ? -1 : 0;
}

static int teardown_copy(void **state)
{
	return tree_remove(tmp);
}

static struct proc_table *scanned(const char *root, unsigned int wants)
{
	struct proc_table *t = proc_table_new(root, 0);

	assert_non_null(t);
	proc_table_set_wants(t, wants);
	assert_int_equal(proc_table_scan(t), 0);
	return t;
}

static void scan_keeps_live_processes_only(void **state)
{
	struct proc_table *t = scanned(PODS, 0);
	const int32_t live[] = {1000, 1100, 1200, 1300, 1400, 1500, 1550, 1600, 1650};
	const struct proc_entry *e;
	size_t cursor = 0, seen = 0;

	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		assert_non_null(proc_table_find(t, live[i]));
	/* Exited mid-scan (no files), a zombie, and "README"/"uptime" are not processes. */
	assert_null(proc_table_find(t, 1700));
	assert_null(proc_table_find(t, 1800));
	assert_int_equal(proc_table_count(t), 9);
	assert_int_equal(proc_table_threads(t), 13);
	while ((e = proc_table_next(t, &cursor)))
		seen++;
	assert_int_equal(seen, 9);
	proc_table_free(t);
}

static void stat_fields_and_thread_comms(void **state)
{
	struct proc_table *t = scanned(PODS, 0);
	const struct proc_entry *e = proc_table_find(t, 1100);

	assert_string_equal(e->comm, "nginx");
	assert_int_equal(e->ppid, 1000);
	assert_int_equal(e->start_time, 1100);
	assert_int_equal(e->nr_threads, 2);
	assert_string_equal(proc_entry_thread_comm(e, 1100), "nginx");
	/* A thread named differently from its process keeps its own name. */
	assert_string_equal(proc_entry_thread_comm(e, 1101), "nginx-worker");
	assert_null(proc_entry_thread_comm(e, 1102));

	e = proc_table_find(t, 1650); /* "(x) (y z)": the fields start after the last ')' */
	assert_string_equal(e->comm, "x) (y z");
	assert_int_equal(e->ppid, 1600);
	assert_int_equal(e->start_time, 1650);

	e = proc_table_find(t, 1300);
	assert_int_equal(e->nr_threads, 3);
	assert_int_equal(e->threads[0].tid, 1300); /* sorted */
	assert_string_equal(proc_entry_thread_comm(e, 1302), "bio_aof");
	proc_table_free(t);
}

static void fixtures_without_stat_still_work(void **state)
{
	struct proc_table *t = scanned(OLDPROC, PROC_WANT_CMDLINE | PROC_WANT_CGROUP);
	const struct proc_entry *e = proc_table_find(t, 100);

	assert_non_null(e);
	assert_string_equal(e->comm, "nginx"); /* from task/100/comm */
	assert_int_equal(e->ppid, 0);
	assert_int_equal(e->start_time, 0);
	assert_string_equal(proc_entry_thread_comm(e, 101), "nginx-worker");
	assert_string_equal(e->cmdline, "nginx -g daemon off;");
	assert_string_equal(e->cgroup, "/system.slice/nginx.service");
	assert_null(proc_table_find(t, 500)); /* a task/ directory without threads */
	assert_null(proc_table_find(t, 300)->cgroup);
	proc_table_free(t);
}

static void reads_only_what_is_wanted(void **state)
{
	struct proc_table *t = scanned(PODS, 0);
	const struct proc_entry *e = proc_table_find(t, 1100);

	assert_null(e->cmdline);
	assert_null(e->cgroup);
	assert_null(e->pod);
	proc_table_free(t);

	t = scanned(PODS, PROC_WANT_CMDLINE | PROC_WANT_CGROUP);
	e = proc_table_find(t, 1100);
	assert_string_equal(e->cmdline, "nginx -g daemon off;");
	assert_string_equal(e->cgroup,
			    "/kubepods/burstable/pod" UID_A
			    "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0001");
	assert_null(e->pod);
	assert_null(proc_table_find(t, 1500)->cgroup); /* cgroup v1 lines only */
	proc_table_free(t);
}

static void pods_under_every_layout(void **state)
{
	struct proc_table *t = scanned(PODS, PROC_WANT_POD);
	const struct proc_entry *e;

	e = proc_table_find(t, 1100); /* cgroupfs, burstable */
	assert_non_null(e->pod);
	assert_string_equal(e->pod->pod_uid, UID_A);
	assert_string_equal(e->pod->container_id,
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0001");
	e = proc_table_find(t, 1200); /* the pod's own cgroup */
	assert_string_equal(e->pod->pod_uid, UID_A);
	assert_string_equal(e->pod->container_id, "");
	e = proc_table_find(t, 1300); /* systemd, guaranteed, containerd */
	assert_string_equal(e->pod->pod_uid, UID_B);
	assert_string_equal(e->pod->container_id,
			    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0002");
	e = proc_table_find(t, 1400); /* systemd, burstable, cri-o */
	assert_string_equal(e->pod->pod_uid, UID_C);
	e = proc_table_find(t, 1500); /* cgroup v1 only */
	assert_string_equal(e->pod->pod_uid, UID_D);
	assert_null(proc_table_find(t, 1000)->pod);
	assert_null(proc_table_find(t, 1600)->pod);
	proc_table_free(t);
}

static void refresh_reads_new_threads_and_keeps_known_comms(void **state)
{
	struct proc_table *t = scanned(tmp, PROC_WANT_CMDLINE);
	const struct proc_entry *e;

	/* A new thread and a rename nobody told the table about. */
	mkdir_in("1100/task/1102");
	put("1100/task/1102/comm", "nginx-cache\n");
	put("1100/task/1101/comm", "renamed\n");
	put("1100/stat", "1100 (nginx) S 1000 1100 1100 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 "
			 "1100 1000000 100 18446744073709551615\n");
	assert_int_equal(proc_table_refresh(t, 1100, PROC_REFRESH_THREADS), 1);
	e = proc_table_find(t, 1100);
	assert_int_equal(e->nr_threads, 3);
	assert_string_equal(proc_entry_thread_comm(e, 1102), "nginx-cache");
	/* "Threads came or went" reads new threads only: the rename is not seen... */
	assert_string_equal(proc_entry_thread_comm(e, 1101), "nginx-worker");
	/* ...until the rename itself is reported. */
	assert_int_equal(proc_table_refresh_thread(t, 1100, 1101), 1);
	assert_string_equal(proc_entry_thread_comm(proc_table_find(t, 1100), 1101), "renamed");
	assert_int_equal(proc_table_threads(t), 14);

	/* A thread gone. */
	rm_in("1100/task/1102");
	assert_int_equal(proc_table_refresh(t, 1100, PROC_REFRESH_THREADS), 1);
	assert_int_equal(proc_table_find(t, 1100)->nr_threads, 2);
	assert_int_equal(proc_table_threads(t), 13);
	proc_table_free(t);
}

static void a_thread_may_have_an_empty_name(void **state)
{
	struct proc_table *t;

	/* prctl(PR_SET_NAME, "") is allowed: an empty comm is a name, not an exit. */
	put("1300/task/1302/comm", "\n");
	t = scanned(tmp, 0);
	assert_int_equal(proc_table_find(t, 1300)->nr_threads, 3);
	assert_string_equal(proc_entry_thread_comm(proc_table_find(t, 1300), 1302), "");
	proc_table_free(t);
}

static void refresh_after_exec_without_a_full_scan(void **state)
{
	struct proc_table *t = scanned(tmp, PROC_WANT_CMDLINE);
	const struct proc_entry *e;

	/* 1400 exec'ed; meanwhile 2000 appeared, which only a full scan would find. */
	put("1400/stat", "1400 (uvicorn) S 1000 1400 1400 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			 "1400 1000000 100 18446744073709551615\n");
	put("1400/task/1400/comm", "uvicorn\n");
	put_n("1400/cmdline", "uvicorn\0main:app\0", 17);
	mkdir_in("2000");
	mkdir_in("2000/task");
	mkdir_in("2000/task/2000");
	put("2000/task/2000/comm", "newcomer\n");
	assert_int_equal(proc_table_refresh(t, 1400, PROC_REFRESH_ALL), 1);
	e = proc_table_find(t, 1400);
	assert_string_equal(e->comm, "uvicorn");
	assert_string_equal(proc_entry_thread_comm(e, 1400), "uvicorn");
	assert_string_equal(e->cmdline, "uvicorn main:app");
	assert_null(proc_table_find(t, 2000));
	assert_int_equal(proc_table_count(t), 9);

	/* The event for 2000 adds it alone. */
	assert_int_equal(proc_table_refresh(t, 2000, PROC_REFRESH_ALL), 1);
	assert_string_equal(proc_table_find(t, 2000)->comm, "newcomer");
	assert_int_equal(proc_table_count(t), 10);
	proc_table_free(t);
}

static void pid_reuse_reads_everything_again(void **state)
{
	struct proc_table *t = scanned(tmp, PROC_WANT_CMDLINE | PROC_WANT_POD);
	const struct proc_entry *e;

	/* 1300 exited and a host process took its pid: another start time. */
	rm_in("1300/task/1301");
	rm_in("1300/task/1302");
	put("1300/stat", "1300 (bash) S 1600 1300 1300 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			 "99999 1000000 100 18446744073709551615\n");
	put("1300/task/1300/comm", "bash\n");
	put("1300/cmdline", "-bash\0");
	put("1300/cgroup", "0::/user.slice\n");
	/* Only "a thread went" was reported, yet nothing of the old process may stay. */
	assert_int_equal(proc_table_refresh(t, 1300, PROC_REFRESH_THREADS), 1);
	e = proc_table_find(t, 1300);
	assert_string_equal(e->comm, "bash");
	assert_int_equal(e->ppid, 1600);
	assert_int_equal(e->start_time, 99999);
	assert_int_equal(e->nr_threads, 1);
	assert_string_equal(e->cmdline, "-bash");
	assert_null(e->pod);
	proc_table_free(t);
}

static void exits_and_vanished_processes_leave(void **state)
{
	struct proc_table *t = scanned(tmp, 0);

	/* Reported exited while its files are still there (not yet reaped): gone. */
	assert_int_equal(proc_table_refresh(t, 1600, PROC_REFRESH_EXITED), 0);
	assert_null(proc_table_find(t, 1600));
	/* Files gone: gone, whatever was reported. */
	rm_in("1400");
	assert_int_equal(proc_table_refresh(t, 1400, PROC_REFRESH_THREADS), 0);
	assert_null(proc_table_find(t, 1400));
	/* A zombie stays out. */
	assert_int_equal(proc_table_refresh(t, 1800, PROC_REFRESH_ALL), 0);
	/* Never seen, never there. */
	assert_int_equal(proc_table_refresh(t, 4242, PROC_REFRESH_ALL), 0);
	assert_int_equal(proc_table_count(t), 7);
	assert_int_equal(proc_table_threads(t), 11);

	/* A full scan drops what vanished without a word. */
	rm_in("1100");
	assert_int_equal(proc_table_scan(t), 0);
	assert_null(proc_table_find(t, 1100));
	assert_non_null(proc_table_find(t, 1600)); /* its files were still there */
	assert_int_equal(proc_table_count(t), 7);
	proc_table_remove(t, 1600);
	assert_null(proc_table_find(t, 1600));
	proc_table_free(t);
}

static void cgroup_moves_are_seen(void **state)
{
	struct proc_table *t = scanned(tmp, PROC_WANT_CGROUP | PROC_WANT_POD);
	const struct proc_entry *e;

	/* runc places a process in its container after it started. */
	put("1600/cgroup", "0::/kubepods/burstable/pod" UID_A "/" CID_NEW "\n");
	assert_int_equal(proc_table_refresh(t, 1600, PROC_REFRESH_THREADS), 1);
	assert_null(proc_table_find(t, 1600)->pod); /* not asked to look */
	assert_int_equal(proc_table_refresh(t, 1600, PROC_REFRESH_CGROUP), 1);
	e = proc_table_find(t, 1600);
	assert_non_null(e->pod);
	assert_string_equal(e->pod->pod_uid, UID_A);
	assert_string_equal(e->pod->container_id, CID_NEW);
	assert_string_equal(e->cgroup, "/kubepods/burstable/pod" UID_A "/" CID_NEW);
	proc_table_free(t);
}

static void bounded_by_max_threads(void **state)
{
	struct proc_table *t = proc_table_new(PODS, 4);
	struct proc_table_stats st;

	assert_non_null(t);
	assert_int_equal(proc_table_scan(t), 0);
	proc_table_stats(t, &st);
	assert_int_equal(st.threads, 4);
	assert_int_equal(proc_table_threads(t), 4);
	assert_int_equal(st.skipped_threads + st.threads, 13);
	assert_true(st.skipped_processes > 0);
	assert_true(st.bytes > 0);
	proc_table_free(t);
}

/* Many processes, half removed in a scattered order: every lookup must still land. */
static void hash_survives_many_changes(void **state)
{
	enum { N = 3000 };
	struct proc_table *t;
	char rel[64];

	rm_in("");
	assert_int_equal(mkdir(tmp, 0755), 0);
	for (int i = 1; i <= N; i++) {
		snprintf(rel, sizeof(rel), "%d", i * 7);
		mkdir_in(rel);
		snprintf(rel, sizeof(rel), "%d/task", i * 7);
		mkdir_in(rel);
		snprintf(rel, sizeof(rel), "%d/task/%d", i * 7, i * 7);
		mkdir_in(rel);
		snprintf(rel, sizeof(rel), "%d/task/%d/comm", i * 7, i * 7);
		put(rel, "p\n");
	}
	t = scanned(tmp, 0);
	assert_int_equal(proc_table_count(t), N);
	for (int i = 1; i <= N; i += 2)
		proc_table_remove(t, ((i * 37) % N + 1) * 7);
	for (int i = 1; i <= N; i++) {
		bool removed = false;

		for (int j = 1; j <= N && !removed; j += 2)
			removed = ((j * 37) % N + 1) == i;
		assert_true((proc_table_find(t, i * 7) == NULL) == removed);
	}
	assert_int_equal(proc_table_count(t), N / 2);
	proc_table_clear(t);
	assert_int_equal(proc_table_count(t), 0);
	assert_null(proc_table_find(t, 7));
	proc_table_free(t);
}

static void missing_root_is_an_error_and_empty(void **state)
{
	struct proc_table *t = proc_table_new("/nonexistent/proc", 0);

	assert_int_equal(proc_table_scan(t), -ENOENT);
	assert_int_equal(proc_table_count(t), 0);
	proc_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(scan_keeps_live_processes_only),
	    cmocka_unit_test(stat_fields_and_thread_comms),
	    cmocka_unit_test(fixtures_without_stat_still_work),
	    cmocka_unit_test(reads_only_what_is_wanted),
	    cmocka_unit_test(pods_under_every_layout),
	    cmocka_unit_test_setup_teardown(refresh_reads_new_threads_and_keeps_known_comms,
					    setup_copy, teardown_copy),
	    cmocka_unit_test_setup_teardown(a_thread_may_have_an_empty_name, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(refresh_after_exec_without_a_full_scan, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(pid_reuse_reads_everything_again, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(exits_and_vanished_processes_leave, setup_copy,
					    teardown_copy),
	    cmocka_unit_test_setup_teardown(cgroup_moves_are_seen, setup_copy, teardown_copy),
	    cmocka_unit_test(bounded_by_max_threads),
	    cmocka_unit_test_setup_teardown(hash_survives_many_changes, setup_copy, teardown_copy),
	    cmocka_unit_test(missing_root_is_an_error_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
