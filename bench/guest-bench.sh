#!/bin/sh
# The measuring half of `make bench` (bench/run.sh): runs inside the sched_ext test VM
# (or on the host with HOST=1) and prints machine-readable lines on stdout:
#   BENCHMETA key=value                            kernel, CPUs, VM shape, date, mode
#   BENCHDATA workload,scheduler,rep,metric,value  one measurement
#   BENCHFAIL workload,scheduler,rep,reason        a workload that failed or stalled
#   BENCHLOG  text                                 progress, for people
#   BENCHDONE failures=N                           the last line; exit status 1 if N > 0
# Schedulers: default (the kernel's own, EEVDF), gthulhu (no strategy), gthulhu-strategy
# (the probe has a priority strategy), gthulhu-strategy-api (the same, while api_load sends
# REST requests). Each repetition runs the default scheduler and Gthulhu in turn, the
# order alternating between repetitions so that drift in the machine cancels out.
# Settings come from bench.conf beside this script (written by bench/run.sh).
# POSIX sh (busybox ash).
set -u
B=${GTHULHU_BENCH_DIR:-/opt/gthulhu/bin}
# shellcheck source=tests/vm/guest-lib.sh
. "$B/guest-lib.sh"
# shellcheck disable=SC2034 # start_gthulhu (guest-lib.sh) runs $GTHULHU
GTHULHU=$B/gthulhu
# shellcheck disable=SC1091 # written by bench/run.sh
. "$B/bench.conf"
W=${GTHULHU_BENCH_WORK:-/tmp/gthulhu-bench}
mkdir -p "$W"
GLOG=$W/gthulhu.log
NCPU=$(nproc)
failures=0
GPID=""
PROBE_COMM=wakeup_probe

# --------------------------------------------------------------------------- output
data() { echo "BENCHDATA $1,$2,$3,$4,$5"; }
fail() {
	failures=$((failures + 1))
	echo "BENCHFAIL $1,$2,$3,$(printf '%s' "$4" | tr ',\n\r' ';  ' | cut -c1-300)"
}
note() { echo "BENCHLOG $*"; }
# "key value" lines (the probes' output) -> BENCHDATA rows.
emit_kv() { # FILE WORKLOAD SCHED REP
	while read -r _k _v; do
		case $_v in
		'' | *[!0-9.]*) ;;
		*) data "$2" "$3" "$4" "$_k" "$_v" ;;
		esac
	done <"$1"
}
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", 100 * a / b; else print "nan" }'; }

# --------------------------------------------------------------------------- configs
printf 'stats:\n  interval_s: 0\n' >"$W/plain.yaml"
cat >"$W/strategy.yaml" <<EOF
stats:
  interval_s: 0
strategies:
  - command_regex: "^$PROBE_COMM\$"
    priority: true
EOF
# How the probe gets its priority strategy: "config" (a strategies: entry in the YAML
# file Gthulhu starts with) or "api" (added at run time with gthulhuctl). One line:
STRATEGY_VIA=config
if [ "$STRATEGY_VIA" = api ]; then
	# Not kept across restarts, so the later runs without strategy stay without.
	printf 'api:\n  state_file: ""\n' >>"$W/plain.yaml"
	STRATEGY_CONFIG=$W/plain.yaml
	probe_strategy() { "$B/gthulhuctl" strategies add --regex "^$PROBE_COMM\$" --priority 20; }
else
	STRATEGY_CONFIG=$W/strategy.yaml
	probe_strategy() { :; }
fi

# Gthulhu as a Kubernetes node agent (kubernetes.enabled, pod metrics on by default):
# per-cgroup figures counted in BPF on every context switch and collected every 2 s,
# pods and SchedulingStrategies watched on an API server, here the test suite's fake one
# on 127.0.0.1. K8S_CONFIG stays empty when that server does not start.
K8S_CONFIG="" FAKE_PID=""
k8s_setup() {
	[ -x "$B/fake-apiserver" ] || {
		note "fake-apiserver is missing: the node agent figure is not measured"
		return 1
	}
	mkdir -p "$W/fake-state"
	"$B/fake-apiserver" --port 0 --token bench-token --state-dir "$W/fake-state" \
		>"$W/fake.out" 2>&1 &
	FAKE_PID=$!
	wait_for 10 grep -q "ready port=" "$W/fake.out" || {
		note "fake-apiserver did not start: $(tail -n 2 "$W/fake.out")"
		return 1
	}
	_port=$(sed -n 's/.*ready port=\([0-9]*\).*/\1/p' "$W/fake.out" | head -n 1)
	echo bench-token >"$W/k8s-token"
	cat >"$W/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: bench
clusters:
  - name: bench
    cluster:
      server: http://127.0.0.1:$_port
contexts:
  - name: bench
    context:
      cluster: bench
      user: bench
users:
  - name: bench
    user:
      tokenFile: $W/k8s-token
EOF
	cat >"$W/k8s.yaml" <<EOF
stats:
  interval_s: 0
api:
  state_file: ""
kubernetes:
  enabled: true
  node_name: bench-node
  kubeconfig: $W/kubeconfig
  pod_metrics: true
EOF
	K8S_CONFIG=$W/k8s.yaml
}

