/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generated skeleton with the types it needs: include this, not gthulhu.skel.h, in
 * user space. The skeleton names BPF globals' types (counters, cpu_state, exit_info) that
 * intf.h defines.
 */
#ifndef GTHULHU_BPF_SKEL_H
#define GTHULHU_BPF_SKEL_H

#include <linux/types.h>
#include <stdbool.h>

#include "bpf/intf.h"
#include "gthulhu.skel.h"

#endif /* GTHULHU_BPF_SKEL_H */
