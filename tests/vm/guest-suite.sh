#!/bin/sh
# The VM test suite, run inside the guest by tests/vm/run.sh (through vm-run.sh) on a
# sched_ext kernel. Each check prints "ok - [kernel] name" or "not ok - [kernel] name: why";
# the last line is "N passed, M failed" and the exit status is non-zero if any failed.
# POSIX sh (busybox ash): no bashisms.

. /opt/gthulhu/bin/guest-lib.sh
G=$GTHULHU
LOG=/tmp/gthulhu.log
ops() { cat /sys/kernel/sched_ext/root/ops 2>/dev/null; }

log_has() { grep -q "$1" "$LOG"; }

state() { sched_ext_state; }
counter() { stats_field "$LOG" "$1"; }
# Wait for a stats record newer than the current one.
next_stats() {
	_c=$(grep -c '"msg":"stats"' "$LOG")
	wait_for 10 sh -c "[ \$(grep -c '\"msg\":\"stats\"' $LOG) -gt $_c ]"
}
utime() { awk '{ print $14 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
last_cpu() { awk '{ print $39 }' "/proc/$1/stat" 2>/dev/null; }
spin() { sh -c 'while :; do :; done' & }


stop_gthulhu() {
	kill -TERM "$GPID" 2>/dev/null
	wait "$GPID"
	GRC=$?
}

echo "== Gthulhu VM suite on $KVER ($(nproc) CPUs)"
dmesg -c >/dev/null

# --- A bad configuration is refused before anything is attached. -----------------------
printf 'scheduler:\n  slice_ns_min: 500000\n  bogus_key: 1\n' >/tmp/bad.yaml
"$G" --config /tmp/bad.yaml >/tmp/bad.log 2>&1
rc=$?
if [ $rc -eq 2 ] && is_state disabled && grep -q 'bad.yaml:3: scheduler.bogus_key' /tmp/bad.log; then
	ok "bad config: exit 2, names key and line, nothing attached"
else
	not_ok "bad config" "rc=$rc state=$(state) log=$(cat /tmp/bad.log)"
fi

# --- Attach, with a priority strategy for one busy process. ----------------------------
spin
PRIO_PID=$!
cat >/tmp/gthulhu.yaml <<EOF
scheduler:
  slice_ns_default: 5000000
  slice_ns_min: 500000
  stall_timeout_ms: 1000
stats:
  interval_s: 1
strategies:
  - pid: $PRIO_PID
    priority: true
EOF
if start_gthulhu /tmp/gthulhu.yaml "$LOG" && [ "$(ops)" = gthulhu ]; then
	ok "attached: state enabled, ops gthulhu"
else
	not_ok "attach" "state=$(state) ops=$(ops) log=$(tail -n 5 $LOG)"
fi
next_stats
user_before=$(counter nr_user_dispatches)

# SIGHUP: a bad file is rejected and changes nothing; a good one is applied.
cp /tmp/gthulhu.yaml /tmp/gthulhu.good.yaml
printf 'debug: maybe\n' >/tmp/gthulhu.yaml
kill -HUP "$GPID"
if wait_for 10 log_has "reload rejected" && grep -q 'gthulhu.yaml:1: debug' "$LOG" &&
	kill -0 "$GPID" && is_state enabled; then
	ok "SIGHUP with a bad file: rejected (key and line named), still attached"
else
	not_ok "SIGHUP with a bad file" "$(tail -n 3 $LOG)"
fi
cp /tmp/gthulhu.good.yaml /tmp/gthulhu.yaml
kill -HUP "$GPID"
wait_for 10 log_has "configuration reloaded" && is_state enabled &&
	ok "SIGHUP with a good file: reloaded" || not_ok "SIGHUP with a good file" "$(tail -n 3 $LOG)"

# --- The REST API through gthulhuctl: a priority strategy for a latency probe. --------
CTL=/opt/gthulhu/bin/gthulhuctl
# The config's priority spinner would blur nr_prio_dispatches: only the probe may add to it.
kill $PRIO_PID
json_num() { grep -o "\"$1\": *[0-9]*" | head -n 1 | grep -o '[0-9]*$'; }
prio_now() { $CTL --json metrics | json_num nr_prio_dispatches; }
fast_now() { $CTL --json metrics | json_num nr_prio_fast_wakeups; }
if $CTL status >/tmp/ctl.out 2>&1 && grep -q "attached" /tmp/ctl.out &&
	$CTL --json status | grep -q '"attached": *true'; then
	ok "gthulhuctl status over the unix socket: attached"
else
	not_ok "gthulhuctl status" "$(head -c 300 /tmp/ctl.out)"
fi
# The load and the probe run until this phase stops them: how long the CLI takes under
# full CPU load varies with the host, and a probe that ended on its own would make "no
# more priority placements" below true for the wrong reason.
t_phase=$(date +%s)
stress-ng --cpu "$(nproc)" --timeout 600s --quiet >/dev/null 2>&1 &
STRESS=$!
# --policy=other: a normal task (cyclictest's -p 0 alone means SCHED_FIFO priority 2).
cyclictest --policy=other -t 1 -i 1000 -q >/tmp/cyclic.log 2>&1 &
PROBE=$!
sleep 3
p0=$(prio_now)
sleep 3
p1=$(prio_now)
f1=$(fast_now)
t_add=$(date +%s)
if $CTL strategies add --id probe --regex '^cyclictest$' --priority true >/tmp/ctl.out 2>&1; then
	ok "gthulhuctl strategies add: a priority strategy for cyclictest"
else
	not_ok "gthulhuctl strategies add" "$(head -c 300 /tmp/ctl.out)"
fi
sleep 3
p2=$(prio_now)
f2=$(fast_now)
$CTL --json strategies list >/tmp/ctl.json 2>&1
probe=$(tr -d '\n' </tmp/ctl.json | grep -o '{[^{}]*"id": *"probe"[^{}]*}')
threads=$(echo "$probe" | json_num threads)
decisions=$(echo "$probe" | json_num decisions)
echo "# prio dispatches: ${p0:-?} -> ${p1:-?} without the strategy, -> ${p2:-?} 3 s after adding it (added at $t_add)"
if [ -n "$p2" ] && [ "$((p1 - p0))" -eq 0 ] && [ "$((p2 - p1))" -gt 0 ] &&
	[ "${threads:-0}" -ge 1 ] && [ "${decisions:-0}" -gt 0 ]; then
	ok "API strategy reached BPF: the probe's tasks were dispatched as priority ($((p2 - p1)) prio dispatches, strategy: $threads threads, $decisions decisions)"
else
	not_ok "API strategy reached BPF" "prio $p0 -> $p1 -> $p2; strategy: $probe"
fi
# A process that starts after the strategy exists is covered too (the resolver follows
# process events). It lives long enough to be seen through the CLI under full CPU load.
probe_threads() { $CTL --json strategies list | tr -d '\n' | grep -o '{[^{}]*"id": *"probe"[^{}]*}' | json_num threads; }
cyclictest --policy=other -t 2 -i 2000 -D 15 -q >/dev/null 2>&1 &
LATE=$!
threads_late=
late_covered() {
	threads_late=$(probe_threads)
	[ "${threads_late:-0}" -gt "${threads:-0}" ]
}
if wait_for 10 late_covered; then
	ok "a cyclictest started after the strategy is covered ($threads -> $threads_late threads)"
else
	not_ok "new process covered by an existing strategy" "threads $threads -> $threads_late"
fi
kill $LATE 2>/dev/null
wait $LATE
# The probe sleeps between wake-ups: once user space has decided for it under the
# strategy, BPF places its wake-ups itself (place_prio_wakeup). Removing the strategy
# publishes a new snapshot generation, which must end that at once.
echo "# fast priority wake-ups: ${f1:-?} before the strategy, ${f2:-?} 3 s after"
if [ -n "$f2" ] && [ "$((f2 - f1))" -gt 0 ]; then
	ok "priority wake-ups placed by BPF itself ($((f2 - f1)) in 3 s)"
else
	not_ok "priority wake-ups placed by BPF itself" "nr_prio_fast_wakeups $f1 -> $f2"
fi
if $CTL strategies rm probe >/tmp/ctl.out 2>&1; then
	sleep 1
	p3=$(prio_now) f3=$(fast_now)
	sleep 3
	p4=$(prio_now) f4=$(fast_now)
	echo "# after strategies rm: prio ${p3:-?} -> ${p4:-?}, fast ${f3:-?} -> ${f4:-?} in 3 s ($(($(date +%s) - t_phase)) s into the phase)"
	if [ -n "$f4" ] && [ -n "$p4" ] && [ "$f4" -eq "$f3" ] && [ "$p4" -eq "$p3" ] &&
		kill -0 $PROBE 2>/dev/null; then
		ok "strategy removed: no priority placements while the probe keeps running"
	else
		not_ok "strategy removal ends priority placements" "prio $p3 -> $p4, fast $f3 -> $f4, probe alive: $(kill -0 $PROBE 2>/dev/null && echo yes || echo no), $(($(date +%s) - t_phase)) s into the phase"
	fi
else
	not_ok "gthulhuctl strategies rm" "$(head -c 300 /tmp/ctl.out)"
fi
# Back again: the restart phase checks that this API strategy persists.
$CTL strategies add --id probe --regex '^cyclictest$' --priority true >/tmp/ctl.out 2>&1 ||
	not_ok "gthulhuctl strategies add, again" "$(head -c 300 /tmp/ctl.out)"
if $CTL config set scheduler.slice_ns_default=4000000 >/tmp/ctl.out 2>&1 &&
	$CTL --json config get | grep -q '"scheduler.slice_ns_default": *4000000'; then
	ok "gthulhuctl config set: a live knob changed while attached"
else
	not_ok "gthulhuctl config set" "$(head -c 300 /tmp/ctl.out)"
fi
# ... in the BPF half too, which places tasks with the same slice (its .data.live map).
live_id=$(bpftool map show | awk -F: '/name [^ ]*\.data\.live / { print $1; exit }')
bpftool map dump id "$live_id" >/tmp/live.out 2>&1
if grep -q '"slice_max_ns": 4000000' /tmp/live.out && grep -q '"starvation_ns": 80000000' /tmp/live.out; then
	ok "the BPF half took the live knob: slice_max_ns=4000000"
else
	not_ok "the BPF half took the live knob" "map id '$live_id': $(tr -d ' \n' </tmp/live.out | head -c 300)"
fi
$CTL config set scheduler.slice_ns_min=5 >/tmp/ctl.out 2>&1
rc=$?
[ $rc -eq 1 ] && $CTL --json config get | grep -q '"scheduler.slice_ns_min": *500000' &&
	ok "gthulhuctl config set with an out-of-range value: refused (exit 1), nothing changed" ||
	not_ok "out-of-range config set refused" "rc=$rc $(head -c 300 /tmp/ctl.out)"
# cyclictest prints its summary when told to stop (SIGTERM).
kill $PROBE
wait $PROBE
kill $STRESS
wait $STRESS
echo "# cyclictest (SCHED_OTHER, under stress-ng on every CPU for $(($(date +%s) - t_phase)) s, strategy from 6 s, removed and added again later): $(grep -a 'Max:' /tmp/cyclic.log | tr -s ' ')"

# An RT task beside CPU stress: every time it takes a CPU, the tasks queued there are
# handed back (cpu_release); pinned kthreads and Gthulhu's own threads must not be handed
# back for ever (7.x ends the scheduler after 256 rounds: "reenqueue limit").
reenqueued_before=$(counter nr_reenqueued)
stress-ng --cpu "$(nproc)" --timeout 20s --quiet >/dev/null 2>&1 &
STRESS=$!
cyclictest -p 50 -t 1 -i 1000 -D 15 -q >/tmp/cyclic-rt.log 2>&1 &
PROBE=$!
wait $PROBE
wait $STRESS
next_stats
reenqueued=$(($(counter nr_reenqueued) - reenqueued_before))
if is_state enabled && kill -0 "$GPID" && ! dmesg | grep -q "reenqueue limit" &&
	[ "$reenqueued" -gt 0 ]; then
	ok "an RT task (SCHED_FIFO) beside CPU stress for 15 s: still attached, $reenqueued tasks handed back"
else
	not_ok "RT task beside CPU stress" "state=$(state) handed back: $reenqueued $(dmesg | grep -a sched_ext | tail -n 2)"
fi
is_state enabled && kill -0 "$GPID" && ok "attached after the API phase" ||
	not_ok "attached after the API phase" "$(tail -n 3 $LOG)"

# The one binary took this kernel's kfunc path: 6.12's names, 6.13+'s, or 6.19+'s ___v2.
major=${KVER%%.*}
minor=${KVER#*.}
minor=${minor%%[!0-9]*}
if [ "$major" -eq 6 ] && [ "$minor" -le 12 ]; then
	want=1
elif [ "$major" -eq 6 ] && [ "$minor" -le 18 ]; then
	want=2
else
	want=3
fi
api=$(grep -o '"kfunc_api":[0-9]*' "$LOG" | head -n 1 | cut -d: -f2)
[ "$api" = "$want" ] && ok "kfunc path for $KVER: kfunc_api=$api (1 = 6.12 names, 2 = 6.13+, 3 = ___v2)" ||
	not_ok "kfunc path for $KVER" "kfunc_api=$api, expected $want"
# 6.19+ deprecates ops.cpu_release(): there RT takeovers are seen at sched_switch.
handback=$(grep -o '"rt_handback":"[a-z_]*"' "$LOG" | head -n 1 | cut -d'"' -f4)
handback_want=cpu_release
[ "$want" = 3 ] && handback_want=sched_switch
if [ "$handback" = "$handback_want" ] && ! dmesg | grep -q "cpu_acquire/release() are deprecated"; then
	ok "RT hand-back for $KVER through $handback, no deprecation notice in the kernel log"
else
	not_ok "RT hand-back for $KVER" "rt_handback=$handback, expected $handback_want; $(dmesg | grep -a deprecated | tail -n 1)"
fi

# --- 30 s of stress plus hackbench: no stall, no kernel complaint, user space decides. -
next_stats
records_before=$(counter loop_records)
wakeups_before=$(counter nr_loop_wakeups)
deferred_before=$(counter nr_records_deferred)
local_before=$(counter nr_shared_local)
taskset -c 1 sh -c 'while :; do :; done' &
PINNED=$!
stress-ng --cpu 2 --fork 2 --switch 2 --affinity 2 --affinity-rand --timeout 30s \
	--quiet >/tmp/stress.log 2>&1 &
STRESS=$!
pinned_ok=1
seen=""
i=0
while [ $i -lt 50 ]; do
	c=$(last_cpu $PINNED)
	seen="$seen $c"
	[ "$c" = 1 ] || pinned_ok=0
	sleep 0.5
	i=$((i + 1))
done
hackbench -g 4 -l 100 >/tmp/hackbench.log 2>&1
hb=$?
wait $STRESS
st=$?
if [ $st -eq 0 ] && [ $hb -eq 0 ]; then
	ok "stress-ng (cpu, fork, switch, affinity churn) and hackbench finished"
else
	not_ok "stress + hackbench" "stress-ng rc=$st hackbench rc=$hb $(tail -n 3 /tmp/stress.log)"
fi
if kill -0 "$GPID" 2>/dev/null && is_state enabled; then
	ok "scheduler still attached after the stress"
else
	not_ok "scheduler survived the stress" "state=$(state) $(tail -n 5 $LOG)"
fi
check_kernel_log "after the stress"
[ $pinned_ok -eq 1 ] && ok "taskset -c 1 task only ever ran on CPU 1" ||
	not_ok "pinned task stayed on CPU 1" "cpus seen:$seen"
kill $PINNED
next_stats
user_after=$(counter nr_user_dispatches)
[ "$user_after" -gt "$user_before" ] &&
	ok "nr_user_dispatches grew ($user_before -> $user_after): user space decides" ||
	not_ok "nr_user_dispatches grew" "$user_before -> $user_after"
prio=$(counter nr_prio_dispatches)
[ "$prio" -gt 0 ] && ok "priority strategy reached BPF (nr_prio_dispatches=$prio)" ||
	not_ok "priority strategy reached BPF" "nr_prio_dispatches=$prio"
episodes=$(counter nr_fallback_episodes)
[ "$episodes" -eq 0 ] && ok "no false stall: user space kept up through the stress (0 fallback episodes)" ||
	not_ok "no false stall while user space is alive" "nr_fallback_episodes=$episodes"
# With every CPU busy, records wait for a batch instead of each waking the loop.
records=$(($(counter loop_records) - records_before))
wakeups=$(($(counter nr_loop_wakeups) - wakeups_before))
deferred=$(($(counter nr_records_deferred) - deferred_before))
[ "$deferred" -gt 0 ] && [ "$wakeups" -lt "$records" ] &&
	ok "records batched under load: $records records, $wakeups loop wake-ups by BPF, $deferred waited for a batch" ||
	not_ok "records batched under load" "records=$records wakeups=$wakeups deferred=$deferred"
# A CPU takes from SHARED a task that is already its own before it migrates another's.
local_picks=$(($(counter nr_shared_local) - local_before))
[ "$local_picks" -gt 0 ] &&
	ok "shared queue served without migration where it could ($local_picks tasks)" ||
	not_ok "shared queue served without migration where it could" "nr_shared_local grew by $local_picks"
echo "# counters: $(grep '"msg":"stats"' $LOG | tail -n 1)"

# --- A CPU hog that wakes a sleeper brings the loop at once, to preempt it; not when the
# hog said it would sleep soon (a pipe write is a synchronous wake-up, an eventfd's is
# not). Every CPU is busy, so both readers' records are held for a batch otherwise.
stress-ng --cpu 2 --timeout 30s --quiet >/dev/null 2>&1 &
STRESS=$!
sleep 1
# hog_wakeups_with KIND: wake-ups beside a CPU hog while the hog sends 800 messages.
hog_wakeups_with() {
	next_stats
	_h=$(counter nr_hog_wakeups)
	waker "$1" 4 5 >/tmp/waker-$1.out 2>&1 || echo "waker $1 failed: $(cat /tmp/waker-$1.out)" >&2
	next_stats
	echo $(($(counter nr_hog_wakeups) - _h))
}
h_pipe=$(hog_wakeups_with pipe)
h_eventfd=$(hog_wakeups_with eventfd)
wait $STRESS
msgs="pipe: $(cat /tmp/waker-pipe.out), eventfd: $(cat /tmp/waker-eventfd.out)"
# Both counts include the stress's own wake-ups beside a hog (~100 in the test VM); a
# write wakes the reader only when it sleeps (~400 of the 800 eventfd writes did).
[ $((h_eventfd - h_pipe)) -ge 150 ] &&
	ok "a CPU hog's wake-ups bring the loop to preempt it ($h_eventfd), not its sync ones ($h_pipe)" ||
	not_ok "a CPU hog's sync wake-ups wait for a batch" "nr_hog_wakeups: eventfd $h_eventfd, pipe $h_pipe; $msgs"

# --- SIGSTOP for 20 s: work keeps running; after SIGCONT the scheduler carries on. ------
stress-ng --cpu 2 --timeout 40s --quiet >/dev/null 2>&1 &
STRESS=$!
spin
WORKER=$!
sleep 1
kill -STOP "$GPID"
t0=$(utime $WORKER)
sleep 20
t1=$(utime $WORKER)
state_during=$(state)
kill -CONT "$GPID"
[ $((t1 - t0)) -gt 100 ] &&
	ok "work kept running while the scheduler was stopped (+$((t1 - t0)) ticks in 20 s)" ||
	not_ok "work ran during SIGSTOP" "utime $t0 -> $t1, state=$state_during"
sleep 3
if kill -0 "$GPID" 2>/dev/null && is_state enabled; then
	next_stats
	episodes=$(counter nr_fallback_episodes)
	[ "$episodes" -gt 0 ] && [ "$episodes" -le 25 ] &&
		ok "after SIGCONT the scheduler carries on (state $state_during during the stop, fallback episodes=$episodes, fallback dispatches=$(counter nr_fallback_dispatches))" ||
		not_ok "BPF fallback took over during the stop, once per stall" "episodes=$episodes"
else
	wait "$GPID"
	rc=$?
	if [ $rc -ne 0 ] && log_has "the kernel ended the scheduler"; then
		ok "after SIGCONT the scheduler exited $rc with the kernel's reason logged"
	else
		not_ok "after SIGCONT" "rc=$rc, no exit reason: $(tail -n 3 $LOG)"
	fi
	start_gthulhu /tmp/gthulhu.yaml "$LOG"
fi
kill $WORKER
wait $STRESS

# --- CPU hotplug: the kernel asks for a restart and Gthulhu attaches again. ------------
if [ -w /sys/devices/system/cpu/cpu1/online ]; then
	echo 0 >/sys/devices/system/cpu/cpu1/online
	if wait_for 30 log_has "attaching again" && wait_for 30 is_state enabled; then
		ok "CPU offline: restart requested, attached again"
	else
		not_ok "CPU offline restart" "state=$(state) $(tail -n 4 $LOG)"
	fi
	: >/tmp/marker
	n=$(grep -c '"msg":"attached"' "$LOG")
	echo 1 >/sys/devices/system/cpu/cpu1/online
	if wait_for 30 sh -c "[ \$(grep -c '\"msg\":\"attached\"' $LOG) -gt $n ]" &&
		wait_for 30 is_state enabled; then
		ok "CPU online: attached again"
	else
		not_ok "CPU online restart" "state=$(state) $(tail -n 4 $LOG)"
	fi
else
	not_ok "CPU hotplug" "this kernel cannot take CPU 1 offline (no cpu1/online)"
fi

# --- SIGTERM: detach, exit 0, the kernel's scheduler takes over. -----------------------
stop_gthulhu
if [ "$GRC" -eq 0 ] && wait_for 5 is_state disabled; then
	ok "SIGTERM: exit 0, state disabled"
else
	not_ok "SIGTERM" "rc=$GRC state=$(state)"
fi

# --- SIGKILL: the kernel falls back within 5 s and work keeps running. -----------------
start_gthulhu /tmp/gthulhu.yaml "$LOG"
# (API strategies outlive the daemon: the state file brought "probe" back.)
if wait_for 10 sh -c "$CTL --json strategies list | grep -q '\"probe\"'"; then
	ok "API strategy persisted across a restart (state file)"
else
	not_ok "API strategy persisted across a restart" "$($CTL strategies list 2>&1 | head -c 300)"
fi
spin
WORKER=$!
sleep 2
kill -KILL "$GPID"
if wait_for 5 is_state disabled; then
	ok "SIGKILL: kernel fell back within 5 s"
else
	not_ok "SIGKILL fallback" "state=$(state)"
fi
t0=$(utime $WORKER)
sleep 2
t1=$(utime $WORKER)
[ "$t1" -gt "$t0" ] && ok "work keeps running after SIGKILL" ||
	not_ok "work after SIGKILL" "utime $t0 -> $t1"
kill $WORKER $PRIO_PID

# --- Kubernetes: a fake pod and a fake API server; Gthulhu as the node agent. ----------
. /opt/gthulhu/bin/guest-k8s.sh

check_kernel_log "after every phase (stop, hotplug, kill)"
show_daemon_log "of the last run" "$LOG"
show_daemon_log "of the Kubernetes phase" "$K8S_LOG"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