# --------------------------------------------------------------------------- Gthulhu
gstart() { # CONFIG: start Gthulhu; 1 if it did not attach
	if ! is_state disabled; then
		note "sched_ext state is '$(sched_ext_state)' before start; waiting for disabled"
		wait_for 30 is_state disabled || return 1
	fi
	if start_gthulhu "$1" "$GLOG" && kill -0 "$GPID" 2>/dev/null; then
		return 0
	fi
	dump_glog
	return 1
}
gstop() { # stop Gthulhu; 1 if it was already gone or did not exit cleanly
	[ -n "$GPID" ] || return 1
	_rc=0
	if kill -0 "$GPID" 2>/dev/null; then
		kill -TERM "$GPID"
		wait "$GPID" || _rc=$?
	else
		wait "$GPID"
		_rc=$(($? + 1000))
	fi
	GPID=""
	wait_for 30 is_state disabled || _rc=$((_rc + 2000))
	return $((_rc != 0))
}
# gthulhu_ok WORKLOAD SCHED REP: still alive and attached? Otherwise report it.
gthulhu_ok() {
	if [ -n "$GPID" ] && kill -0 "$GPID" 2>/dev/null && is_state enabled; then
		return 0
	fi
	fail "$1" "$2" "$3" "Gthulhu detached or died (state=$(sched_ext_state)): $(glog_why)"
	dump_glog
	return 1
}
# glog_why: one line saying why the daemon stopped or failed: its last error record's
# message, else its last record.
glog_why() {
	_l=$(grep '"level":"error"' "$GLOG" | tail -n 1)
	[ -n "$_l" ] || _l=$(grep -v '"msg":"stats"' "$GLOG" | tail -n 1)
	printf '%s' "$_l" | sed -n 's/.*"msg":"\([^"]*\)".*/\1/p'
}
# dump_glog: the daemon's log without stats records, for the console (why it failed).
dump_glog() {
	grep -v '"msg":"stats"' "$GLOG" | tail -n 40 | sed 's/^/BENCHLOG gthulhu: /'
}
stats_count() { grep -c '"msg":"stats"' "$GLOG"; }
stats_newer() { [ "$(stats_count)" -gt "$1" ]; }
# stats_mark FILE: ask for a stats record (SIGUSR1) and keep it in FILE.
stats_mark() {
	[ -n "$GPID" ] || return 1
	_c=$(stats_count)
	kill -USR1 "$GPID" 2>/dev/null || return 1
	wait_for 15 stats_newer "$_c" || return 1
	grep '"msg":"stats"' "$GLOG" | tail -n 1 >"$1"
}
sfield() { # FILE NAME
	_v=$(grep -o "\"$2\":[0-9]*" "$1" | head -n 1 | cut -d: -f2)
	echo "${_v:-0}"
}
sdelta() { echo $(($(sfield "$2" "$3") - $(sfield "$1" "$3"))); } # BEFORE AFTER NAME

# loop_hist BEFORE AFTER SCHED REP: the loop's latency histogram over a run (wake-up to
# the last decision of its batch, log2 us buckets): counts, and p50/p99 as bucket bounds.
loop_hist() {
	for _f in "$1" "$2"; do
		grep -o '"loop_latency_lt_[0-9]*us":[0-9]*' "$_f" | sed 's/"loop_latency_lt_\([0-9]*\)us":/\1 /'
		echo "--"
	done | awk -v s="$3" -v r="$4" '
		$1 == "--" { f++; next }
		f == 0 { a[$1] = $2; next }
		{ n[++k] = $1; d[k] = $2 - a[$1]; tot += d[k] }
		END {
			if (!k) exit 1
			for (i = 1; i <= k; i++) printf "BENCHDATA loop_latency,%s,%s,lt_%sus,%d\n", s, r, n[i], d[i]
			printf "BENCHDATA loop_latency,%s,%s,batches,%d\n", s, r, tot
			c = 0; p50 = ""; p99 = ""
			for (i = 1; i <= k; i++) {
				c += d[i]
				if (p50 == "" && c >= 0.5 * tot) p50 = n[i]
				if (p99 == "" && c >= 0.99 * tot) p99 = n[i]
			}
			if (tot > 0) {
				printf "BENCHDATA loop_latency,%s,%s,p50_le_us,%s\n", s, r, p50
				printf "BENCHDATA loop_latency,%s,%s,p99_le_us,%s\n", s, r, p99
			}
		}'
}

