#!/usr/bin/env bash
# Fetch or build sched_ext kernels for Gthulhu's VM tests, and regenerate
# src/bpf/vmlinux.h. Used by tests/vm (to get a kernel image for vm-run.sh)
# and by developers. Everything is cached under
#   ${GTHULHU_CACHE:-/var/cache/gthulhu}/kernels/<release>/{vmlinuz|bzImage,vmlinux,config,version,origin}
# so a second call only checks the cache (plus, at most hourly, Debian's index).
#
# usage: scripts/kernel.sh debian      newest Debian cloud kernel from trixie-backports (7.x)
#        scripts/kernel.sh lts612      6.12 LTS kernel built from Debian's linux-source-6.12
#                                      with tests/vm/kernel-6.12.fragment
#        scripts/kernel.sh vmlinux-h   regenerate src/bpf/vmlinux.h from the Debian kernel's BTF
#        scripts/kernel.sh extract-vmlinux IMAGE OUT   decompress a bzImage/vmlinuz to ELF
# `debian` and `lts612` print the kernel image path as the last line on stdout;
# all progress messages go to stderr.
# env: GTHULHU_CACHE, GTHULHU_APT_MAX_AGE (seconds between index refreshes, default 3600),
#      GTHULHU_SHARED_KERNELS (warm cache, default $REPO/../shared/kernels; optional)
set -euo pipefail
GTHULHU_PROG=kernel.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KCACHE="$GTHULHU_CACHE/kernels"
APT_MAX_AGE="${GTHULHU_APT_MAX_AGE:-3600}"
FRAGMENT="$GTHULHU_REPO/tests/vm/kernel-6.12.fragment"
SHARED_KERNELS="${GTHULHU_SHARED_KERNELS:-$GTHULHU_REPO/../shared/kernels}"
VMLINUX_H="$GTHULHU_REPO/src/bpf/vmlinux.h"
LOG_DIR="$GTHULHU_CACHE/logs"

usage() {
	awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0" >&2
	exit 2
}

# ------------------------------------------------------------ cache helpers
kernel_image() {
	local d=$1
	if [[ -s $d/vmlinuz ]]; then
		echo "$d/vmlinuz"
	elif [[ -s $d/bzImage ]]; then
		echo "$d/bzImage"
	else
		return 1
	fi
}

kernel_complete() {
	local d=$1
	[[ -s $d/version && -s $d/vmlinux && -s $d/config ]] && kernel_image "$d" >/dev/null
}

# Kernel release string stored in a bzImage header ("6.12.117 (user@host) #1 ...").
image_release() {
	local img=$1 off
	[[ $(dd if="$img" bs=1 skip=$((0x202)) count=4 2>/dev/null) == HdrS ]] || return 1
	off=$(od -An -tu2 -j $((0x20e)) -N2 "$img" | tr -d ' ')
	((off > 0)) || return 1
	local s
	s=$(dd if="$img" bs=1 skip=$((off + 0x200)) count=256 2>/dev/null | tr '\0' '\n')
	s=${s%%$'\n'*}
	echo "${s%% *}"
}

is_elf() { [[ $(od -An -c -N4 "$1" 2>/dev/null | tr -d ' ') == '177ELF' ]]; }

# decompress FORMAT: stdin -> stdout
decompress() {
	local tool=$1
	case $1 in lzma) tool=xz ;; lzo) tool=lzop ;; esac
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is needed to decompress this kernel image; run scripts/deps.sh"
	case $1 in
	gzip) gzip -dc ;;
	xz) xz -dc --single-stream ;;
	zstd) zstd -dcq ;;
	bzip2) bzip2 -dc ;;
	lzma) xz -dc --format=lzma ;;
	lz4) lz4 -dc ;;
	lzo) lzop -dc ;;
	*) return 1 ;;
	esac
}

payload_format() {
	case $(od -An -tx1 -N6 "$1" | tr -d ' \n') in
	1f8b08*) echo gzip ;;
	fd377a585a00) echo xz ;;
	28b52ffd*) echo zstd ;;
	425a68*) echo bzip2 ;;
	5d0000*) echo lzma ;;
	02214c18*) echo lz4 ;;
	894c5a*) echo lzo ;;
	*) return 1 ;;
	esac
}

