/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control plane: everything that changes how Gthulhu schedules while it runs, kept
 * off the scheduling loop. It owns the running configuration, the strategy store (config
 * file + API strategies, persisted) and the REST API server, and does reloads (SIGHUP) on
 * its own thread. It hands changes to the loop only through lock-free paths: the strategy
 * resolver's RCU snapshot and the loop's policy handoff.
 *
 *   SIGHUP -> loop -> control_request_reload() -> control thread: read file, validate,
 *             store -> resolver -> snapshot (RCU); knobs -> loop handoff, stats thread
 *   API    -> store / apply_config (same paths)
 */
#ifndef GTHULHU_CONTROL_H
#define GTHULHU_CONTROL_H

#include "config/config.h"
#include "loader.h"
#include "loop.h"

/*
 * Start with @cfg (already validated): load the API strategies from the state file, start
 * the resolver, the REST API (when enabled) and the reload thread. 0, or -1 with the
 * reason logged (a bad API setup or state file stops the start: nothing is attached yet).
 */
int control_start(const struct gthulhu_config *cfg, const char *config_path, const char *proc_root);
void control_stop(void);

/* The scheduler is attached with this loader and loop / is about to be torn down. */
void control_attached(struct loader *ld, struct sched_loop *loop);
void control_detached(void);

/* Ask for a reload of the config file; never blocks (the loop calls it on SIGHUP). */
void control_request_reload(void);

/* The scheduling loop's knobs in @cfg. */
struct policy_config control_policy_of(const struct gthulhu_config *cfg);

/* A copy of the running configuration. */
void control_running_config(struct gthulhu_config *out);

#endif /* GTHULHU_CONTROL_H */
