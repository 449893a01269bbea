/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF half's counters (struct gthulhu_counters in bpf/intf.h) described once: name,
 * meaning, and whether it is a level or a running total. The stats log record, the API's
 * JSON metrics and Prometheus /metrics all read this table, so a counter is named and
 * explained the same everywhere.
 */
#ifndef GTHULHU_COUNTERS_H
#define GTHULHU_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/intf.h"

struct counter_desc {
	const char *name; /* as users of the original know it */
	const char *help;
	size_t offset; /* in struct gthulhu_counters */
	bool gauge;    /* a level now, not a running total */
};

extern const struct counter_desc counter_descs[];
extern const size_t nr_counter_descs;

/* One counter's current value (a relaxed atomic read: BPF updates them concurrently). */
uint64_t counter_read(const struct gthulhu_counters *c, const struct counter_desc *d);

#endif /* GTHULHU_COUNTERS_H */