# --------------------------------------------------------------------------- measuring
# Busy CPU time of the machine and of one process, in clock ticks (USER_HZ, 1/100 s).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# The process's own time is summed over its threads from schedstat (the scheduler's exact
# run time, ns), in the same unit. Its utime + stime are sampled at the tick, which
# over-charges a thread that wakes in step with the tick, as the scheduling loop does
# (measured: 15.7 % sampled against 10.6 % exact under hackbench). Without schedstat
# (no CONFIG_SCHED_INFO), the sampled figure.
proc_ticks() {
	if [ -r "/proc/$1/schedstat" ]; then
		cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ ns += $1 } END { printf "%.2f", ns / 1e7 }'
	else
		awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
	fi
}
is_gthulhu() { case $1 in gthulhu*) return 0 ;; esac; return 1; }
# The BPF half runs mostly in other tasks' time (whoever enqueues, wakes or switches), so
# the process's figure leaves it out, except what runs when the daemon's own threads
# switch (bench/README.md, Overhead: about a third of the loop's time under hackbench).
# The kernel times every BPF program while kernel.bpf_stats_enabled is on (two clock
# reads per run: on only while an overhead is measured); bpf_ticks sums run_time_ns
# over Gthulhu's programs (gthulhu_*), in ticks.
bpf_stats() { echo "$1" >/proc/sys/kernel/bpf_stats_enabled; }
bpf_ticks() {
	bpftool prog show 2>/dev/null | awk '/ name gthulhu_/ {
		n++
		for (i = 1; i < NF; i++) if ($i == "run_time_ns") { ns += $(i + 1); timed++ }
	} END { if (n && timed) printf "%.2f", ns / 1e7 }'
}
# overhead_data WORKLOAD SCHED REP PROC_TICKS BPF_TICKS_BEFORE BPF_TICKS_AFTER BUSY_TICKS:
# the figures of one run (a BPF reading is empty when bpftool gave no run time).
overhead_data() {
	data "$1" "$2" "$3" gthulhu_ticks "$4"
	data "$1" "$2" "$3" busy_ticks "$7"
	data "$1" "$2" "$3" share_pct "$(pct "$4" "$7")"
	if [ -z "$5" ] || [ -z "$6" ]; then
		fail "$1" "$2" "$3" "BPF run time not measured (bpftool prog show gave no run_time_ns for gthulhu_*)"
		return
	fi
	_bpf=$(fsub "$6" "$5")
	data "$1" "$2" "$3" bpf_ticks "$_bpf"
	data "$1" "$2" "$3" bpf_share_pct "$(pct "$_bpf" "$7")"
	data "$1" "$2" "$3" total_share_pct "$(pct "$(awk -v a="$4" -v b="$_bpf" 'BEGIN { print a + b }')" "$7")"
}

# 1. Throughput: hackbench (perf bench sched messaging's ancestor) time, lower is better.
run_hackbench() { # SCHED REP
	if is_gthulhu "$1"; then
		bpf_stats 1
		_b0=$(busy_ticks)
		_c0=$(proc_ticks "$GPID")
		_p0=$(bpf_ticks)
	fi
	timeout $((HB_TIMEOUT)) hackbench -g "$HB_GROUPS" -l "$HB_LOOPS" >"$W/hb.out" 2>&1
	_rc=$?
	if is_gthulhu "$1"; then
		_b1=$(busy_ticks)
		_c1=$(proc_ticks "$GPID")
		_p1=$(bpf_ticks)
		bpf_stats 0
	fi
	_t=$(awk '/^Time:/ { print $2 }' "$W/hb.out")
	if [ $_rc -ne 0 ] || [ -z "$_t" ]; then
		fail throughput_hackbench "$1" "$2" "hackbench rc=$_rc (124: stalled past ${HB_TIMEOUT}s): $(tail -n 2 "$W/hb.out")"
		return
	fi
	data throughput_hackbench "$1" "$2" time_s "$_t"
	if is_gthulhu "$1"; then
		overhead_data overhead_hackbench "$1" "$2" "$(fsub "$_c1" "$_c0")" "$_p0" "$_p1" \
			$((_b1 - _b0))
	fi
}

