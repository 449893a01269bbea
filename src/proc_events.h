/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process events (start, exec, comm change, cgroup move, exit) for the strategy resolver,
 * so its process table stays current without rescanning /proc. BPF tracepoints
 * (src/bpf/proc_events.bpf.c) feed a ring buffer that a thread of its own drains into
 * strategy_resolver_note(); never the scheduling loop's thread. Start it after the
 * resolver (strategy_resolver_start), stop it before.
 */
#ifndef GTHULHU_PROC_EVENTS_H
#define GTHULHU_PROC_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

struct proc_events_stats {
	bool active;	 /* events flow; false: the resolver rescans periodically instead */
	uint64_t events; /* events handed to the resolver */
	uint64_t lost;	 /* events the kernel dropped (each loss forces a full resync) */
};

/* Start feeding the resolver. 0, or -errno (the resolver then keeps periodic full scans). */
int proc_events_start(void);
void proc_events_stop(void);
void proc_events_stats(struct proc_events_stats *out);

#endif /* GTHULHU_PROC_EVENTS_H */
