/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process event source (see proc_events.h): loads src/bpf/proc_events.bpf.c (its own
 * skeleton, independent of the scheduler's), attaches its tracepoints and runs one thread
 * that drains the ring buffer into strategy_resolver_note(). The resolver does the rest:
 * it coalesces events, re-reads only the processes named, and rescans everything when
 * told records were lost.
 *
 * When anything here fails (no BTF, an old kernel, no permission), the resolver is never
 * told events are active and keeps rescanning /proc every interval, as before; the reason
 * is logged. If the thread dies later, the resolver is told to go back to rescans.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "log/log.h"
#include "proc_events.h"
#include "proc_events.skel.h"
#include "strategy/strategy.h"
#include "thread.h"

/* How long one poll may sleep: the bound on how long proc_events_stop() waits. */
#define POLL_MS 100

/* The record of proc_events.bpf.c; every record's size is checked against it. */
struct proc_rec {
	uint32_t kind; /* enum strategy_proc_event */
	int32_t pid;
	int32_t tgid;
};

static struct {
	pthread_mutex_t lock; /* start/stop */
	struct proc_events_bpf *skel;
	struct ring_buffer *rb;
	pthread_t thread;
	bool running;
	bool stop;	 /* atomic: read by the thread */
	bool active;	 /* atomic */
	uint64_t events; /* atomic */
	uint64_t lost;	 /* atomic: as last read from the BPF side */
	uint64_t bad;	 /* records of an unexpected size or kind */
} pe = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int on_record(void *ctx, void *data, size_t size)
{
	const struct proc_rec *r = data;

	if (size != sizeof(*r) || r->kind < STRATEGY_EV_FORK || r->kind > STRATEGY_EV_MAX) {
		/* A mismatched BPF object: say so once, and rescan rather than trust it. */
		if (__atomic_fetch_add(&pe.bad, 1, __ATOMIC_RELAXED) == 0)
			log_msg(LOG_WARN, "process events: unexpected record (%zu bytes)", size);
		strategy_resolver_resync();
		return 0;
	}
	strategy_resolver_note((enum strategy_proc_event)r->kind, r->pid, r->tgid);
	__atomic_fetch_add(&pe.events, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Records the kernel could not queue: the table may be missing anything, rescan. */
static void check_lost(void)
{
	uint64_t lost = __atomic_load_n(&pe.skel->bss->lost, __ATOMIC_RELAXED);
	uint64_t seen = __atomic_load_n(&pe.lost, __ATOMIC_RELAXED);

	if (lost == seen)
		return;
	__atomic_store_n(&pe.lost, lost, __ATOMIC_RELAXED);
	strategy_resolver_resync();
	log_msg(LOG_DEBUG, "process events: %llu lost, rescanning /proc",
		(unsigned long long)(lost - seen));
}

static void *consume_main(void *arg)
{
	int err = 0;

	while (!__atomic_load_n(&pe.stop, __ATOMIC_ACQUIRE)) {
		int n = ring_buffer__poll(pe.rb, POLL_MS);

		if (n < 0 && n != -EINTR) {
			err = n;
			break;
		}
		check_lost();
	}
	if (err) {
		__atomic_store_n(&pe.active, false, __ATOMIC_RELAXED);
		strategy_resolver_events(false);
		log_msg(LOG_WARN,
			"process events stopped (%s): the strategy resolver rescans /proc",
			strerror(-err));
	}
	return NULL;
}

/*
 * Tracepoints this kernel does not have: the essential ones (start, exec, exit) fail the
 * start; without the others, comm changes and cgroup moves wait for the periodic rescan.
 */
static int check_tracepoints(struct proc_events_bpf *skel)
{
	const struct {
		struct bpf_program *prog;
		const char *name;
		bool essential;
	} tps[] = {
	    {skel->progs.gthulhu_pe_fork, "sched_process_fork", true},
	    {skel->progs.gthulhu_pe_exec, "sched_process_exec", true},
	    {skel->progs.gthulhu_pe_exit, "sched_process_exit", true},
	    {skel->progs.gthulhu_pe_rename, "task_rename", false},
	    {skel->progs.gthulhu_pe_cgroup, "cgroup_attach_task", false},
	};

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		int id = libbpf_find_vmlinux_btf_id(tps[i].name, BPF_TRACE_RAW_TP);

		if (id > 0)
			continue;
		if (tps[i].essential) {
			log_msg(LOG_INFO,
				"process events: the kernel's BTF has no tracepoint %s (%s)",
				tps[i].name, strerror(id ? -id : ENOENT));
			return id ? id : -ENOENT;
		}
		log_msg(LOG_INFO,
			"process events: no tracepoint %s here; its changes wait for "
			"the periodic rescan",
			tps[i].name);
		bpf_program__set_autoload(tps[i].prog, false);
	}
	return 0;
}

static void teardown(void)
{
	ring_buffer__free(pe.rb);
	pe.rb = NULL;
	proc_events_bpf__destroy(pe.skel);
	pe.skel = NULL;
}

int proc_events_start(void)
{
	int err;

	pthread_mutex_lock(&pe.lock);
	if (pe.running) {
		pthread_mutex_unlock(&pe.lock);
		return -EALREADY;
	}
	pe.skel = proc_events_bpf__open();
	if (!pe.skel) {
		err = -errno;
		log_msg(LOG_INFO, "process events: cannot open the BPF object: %s", strerror(-err));
		goto out;
	}
	err = check_tracepoints(pe.skel);
	if (err)
		goto fail;
	err = proc_events_bpf__load(pe.skel);
	if (err) {
		log_msg(LOG_INFO, "process events: the kernel refused the BPF object: %s",
			strerror(-err));
		goto fail;
	}
	err = proc_events_bpf__attach(pe.skel);
	if (err) {
		log_msg(LOG_INFO, "process events: cannot attach the tracepoints: %s",
			strerror(-err));
		goto fail;
	}
	pe.rb = ring_buffer__new(bpf_map__fd(pe.skel->maps.proc_events), on_record, NULL, NULL);
	if (!pe.rb) {
		err = -errno;
		log_msg(LOG_INFO, "process events: cannot map the ring buffer: %s", strerror(-err));
		goto fail;
	}
	__atomic_store_n(&pe.stop, false, __ATOMIC_RELAXED);
	__atomic_store_n(&pe.lost, 0, __ATOMIC_RELAXED);
	err = -thread_start(&pe.thread, "gt-proc-events", consume_main, NULL);
	if (err)
		goto fail;
	pe.running = true;
	__atomic_store_n(&pe.active, true, __ATOMIC_RELAXED);
	/*
	 * Attached first, told second: the resolver's rescan on this news covers whatever
	 * happened before the tracepoints were there; everything after is in the ring.
	 */
	strategy_resolver_events(true);
	log_msg(LOG_INFO, "process events: BPF tracepoints attached, the strategy resolver "
			  "follows processes as they start, exec and exit");
	goto out;
fail:
	teardown();
out:
	pthread_mutex_unlock(&pe.lock);
	return err;
}

void proc_events_stop(void)
{
	pthread_mutex_lock(&pe.lock);
	if (pe.running) {
		__atomic_store_n(&pe.stop, true, __ATOMIC_RELEASE);
		pthread_join(pe.thread, NULL);
		pe.running = false;
		if (__atomic_exchange_n(&pe.active, false, __ATOMIC_RELAXED))
			strategy_resolver_events(false);
		teardown();
	}
	pthread_mutex_unlock(&pe.lock);
}

void proc_events_stats(struct proc_events_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->active = __atomic_load_n(&pe.active, __ATOMIC_RELAXED);
	out->events = __atomic_load_n(&pe.events, __ATOMIC_RELAXED);
	out->lost = __atomic_load_n(&pe.lost, __ATOMIC_RELAXED);
}