# 1. Throughput: stress-ng --sock, bogo ops (messages) per second, higher is better.
run_sock() { # SCHED REP
	rm -f "$W/sock.yaml"
	timeout $((SOCK_S + 60)) stress-ng --sock "$NCPU" --timeout "${SOCK_S}s" --metrics-brief \
		-Y "$W/sock.yaml" >"$W/sock.out" 2>&1
	_rc=$?
	_v=$(awk '/bogo-ops-per-second-real-time:/ { print $2; exit }' "$W/sock.yaml" 2>/dev/null)
	if [ $_rc -ne 0 ] || [ -z "$_v" ]; then
		fail throughput_sock "$1" "$2" "stress-ng --sock rc=$_rc: $(tail -n 2 "$W/sock.out")"
		return
	fi
	data throughput_sock "$1" "$2" msgs_per_s "$_v"
}

# 2. Latency under load: wakeup_probe (SCHED_OTHER, 1 ms period) while stress-ng --cpu
# keeps every CPU busy. Under Gthulhu also the loop's latency and the priority dispatches.
run_latency() { # SCHED REP
	stress-ng --cpu "$NCPU" --timeout $((LAT_S + 30))s --quiet >/dev/null 2>&1 &
	_s=$!
	sleep 1
	if is_gthulhu "$1"; then
		stats_mark "$W/before.json" || note "no stats record before the $1 probe run"
	fi
	timeout $((LAT_S + 60)) "$B/wakeup_probe" -i 1000 -d "$LAT_S" -w 1 >"$W/probe.out" 2>&1
	_rc=$?
	_alive=0
	kill -0 $_s 2>/dev/null && _alive=1
	if is_gthulhu "$1"; then
		stats_mark "$W/after.json" || note "no stats record after the $1 probe run"
	fi
	kill -TERM $_s 2>/dev/null
	wait $_s
	if [ $_rc -ne 0 ] || ! grep -q '^p99_us ' "$W/probe.out"; then
		fail latency "$1" "$2" "wakeup_probe rc=$_rc (124: stalled): $(tail -n 2 "$W/probe.out")"
		return
	fi
	if [ $_alive -ne 1 ]; then
		fail latency "$1" "$2" "stress-ng --cpu ended before the probe did: no load"
		return
	fi
	emit_kv "$W/probe.out" latency "$1" "$2"
	if is_gthulhu "$1" && [ -s "$W/before.json" ] && [ -s "$W/after.json" ]; then
		data latency "$1" "$2" nr_prio_dispatches "$(sdelta "$W/before.json" "$W/after.json" nr_prio_dispatches)"
		data latency "$1" "$2" nr_prio_fast_wakeups "$(sdelta "$W/before.json" "$W/after.json" nr_prio_fast_wakeups)"
		data latency "$1" "$2" nr_fallback_episodes "$(sdelta "$W/before.json" "$W/after.json" nr_fallback_episodes)"
		loop_hist "$W/before.json" "$W/after.json" "$1" "$2" ||
			note "no loop latency histogram in the stats records"
	fi
	rm -f "$W/before.json" "$W/after.json"
}

# The probe with no load at all, default scheduler, once per boot: the floor the machine
# (under QEMU TCG: the emulator's timer delivery) puts under every latency figure.
run_latency_idle() {
	timeout $((LAT_S + 60)) "$B/wakeup_probe" -i 1000 -d "$LAT_S" -w 1 >"$W/probe-idle.out" 2>&1
	_rc=$?
	if [ $_rc -ne 0 ] || ! grep -q '^p99_us ' "$W/probe-idle.out"; then
		fail latency_idle default 1 "wakeup_probe rc=$_rc: $(tail -n 2 "$W/probe-idle.out")"
		return
	fi
	emit_kv "$W/probe-idle.out" latency_idle default 1
}