# extract_vmlinux IMAGE OUT: the uncompressed ELF vmlinux inside a bzImage.
# Uses the boot header (setup_sects, payload_offset, payload_length) to find the
# compressed payload; if that fails, scans for known compression magics.
extract_vmlinux() {
	local img=$1 out=$2 tmp fmt
	[[ -r $img ]] || die "cannot read kernel image $img"
	if is_elf "$img"; then
		cp "$img" "$out"
		return 0
	fi
	tmp=$(mktemp -d)
	cleanup_add "$tmp"
	if [[ $(dd if="$img" bs=1 skip=$((0x202)) count=4 2>/dev/null) == HdrS ]]; then
		local sects poff plen start
		sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$img" | tr -d ' ')
		((sects == 0)) && sects=4
		poff=$(od -An -tu4 -j $((0x248)) -N4 "$img" | tr -d ' ')
		plen=$(od -An -tu4 -j $((0x24c)) -N4 "$img" | tr -d ' ')
		start=$(((sects + 1) * 512 + poff))
		if ((plen > 0)); then
			dd if="$img" of="$tmp/payload" bs=64K iflag=skip_bytes,count_bytes \
				skip="$start" count="$plen" status=none
			if fmt=$(payload_format "$tmp/payload"); then
				# All but gzip carry a 4-byte uncompressed size after the stream.
				[[ $fmt == gzip ]] || truncate -s -4 "$tmp/payload"
				decompress "$fmt" <"$tmp/payload" >"$out" 2>"$tmp/err" || true
				if is_elf "$out"; then
					log "extracted vmlinux ($fmt payload) from $img"
					rm -rf "$tmp"
					return 0
				fi
			fi
		fi
	fi
	# Fallback: try every offset where a compression magic appears.
	local magic off
	for fmt in zstd xz gzip lz4 bzip2 lzma lzo; do
		case $fmt in
		gzip) magic='\x1f\x8b\x08' ;;
		xz) magic='\xfd7zXZ\x00' ;;
		zstd) magic='\x28\xb5\x2f\xfd' ;;
		bzip2) magic='BZh' ;;
		lzma) magic='\x5d\x00\x00\x00' ;;
		lz4) magic='\x02\x21\x4c\x18' ;;
		lzo) magic='\x89LZO' ;;
		esac
		for off in $(LC_ALL=C grep -obUaP "$magic" "$img" 2>/dev/null | cut -d: -f1 | head -n 20); do
			tail -c +$((off + 1)) "$img" | decompress "$fmt" >"$out" 2>/dev/null || true
			if is_elf "$out"; then
				log "extracted vmlinux ($fmt at offset $off) from $img"
				rm -rf "$tmp"
				return 0
			fi
		done
	done
	rm -f "$out"
	die "could not find a decompressible vmlinux in $img"
}

# Check that the config at $1 has CONFIG_SCHED_CLASS_EXT=y.
check_scx_config() {
	grep -qx 'CONFIG_SCHED_CLASS_EXT=y' "$1" ||
		die "kernel config $1 lacks CONFIG_SCHED_CLASS_EXT=y"
}

# install_kernel_dir TMPDIR FINAL: move a fully prepared directory into place.
install_kernel_dir() {
	local src=$1 dst=$2
	rm -rf "$dst.old"
	[[ -e $dst ]] && mv "$dst" "$dst.old"
	mv "$src" "$dst"
	rm -rf "$dst.old"
}

