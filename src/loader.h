/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loading and attaching the BPF half: open the skeleton, set its knobs from the
 * configuration (the live ones again whenever they change), choose ops flags the running
 * kernel knows, load (the verifier runs here), attach the struct_ops link (and, on 6.19+,
 * the sched_switch hook that replaces ops.cpu_release()); and, when the kernel ends the
 * scheduler, read why.
 */
#ifndef GTHULHU_LOADER_H
#define GTHULHU_LOADER_H

#include <stdbool.h>

#include "config/config.h"

struct gthulhu_bpf; /* the generated skeleton */
struct bpf_link;

struct loader {
	struct gthulhu_bpf *skel;
	struct bpf_link *link;
	struct bpf_link *switch_link; /* 6.19+: RT takeovers seen at sched_switch, or NULL */
};

/* Process exit codes. */
enum gthulhu_exit {
	EXIT_OK = 0,
	EXIT_ERROR = 1,	       /* anything not listed below */
	EXIT_USAGE = 2,	       /* bad arguments or configuration: nothing was attached */
	EXIT_NO_SCHED_EXT = 3, /* the kernel has no sched_ext */
	EXIT_NOT_ROOT = 4,     /* not allowed to load a scheduler */
	EXIT_KERNEL_ENDED = 5, /* the kernel ended the scheduler (see the exit record) */
};

/* Whether this kernel offers sched_ext at all. */
bool loader_kernel_has_sched_ext(void);

/* Open, configure, load and attach. 0 or a negative errno (logged). */
int loader_attach(struct loader *ld, const struct gthulhu_config *cfg);
void loader_detach(struct loader *ld);
/*
 * Hand the live knobs of @cfg (slices, debug) to the BPF half, before load or while it
 * runs: the kernel half's copy of what the policy uses, so they never disagree.
 */
void loader_set_live_knobs(struct gthulhu_bpf *skel, const struct gthulhu_config *cfg);

/* The kernel ended the scheduler (exit info recorded by ops.exit). */
bool loader_kernel_exited(const struct loader *ld);
/* ... and asked user space to attach again (e.g. after CPU hotplug). */
bool loader_restart_requested(const struct loader *ld);
/* Log the kernel's exit record: kind, code, reason, message, and the dump at debug. */
void loader_log_exit(const struct loader *ld);

#endif /* GTHULHU_LOADER_H */
