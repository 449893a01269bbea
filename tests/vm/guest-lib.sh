#!/bin/sh
# Helpers shared by the scripts that run inside a test VM (the suite, the demo, the
# bench): vm-run.sh copies this file to /opt/gthulhu/bin, and they source it.
# POSIX sh (busybox ash).

GTHULHU=/opt/gthulhu/bin/gthulhu

sched_ext_state() { cat /sys/kernel/sched_ext/state 2>/dev/null; }
is_state() { [ "$(sched_ext_state)" = "$1" ]; }

# wait_for SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds, for at most
# SECONDS of wall time however long COMMAND itself takes.
wait_for() {
	_end=$(($(date +%s) + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.2
	done
}

# threads_of PID: each thread's name and where it waits, to diagnose a hang.
threads_of() {
	for _t in /proc/"$1"/task/*; do
		echo "$(cat "$_t/comm" 2>/dev/null) $(cat "$_t/wchan" 2>/dev/null) $(head -n 3 "$_t/stack" 2>/dev/null | tr '\n' ' ')"
	done
}

# start_gthulhu CONFIG LOG: start the daemon in the background (pid in GPID) and wait
# until the kernel reports it attached.
start_gthulhu() {
	: >"$2"
	"$GTHULHU" --config "$1" >>"$2" 2>&1 &
	GPID=$!
	# Loading and verifying the BPF programs takes 10-40 s under TCG on a busy host.
	wait_for 90 is_state enabled
}

# stats_field LOG NAME: the newest value of NAME in the daemon's stats records (0 if none).
stats_field() {
	_v=$(grep '"msg":"stats"' "$1" | tail -n 1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2)
	echo "${_v:-0}"
}

# The VM tests' results (tests/vm/run.sh reads them): ok NAME, or not_ok NAME [WHY], one
# line each, counted in pass and fail; the last line a script prints is
# "$pass passed, $fail failed".
KVER=$(uname -r)
pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - [$KVER] $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - [$KVER] $1${2:+: $2}"
}

# check_kernel_log WHEN: ok when the kernel log has no stall, BUG or WARNING so far.
check_kernel_log() {
	if dmesg | grep -E "BUG:|WARNING:|Oops|runnable task stall|Call Trace|detected stalls|kthread starved|hung_task|blocked for more than" >/tmp/dmesg.bad; then
		not_ok "kernel log clean $1" "$(head -n 5 /tmp/dmesg.bad)"
	else
		ok "kernel log $1: no stall, BUG or WARNING"
	fi
}

# show_daemon_log TITLE LOG: the daemon's own records (not the periodic stats), for diagnosis.
show_daemon_log() {
	echo "# gthulhu log $1:"
	grep -v '"msg":"stats"' "$2" | cut -c1-600 | sed 's/^/#   /'
}
