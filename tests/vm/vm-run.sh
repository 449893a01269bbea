#!/usr/bin/env bash
# Boot one kernel in QEMU (TCG software emulation) with a throw-away busybox
# initramfs, run one guest script in it, and return that script's exit code.
# The building block of Gthulhu's VM tests: tests/vm/* and bench/* call it with a
# kernel from scripts/kernel.sh (debian | lts612) and the binaries under test.
#
# usage: tests/vm/vm-run.sh --kernel IMAGE --guest SCRIPT [--timeout SECS (600)]
#            [--smp N (2)] [--mem SIZE (2G)] [--smt-numa] [--log FILE]
#            [--append "extra cmdline"] [--keep] [FILE...]
#   FILE     copied to /opt/gthulhu/bin/<basename> (directories to /opt/gthulhu/<basename>);
#            ELF files bring their shared libraries and the dynamic loader along.
#            stress-ng, hackbench, cyclictest, taskset and bpftool are always included.
#   --smt-numa  the CPUs as 2 sockets of 2-way SMT cores, each socket a NUMA node with
#            half the memory (and, in QEMU, its own L3); --smp must be a multiple of 4.
#   --keep   keep the temporary directory (initramfs, console log) for debugging.
# Inside the guest: PATH starts with /opt/gthulhu/bin, /proc /sys /dev /tmp /run,
# debugfs, tracefs and cgroup2 are mounted, GTHULHU_VM=1; the script runs with sh.
# Exit status: the guest script's, 124 on timeout, 125 if the guest never reported
# (kernel panic, bad image...), 2 on usage errors. Console output goes to stdout.
# env: GTHULHU_QEMU_ACCEL (default tcg,thread=single; see below), GTHULHU_QEMU (binary),
#      GTHULHU_QEMU_EXTRA (extra QEMU arguments), GTHULHU_BUSYBOX, TMPDIR.
set -euo pipefail
GTHULHU_PROG=vm-run.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

usage() {
	awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0" >&2
	exit 2
}

kernel="" guest="" timeout_s=600 smp=2 mem=2G logfile="" extra_append="" keep=0 smt_numa=0
files=()
while (($#)); do
	case $1 in
	--kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
	--guest) guest=${2:?--guest needs a value}; shift 2 ;;
	--timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
	--smp) smp=${2:?--smp needs a value}; shift 2 ;;
	--mem) mem=${2:?--mem needs a value}; shift 2 ;;
	--log) logfile=${2:?--log needs a value}; shift 2 ;;
	--append) extra_append=${2?--append needs a value}; shift 2 ;;
	--keep) keep=1; shift ;;
	--smt-numa) smt_numa=1; shift ;;
	-h | --help) usage ;;
	--) shift; files+=("$@"); break ;;
	-*) warn "unknown option $1"; usage ;;
	*) files+=("$1"); shift ;;
	esac
done
[[ -n $kernel ]] || { warn "--kernel is required"; usage; }
[[ -n $guest ]] || { warn "--guest is required"; usage; }
[[ -r $kernel ]] || die "kernel image '$kernel' not found or unreadable"
[[ -r $guest ]] || die "guest script '$guest' not found or unreadable"
if ! [[ $timeout_s =~ ^[1-9][0-9]*$ ]]; then die "--timeout must be a positive number of seconds"; fi
if ! [[ $smp =~ ^[1-9][0-9]*$ ]]; then die "--smp must be a positive number"; fi
machine=(-smp "$smp" -m "$mem")
if ((smt_numa)); then
	# QEMU warns "This family of AMD CPU doesn't support hyperthreading" (TCG has no
	# topoext to offer), but the guest still sees the siblings, from the APIC IDs.
	((smp % 4 == 0)) || die "--smt-numa needs --smp to be a multiple of 4"
	[[ $mem =~ ^([1-9][0-9]*)([MG])$ ]] || die "--smt-numa needs --mem as a number of M or G"
	mib=${BASH_REMATCH[1]}
	[[ ${BASH_REMATCH[2]} == G ]] && mib=$((mib * 1024))
	half=$((mib / 2))M
	machine=(-smp "$smp,sockets=2,cores=$((smp / 4)),threads=2" -m "$mem"
		-object "memory-backend-ram,id=mem0,size=$half" -object "memory-backend-ram,id=mem1,size=$half"
		-numa "node,nodeid=0,cpus=0-$((smp / 2 - 1)),memdev=mem0"
		-numa "node,nodeid=1,cpus=$((smp / 2))-$((smp - 1)),memdev=mem1")
fi
for f in "${files[@]}"; do
	[[ -e $f ]] || die "file to copy into the guest not found: $f"
done
need_cmd qemu-system-x86_64 cpio ldd timeout
BUSYBOX=${GTHULHU_BUSYBOX:-/bin/busybox}
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found; install busybox-static (scripts/deps.sh)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked; install busybox-static (scripts/deps.sh)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gthulhu-vm.XXXXXX")
((keep)) || cleanup_add "$work"
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,opt/gthulhu/bin}

is_elf() { [[ $(od -An -c -N4 "$1" 2>/dev/null | tr -d ' ') == '177ELF' ]]; }

