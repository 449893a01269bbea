/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stats: a thread that logs one "stats" record every N seconds, and on SIGUSR1, with the BPF half's
 * counters (named as users of the original know them) and the loop's own figures.
 */
#ifndef GTHULHU_STATS_H
#define GTHULHU_STATS_H

#include "loader.h"
#include "loop.h"

void stats_log(const struct loader *ld, const struct sched_loop *l);
/* @interval_s 0: no periodic records, only those asked for. */
int stats_start(const struct loader *ld, const struct sched_loop *l, unsigned int interval_s);
/* Ask for one record now; safe from the scheduling loop (never blocks). */
void stats_request_dump(void);
/* Change the interval of a running stats thread (0: no periodic records); any thread. */
void stats_set_interval(unsigned int interval_s);
void stats_stop(void);

#endif /* GTHULHU_STATS_H */
