#!/usr/bin/env bash
# `make bench`: what Gthulhu costs and what it buys, against the kernel's default scheduler
# (EEVDF), as a table and plots. See bench/README.md for the workloads and how to read them.
#
# usage: bench/run.sh [--smoke]
#   (default)  the full run: REPS repetitions of every workload, 5 min of robustness stress
#   --smoke    one short repetition of everything (make bench-smoke, part of make test);
#              fails when a workload failed or any expected row is missing
#   --report   run nothing: remake the table and plots from BENCH_OUT's native.txt and
#              console.log (with --smoke: as a smoke run)
# Environment:
#   BENCH_KERNEL  debian (default) | lts612 | a kernel image path (scripts/kernel.sh)
#   REPS          repetitions in the full run (default 5)
#   HOST=1        run the workloads on this machine instead of a VM (root, sched_ext kernel)
#   BENCH_SMP, BENCH_MEM   the VM's shape (default 2 vCPUs, 2G)
#   BENCH_OUT     output directory (default build/bench)
#   BENCH_GTHULHU, BENCH_GTHULHUCTL   the binaries under test (default build/gthulhu{,ctl})
#
# One VM boot runs everything (bench/guest-bench.sh); per repetition the default scheduler
# and Gthulhu alternate. Outputs in BENCH_OUT: results.csv (every measurement), summary.csv
# (medians), results.md (the table), *.svg (plots), meta.txt, console.log.
# Exit status: 0 when every workload ran (a missed target is reported, not an error);
# 1 when a workload failed or stalled, the VM did not finish, or (smoke) a row is missing.
set -euo pipefail
# shellcheck disable=SC2034 # read by scripts/lib.sh's log/warn/die
GTHULHU_PROG=bench
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export LC_ALL=C

usage() {
	awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0" >&2
	exit 2
}
smoke=0 report_only=0
while (($#)); do
	case $1 in
	--smoke) smoke=1 ;;
	--report) report_only=1 ;;
	*) usage ;;
	esac
	shift
done

out=${BENCH_OUT:-build/bench}
host_mode=${HOST:-0}
# Check what this run needs before touching the previous results.
need_cmd valgrind gnuplot
if [[ $host_mode == 1 ]] && ((!report_only)); then
	need_root "make bench HOST=1"
	[[ -r /sys/kernel/sched_ext/state ]] || die "HOST=1 needs a kernel with sched_ext (CONFIG_SCHED_CLASS_EXT)"
	need_cmd stress-ng hackbench timeout
fi
if ((report_only)); then
	[[ -f $out/console.log && -f $out/native.txt ]] || die "--report needs $out/console.log and $out/native.txt"
