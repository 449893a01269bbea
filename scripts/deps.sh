#!/usr/bin/env bash
# Install Gthulhu's build and test toolchain on Debian 12 (bookworm), as root.
# Run by `make deps` and by `make run` / `make test`; also builds the static
# libbpf (>= 1.5, from Debian's trixie source package) into build/deps/libbpf,
# where the Makefile expects it (LIBBPF_A = build/deps/libbpf/usr/lib64/libbpf.a).
# Everything is checked first, so a second run does nothing and takes a moment.
#
# usage: scripts/deps.sh [all|kernel-build]
#   all           (default) compilers, libraries, VM tools, bpftool >= 7.5, libbpf >= 1.5
#   kernel-build  extra packages needed to build a kernel (used by scripts/kernel.sh lts612)
# env:  GTHULHU_CACHE (default /var/cache/gthulhu) keeps the libbpf source download.
set -euo pipefail
GTHULHU_PROG=deps.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_PKGS=(
	clang-19 llvm-19 libelf-dev zlib1g-dev libzstd-dev pkg-config make gcc libc6-dev
	libyaml-dev libcmocka-dev liburcu-dev clang-format cppcheck
	libmicrohttpd-dev libgnutls28-dev openssl libjansson-dev libcurl4-openssl-dev libclang-rt-19-dev gnuplot-nox valgrind
	qemu-system-x86 busybox-static cpio zstd xz-utils binutils stress-ng rt-tests
	dpkg-dev patch util-linux jq curl python3 python3-yaml python3-jsonschema
)
KBUILD_PKGS=(flex bison bc libssl-dev libelf-dev dwarves make gcc xz-utils perl python3 cpio)
BPFTOOL_MIN=7.5
LIBBPF_MIN=1.5
BACKPORTS_LIST=/etc/apt/sources.list.d/gthulhu-bookworm-backports.list
LIBBPF_DIR="$GTHULHU_REPO/build/deps/libbpf"
LIBBPF_SRC_CACHE="$GTHULHU_CACHE/src/libbpf"
LOG_DIR="$GTHULHU_CACHE/logs"

APT_WAIT=(-o DPkg::Lock::Timeout=600)
apt_updated=0

# Print the packages of "$@" that are not installed.
missing_pkgs() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null |
		awk '$2 == "ii" {print $1}' || true)
	local p
	for p in "$@"; do
		grep -qxF "$p" <<<"$installed" || echo "$p"
	done
}

# Run an apt-get command quietly, keeping its output in a log shown on failure.
run_apt() {
	local what=$1
	shift
	mkdir -p "$LOG_DIR"
	local logf="$LOG_DIR/apt-$what.log"
	if ! apt-get -q -y "${APT_WAIT[@]}" "$@" >"$logf" 2>&1; then
		tail -n 25 "$logf" >&2
		die "apt-get $* failed (full log: $logf)"
	fi
}

apt_update_once() {
	((apt_updated)) && return 0
	log "apt-get update"
	run_apt update update
	apt_updated=1
}

