/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The process event source (see proc_events.h): loads src/bpf/proc_events.bpf.c (its own
 * skeleton, independent of the scheduler's), attaches its tracepoints and runs one thread
 * that drains the ring buffer into strategy_resolver_note(). The resolver does the rest:
 * it coalesces events, re-reads only the processes named, and rescans everything when
 * told records were lost.
 *
 * The thread sleeps until a record comes (or proc_events_stop() rings its eventfd): no
 * timed polling, and while the resolver wants no events (no rule needs the process table)
 * the BPF side makes none (its `wanted`, mirrored from the resolver), so an idle daemon
 * never wakes it. After a wake-up it waits BATCH_MS before looking again: a burst of
 * forks then costs a wake-up per BATCH_MS, not one per fork, and the resolver coalesces
 * events for STRATEGY_COALESCE_MS anyway.
 *
 * When anything here fails (no BTF, an old kernel, no permission), the resolver is never
 * told events are active and keeps rescanning /proc every interval, as before; the reason
 * is logged. If the thread dies later, the resolver is told to go back to rescans.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log/log.h"
#include "proc_events.h"
#include "proc_events.skel.h"
#include "strategy/strategy.h"
#include "thread.h"

/* The least time between two looks at the ring while events flow. */
#define BATCH_MS 10

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
	int epfd;    /* the ring and stop_fd */
	int stop_fd; /* eventfd: proc_events_stop() wakes the thread */
	pthread_t thread;
	bool running;
	bool stop;	 /* atomic: read by the thread */
	bool active;	 /* atomic */
	uint64_t events; /* atomic */
	uint64_t lost;	 /* atomic: as last read from the BPF side */
	uint64_t bad;	 /* records of an unexpected size or kind */
} pe = {.lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .stop_fd = -1};

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
	const struct timespec batch = {.tv_nsec = BATCH_MS * 1000000L};
	struct epoll_event events[2];
	int err = 0;

	while (!__atomic_load_n(&pe.stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(pe.epfd, events, 2, -1);

		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		n = ring_buffer__consume(pe.rb);
		if (n < 0 && n != -EINTR) {
			err = n;
			break;
		}
		/* Lost records mean a full ring, which wakes this thread: no timer needed. */
		check_lost();
		if (n > 0)
			nanosleep(&batch, NULL);
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
	strategy_resolver_mirror_tracking(NULL);
	if (pe.epfd >= 0)
		close(pe.epfd);
	if (pe.stop_fd >= 0)
		close(pe.stop_fd);
	pe.epfd = pe.stop_fd = -1;
	ring_buffer__free(pe.rb);
	pe.rb = NULL;
	proc_events_bpf__destroy(pe.skel);
	pe.skel = NULL;
}

/* The thread's epoll set: the ring's own epoll fd, and stop_fd. 0 or -errno. */
static int wait_set_up(void)
{
	struct epoll_event ev = {.events = EPOLLIN};

	pe.epfd = epoll_create1(EPOLL_CLOEXEC);
	pe.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pe.epfd < 0 || pe.stop_fd < 0 ||
	    epoll_ctl(pe.epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(pe.rb), &ev) ||
	    epoll_ctl(pe.epfd, EPOLL_CTL_ADD, pe.stop_fd, &ev)) {
		int err = -errno;

		log_msg(LOG_INFO, "process events: cannot set up the wait: %s", strerror(-err));
		return err;
	}
	return 0;
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
	err = wait_set_up();
	if (err)
		goto fail;
	strategy_resolver_mirror_tracking(&pe.skel->bss->wanted);
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
		uint64_t one = 1;

		__atomic_store_n(&pe.stop, true, __ATOMIC_RELEASE);
		if (write(pe.stop_fd, &one, sizeof(one)) != sizeof(one))
			log_msg(LOG_WARN, "process events: cannot wake the reader: %s",
				strerror(errno));
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
