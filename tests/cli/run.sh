#!/usr/bin/env bash
# Command-line behaviour of build/gthulhu that needs no sched_ext kernel: options, config
# validation, and the refusals a user meets first (not root, no sched_ext). Run by
# `make test` on the build host; the VM suite covers everything that needs a kernel.
set -uo pipefail
cd "$(dirname "$0")/../.."
G=build/gthulhu
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # the not-root checks read files here as nobody

check() { # NAME WANT_RC WANT_TEXT COMMAND...
	local name=$1 want_rc=$2 want_text=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -qF -- "$want_text" <<<"$out"; then
		pass=$((pass + 1))
		echo "ok - $name"
	else
		fail=$((fail + 1))
		echo "not ok - $name: rc=$rc (want $want_rc), output: $(head -c 400 <<<"$out")"
	fi
}

check "--help" 0 "Usage: gthulhu" $G --help
check "--version" 0 "gthulhu " $G --version
check "--explain lists every key" 0 "scheduler.stall_timeout_ms" $G --explain
check "unknown option: usage error" 2 "Usage: gthulhu" $G --frobnicate
check "--check accepts the example config" 0 "configuration is valid" \
	$G --config config/gthulhu.example.yaml --check
printf 'scheduler:\n  slice_ns_min: abc\n' >"$tmp/bad.yaml"
check "--check rejects a wrong type, naming file, line and key" 2 \
	'bad.yaml:2: scheduler.slice_ns_min' $G --config "$tmp/bad.yaml" --check
printf 'scheduler:\n  slice_ns_min: 9000000\n  slice_ns_default: 5000000\n' >"$tmp/range.yaml"
check "--check rejects min above default" 2 "slice_ns_min" $G --config "$tmp/range.yaml" --check
check "missing config file is an error" 2 "$tmp/none.yaml" $G --config "$tmp/none.yaml"
check "a bad config stops before anything else" 2 "bad.yaml:2" \
	setpriv --reuid=65534 --regid=65534 --clear-groups $G --config "$tmp/bad.yaml"
check "not root: one clear line, exit 4" 4 "must run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups $G
if [ -d /sys/kernel/sched_ext ]; then
	echo "# this host's kernel has sched_ext: the no-sched_ext refusal is not observable here"
	check "root on a sched_ext host passes the kernel check" 0 "configuration is valid" \
		$G --check
else
	check "no sched_ext in the kernel: one clear line, exit 3" 3 "has no sched_ext" $G
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