# Newest complete cached kernel whose origin file starts with $1.
newest_cached() {
	local prefix=$1 d best=""
	for d in "$KCACHE"/*/; do
		d=${d%/}
		kernel_complete "$d" || continue
		grep -q "^$prefix" "$d/origin" 2>/dev/null || continue
		best+="$(basename "$d")"$'\n'
	done
	[[ -n $best ]] || return 1
	echo "$KCACHE/$(printf '%s' "$best" | sort -V | tail -n1)"
}

# ------------------------------------------------------------ debian (7.x cloud)
DEB_META=linux-image-cloud-amd64

# Sets DEB_REL (kernel release), DEB_VER (package version), DEB_PKGS (packages to fetch).
resolve_debian() {
	papt_setup trixie-bpo "deb $DEBIAN_MIRROR trixie-backports main"
	papt_update trixie-bpo "$APT_MAX_AGE" || return 1
	local deps img
	deps=$(papt_cache trixie-bpo show "$DEB_META" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1)
	img=$(grep -oE 'linux-image-[^ ,]+-cloud-amd64' <<<"$deps" | head -n1) || true
	[[ -n $img ]] || { warn "cannot resolve $DEB_META in trixie-backports"; return 1; }
	DEB_REL=${img#linux-image-}
	DEB_VER=$(grep -oE "$img \(= [^)]+\)" <<<"$deps" | sed 's/.*(= \(.*\))/\1/')
	[[ -n $DEB_VER ]] || DEB_VER=$(papt_version trixie-bpo "$img")
	deps=$(papt_cache trixie-bpo show "$img=$DEB_VER" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1)
	DEB_PKGS=()
	local p
	for p in "linux-binary-$DEB_REL" "linux-base-$DEB_REL"; do
		if grep -q "$p " <<<"$deps" || papt_cache trixie-bpo show "$p=$DEB_VER" >/dev/null 2>&1; then
			DEB_PKGS+=("$p=$DEB_VER")
		fi
	done
	# Before 7.x the image package itself held vmlinuz and config.
	((${#DEB_PKGS[@]})) || DEB_PKGS=("$img=$DEB_VER")
}

fetch_debian_locked() {
	local dst="$KCACHE/$DEB_REL"
	kernel_complete "$dst" && return 0
	mkdir -p "$KCACHE" "$LOG_DIR"
	local tmp
	tmp=$(mktemp -d "$KCACHE/.debian.XXXXXX")
	cleanup_add "$tmp"
	log "downloading ${DEB_PKGS[*]}"
	(cd "$tmp" && papt trixie-bpo download "${DEB_PKGS[@]}") >"$LOG_DIR/kernel-download.log" 2>&1 || {
		tail -n 20 "$LOG_DIR/kernel-download.log" >&2
		die "apt-get download ${DEB_PKGS[*]} failed"
	}
	local deb
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/x" || die "dpkg-deb -x $deb failed"
	done
	local vmlinuz config
	vmlinuz=$(find "$tmp/x" -type f \( -path "*/modules/$DEB_REL/vmlinuz" -o -name "vmlinuz-$DEB_REL" \) | head -n1)
	config=$(find "$tmp/x" -type f \( -path "*/modules/$DEB_REL/config" -o -name "config-$DEB_REL" \) | head -n1)
	[[ -n $vmlinuz ]] || die "no vmlinuz for $DEB_REL in ${DEB_PKGS[*]}"
	[[ -n $config ]] || die "no config for $DEB_REL in ${DEB_PKGS[*]}"
	mkdir "$tmp/out"
	cp "$vmlinuz" "$tmp/out/vmlinuz"
	cp "$config" "$tmp/out/config"
	check_scx_config "$tmp/out/config"
	extract_vmlinux "$tmp/out/vmlinuz" "$tmp/out/vmlinux"
	echo "debian ${DEB_PKGS[*]}" >"$tmp/out/origin"
	echo "$DEB_REL" >"$tmp/out/version"
	install_kernel_dir "$tmp/out" "$dst"
	rm -rf "$tmp"
	log "cached Debian kernel $DEB_REL in $dst"
}

cmd_debian() {
	local dir
	if resolve_debian; then
		dir="$KCACHE/$DEB_REL"
		if kernel_complete "$dir"; then
			log "Debian kernel $DEB_REL already cached"
		else
			with_lock "kernel-$DEB_REL" fetch_debian_locked
		fi
	else
		dir=$(newest_cached debian) ||
			die "cannot resolve Debian's $DEB_META (network?) and no Debian kernel is cached in $KCACHE"
		warn "cannot resolve the newest Debian kernel; using cached $(basename "$dir")"
	fi
	kernel_image "$dir"
}

# ------------------------------------------------------------ lts612 (built)
LTS_PKG=linux-source-6.12

fragment_sha() { sha256sum "$FRAGMENT" | awk '{print $1}'; }

# Options of the fragment as NAME=VALUE lines (comments and blanks dropped).
fragment_lines() {
	[[ -r $FRAGMENT ]] || die "missing configuration fragment $FRAGMENT"
	sed -e 's/[[:space:]]*$//' -e '/^#/d' -e '/^$/d' "$FRAGMENT"
}