fi
mkdir -p "$out"
rm -f "$out"/{results.csv,summary.csv,results.md,meta.txt,failures.txt,raw.txt} "$out"/*.svg "$out"/*.dat
((report_only)) || rm -f "$out"/{native.txt,console.log}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gthulhu-bench.XXXXXX")
cleanup_add "$tmp"
t0=$(date +%s)

# ------------------------------------------------------------------ settings
if ((smoke)); then
	mode=smoke reps=1
	hb_groups=2 hb_loops=20 sock_s=3 lat_s=4 ovh_s=4 robust_s=60
	dec_iters=200000 dec_rounds=3 cg_iters=2000
	ps_procs=2000 ps_rounds=3
else
	mode=full reps=${REPS:-5}
	hb_groups=4 hb_loops=100 sock_s=10 lat_s=15 ovh_s=10 robust_s=300
	dec_iters=1000000 dec_rounds=11 cg_iters=20000
	ps_procs=10000 ps_rounds=5
fi
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive number (got '$reps')"
smp=${BENCH_SMP:-2} mem=${BENCH_MEM:-2G}
if [[ $host_mode == 1 ]]; then
	shape="host $(hostname), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0fG", $2 / 1048576 }' /proc/meminfo) RAM"
else
	shape="QEMU TCG single-threaded, $smp vCPUs, $mem RAM, on a shared $(nproc)-CPU host"
fi
cat >"$tmp/bench.conf" <<EOF
BENCH_MODE=$mode
BENCH_SHAPE='$shape'
REPS=$reps
HB_GROUPS=$hb_groups
HB_LOOPS=$hb_loops
HB_TIMEOUT=$((hb_groups * hb_loops + 120))
SOCK_S=$sock_s
LAT_S=$lat_s
OVH_S=$ovh_s
ROBUST_S=$robust_s
API_RATE=1000
API_SOCKET=/run/gthulhu/api.sock
EOF

native=$out/native.txt # the decision bench's lines
raw=$out/raw.txt       # every BENCH line: native.txt, then the guest's
bench_fail() { echo "BENCHFAIL $1,$2,$3,$4" >>"$native"; }

# ------------------------------------------------------------------ 4. decision path (native)
decision_bench() {
	: >"$native"
	local t s n ir
	if ! make -s "build/decision_bench" >"$tmp/make.log" 2>&1; then
		warn "build/decision_bench did not build: $(tail -n 3 "$tmp/make.log")"
		bench_fail decision native 0 "build/decision_bench did not build: $(tail -n 1 "$tmp/make.log" | tr ',' ';')"
		return 0
	fi
	log "decision path: ns per decision (clock_gettime) and instructions (callgrind)"
	for t in 16 256 4096; do
		for s in 0 100; do
			if ! build/decision_bench -t "$t" -s "$s" -n "$dec_iters" -r "$dec_rounds" \
				>"$tmp/dec.out" 2>"$tmp/dec.err"; then
				bench_fail "decision_t${t}_s$s" native 0 "decision_bench failed: $(tail -n 1 "$tmp/dec.err" | tr ',' ';')"
				continue
			fi
			sed 's/^/BENCHDATA /' "$tmp/dec.out" >>"$native"
			if ! valgrind --tool=callgrind --toggle-collect=run_decisions \
				--callgrind-out-file="$tmp/cg.out" build/decision_bench -t "$t" -s "$s" \
				-n "$cg_iters" -r 1 -w 0 -q >"$tmp/cg.log" 2>&1; then
				bench_fail "decision_t${t}_s$s" native 0 "callgrind run failed: $(tail -n 1 "$tmp/cg.log" | tr ',' ';')"
				continue
			fi
			ir=$(awk '/^totals:/ { print $2 }' "$tmp/cg.out")
			n=$(awk -v ir="$ir" -v n="$cg_iters" 'BEGIN { printf "%.1f", ir / n }')
			echo "BENCHDATA decision_t${t}_s$s,native,1,instr_per_decision,$n" >>"$native"
		done
	done
}

# ------------------------------------------------------------------ 7. process tracking (native)
proc_scan_bench() {
	local w
	ps_fail() { for w in synthetic procfs; do bench_fail "proc_scan_${w}_n$ps_procs" native 0 "$1"; done; }
	if ! make -s "build/proc_scan_bench" >"$tmp/make.log" 2>&1; then
		ps_fail "build/proc_scan_bench did not build: $(tail -n 1 "$tmp/make.log" | tr ',' ';')"
		return 0
	fi
	log "process tracking: full /proc scan against event-driven updates, $ps_procs processes"
	if ! build/proc_scan_bench --procs "$ps_procs" -r "$ps_rounds" >"$tmp/ps.out" 2>"$tmp/ps.err"; then
		ps_fail "proc_scan_bench failed: $(tail -n 1 "$tmp/ps.err" | tr ',' ';')"
		return 0
	fi
	sed 's/^/BENCHDATA /' "$tmp/ps.out" >>"$native"
}

# ------------------------------------------------------------------ 1-3, 5: the kernel workloads
kernel_workloads() {
	local p gthulhu_bin gthulhuctl_bin files st hb kernel timeout_s
	# The probes are plain C with no project dependency: built here, run in the guest.
	for p in wakeup_probe api_load; do
		"${CC:-cc}" -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE "bench/$p.c" -o "$tmp/$p" ||
			die "cannot build bench/$p.c"
	done
	# Progress on the terminal: the guest's BENCHLOG/BENCHFAIL lines.
	progress() { sed -un 's/^.*BENCH\(LOG\|FAIL\) /  /p'; }
	gthulhu_bin=${BENCH_GTHULHU:-build/gthulhu}
	gthulhuctl_bin=${BENCH_GTHULHUCTL:-build/gthulhuctl}
	[[ -x $gthulhu_bin ]] || die "$gthulhu_bin is missing: run make first"
	[[ $(basename "$gthulhu_bin") == gthulhu ]] || die "BENCH_GTHULHU must name a file called gthulhu"
	files=("$gthulhu_bin" tests/vm/guest-lib.sh "$tmp/wakeup_probe" "$tmp/api_load" "$tmp/bench.conf")
	if [[ -x build/tests/fake-apiserver ]]; then
		files+=(build/tests/fake-apiserver)
	else
		warn "build/tests/fake-apiserver is missing: the node agent figure will be FAILED"
	fi
	if [[ -x $gthulhuctl_bin ]]; then
		files+=("$gthulhuctl_bin")
	else
		warn "build/gthulhuctl is missing: the API load figure will be reported as not measured"
	fi

	if [[ $host_mode == 1 ]]; then
		hb=$tmp/host-bin
		mkdir -p "$hb"
		cp "${files[@]}" "$hb/"
		log "running the workloads on this host ($shape)"
		set +e
		GTHULHU_BENCH_DIR=$hb GTHULHU_BENCH_WORK=$tmp/work PATH="$hb:$PATH" \
			sh bench/guest-bench.sh 2>&1 | tee "$out/console.log" | progress
		st=("${PIPESTATUS[@]}")
		set -e
		vm_rc=${st[0]}
	else
		kernel=${BENCH_KERNEL:-debian}
		[[ -f $kernel ]] || kernel=$(scripts/kernel.sh "$kernel" | tail -n 1)
		[[ -f $kernel ]] || die "no kernel image for BENCH_KERNEL=${BENCH_KERNEL:-debian}"
		timeout_s=$((900 + reps * (2 * sock_s + 4 * lat_s + ovh_s + 300) + 2 * robust_s))
		log "booting $(basename "$(dirname "$kernel")") once for every workload ($mode run, $reps repetition(s), VM timeout ${timeout_s}s)"
		set +e
		tests/vm/vm-run.sh --kernel "$kernel" --guest bench/guest-bench.sh --timeout "$timeout_s" \
			--smp "$smp" --mem "$mem" --log "$out/console.log" "${files[@]}" | progress
		st=("${PIPESTATUS[@]}")
		set -e
		vm_rc=${st[0]}
	fi
}

vm_rc="not run"
if ((!report_only)); then
	decision_bench
	proc_scan_bench
	kernel_workloads
fi

# ------------------------------------------------------------------ raw lines -> CSV
[[ -f $out/console.log ]] || : >"$out/console.log"
cp "$native" "$raw"
tr -d '\r' <"$out/console.log" | { grep -aoE 'BENCH(META|DATA|FAIL|DONE) .*' || [[ $? == 1 ]]; } >>"$raw"
guest_done=1
if ! grep -q '^BENCHDONE ' "$raw"; then
	guest_done=0
	echo "BENCHFAIL vm,,0,the guest did not finish (vm-run rc=$vm_rc: 124 = timeout, 125 = no result); see $out/console.log" >>"$raw"
fi
meta() { sed -n "s/^BENCHMETA $1=//p" "$raw" | head -n 1; }
kver=$(meta kernel)
cpus=$(meta cpus)
mdate=$(meta date)
[[ -n $mdate ]] || mdate=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[[ -n $kver ]] || kver="unknown kernel"
[[ -n $cpus ]] || cpus="?"
# The version the tested binary reports; the tree's own only for a run that has none.
version=$(meta gthulhu)
[[ -n $version ]] || version="$(git describe --always --dirty 2>/dev/null || echo unknown) (tree at report time)"
{
	echo "mode=$mode"
	echo "reps=$reps"
	echo "kernel=$kver"
	echo "cpus=$cpus"
	echo "shape=$shape"
	echo "date=$mdate"
	echo "gthulhu=$version"
	echo "host_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
} >"$out/meta.txt"

echo "workload,scheduler,rep,metric,value" >"$out/results.csv"
# A row must have five fields and a number: anything else is a garbled console line.
sed -n 's/^BENCHDATA //p' "$raw" | awk -F, -v bad="$tmp/garbled" '
	NF == 5 && $5 ~ /^-?[0-9]+(\.[0-9]+)?$/ { print; next }
	{ print > bad }' >>"$out/results.csv"
if [[ -s $tmp/garbled ]]; then
	while IFS= read -r l; do echo "BENCHFAIL console,,0,garbled result line: ${l//,/;}"; done <"$tmp/garbled" >>"$raw"
fi
sed -n 's/^BENCHFAIL //p' "$raw" >"$out/failures.txt"

# Medians (and spread) per workload, scheduler and metric.
tail -n +2 "$out/results.csv" | sort -t, -k1,1 -k2,2 -k4,4 -k5,5g | awk -F, '
	function flush() {
		if (!n) return
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%s,%s,%s,%d,%.6g,%.6g,%.6g\n", kw, ks, km, n, m, v[1], v[n]
	}
	{ key = $1 SUBSEP $2 SUBSEP $4
	  if (key != prev) { flush(); n = 0; prev = key; kw = $1; ks = $2; km = $4 }
	  v[++n] = $5 }
	END { flush() }' >"$tmp/summary.body"
{
	echo "workload,scheduler,metric,n,median,min,max"
	cat "$tmp/summary.body"
} >"$out/summary.csv"

declare -A MED=() SPREAD=()
while IFS=, read -r w s m n med lo hi; do
	MED["$w/$s/$m"]=$med
	SPREAD["$w/$s/$m"]="$lo..$hi (n=$n)"
done <"$tmp/summary.body"

# ------------------------------------------------------------------ checks: rows and asserts
expected=()
for s in default gthulhu; do
	expected+=("throughput_hackbench/$s/time_s" "throughput_sock/$s/msgs_per_s")
done
for s in default gthulhu gthulhu-strategy gthulhu-strategy-api; do
	for m in p50_us p99_us max_us; do expected+=("latency/$s/$m"); done
done
for s in gthulhu gthulhu-strategy gthulhu-strategy-api; do
	expected+=("loop_latency/$s/p99_le_us" "latency/$s/nr_prio_dispatches")
done
expected+=("latency_idle/default/p50_us" "latency_idle/default/p99_us")
expected+=("throughput_hackbench/gthulhu-k8s/time_s" "overhead_hackbench/gthulhu-k8s/share_pct")
expected+=("overhead_stress/gthulhu/share_pct" "overhead_hackbench/gthulhu/share_pct"
	"overhead_stress/gthulhu/bpf_share_pct" "overhead_hackbench/gthulhu/bpf_share_pct"
	"api_load/gthulhu-strategy-api/rate" "api_load/gthulhu-strategy-api/errors"
	"api_load/gthulhu-strategy-api/dropped" "api_load/gthulhu-strategy-api/timeouts")
for t in 16 256 4096; do
	for s in 0 100; do
		expected+=("decision_t${t}_s$s/native/ns_per_decision" "decision_t${t}_s$s/native/instr_per_decision")
	done
done
ps_s=proc_scan_synthetic_n$ps_procs/native ps_p=proc_scan_procfs_n$ps_procs/native
for m in full_scan_ms refresh_us table_bytes; do expected+=("$ps_s/$m" "$ps_p/$m"); done
for r in 1 10 100; do expected+=("$ps_s/rebuild_${r}_rules_ms" "$ps_s/event_rebuild_${r}_rules_ms"); done
for m in stress_rc attached_at_end kernel_stall_lines fallback_episodes; do
	expected+=("robustness/gthulhu/$m")
done
missing=()
for k in "${expected[@]}"; do
	[[ -n ${MED[$k]:-} ]] || missing+=("$k")
done
# The strategy must have reached BPF, or the "with strategy" figure means nothing.
if [[ -n ${MED[latency/gthulhu-strategy/nr_prio_dispatches]:-} ]] &&
	awk -v v="${MED[latency/gthulhu-strategy/nr_prio_dispatches]}" 'BEGIN { exit !(v <= 0) }'; then
	echo "latency,gthulhu-strategy,0,the probe's strategy never reached BPF (nr_prio_dispatches = 0)" >>"$out/failures.txt"
fi
# A missing row is a failure of its own only when nothing already explains it (a
# failed workload, or a guest that did not finish).
if ((${#missing[@]} && guest_done)); then
	for k in "${missing[@]}"; do
		w=${k%%/*} rest=${k#*/}
		why="^$w,${rest%%/*},"
		[[ $w == loop_latency ]] && why="^latency,${rest%%/*},"
		[[ ${rest%%/*} == gthulhu-strategy-api ]] && why=",gthulhu-strategy-api,"
		grep -q -- "$why" "$out/failures.txt" ||
			echo "$w,${rest%%/*},0,missing result row: ${rest#*/}" >>"$out/failures.txt"
	done
fi

# ------------------------------------------------------------------ figures
# fmt NUMBER: three significant figures, or a dash.
fmt() { [[ -n ${1:-} ]] && awk -v v="$1" 'BEGIN { a = v < 0 ? -v : v; if (a >= 1000) printf "%.0f", v; else if (a >= 100) printf "%.1f", v; else printf "%.3g", v }' || echo "—"; }
ratio() { [[ -n ${1:-} && -n ${2:-} ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "—"; else printf "%.2f", a / b }' || echo "—"; }
# verdict VALUE OP LIMIT FAIL_PATTERN: PASS/MISS, FAILED when the workload failed.
verdict() {
	if [[ -n $4 ]] && grep -qE "^($4)," "$out/failures.txt"; then
		echo "**FAILED**"
	elif [[ -z $1 || $1 == "—" ]]; then
		echo "**FAILED** (no data)"
	elif awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !((op == "<=" && v <= l) || (op == ">=" && v >= l) || (op == "==" && v == l)) }'; then
		echo PASS
	else
		echo MISS
	fi
}
M() { echo "${MED[$1]:-}"; }

hb_d=$(M throughput_hackbench/default/time_s) hb_g=$(M throughput_hackbench/gthulhu/time_s)
sk_d=$(M throughput_sock/default/msgs_per_s) sk_g=$(M throughput_sock/gthulhu/msgs_per_s)
hb_r=$(ratio "$hb_g" "$hb_d") sk_r=$(ratio "$sk_g" "$sk_d")
hb_k=$(M throughput_hackbench/gthulhu-k8s/time_s)
p99_d=$(M latency/default/p99_us) p99_s=$(M latency/gthulhu-strategy/p99_us)
lat_r=$(ratio "$p99_d" "$p99_s")
lp_n=$(M loop_latency/gthulhu-strategy/p99_le_us) lp_a=$(M loop_latency/gthulhu-strategy-api/p99_le_us)
lp_r=$(ratio "$lp_a" "$lp_n")

# ------------------------------------------------------------------ plots
# SVG via gnuplot; every plot names the kernel, the machine and the date. Data files
# (*.dat) stay beside them.
title_meta="kernel $kver, $cpus CPUs ($shape), $mdate"
host_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"')
plot() { # NAME: gnuplot commands on stdin
	if ! {
		echo 'set terminal svg size 900,520 dynamic noenhanced font "sans,11"'
		echo "set output \"$out/$1.svg\""
		cat
	} | gnuplot >"$tmp/gnuplot.log" 2>&1; then
		# No data at all is already reported as the workload's failure.
		if grep -qE 'No valid points|all points .*undefined|empty [xy]2? range' "$tmp/gnuplot.log"; then
			warn "plot $1: no data to draw"
		else
			echo "plot,$1,0,gnuplot failed: $(grep -m1 . "$tmp/gnuplot.log" | tr ',' ';')" >>"$out/failures.txt"
		fi
	fi
}
num() {
	local v
	v=$(M "$1")
	echo "${v:-NaN}"
}
{
	echo "# scheduler p50 p99 max"
	for s in default gthulhu gthulhu-strategy gthulhu-strategy-api; do
		echo "$s $(num "latency/$s/p50_us") $(num "latency/$s/p99_us") $(num "latency/$s/max_us")"
	done
} >"$out/latency.dat"
plot latency <<PLOT
set title "Wake-up latency of a SCHED_OTHER probe under stress-ng --cpu $cpus (median of $reps)\n$title_meta"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [10:*]
set ylabel "latency (µs, log scale)"
set key top left
set grid ytics
plot "$out/latency.dat" using 2:xtic(1) title "p50", '' using 3 title "p99", '' using 4 title "max"
PLOT
{
	echo "# figure ratio target"
	echo "\"hackbench time (lower = better)\" ${hb_r/—/NaN} 1.00"
	echo "\"sock msgs/s (higher = better)\" ${sk_r/—/NaN} 1.15"
} >"$out/throughput.dat"
plot throughput <<PLOT
set title "Throughput, Gthulhu / default scheduler (median of $reps)\n$title_meta"
set style fill solid 0.85 border -1
set boxwidth 0.5
set yrange [0:*]
set ylabel "ratio"
set grid ytics
set xrange [-0.6:1.6]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "gray"
plot "$out/throughput.dat" using 0:2:xtic(1) with boxes title "measured", \
     '' using 0:3 with points pt 7 ps 1.5 lc rgb "red" title "target"
PLOT
{
	echo "# workload user_space_share bpf_share"
	echo "\"stress-ng --cpu $cpus\" $(num overhead_stress/gthulhu/share_pct) $(num overhead_stress/gthulhu/bpf_share_pct)"
	echo "\"hackbench\" $(num overhead_hackbench/gthulhu/share_pct) $(num overhead_hackbench/gthulhu/bpf_share_pct)"
} >"$out/overhead.dat"
plot overhead <<PLOT
set title "Gthulhu's CPU time, % of busy CPU time (median of $reps)\n$title_meta"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.5
set yrange [0:*]
set ylabel "%"
set grid ytics
set key top left
set arrow from graph 0, first 3 to graph 1, first 3 nohead dt 2 lw 2 lc rgb "red"
set label "target 3 % (user space)" at graph 0.02, first 3 offset 0,0.6 tc rgb "red"
plot "$out/overhead.dat" using 2:xtic(1) title "user space (the daemon's threads)", \
     '' using 3 title "BPF half (in other tasks' time)"
PLOT
{
	echo "# tasks ns_s0 ns_s100 instr_s0 instr_s100"
	for t in 16 256 4096; do
		echo "$t $(num "decision_t${t}_s0/native/ns_per_decision") $(num "decision_t${t}_s100/native/ns_per_decision")" \
			"$(num "decision_t${t}_s0/native/instr_per_decision") $(num "decision_t${t}_s100/native/instr_per_decision")"
	done
} >"$out/decision.dat"
plot decision <<PLOT
set multiplot layout 1,2 title "Decision path, native on the build host ($host_cpu, shared), $mdate"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key top left
set yrange [0:*]
set xlabel "waiting tasks"
set title "ns per decision (median)"
set arrow 1 from graph 0, first 150 to graph 1, first 150 nohead dt 2 lw 2 lc rgb "red"
set label 1 "target 150 ns" at graph 0.02, first 150 offset 0,0.6 tc rgb "red"
plot "$out/decision.dat" using 2:xtic(1) title "no strategy", '' using 3 title "100 strategies"
unset arrow 1
unset label 1
set title "instructions per decision (callgrind)"
plot "$out/decision.dat" using 4:xtic(1) title "no strategy", '' using 5 title "100 strategies"
unset multiplot
PLOT
# The loop's latency as a cumulative distribution over its log2 buckets.
cdf() { # SCHEDULER: one line per bucket, % of batches at or below its bound
	local i v
	for i in $(seq 0 15); do
		v=$(M "loop_latency/$1/lt_$((1 << i))us")
		echo "${v:-0}"
	done | awk '{ v[NR] = $1; t += $1 }
		END { for (i = 1; i <= NR; i++) { c += v[i]; if (t > 0) printf "%.3f\n", 100 * c / t; else print "NaN" } }'
}
{
	echo "# bound_us cdf_pct_no_api cdf_pct_api"
	paste -d' ' <(for i in $(seq 0 15); do echo "$((1 << i))"; done) \
		<(cdf gthulhu-strategy) <(cdf gthulhu-strategy-api)
} >"$out/loop_latency.dat"
plot loop_latency <<PLOT
set title "Scheduling loop latency (wake-up to last decision of its batch), without and with API load\n$title_meta"
set logscale x 2
set xlabel "latency bound (µs; the loop counts in log2 buckets)"
set ylabel "% of batches at or below"
set yrange [0:101]
set key bottom right
set grid
set arrow from graph 0, first 99 to graph 1, first 99 nohead dt 3 lc rgb "gray"
plot "$out/loop_latency.dat" using 1:2 with linespoints pt 7 title "no API load", \
     '' using 1:3 with linespoints pt 5 title "$(fmt "$(M api_load/gthulhu-strategy-api/rate)") API requests/s"
PLOT

# ------------------------------------------------------------------ the table
nfail=$(awk 'END { print NR }' "$out/failures.txt")

{
	echo "# Gthulhu vs the default scheduler ($mode run)"
	echo
	echo "Kernel $kver, $cpus CPUs ($shape), $mdate, Gthulhu $version, $reps repetition(s)."
	echo "Medians over repetitions; ratios are Gthulhu / default unless said otherwise."
	echo "Caveat: under QEMU TCG absolute times mean little, the ratios within one boot are"
	echo "what to read; the host is shared with other builds, so expect noise."
	echo
	echo "| figure | default (EEVDF) | Gthulhu | Gthulhu + strategy | ratio | target | verdict |"
	echo "|---|---:|---:|---:|---:|---|---|"
	echo "| hackbench -g $hb_groups -l $hb_loops, time (s) | $(fmt "$hb_d") | $(fmt "$hb_g") | | $hb_r | ≤ 1.00 | $(verdict "$hb_r" "<=" 1.00 throughput_hackbench) |"
	echo "| stress-ng --sock $cpus, msgs/s | $(fmt "$sk_d") | $(fmt "$sk_g") | | $sk_r | ≥ 1.15 | $(verdict "$sk_r" ">=" 1.15 throughput_sock) |"
	for m in p50 p99 max; do
		row="| wake-up latency $m (µs), stress-ng --cpu $cpus | $(fmt "$(M "latency/default/${m}_us")") | $(fmt "$(M "latency/gthulhu/${m}_us")") | $(fmt "$(M "latency/gthulhu-strategy/${m}_us")") |"
		if [[ $m == p99 ]]; then
			echo "$row $lat_r (default / strategy) | ≥ 10 | $(verdict "$lat_r" ">=" 10 "latency,(default|gthulhu-strategy)") |"
		else
			echo "$row $(ratio "$(M "latency/default/${m}_us")" "$(M "latency/gthulhu-strategy/${m}_us")") (default / strategy) | | |"
		fi
	done
	echo "| wake-up latency p50 / p99 (µs) with no load at all, default scheduler: the machine's floor | $(fmt "$(M latency_idle/default/p50_us)") / $(fmt "$(M latency_idle/default/p99_us)") | | | | | |"
	# The scheduler's own share of a wake-up: schedstat's run_delay (see wakeup_probe.c).
	if [[ -n $(M latency/default/rq_p99_us) ]]; then
		for m in p50 p99 max; do
			echo "| run-queue wait per wake-up $m (µs), stress-ng --cpu $cpus | $(fmt "$(M "latency/default/rq_${m}_us")") | $(fmt "$(M "latency/gthulhu/rq_${m}_us")") | $(fmt "$(M "latency/gthulhu-strategy/rq_${m}_us")") | $(ratio "$(M "latency/default/rq_${m}_us")" "$(M "latency/gthulhu-strategy/rq_${m}_us")") (default / strategy) | | |"
		done
	else
		echo "| run-queue wait per wake-up | not measured: this kernel has no /proc/<pid>/schedstat (CONFIG_SCHED_INFO) | | | | | |"
	fi
	echo "| priority dispatches during the strategy run | | $(fmt "$(M latency/gthulhu/nr_prio_dispatches)") | $(fmt "$(M latency/gthulhu-strategy/nr_prio_dispatches)") | | > 0 | $(verdict "$(M latency/gthulhu-strategy/nr_prio_dispatches)" ">=" 1 "latency,gthulhu-strategy") |"
	echo "| of which wake-ups placed by BPF from the last decision (fast path) | | $(fmt "$(M latency/gthulhu/nr_prio_fast_wakeups)") | $(fmt "$(M latency/gthulhu-strategy/nr_prio_fast_wakeups)") | | | |"
	echo "| Gthulhu CPU share under stress-ng --cpu $cpus (%) | | $(fmt "$(M overhead_stress/gthulhu/share_pct)") | | | ≤ 3 | $(verdict "$(M overhead_stress/gthulhu/share_pct)" "<=" 3 overhead_stress) |"
	echo "| + its BPF half under stress-ng --cpu $cpus (%): BPF / user space + BPF | | $(fmt "$(M overhead_stress/gthulhu/bpf_share_pct)") / $(fmt "$(M overhead_stress/gthulhu/total_share_pct)") | | | | |"
	echo "| hackbench time (s) as a Kubernetes node agent (pod metrics on) | | $(fmt "$hb_k") | | $(ratio "$hb_k" "$hb_g") (agent / plain) | | |"
	echo "| Gthulhu CPU share under hackbench as a node agent (%) | | $(fmt "$(M overhead_hackbench/gthulhu-k8s/share_pct)") | | | | |"
	echo "| Gthulhu CPU share under hackbench (%) | | $(fmt "$(M overhead_hackbench/gthulhu/share_pct)") | | | ≤ 3 | $(verdict "$(M overhead_hackbench/gthulhu/share_pct)" "<=" 3 throughput_hackbench) |"
	echo "| + its BPF half under hackbench (%): BPF / user space + BPF | | $(fmt "$(M overhead_hackbench/gthulhu/bpf_share_pct)") / $(fmt "$(M overhead_hackbench/gthulhu/total_share_pct)") | | | | |"
	echo "| loop latency p99 bound (µs), no API load | | $(fmt "$(M loop_latency/gthulhu/p99_le_us)") | $(fmt "$lp_n") | | | |"
	echo "| loop latency p99 bound (µs), API load (1000 req/s) | | | $(fmt "$lp_a") | $lp_r (API / none) | ≤ 1.00 | $(verdict "$lp_r" "<=" 1.00 api_load) |"
	echo "| wake-up latency p99 (µs) with API load | | | $(fmt "$(M latency/gthulhu-strategy-api/p99_us)") | | | |"
	echo "| API requests answered per s, of 1000 due | | | $(fmt "$(M api_load/gthulhu-strategy-api/rate)") | | ≥ 950 | $(verdict "$(M api_load/gthulhu-strategy-api/rate)" ">=" 950 api_load) |"
	echo "| API requests per run: due / errors (refused: backlog full) / dropped (256 in flight) / timeouts | | | $(fmt "$(M api_load/gthulhu-strategy-api/due)") / $(fmt "$(M api_load/gthulhu-strategy-api/errors)") ($(fmt "$(M api_load/gthulhu-strategy-api/refused)")) / $(fmt "$(M api_load/gthulhu-strategy-api/dropped)") / $(fmt "$(M api_load/gthulhu-strategy-api/timeouts)") | | | |"
	echo "| API round trip p99 (µs, from when due) | | | $(fmt "$(M api_load/gthulhu-strategy-api/p99_us)") | | | |"
	echo "| robustness: kernel stall/watchdog lines, ${robust_s}s stress-ng --aggressive | | $(fmt "$(M robustness/gthulhu/kernel_stall_lines)") | | | 0 | $(verdict "$(M robustness/gthulhu/kernel_stall_lines)" "==" 0 robustness) |"
	echo "| robustness: still attached at the end (1 = yes) | | $(fmt "$(M robustness/gthulhu/attached_at_end)") | | | 1 | $(verdict "$(M robustness/gthulhu/attached_at_end)" "==" 1 robustness) |"
	echo "| robustness: user-space stalls (fallback episodes) | | $(fmt "$(M robustness/gthulhu/fallback_episodes)") | | | 0 | $(verdict "$(M robustness/gthulhu/fallback_episodes)" "==" 0 robustness) |"
	echo
	echo "Decision path (native on the build host, no kernel: strategy lookup, account, pool push/pop, CPU choice, decide):"
	echo
	echo "| waiting tasks | strategies | ns/decision (median) | min..max | instructions/decision (callgrind) | target | verdict |"
	echo "|---:|---:|---:|---|---:|---|---|"
	for t in 16 256 4096; do
		for s in 0 100; do
			k="decision_t${t}_s$s/native"
			v=$(M "$k/ns_per_decision")
			if [[ $t == 4096 ]]; then tg="≤ 150" vd=$(verdict "$v" "<=" 150 "decision|decision_t${t}_s$s"); else tg="" vd=""; fi
			echo "| $t | $s | $(fmt "$v") | ${SPREAD[$k/ns_per_decision]:-—} | $(fmt "$(M "$k/instr_per_decision")") | $tg | $vd |"
		done
	done
	echo
	echo "Process tracking with $ps_procs processes (native on the build host, bench/proc_scan_bench: a synthetic proc tree, and this host's /proc with $ps_procs paused children):"
	echo
	echo "| figure | synthetic tree | this host's /proc |"
	echo "|---|---:|---:|"
	echo "| full scan (ms): every resync; every pass without events | $(fmt "$(M "$ps_s/full_scan_ms")") | $(fmt "$(M "$ps_p/full_scan_ms")") |"
	echo "| refresh one process after an event (µs) | $(fmt "$(M "$ps_s/refresh_us")") | $(fmt "$(M "$ps_p/refresh_us")") |"
	for r in 1 10 100; do
		echo "| snapshot rebuild, $r rule(s) (ms): from scratch / after one event | $(fmt "$(M "$ps_s/rebuild_${r}_rules_ms")") / $(fmt "$(M "$ps_s/event_rebuild_${r}_rules_ms")") | |"
	done
	echo "| process table memory (bytes) | $(fmt "$(M "$ps_s/table_bytes")") | $(fmt "$(M "$ps_p/table_bytes")") |"
	echo
	if ((nfail)); then
		echo "**FAILED** ($nfail):"
		echo
		sed 's/^/- /' "$out/failures.txt"
	else
		echo "Every workload ran; no failure."
	fi
	echo
	echo "Raw data: results.csv (every measurement), summary.csv (medians), meta.txt."
} >"$out/results.md"

nfail=$(awk 'END { print NR }' "$out/failures.txt")

# ------------------------------------------------------------------ report
echo
cat "$out/results.md"
echo
log "$mode run took $(($(date +%s) - t0)) s; results in $out/ (results.md, results.csv, summary.csv, *.svg)"
if ((nfail)); then
	log "$nfail failure(s): see $out/failures.txt and $out/console.log"
	exit 1
fi
exit 0
