#!/bin/sh
# The guest half of `make run` (see scripts/demo.sh): attach, load, watch, detach.
B=/opt/gthulhu/bin
LOG=/tmp/gthulhu.log
seconds=$(cat $B/demo-seconds)

field() { grep '"msg":"stats"' $LOG | tail -n 1 | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }

echo "== kernel $(uname -r), $(nproc) CPUs; sched_ext state: $(cat /sys/kernel/sched_ext/state)"
# Two-second stats for the demo, whatever the example config says.
grep -v '^stats:' $B/gthulhu.yaml | grep -v '^  interval_s:' >/tmp/demo.yaml
printf 'stats:\n  interval_s: 2\n' >>/tmp/demo.yaml
$B/gthulhu --config /tmp/demo.yaml >$LOG 2>&1 &
GPID=$!
i=0
while [ "$(cat /sys/kernel/sched_ext/state)" != enabled ] && [ $i -lt 100 ]; do
	sleep 0.2
	i=$((i + 1))
done
echo "== Gthulhu attached: state=$(cat /sys/kernel/sched_ext/state) ops=$(cat /sys/kernel/sched_ext/root/ops)"
grep '"msg":"attached"' $LOG

echo "== workload: 2 CPU hogs, fork churn, hackbench in a loop, a task pinned to CPU 0"
stress-ng --cpu 2 --fork 1 --timeout "${seconds}s" --quiet &
(end=$(($(date +%s) + seconds)); while [ "$(date +%s)" -lt $end ]; do hackbench -g 2 -l 50 >/dev/null 2>&1; done) &
taskset -c 0 sh -c "end=\$((\$(date +%s) + $seconds)); while [ \$(date +%s) -lt \$end ]; do :; done" &

printf '%6s %10s %10s %8s %8s %9s %9s %8s\n' time user_disp kern_disp queued running congested fallback batches
t=0
while [ $t -lt "$seconds" ]; do
	sleep 2
	t=$((t + 2))
	printf '%5ss %10s %10s %8s %8s %9s %9s %8s\n' $t "$(field nr_user_dispatches)" \
		"$(field nr_kernel_dispatches)" "$(field nr_queued)" "$(field nr_running)" \
		"$(field nr_sched_congested)" "$(field nr_fallback_dispatches)" "$(field loop_batches)"
done
wait 2>/dev/null
kill -TERM $GPID
wait $GPID
echo "== Gthulhu exited $?; sched_ext state: $(cat /sys/kernel/sched_ext/state) (the kernel's scheduler is back)"
echo "== last stats record:"
grep '"msg":"stats"' $LOG | tail -n 1