# Succeeds if config $1 has every option of the fragment with the same value.
config_has_fragment() {
	local cfg=$1 line name val bad=0
	while IFS= read -r line; do
		name=${line%%=*} val=${line#*=}
		if [[ $val == n ]]; then
			if grep -qE "^$name=[ym]" "$cfg"; then
				bad=1
				[[ ${QUIET_CHECK:-0} == 1 ]] || log "  $name is set in $cfg"
			fi
		elif ! grep -qxF "$line" "$cfg"; then
			bad=1
			[[ ${QUIET_CHECK:-0} == 1 ]] || log "  $line missing in $cfg"
		fi
	done < <(fragment_lines)
	((bad == 0))
}

# Sets LTS_VER (Debian version of linux-source-6.12) and LTS_UP (upstream version).
resolve_lts() {
	papt_setup trixie "deb $DEBIAN_MIRROR trixie main"
	papt_update trixie "$APT_MAX_AGE" || return 1
	LTS_VER=$(papt_version trixie "$LTS_PKG")
	[[ -n $LTS_VER ]] || { warn "cannot resolve $LTS_PKG in trixie"; return 1; }
	LTS_UP=${LTS_VER#*:}
	LTS_UP=${LTS_UP%-*}
}

lts_key() { echo "$LTS_PKG $LTS_VER fragment-sha256 $(fragment_sha)"; }

# Copy a matching prebuilt image from ../shared/kernels, if there is one.
try_warm_cache() {
	local img="$SHARED_KERNELS/bzImage-$LTS_UP-scx" cfg="$SHARED_KERNELS/config-$LTS_UP-scx"
	[[ -r $img && -r $cfg ]] || return 1
	grep -q "Linux/x86 $LTS_UP Kernel Configuration" "$cfg" || return 1
	[[ $(image_release "$img") == "$LTS_UP"* ]] || return 1
	if ! QUIET_CHECK=1 config_has_fragment "$cfg"; then
		log "prebuilt $img does not match the fragment; building instead"
		return 1
	fi
	log "using prebuilt $img (warm cache; same version and fragment options)"
	mkdir -p "$1"
	install -m 0644 "$img" "$1/bzImage"
	install -m 0644 "$cfg" "$1/config"
	extract_vmlinux "$1/bzImage" "$1/vmlinux"
	echo "lts612 $(lts_key) (prebuilt copy of $(cd "$SHARED_KERNELS" && pwd)/$(basename "$img"))" >"$1/origin"
	image_release "$1/bzImage" >"$1/version"
}

# Apply fragment lines to .config in the current directory with scripts/config.
apply_fragment() {
	local line name val args=()
	while IFS= read -r line; do
		name=${line%%=*} val=${line#*=}
		name=${name#CONFIG_}
		case $val in
		y) args+=(-e "$name") ;;
		m) args+=(-m "$name") ;;
		n) args+=(-d "$name") ;;
		\"*\")
			val=${val#\"}
			args+=(--set-str "$name" "${val%\"}")
			;;
		*) args+=(--set-val "$name" "$val") ;;
		esac
	done < <(fragment_lines)
	./scripts/config "${args[@]}"
}

build_lts() {
	local out=$1
	"$GTHULHU_REPO/scripts/deps.sh" kernel-build
	local srccache="$GTHULHU_CACHE/src/$LTS_PKG" deb
	mkdir -p "$srccache" "$LOG_DIR"
	local debs=("$srccache/${LTS_PKG}_${LTS_VER#*:}_"*.deb)
	deb=""
	[[ -f ${debs[0]} ]] && deb=${debs[0]}
	if [[ -z $deb ]]; then
		log "downloading $LTS_PKG=$LTS_VER (~150 MB)"
		(cd "$srccache" && papt trixie download "$LTS_PKG=$LTS_VER") >"$LOG_DIR/kernel-download.log" 2>&1 || {
			tail -n 20 "$LOG_DIR/kernel-download.log" >&2
			die "apt-get download $LTS_PKG=$LTS_VER failed"
		}
		debs=("$srccache/${LTS_PKG}_${LTS_VER#*:}_"*.deb)
		[[ -f ${debs[0]} ]] || die "apt-get download left no $LTS_PKG .deb in $srccache"
		deb=${debs[0]}
	else
		log "using cached $deb"
	fi
	local work="$out.work"
	mkdir -p "$work"
	log "unpacking $LTS_PKG $LTS_VER"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards '*/linux-source-*.tar.xz' ||
		die "cannot extract the source tarball from $deb"
	tar -xJf "$work"/usr/src/linux-source-*.tar.xz -C "$work" || die "cannot unpack kernel source"
	rm -rf "${work:?}/usr"
	local src
	src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' | head -n1)
	[[ -n $src ]] || die "no linux-source-* directory in $deb"
	local blog="$LOG_DIR/kernel-lts612-build.log"
	log "configuring (tinyconfig + $(basename "$FRAGMENT")); build log: $blog"
	(
		cd "$src"
		make tinyconfig
		apply_fragment
		make olddefconfig
	) >"$blog" 2>&1 || { tail -n 30 "$blog" >&2; die "kernel configuration failed"; }
	config_has_fragment "$src/.config" ||
		die "options of $FRAGMENT did not survive 'make olddefconfig' (unmet dependencies?)"
	check_scx_config "$src/.config"
	log "building bzImage with make -j$(nproc) (several minutes)"
	make -C "$src" -j"$(nproc)" bzImage >>"$blog" 2>&1 || {
		tail -n 30 "$blog" >&2
		die "kernel build failed (log: $blog)"
	}
	cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
	cp "$src/vmlinux" "$out/vmlinux"
	cp "$src/.config" "$out/config"
	echo "lts612 $(lts_key) (built)" >"$out/origin"
	image_release "$out/bzImage" >"$out/version"
	rm -rf "$work"
}

lts_dir() { echo "$KCACHE/$LTS_UP-scx"; }

lts_cached_ok() {
	local d
	d=$(lts_dir)
	kernel_complete "$d" && grep -qF "lts612 $(lts_key)" "$d/origin" 2>/dev/null
}

fetch_lts_locked() {
	lts_cached_ok && return 0
	mkdir -p "$KCACHE"
	local tmp dst
	dst=$(lts_dir)
	tmp=$(mktemp -d "$KCACHE/.lts612.XXXXXX")
	cleanup_add "$tmp"
	mkdir "$tmp/out"
	if ! try_warm_cache "$tmp/out"; then
		rm -rf "$tmp/out" && mkdir "$tmp/out"
		build_lts "$tmp/out"
	fi
	check_scx_config "$tmp/out/config"
	kernel_complete "$tmp/out" || die "incomplete kernel in $tmp/out"
	install_kernel_dir "$tmp/out" "$dst"
	rm -rf "$tmp"
	log "cached 6.12 kernel $(cat "$dst/version") in $dst"
}

cmd_lts612() {
	local dir
	if resolve_lts; then
		dir=$(lts_dir)
		if lts_cached_ok; then
			log "6.12 kernel $LTS_UP (fragment $(fragment_sha | cut -c1-12)) already cached"
		else
			with_lock kernel-lts612 fetch_lts_locked
		fi
	else
		# Offline: any cached 6.12 kernel built from this fragment will do.
		local sha d best=""
		sha=$(fragment_sha)
		for d in "$KCACHE"/6.12.*-scx; do
			kernel_complete "$d" && grep -q "fragment-sha256 $sha" "$d/origin" 2>/dev/null &&
				best+="$(basename "$d")"$'\n'
		done
		[[ -n $best ]] ||
			die "cannot resolve $LTS_PKG (network?) and no 6.12 kernel with this fragment is cached"
		dir="$KCACHE/$(printf '%s' "$best" | sort -V | tail -n1)"
		warn "cannot resolve $LTS_PKG; using cached $(basename "$dir")"
	fi
	kernel_image "$dir"
}

# ------------------------------------------------------------ vmlinux.h
cmd_vmlinux_h() {
	local bpftool img dir b
	bpftool=""
	for b in /usr/sbin/bpftool /usr/bin/bpftool; do
		[[ -x $b ]] && { bpftool=$b; break; }
	done
	[[ -n $bpftool ]] || die "bpftool not found; run scripts/deps.sh"
	img=$(cmd_debian | tail -n1)
	dir=$(dirname "$img")
	local tmp="$VMLINUX_H.tmp.$$"
	cleanup_add "$tmp"
	{
		echo "/* Generated by scripts/kernel.sh vmlinux-h from the BTF of Debian's $(cat "$dir/version")"
		echo " * kernel (package $(grep -o '=[^ ]*' "$dir/origin" | head -n1 | tr -d =)). Do not edit. */"
		"$bpftool" btf dump file "$dir/vmlinux" format c
	} >"$tmp" || die "bpftool btf dump failed on $dir/vmlinux"
	grep -q '^struct sched_ext_ops {' "$tmp" || die "generated header lacks struct sched_ext_ops"
	grep -q 'scx_bpf_dsq_insert' "$tmp" || die "generated header lacks scx kfunc prototypes"
	if [[ -f $VMLINUX_H ]] && cmp -s "$tmp" "$VMLINUX_H"; then
		rm -f "$tmp"
		log "$VMLINUX_H is up to date ($(cat "$dir/version"))"
	else
		mv "$tmp" "$VMLINUX_H"
		log "wrote $VMLINUX_H ($(cat "$dir/version"), $(wc -l <"$VMLINUX_H") lines)"
	fi
}

# ------------------------------------------------------------ main
(($# >= 1)) || usage
cmd=$1
shift
case $cmd in debian | lts612 | vmlinux-h) need_cmd apt-get apt-cache dpkg-deb sha256sum ;; esac
case $cmd in
debian) cmd_debian ;;
lts612) cmd_lts612 ;;
vmlinux-h) cmd_vmlinux_h ;;
extract-vmlinux)
	(($# == 2)) || usage
	extract_vmlinux "$1" "$2"
	;;
-h | --help) usage ;;
*)
	warn "unknown subcommand '$cmd'"
	usage
	;;
esac
