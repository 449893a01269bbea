#!/bin/sh
# Guest script for tests/vm/vm-run.sh that proves the VM runner works: runs inside
# the busybox initramfs, prints the kernel release and checks that the kernel has
# sched_ext with no scheduler attached. Exit 0 if /sys/kernel/sched_ext/state reads
# "disabled", 1 otherwise.
# usage: tests/vm/vm-run.sh --kernel "$(scripts/kernel.sh debian)" --guest tests/vm/smoke-guest.sh
set -eu

echo "smoke: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
state_file=/sys/kernel/sched_ext/state
if [ ! -r "$state_file" ]; then
	echo "smoke: FAIL: $state_file missing (kernel without CONFIG_SCHED_CLASS_EXT?)"
	exit 1
fi
state=$(cat "$state_file")
echo "smoke: sched_ext state: $state"
for t in stress-ng hackbench cyclictest taskset bpftool; do
	command -v "$t" >/dev/null 2>&1 || echo "smoke: note: $t not available in the guest"
done
if [ "$state" = disabled ]; then
	echo "smoke: PASS"
	exit 0
fi
echo "smoke: FAIL: expected 'disabled'"
exit 1
