#!/bin/sh
# The guest half of `make run` (see scripts/demo.sh): attach, load, watch, detach.
B=/opt/gthulhu/bin
. $B/guest-lib.sh
LOG=/tmp/gthulhu.log
seconds=$(cat $B/demo-seconds)

field() { stats_field $LOG "$1"; }

echo "== kernel $(uname -r), $(nproc) CPUs; sched_ext state: $(cat /sys/kernel/sched_ext/state)"
# Two-second stats for the demo, whatever the example config says.
grep -v '^stats:' $B/gthulhu.yaml | grep -v '^  interval_s:' >/tmp/demo.yaml
printf 'stats:\n  interval_s: 2\n' >>/tmp/demo.yaml
start_gthulhu /tmp/demo.yaml $LOG
echo "== Gthulhu attached: state=$(cat /sys/kernel/sched_ext/state) ops=$(cat /sys/kernel/sched_ext/root/ops)"
grep '"msg":"attached"' $LOG

echo "== workload: 2 CPU hogs, fork churn, hackbench in a loop, a task pinned to CPU 0"
stress-ng --cpu 2 --fork 1 --timeout "${seconds}s" --quiet &
W1=$!
(end=$(($(date +%s) + seconds)); while [ "$(date +%s)" -lt $end ]; do hackbench -g 2 -l 50 >/dev/null 2>&1; done) &
W2=$!
taskset -c 0 sh -c "end=\$((\$(date +%s) + $seconds)); while [ \$(date +%s) -lt \$end ]; do :; done" &
W3=$!

# Through the REST API, as an operator would: the pinned task gets the highest priority.
echo "== gthulhuctl strategies add --pid $W3 --priority true"
$B/gthulhuctl strategies add --id pinned --pid "$W3" --priority true

printf '%6s %10s %10s %8s %8s %9s %9s %8s\n' time user_disp kern_disp queued running congested fallback batches
t0=$(date +%s)
t=0
while [ $t -lt "$seconds" ]; do
	sleep 2
	t=$(($(date +%s) - t0))
	printf '%5ss %10s %10s %8s %8s %9s %9s %8s\n' $t "$(field nr_user_dispatches)" \
		"$(field nr_kernel_dispatches)" "$(field nr_queued)" "$(field nr_running)" \
		"$(field nr_sched_congested)" "$(field nr_fallback_dispatches)" "$(field loop_batches)"
done
# The workload ends by itself; anything still running 10 s later is reported and stopped.
wait_for 10 sh -c "! kill -0 $W1 2>/dev/null && ! kill -0 $W2 2>/dev/null && ! kill -0 $W3 2>/dev/null" ||
	{ echo "== workload still running after ${seconds}s:"; ps -o pid,stat,comm | grep -E 'stress|hackbench|sh' ; kill $W1 $W2 $W3 2>/dev/null; pkill hackbench; }
echo "== gthulhuctl strategies list"
$B/gthulhuctl strategies list
echo "== gthulhuctl status"
$B/gthulhuctl status | head -n 12
kill -TERM $GPID
wait $GPID
echo "== Gthulhu exited $?; sched_ext state: $(cat /sys/kernel/sched_ext/state) (the kernel's scheduler is back)"
echo "== last stats record:"
grep '"msg":"stats"' $LOG | tail -n 1
