/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process events for the strategy resolver: a small BPF object of its own (skeleton
 * proc_events_bpf), loaded by src/proc_events.c whether or not the scheduler is attached.
 *
 * BTF tracepoints (tp_btf) on process start (fork, for processes and threads), exec,
 * exit, comm changes and cgroup moves each put a 12-byte record {kind, pid, tgid} in a
 * ring buffer; user space re-reads only the process named (src/strategy/resolver.c), so
 * nothing more is needed here. When the ring is full the record is counted in `lost`
 * instead, and user space answers any loss with a full rescan of /proc.
 *
 * `wanted` is the resolver's "notes are wanted" (strategy_resolver_mirror_tracking()):
 * while no rule and no pod tracking needs the process table, no record is made, and the
 * reader, which sleeps until a record comes, is never woken.
 *
 * One binary for 6.12 through 7.x: every tracepoint used exists with the same leading
 * arguments on all of them (sched_process_exit gained a trailing group_dead in 6.16; it
 * is not read, the exit of the whole process is told from signal->live instead), and
 * task_struct fields are read with CO-RE relocations against vmlinux.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char _license[] SEC("license") = "GPL";

/* The values of enum strategy_proc_event (src/strategy/strategy.h): keep them in step. */
enum gthulhu_proc_ev {
	GTHULHU_PEV_FORK = 1,
	GTHULHU_PEV_THREAD = 2,
	GTHULHU_PEV_EXEC = 3,
	GTHULHU_PEV_EXIT = 4,
	GTHULHU_PEV_THREAD_EXIT = 5,
	GTHULHU_PEV_RENAME = 6,
	GTHULHU_PEV_CGROUP = 7,
};

/* What user space reads (src/proc_events.c checks the size of every record). */
struct gthulhu_proc_rec {
	u32 kind;
	s32 pid;  /* the thread */
	s32 tgid; /* its process */
};

/*
 * 1 MiB: 65 536 records of 16 bytes with the ring's header, room for a fork storm of some
 * 15 000 processes (fork, exec, rename, exit each) while user space is descheduled.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} proc_events SEC(".maps");

/* Records dropped because the ring was full. Read by user space; only ever grows. */
__u64 lost = 0;
/* Written by user space: make records at all. */
bool wanted = false;

static __always_inline void emit(u32 kind, struct task_struct *task)
{
	struct gthulhu_proc_rec *r;

	if (!wanted)
		return;
	r = bpf_ringbuf_reserve(&proc_events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return;
	}
	r->kind = kind;
	r->pid = BPF_CORE_READ(task, pid);
	r->tgid = BPF_CORE_READ(task, tgid);
	bpf_ringbuf_submit(r, 0);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(gthulhu_pe_fork, struct task_struct *parent, struct task_struct *child)
{
	/* A thread shares its creator's tgid; a new process leads its own group. */
	emit(BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid) ? GTHULHU_PEV_FORK
								     : GTHULHU_PEV_THREAD,
	     child);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gthulhu_pe_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	emit(GTHULHU_PEV_EXEC, task);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(gthulhu_pe_exit, struct task_struct *task)
{
	/*
	 * do_exit() drops signal->live before this tracepoint: 0 means every thread of the
	 * process is exiting, and the process is gone but for its zombie. (Two threads
	 * exiting at once may both see 0: user space takes the second as a no-op.)
	 */
	int live = BPF_CORE_READ(task, signal, live.counter);

	emit(live == 0 ? GTHULHU_PEV_EXIT : GTHULHU_PEV_THREAD_EXIT, task);
	return 0;
}

SEC("tp_btf/task_rename")
int BPF_PROG(gthulhu_pe_rename, struct task_struct *task, const char *comm)
{
	emit(GTHULHU_PEV_RENAME, task);
	return 0;
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(gthulhu_pe_cgroup, struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	emit(GTHULHU_PEV_CGROUP, task);
	return 0;
}
