#!/usr/bin/env bash
# Runs the VM suite on each test kernel, with the same build/gthulhu binary: the newest
# Debian sched_ext kernel and a 6.12 LTS kernel (scripts/kernel.sh fetches or builds them
# and caches them). Each kernel boots tests/vm/guest-suite.sh on 2 CPUs; the Debian kernel
# also boots tests/vm/guest-topology.sh on 4 CPUs shaped as 2 NUMA nodes of SMT cores. The
# 6.12 test kernel is built from tinyconfig, which leaves NR_CPUS at 2, so it cannot; the
# topology code reads sysfs files whose format 6.12 and 7.x share.
#
# usage: tests/vm/run.sh [--kernel debian|lts612|IMAGE]...   (default: both)
# Every result line names the kernel it ran on; the last line totals them all.
set -euo pipefail
cd "$(dirname "$0")/../.."

kernels=()
while (($#)); do
	case "$1" in
	--kernel)
		case "${2:?--kernel needs a value}" in
		7 | 7.x | debian) kernels+=(debian) ;;
		6.12 | lts | lts612) kernels+=(lts612) ;;
		*) kernels+=("$2") ;;
		esac
		shift 2
		;;
	*)
		echo "usage: $0 [--kernel debian|lts612|IMAGE]..." >&2
		exit 2
		;;
	esac
done
((${#kernels[@]})) || kernels=(debian lts612)

for b in build/gthulhu build/gthulhuctl; do
	[ -x $b ] || { echo "run.sh: $b is missing: run make first" >&2; exit 2; }
done
mkdir -p build/vm
total_pass=0 total_fail=0 failed_kernels=()
for k in "${kernels[@]}"; do
	if [ -f "$k" ]; then
		image=$k
	else
		image=$(scripts/kernel.sh "$k" | tail -n 1)
	fi
	name=$(basename "$k")
	parts=(suite)
	[ "$k" = debian ] && parts+=(topology)
	for part in "${parts[@]}"; do
		log=build/vm/$part-$name.log
		echo "=== VM $part on kernel '$name' ($image)"
		rc=0
		if [ "$part" = suite ]; then
			tests/vm/vm-run.sh --kernel "$image" --guest tests/vm/guest-suite.sh --timeout 1200 \
				--log "$log" build/gthulhu build/gthulhuctl tests/vm/guest-lib.sh \
				tests/vm/guest-k8s.sh build/tests/fake-apiserver build/tests/waker \
				"$(command -v curl)" || rc=$?
		else
			tests/vm/vm-run.sh --kernel "$image" --guest tests/vm/guest-topology.sh --timeout 600 \
				--smp 4 --smt-numa --log "$log" build/gthulhu tests/vm/guest-lib.sh || rc=$?
		fi
		# The last summary line; empty (a failure, below) when the guest never got that far.
		line=$(awk '/^[0-9]+ passed, [0-9]+ failed/ { l = $0 } END { print l }' "$log")
		if [ -z "$line" ]; then
			echo "=== kernel '$name': the $part did not finish (vm-run rc=$rc); see $log"
			total_fail=$((total_fail + 1))
			failed_kernels+=("$name ($part)")
			continue
		fi
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed*}
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
			failed_kernels+=("$name ($part)")
		fi
		echo "=== kernel '$name', $part: $line"
	done
done
if ((${#failed_kernels[@]})); then
	echo "VM suite failed on: ${failed_kernels[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ ${#failed_kernels[@]} -eq 0 ]
