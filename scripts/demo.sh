#!/usr/bin/env bash
# `make run`: Gthulhu scheduling a real machine.
#
# On a host whose kernel has sched_ext, this runs build/gthulhu directly (as root; Ctrl-C
# detaches it). Elsewhere, like on a host without sched_ext, it boots the newest Debian
# sched_ext kernel in QEMU with Gthulhu attached, runs a demo workload (CPU hogs, a
# fork/exec churn, a message-passing benchmark and a pinned task) and prints a line of live
# stats every 2 seconds, then detaches and shows the kernel's scheduler back in charge.
#
# Environment: DEMO_SECONDS (default 60), CONFIG (a YAML file, default the example),
# DEMO_KERNEL (debian | lts612 | an image path; default debian), HOST=1 to insist on the host.
set -euo pipefail
cd "$(dirname "$0")/.."

config=${CONFIG:-config/gthulhu.example.yaml}
seconds=${DEMO_SECONDS:-60}

if [ -d /sys/kernel/sched_ext ] || [ "${HOST:-0}" = 1 ]; then
	echo "demo: this kernel has sched_ext: running Gthulhu on the host (Ctrl-C to stop)"
	exec build/gthulhu --config "$config"
fi

kernel=${DEMO_KERNEL:-debian}
[ -f "$kernel" ] || kernel=$(scripts/kernel.sh "$kernel" | tail -n 1)
echo "demo: no sched_ext on this host ($(uname -r)): booting $kernel in QEMU (software"
echo "demo: emulation, so absolute speed is low); Gthulhu attaches and runs for ${seconds}s"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$config" "$tmp/gthulhu.yaml"
echo "$seconds" >"$tmp/demo-seconds"
exec tests/vm/vm-run.sh --kernel "$kernel" --guest scripts/demo-guest.sh \
	--timeout $((seconds + 300)) build/gthulhu build/gthulhuctl tests/vm/guest-lib.sh "$tmp/gthulhu.yaml" \
	"$tmp/demo-seconds"