# 3. Overhead: Gthulhu's CPU time / busy CPU time under stress-ng --cpu (every CPU).
run_overhead() { # REP
	stress-ng --cpu "$NCPU" --timeout $((OVH_S + 30))s --quiet >/dev/null 2>&1 &
	_s=$!
	sleep 2
	bpf_stats 1
	_b0=$(busy_ticks)
	_c0=$(proc_ticks "$GPID")
	_p0=$(bpf_ticks)
	sleep "$OVH_S"
	_b1=$(busy_ticks)
	_c1=$(proc_ticks "$GPID")
	_p1=$(bpf_ticks)
	bpf_stats 0
	_alive=0
	kill -0 $_s 2>/dev/null && _alive=1
	kill -TERM $_s 2>/dev/null
	wait $_s
	if [ $_alive -ne 1 ]; then
		fail overhead_stress gthulhu "$1" "stress-ng --cpu ended early"
		return
	fi
	overhead_data overhead_stress gthulhu "$1" "$(fsub "$_c1" "$_c0")" "$_p0" "$_p1" \
		$((_b1 - _b0))
}

# Issue #3: a thousand API requests per second must not raise the loop's latency.
run_api() { # REP (Gthulhu runs with the strategy)
	if [ ! -x "$B/gthulhuctl" ]; then
		fail api_load gthulhu-strategy-api "$1" "API load: not measured (gthulhuctl missing)"
		return
	fi
	if ! timeout 30 "$B/gthulhuctl" status >"$W/ctl.out" 2>&1; then
		fail api_load gthulhu-strategy-api "$1" "API load: not measured (gthulhuctl status failed: $(tail -n 2 "$W/ctl.out"))"
		return
	fi
	"$B/api_load" -u "$API_SOCKET" -r "$API_RATE" -d $((LAT_S + 2)) >"$W/api.out" 2>&1 &
	_a=$!
	run_latency gthulhu-strategy-api "$1"
	wait $_a
	_rc=$?
	# Slow answers, drops and timeouts are figures (the table's verdict); an API that
	# answered nothing at all is a failure.
	_ok=$(awk '/^ok / { print $2 }' "$W/api.out")
	if [ "${_ok:-0}" -eq 0 ]; then
		fail api_load gthulhu-strategy-api "$1" "no API request answered (api_load rc=$_rc): $(tail -n 2 "$W/api.out")"
		return
	fi
	emit_kv "$W/api.out" api_load gthulhu-strategy-api "$1"
}

# 5. Robustness: stress-ng --aggressive with affinity churn and fork storms under Gthulhu.
KLOG_BAD='runnable task stall|stall detected|detected stalls|watchdog|hung_task|blocked for more than|BUG:|WARNING:|Oops|sched_ext.*(error|disabled)'
run_robustness() {
	if ! gstart "$W/plain.yaml"; then
		fail robustness gthulhu 1 "Gthulhu did not attach: $(glog_why)"
		gstop
		return
	fi
	stats_mark "$W/rb-before.json" || note "no stats record before the robustness run"
	_k0=$(dmesg | wc -l)
	note "robustness: ${ROBUST_S}s of stress-ng --aggressive (cpu, fork, vfork, clone, affinity, switch, yield)"
	timeout $((ROBUST_S + 120)) stress-ng --aggressive --cpu "$NCPU" --fork "$NCPU" --vfork "$NCPU" \
		--clone "$NCPU" --affinity "$NCPU" --affinity-rand --switch "$NCPU" --yield "$NCPU" \
		--timeout "${ROBUST_S}s" --quiet >"$W/robust.out" 2>&1
	_rc=$?
	_att=0
	kill -0 "$GPID" 2>/dev/null && is_state enabled && _att=1
	[ $_att -eq 1 ] && stats_mark "$W/rb-after.json"
	dmesg | tail -n +$((_k0 + 1)) | grep -E "$KLOG_BAD" >"$W/klog.bad"
	_kl=$(wc -l <"$W/klog.bad")
	data robustness gthulhu 1 stress_rc $_rc
	data robustness gthulhu 1 attached_at_end $_att
	data robustness gthulhu 1 kernel_stall_lines "$_kl"
	if [ $_att -eq 1 ] && [ -s "$W/rb-before.json" ] && [ -s "$W/rb-after.json" ]; then
		data robustness gthulhu 1 fallback_episodes \
			"$(sdelta "$W/rb-before.json" "$W/rb-after.json" nr_fallback_episodes)"
		data robustness gthulhu 1 fallback_dispatches \
			"$(sdelta "$W/rb-before.json" "$W/rb-after.json" nr_fallback_dispatches)"
	fi
	[ $_rc -eq 0 ] || fail robustness gthulhu 1 "stress-ng rc=$_rc (124: stalled): $(tail -n 2 "$W/robust.out")"
	[ $_att -eq 1 ] || fail robustness gthulhu 1 "Gthulhu detached (watchdog exit?): $(glog_why)"
	[ "$_kl" -eq 0 ] || fail robustness gthulhu 1 "kernel log: $(head -n 2 "$W/klog.bad")"
	if [ $_att -eq 1 ]; then
		gstop || fail robustness gthulhu 1 "Gthulhu did not exit cleanly: $(glog_why)"
	else
		gstop
	fi
}