# Copy the shared libraries and the loader an ELF binary needs, at the same paths.
copy_libs() {
	local bin=$1 line lib
	is_elf "$bin" || return 0
	local out
	out=$(ldd "$bin" 2>/dev/null) || return 0 # static binaries: nothing to do
	while IFS= read -r line; do
		lib=""
		if [[ $line =~ =\>\ (/[^ ]+) ]]; then
			lib=${BASH_REMATCH[1]}
		elif [[ $line =~ ^[[:space:]]*(/[^ ]+) ]]; then
			lib=${BASH_REMATCH[1]}
		elif [[ $line == *"not found"* ]]; then
			die "$bin needs a library that is missing on this host: $line"
		fi
		[[ -n $lib && ! -e $root$lib ]] || continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done <<<"$out"
}

copy_file() {
	local src=$1 dst
	if [[ -d $src ]]; then
		dst="$root/opt/gthulhu/$(basename "$src")"
		cp -a "$src" "$dst"
		while IFS= read -r -d '' f; do copy_libs "$f"; done < <(find "$dst" -type f -print0)
	else
		dst="$root/opt/gthulhu/bin/$(basename "$src")"
		cp -L "$src" "$dst"
		copy_libs "$src"
	fi
}

cp "$BUSYBOX" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
for tool in stress-ng hackbench cyclictest taskset bpftool; do
	if path=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$tool"); then
		copy_file "$path"
	elif [[ $tool != bpftool ]]; then
		die "$tool is not installed on the host but the guest needs it: run scripts/deps.sh"
	fi
done
for f in "${files[@]}"; do copy_file "$f"; done
cp "$guest" "$root/opt/gthulhu/guest.sh"

cat >"$root/init" <<'EOF'
#!/bin/sh
# Generated by tests/vm/vm-run.sh: set up a minimal system, run the guest script,
# report its exit code on the console and power off.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up 2>/dev/null
export PATH=/opt/gthulhu/bin:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb GTHULHU_VM=1
cd /root
sh /opt/gthulhu/guest.sh </dev/null
rc=$?
sync
echo "GTHULHU_VM_RESULT rc=$rc"
poweroff -f
sleep 2
reboot -f
EOF
chmod 0755 "$root/init" "$root/opt/gthulhu/guest.sh"

initrd="$work/initramfs.cpio"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$initrd" ||
	die "cpio failed to pack the initramfs"
[[ -s $initrd ]] || die "empty initramfs (is cpio installed?)"

log="${logfile:-$work/console.log}"
mkdir -p "$(dirname "$log")"
: >"$log"
# no_timer_check: a busy host makes the emulated PIT look broken to the kernel's
# boot-time timer check ("MP-BIOS bug: 8254 timer not connected").
cmdline="console=ttyS0 quiet panic=-1 no_timer_check${extra_append:+ $extra_append}"
# One host thread for all vCPUs: with multi-threaded TCG (QEMU 7.2 and 10.0 alike)
# a vCPU can execute a stale int3 while another CPU patches kernel text (static
# keys: sched_ext attach/detach, tracepoints), and the guest dies with
# "Oops: int3". Single-threaded TCG cannot race that way. GTHULHU_QEMU_ACCEL=tcg
# restores multi-threaded TCG (faster with several vCPUs, but expect such crashes).
accel=${GTHULHU_QEMU_ACCEL:-tcg,thread=single}
qemu=${GTHULHU_QEMU:-qemu-system-x86_64}
log "booting $(basename "$kernel") (smp=$smp$( ((smt_numa)) && echo ' smt-numa') mem=$mem timeout=${timeout_s}s, initramfs $(($(stat -c %s "$initrd") / 1024)) KiB)"
start=$(date +%s.%N)
# shellcheck disable=SC2086 # GTHULHU_QEMU_EXTRA is a list of words on purpose
timeout -k 10 "$timeout_s" "$qemu" -accel "$accel" -cpu max "${machine[@]}" \
	-nographic -no-reboot -nic none -no-user-config ${GTHULHU_QEMU_EXTRA:-} \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	</dev/null >"$log" 2>&1 &
qpid=$!
trap 'kill "$qpid" 2>/dev/null; exit 130' INT TERM HUP
# Stream the console to stdout while QEMU runs (works without a TTY).
tail -s 0.2 --pid="$qpid" -n +1 -f "$log" 2>/dev/null | tr -d '\r' &
tpid=$!
qrc=0
wait "$qpid" || qrc=$?
# The streamer only mirrors the log to the terminal; the result comes from the log file.
if ! wait "$tpid" 2>/dev/null; then
	log "console streaming ended early; the full console is in the log"
fi
trap - INT TERM HUP
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')

# The guest's last result line; empty (a failure, below) when it never printed one.
marker=$(tr -d '\r' <"$log" | awk 'match($0, /GTHULHU_VM_RESULT rc=[0-9]+/) { m = substr($0, RSTART, RLENGTH) } END { print m }')
where="console log: $log"
((keep)) || [[ -n $logfile ]] || where="use --log FILE to keep the console log"
if [[ -z $marker ]]; then
	if ((qrc == 124 || qrc == 137)); then
		log "timed out after $timeout_s s (QEMU killed); last 40 console lines:"
		tr -d '\r' <"$log" | tail -n 40 >&2
		log "timed out after $timeout_s s; $where"
		exit 124
	fi
	log "no GTHULHU_VM_RESULT line from the guest (QEMU exit $qrc, ${elapsed} s): kernel panic or boot failure?"
	log "last 40 console lines:"
	tr -d '\r' <"$log" | tail -n 40 >&2
	log "no result from the guest; $where"
	exit 125
fi
rc=${marker##*=}
((qrc == 124 || qrc == 137)) && warn "guest reported rc=$rc but did not power off before the timeout"
log "guest rc=$rc after ${elapsed} s (boot + run)"
((keep)) && log "work dir kept: $work"
exit "$rc"