install_pkgs() {
	local missing
	mapfile -t missing < <(missing_pkgs "$@")
	((${#missing[@]})) || return 0
	need_root "installing packages (${missing[*]})"
	apt_update_once
	log "apt-get install ${missing[*]}"
	run_apt install install --no-install-recommends "${missing[@]}"
	mapfile -t missing < <(missing_pkgs "$@")
	((${#missing[@]} == 0)) || die "still not installed after apt-get: ${missing[*]}"
}

# ---------------------------------------------------------------- bpftool
bpftool_bin() {
	local b
	for b in /usr/sbin/bpftool /usr/bin/bpftool; do
		[[ -x $b ]] && { echo "$b"; return 0; }
	done
	return 1
}

bpftool_version() {
	local b
	b=$(bpftool_bin) || return 0
	"$b" version 2>/dev/null | sed -n '1s/^bpftool v\{0,1\}\([0-9][0-9.]*\).*/\1/p'
}

bpftool_ok() {
	local v
	v=$(bpftool_version)
	[[ -n $v ]] && dpkg --compare-versions "$v" ge "$BPFTOOL_MIN"
}

have_backports() {
	local codename=$1
	grep -hsE "^[^#]*[[:space:]]${codename}-backports([[:space:]]|$)" \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		>/dev/null
}

install_bpftool() {
	bpftool_ok && return 0
	need_root "installing bpftool >= $BPFTOOL_MIN"
	local codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if [[ $codename == bookworm ]]; then
		if ! have_backports bookworm; then
			log "adding bookworm-backports as $BACKPORTS_LIST"
			echo "deb $DEBIAN_MIRROR bookworm-backports main" >"$BACKPORTS_LIST"
			apt_updated=0
		fi
		apt_update_once
		log "apt-get -t bookworm-backports install bpftool"
		run_apt bpftool install --no-install-recommends -t bookworm-backports bpftool
	else
		apt_update_once
		log "apt-get install bpftool"
		run_apt bpftool install --no-install-recommends bpftool
	fi
	bpftool_ok || die "bpftool $(bpftool_version) is older than $BPFTOOL_MIN (need bookworm-backports' bpftool)"
}

# ---------------------------------------------------------------- libbpf
# Version "X.Y.Z" of the libbpf installed in $1 (reads libbpf_version.h).
libbpf_installed_version() {
	local h="$1/usr/include/bpf/libbpf_version.h"
	[[ -f $h && -f $1/usr/lib64/libbpf.a && -f $1/usr/include/bpf/libbpf.h ]] || return 0
	awk '/define LIBBPF_MAJOR_VERSION/ {ma=$3} /define LIBBPF_MINOR_VERSION/ {mi=$3}
	     END {if (ma != "") print ma "." mi}' "$h"
}

libbpf_ok() {
	local v
	v=$(libbpf_installed_version "$LIBBPF_DIR")
	[[ -n $v ]] && dpkg --compare-versions "$v" ge "$LIBBPF_MIN"
}

# Newest cached libbpf .dsc whose version is >= LIBBPF_MIN and whose files are all there.
cached_libbpf_dsc() {
	local best="" bestv="" d v f ok
	for d in "$LIBBPF_SRC_CACHE"/libbpf_*.dsc; do
		[[ -f $d ]] || continue
		v=$(sed -n 's/^Version: //p' "$d" | head -n1)
		dpkg --compare-versions "${v#*:}" ge "$LIBBPF_MIN" || continue
		ok=1
		while read -r f; do
			[[ -f $LIBBPF_SRC_CACHE/$f ]] || ok=0
		done < <(awk '/^Files:/ {on=1; next} /^[^ ]/ || NF < 3 {on=0} on {print $3}' "$d")
		((ok)) || continue
		if [[ -z $bestv ]] || dpkg --compare-versions "$v" gt "$bestv"; then
			best=$d bestv=$v
		fi
	done
	[[ -n $best ]] && echo "$best"
	return 0
}

download_libbpf_source() {
	papt_setup trixie-src "deb-src $DEBIAN_MIRROR trixie main"
	papt_update trixie-src 3600 || die "cannot read Debian's trixie source index (network?)"
	mkdir -p "$LIBBPF_SRC_CACHE"
	log "apt-get source --download-only libbpf (trixie) into $LIBBPF_SRC_CACHE"
	mkdir -p "$LOG_DIR"
	if ! (cd "$LIBBPF_SRC_CACHE" && papt trixie-src source --download-only libbpf) \
		>"$LOG_DIR/libbpf-download.log" 2>&1; then
		tail -n 20 "$LOG_DIR/libbpf-download.log" >&2
		die "downloading the libbpf source package failed (log: $LOG_DIR/libbpf-download.log)"
	fi
}

build_libbpf_locked() {
	libbpf_ok && return 0 # another process may have built it while we waited
	local dsc
	dsc=$(cached_libbpf_dsc)
	if [[ -z $dsc ]]; then
		download_libbpf_source
		dsc=$(cached_libbpf_dsc)
		[[ -n $dsc ]] || die "no libbpf >= $LIBBPF_MIN source in $LIBBPF_SRC_CACHE after download"
	else
		log "using cached libbpf source $dsc"
	fi
	mkdir -p "$GTHULHU_REPO/build/deps" "$LOG_DIR"
	local tmp
	tmp=$(mktemp -d "$GTHULHU_REPO/build/deps/.libbpf-build.XXXXXX")
	cleanup_add "$tmp"
	log "unpacking $(basename "$dsc")"
	dpkg-source -x "$dsc" "$tmp/src" >"$LOG_DIR/libbpf-unpack.log" 2>&1 ||
		die "dpkg-source -x $dsc failed (log: $LOG_DIR/libbpf-unpack.log)"
	log "building static libbpf ($(sed -n 's/^Version: //p' "$dsc" | head -n1))"
	if ! make -C "$tmp/src/src" -j"$(nproc)" BUILD_STATIC_ONLY=1 OBJDIR="$tmp/obj" \
		DESTDIR="$tmp/dest" PREFIX=/usr LIBSUBDIR=lib64 install \
		>"$LOG_DIR/libbpf-build.log" 2>&1; then
		tail -n 25 "$LOG_DIR/libbpf-build.log" >&2
		die "libbpf build failed (log: $LOG_DIR/libbpf-build.log)"
	fi
	[[ -n $(libbpf_installed_version "$tmp/dest") ]] ||
		die "libbpf install layout unexpected: no usr/lib64/libbpf.a + usr/include/bpf/libbpf.h in $tmp/dest"
	rm -rf "$LIBBPF_DIR"
	mv "$tmp/dest" "$LIBBPF_DIR"
	rm -rf "$tmp"
	libbpf_ok || die "libbpf in $LIBBPF_DIR is not >= $LIBBPF_MIN"
	log "libbpf $(libbpf_installed_version "$LIBBPF_DIR") installed in $LIBBPF_DIR"
}

install_libbpf() {
	libbpf_ok && return 0
	install_pkgs make gcc libc6-dev libelf-dev zlib1g-dev pkg-config dpkg-dev patch xz-utils
	with_lock libbpf build_libbpf_locked
}

# ---------------------------------------------------------------- main
what=${1:-all}
case $what in
all)
	install_pkgs "${BASE_PKGS[@]}"
	install_bpftool
	install_libbpf
	;;
kernel-build)
	install_pkgs "${KBUILD_PKGS[@]}"
	;;
-h | --help)
	awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
	exit 0
	;;
*) die "unknown argument '$what' (expected: all, kernel-build)" ;;
esac
