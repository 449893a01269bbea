#!/usr/bin/env bash
# `make bench`: what Gthulhu costs and buys, as printed figures (never pass/fail).
# Boots one test kernel in QEMU and, in that one boot, measures
#   1. hackbench (-g 4 -l 200) under the kernel's default scheduler and under Gthulhu,
#      alternating, REPS runs each: median times and their ratio (target <= 1.10);
#   2. Gthulhu's own CPU time as a share of busy CPU time under stress-ng --cpu 2
#      (target <= 5%).
# QEMU emulates the CPU in software: absolute times mean little, ratios within one boot
# are what to read. On real hardware with a sched_ext kernel: `make bench HOST=1`.
#
# Environment: BENCH_KERNEL (debian | lts612 | image; default debian), REPS (default 3),
# HOST=1 (run on this host instead; needs root and sched_ext).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${REPS:-3}
mkdir -p build/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$reps" >"$tmp/bench-reps"

if [ "${HOST:-0}" = 1 ]; then
	mkdir -p /opt/gthulhu/bin
	cp build/gthulhu tests/vm/guest-lib.sh "$tmp/bench-reps" /opt/gthulhu/bin/
	sh bench/guest-bench.sh | tee build/bench/last.txt
	exit 0
fi
kernel=${BENCH_KERNEL:-debian}
[ -f "$kernel" ] || kernel=$(scripts/kernel.sh "$kernel" | tail -n 1)
tests/vm/vm-run.sh --kernel "$kernel" --guest bench/guest-bench.sh --timeout 3600 \
	--log build/bench/console.log build/gthulhu tests/vm/guest-lib.sh "$tmp/bench-reps" >/dev/null
grep -ao 'BENCH .*' build/bench/console.log | tr -d '\r' | sed 's/^BENCH //' |
	tee build/bench/last.txt
