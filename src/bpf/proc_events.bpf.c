/* SPDX-License-Identifier: GPL-2.0 */
/* Placeholder: process events for the strategy resolver (being written). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";