# --------------------------------------------------------------------------- the run
echo "BENCHMETA kernel=$(uname -r)"
echo "BENCHMETA cpus=$NCPU"
echo "BENCHMETA shape=$BENCH_SHAPE"
echo "BENCHMETA date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The binary under test says what it was built from (the tree may have moved on since).
echo "BENCHMETA gthulhu=$("$GTHULHU" --version 2>/dev/null | awk '{ print $2 }')"
echo "BENCHMETA mode=$BENCH_MODE reps=$REPS"
t_start=$(awk '{ printf "%d", $1 }' /proc/uptime)
if ! is_state disabled; then
	fail setup default 0 "sched_ext state is '$(sched_ext_state)', not disabled: another scheduler runs"
	echo "BENCHDONE failures=$failures"
	exit 1
fi

note "no load: the probe alone (default scheduler)"
run_latency_idle
k8s_setup
rep=1
while [ $rep -le "$REPS" ]; do
	if [ $((rep % 2)) -eq 1 ]; then order="default gthulhu"; else order="gthulhu default"; fi
	for s in $order; do
		note "rep $rep/$REPS: $s"
		if [ "$s" = gthulhu ]; then
			if ! gstart "$W/plain.yaml"; then
				for w in throughput_hackbench throughput_sock latency overhead_stress; do
					fail $w gthulhu $rep "Gthulhu did not attach: $(glog_why)"
				done
				gstop
				continue
			fi
		fi
		run_hackbench "$s" $rep
		[ "$s" = default ] || gthulhu_ok throughput_hackbench "$s" $rep
		run_sock "$s" $rep
		[ "$s" = default ] || gthulhu_ok throughput_sock "$s" $rep
		run_latency "$s" $rep
		[ "$s" = default ] || gthulhu_ok latency "$s" $rep
		if [ "$s" = gthulhu ]; then
			run_overhead $rep
			gthulhu_ok overhead_stress gthulhu $rep
			gstop || fail stop gthulhu $rep "Gthulhu did not exit cleanly: $(glog_why)"
		fi
	done
	note "rep $rep/$REPS: gthulhu-strategy"
	if gstart "$STRATEGY_CONFIG" && probe_strategy; then
		run_latency gthulhu-strategy $rep
		gthulhu_ok latency gthulhu-strategy $rep
		run_api $rep
		gthulhu_ok api_load gthulhu-strategy-api $rep
		gstop || fail stop gthulhu-strategy $rep "Gthulhu did not exit cleanly: $(glog_why)"
	else
		for w in latency,gthulhu-strategy latency,gthulhu-strategy-api api_load,gthulhu-strategy-api; do
			fail "${w%,*}" "${w#*,}" $rep "Gthulhu with the probe strategy did not start: $(glog_why)"
		done
		gstop
	fi
	note "rep $rep/$REPS: gthulhu-k8s (node agent, pod metrics)"
	if [ -z "$K8S_CONFIG" ]; then
		fail throughput_hackbench gthulhu-k8s $rep "no API server for the node agent (see the log above)"
	elif gstart "$K8S_CONFIG"; then
		# Steady state: the agent's first list of pods and strategies and its first
		# process scan are done within a few seconds of the attach.
		sleep 5
		run_hackbench gthulhu-k8s $rep
		gthulhu_ok throughput_hackbench gthulhu-k8s $rep
		gstop || fail stop gthulhu-k8s $rep "Gthulhu did not exit cleanly: $(glog_why)"
	else
		fail throughput_hackbench gthulhu-k8s $rep "Gthulhu as a node agent did not start: $(glog_why)"
		gstop
	fi
	rep=$((rep + 1))
done
run_robustness
[ -z "$FAKE_PID" ] || { kill "$FAKE_PID" && wait "$FAKE_PID"; }
note "finished in $(($(awk '{ printf "%d", $1 }' /proc/uptime) - t_start)) s"
echo "BENCHDONE failures=$failures"
[ $failures -eq 0 ]
