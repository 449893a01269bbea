/* SPDX-License-Identifier: GPL-2.0 */
/* Placeholder until the BPF event source lands: the resolver keeps periodic scans. */
#include <errno.h>
#include <string.h>

#include "proc_events.h"

int proc_events_start(void)
{
	return -ENOTSUP;
}

void proc_events_stop(void)
{
}

void proc_events_stats(struct proc_events_stats *out)
{
	memset(out, 0, sizeof(*out));
}
