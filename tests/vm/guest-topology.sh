#!/bin/sh
# The VM suite's topology boot (tests/vm/run.sh starts it with vm-run.sh --smt-numa): 4 CPUs
# as 2 sockets, each its own NUMA node and last-level cache, of one core with 2 SMT
# threads. The other boot has 2 plain CPUs, where every topology level is the same, so
# only here can a misread sysfs show. Gthulhu's "CPU topology" record must count the
# cores, L2s, LLCs and nodes that this script counts from the kernel's own sysfs, with no
# fallback, and it must schedule on that machine without a stall.
# POSIX sh (busybox ash).

. /opt/gthulhu/bin/guest-lib.sh
LOG=/tmp/gthulhu.log
SYS=/sys/devices/system

echo "== Gthulhu VM topology check on $KVER ($(nproc) CPUs)"

# What the kernel says, counted without Gthulhu's code: distinct sibling lists (cores),
# distinct level-2 and level-3 shared_cpu_lists (L2s, LLCs), and nodes that hold CPUs.
count_distinct() { sort -u | grep -c .; }
caches() { # LEVEL: the shared_cpu_list of every cache at that level, one per line
	for c in $SYS/cpu/cpu[0-9]*/cache/index*; do
		[ "$(cat "$c/level")" = "$1" ] && cat "$c/shared_cpu_list"
	done
}
cores=$(cat $SYS/cpu/cpu[0-9]*/topology/thread_siblings_list | count_distinct)
l2s=$(caches 2 | count_distinct)
llcs=$(caches 3 | count_distinct)
nodes=$(for n in $SYS/node/node[0-9]*; do cat "$n/cpulist"; done | count_distinct)
online=$(cat $SYS/cpu/online)
echo "# kernel: online $online, cores $cores, L2s $l2s, LLCs $llcs, NUMA nodes $nodes"
# The VM must really have the shape, or the comparison below proves nothing.
if [ "$online" = 0-3 ] && [ "$cores" = 2 ] && [ "$llcs" = 2 ] && [ "$nodes" = 2 ]; then
	ok "the VM has 4 CPUs in 2 SMT cores, 2 LLCs and 2 NUMA nodes"
else
	not_ok "the VM's shape" "online $online cores $cores llcs $llcs nodes $nodes"
fi

printf 'stats:\n  interval_s: 1\n' >/tmp/topo.yaml
if ! start_gthulhu /tmp/topo.yaml "$LOG"; then
	not_ok "gthulhu attaches" "$(tail -n 3 "$LOG")"
	echo "$pass passed, $fail failed"
	exit 1
fi
rec=$(grep '"msg":"CPU topology"' "$LOG" | tail -n 1)
field() { echo "$rec" | grep -o "\"$1\":[^,}]*" | cut -d: -f2 | tr -d '"'; }
if [ "$(field online)" = "$online" ] && [ "$(field cores)" = "$cores" ] &&
	[ "$(field l2_domains)" = "$l2s" ] && [ "$(field llcs)" = "$llcs" ] && [ "$(field numa_nodes)" = "$nodes" ] &&
	[ "$(field fallbacks)" = "" ] && [ -n "$rec" ]; then
	ok "Gthulhu reads the topology as the kernel has it (no fallback)"
else
	not_ok "Gthulhu's topology record" "${rec:-none in the log}"
fi

# Work across both nodes: every wake-up goes through CPU choice on this topology.
before=$(stats_field "$LOG" nr_user_dispatches)
hackbench -g 4 -l 50 >/tmp/hb.out 2>&1
hb=$?
sleep 2
after=$(stats_field "$LOG" nr_user_dispatches)
episodes=$(stats_field "$LOG" nr_fallback_episodes)
if [ $hb -eq 0 ] && is_state enabled && [ "$after" -gt "$before" ] && [ "$episodes" = 0 ]; then
	ok "hackbench on 4 CPUs: user-space decisions $before -> $after, no fallback, still attached"
else
	not_ok "hackbench on the SMT/NUMA VM" "rc=$hb state=$(sched_ext_state) dispatches $before -> $after episodes $episodes"
fi

kill -TERM "$GPID"
wait "$GPID"
rc=$?
if [ $rc -eq 0 ] && wait_for 10 is_state disabled; then
	ok "SIGTERM: exit 0, detached"
else
	not_ok "SIGTERM" "rc=$rc state=$(sched_ext_state)"
fi
check_kernel_log "after the run"
show_daemon_log "of the run" "$LOG"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
