#!/bin/sh
# The measuring half of `make bench` (see bench/run.sh). Prints lines starting "BENCH".
B=/opt/gthulhu/bin
. $B/guest-lib.sh
reps=$(cat $B/bench-reps)
LOG=/tmp/gthulhu-bench.log
printf 'stats:\n  interval_s: 0\n' >/tmp/bench.yaml

now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
hackbench_ms() {
	t0=$(now_ms)
	hackbench -g 4 -l 200 >/dev/null 2>&1 || echo "BENCH hackbench failed" >&2
	echo $(($(now_ms) - t0))
}
start() { start_gthulhu /tmp/bench.yaml $LOG; }
stop() {
	kill -TERM $GPID
	wait $GPID
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# Busy jiffies of all CPUs (user+nice+system+irq+softirq+steal) from /proc/stat.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
proc_cpu() { awk '{ print $14 + $15 }' /proc/$1/stat; }

echo "BENCH Gthulhu bench on $(uname -r), $(nproc) CPUs (QEMU TCG), $(date -u +%Y-%m-%dT%H:%MZ)"
dflt=""
gth=""
r=0
while [ $r -lt "$reps" ]; do
	dflt="$dflt $(hackbench_ms)"
	start
	gth="$gth $(hackbench_ms)"
	stop
	r=$((r + 1))
done
md=$(echo "$dflt" | median)
mg=$(echo "$gth" | median)
echo "BENCH hackbench -g 4 -l 200, ms per run"
echo "BENCH   default scheduler:$dflt  (median $md)"
echo "BENCH   gthulhu:          $gth  (median $mg)"
echo "BENCH   ratio gthulhu/default: $(awk -v a="$mg" -v b="$md" 'BEGIN { printf "%.2f", a / b }') (target <= 1.10)"

start
stress-ng --cpu 2 --timeout 20s --quiet &
S=$!
sleep 2
b0=$(busy)
c0=$(proc_cpu $GPID)
sleep 15
b1=$(busy)
c1=$(proc_cpu $GPID)
wait $S
stop
echo "BENCH overhead under stress-ng --cpu 2: gthulhu used $((c1 - c0)) of $((b1 - b0)) busy jiffies" \
	"= $(awk -v a=$((c1 - c0)) -v b=$((b1 - b0)) 'BEGIN { printf "%.2f", 100 * a / b }')% (target <= 5%)"
