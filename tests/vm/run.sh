#!/usr/bin/env bash
# Runs the VM suite (tests/vm/guest-suite.sh) on each test kernel, one QEMU boot per
# kernel, with the same build/gthulhu binary: the newest Debian sched_ext kernel and a
# 6.12 LTS kernel (scripts/kernel.sh fetches or builds them and caches them).
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
	log=build/vm/suite-$name.log
	echo "=== VM suite on kernel '$name' ($image)"
	rc=0
	tests/vm/vm-run.sh --kernel "$image" --guest tests/vm/guest-suite.sh --timeout 1200 \
		--log "$log" build/gthulhu build/gthulhuctl tests/vm/guest-lib.sh \
		tests/vm/guest-k8s.sh build/tests/fake-apiserver "$(command -v curl)" || rc=$?
	# The suite's last summary line; empty (a failure, below) when it never got that far.
	line=$(awk '/^[0-9]+ passed, [0-9]+ failed/ { l = $0 } END { print l }' "$log")
	if [ -z "$line" ]; then
		echo "=== kernel '$name': the suite did not finish (vm-run rc=$rc); see $log"
		total_fail=$((total_fail + 1))
		failed_kernels+=("$name")
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		failed_kernels+=("$name")
	fi
	echo "=== kernel '$name': $line"
done
if ((${#failed_kernels[@]})); then
	echo "VM suite failed on: ${failed_kernels[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ ${#failed_kernels[@]} -eq 0 ]
