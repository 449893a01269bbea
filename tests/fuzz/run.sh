#!/bin/sh
# Run one libFuzzer target for a while on its corpus: `tests/fuzz/run.sh BIN SECONDS`.
#
# The seeds in tests/fuzz/corpus/<name>/ (name = BIN without the fuzz_ prefix) are copied
# into build/fuzz/corpus/<name>/, which also collects what the fuzzer finds; the seeds
# directory is only read. Crash reproducers land in build/fuzz/ as <name>-crash-*. Prints
# one summary line and exits with the fuzzer's status, so a crash fails `make fuzz-smoke`.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 FUZZ_BINARY SECONDS" >&2
	exit 2
fi
bin=$1
seconds=$2
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
cd "$(dirname "$0")/../.."

name=$(basename "$bin")
name=${name#fuzz_}
seeds=tests/fuzz/corpus/$name
work=build/fuzz/corpus/$name
log=build/fuzz/$name.log
mkdir -p "$work"
if [ -d "$seeds" ]; then
	cp -R "$seeds"/. "$work"/
else
	seeds= # no seeds: the fuzzer starts from nothing
fi

status=0
"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="build/fuzz/$name-" -print_final_stats=1 \
	"$work" ${seeds:+"$seeds"} >"$log" 2>&1 || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
units=$(find "$work" -type f | wc -l)
if [ "$status" -eq 0 ]; then
	echo "fuzz $name: ok, ${runs:-?} runs in ${seconds}s, corpus $units inputs (log: $log)"
else
	echo "fuzz $name: FAILED (status $status) after ${runs:-?} runs; log: $log" >&2
	grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" >&2 || :
	tail -n 15 "$log" >&2
fi
exit "$status"
