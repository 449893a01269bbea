# Shared shell helpers for Gthulhu's scripts (sourced, not run): logging, the
# cache directory, locking, and a private apt configuration that can reach other
# Debian suites (trixie, trixie-backports) without touching the system's sources.
# Used by scripts/deps.sh, scripts/kernel.sh and tests/vm/vm-run.sh.
# shellcheck shell=bash

# shellcheck disable=SC2034 # used by the scripts that source this file
GTHULHU_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GTHULHU_CACHE="${GTHULHU_CACHE:-/var/cache/gthulhu}"
GTHULHU_PROG="${GTHULHU_PROG:-$(basename "$0")}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export DEBIAN_FRONTEND=noninteractive

# All messages go to stderr so that stdout stays free for results (paths).
log() { printf '%s: %s\n' "$GTHULHU_PROG" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$GTHULHU_PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$GTHULHU_PROG" "$*" >&2
	exit 1
}

# Temporary paths registered with cleanup_add are removed when the script (or the
# with_lock subshell that registered them) exits, whatever the reason.
GTHULHU_CLEANUP=()
cleanup_add() { GTHULHU_CLEANUP+=("$@"); }
_gthulhu_cleanup() {
	((${#GTHULHU_CLEANUP[@]} == 0)) || rm -rf -- "${GTHULHU_CLEANUP[@]}"
	return 0
}
trap _gthulhu_cleanup EXIT

need_root() {
	[[ $(id -u) -eq 0 ]] || die "$1 needs root (run as root or with sudo)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			die "'$c' not found; run 'make deps' (scripts/deps.sh) first"
	done
}

# with_lock NAME CMD...: run CMD holding an exclusive lock on $GTHULHU_CACHE/NAME.lock,
# so that two builds at once do not trample on each other's downloads.
with_lock() {
	local name=$1
	shift
	mkdir -p "$GTHULHU_CACHE" || die "cannot create cache directory $GTHULHU_CACHE"
	(
		trap _gthulhu_cleanup EXIT
		flock -w 1800 9 || die "timed out waiting for lock $GTHULHU_CACHE/$name.lock"
		"$@"
	) 9>"$GTHULHU_CACHE/$name.lock"
}

# ---------------------------------------------------------------------------
# Private apt configuration: $GTHULHU_CACHE/apt/<name>/{sources.list,lists,cache}.
# papt_setup NAME LINE... writes the sources file; papt NAME ARGS... runs apt-get
# with it; papt_update NAME [MAX_AGE_SECONDS] refreshes its lists when stale.

papt_dir() { printf '%s/apt/%s' "$GTHULHU_CACHE" "$1"; }

papt_setup() {
	local name=$1 dir
	shift
	dir=$(papt_dir "$name")
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	local want
	want=$(printf '%s\n' "$@")
	if [[ ! -f $dir/sources.list ]] || [[ $(cat "$dir/sources.list") != "$want" ]]; then
		printf '%s\n' "$want" >"$dir/sources.list"
		rm -f "$dir/lists/"*_Release "$dir/lists/"*InRelease 2>/dev/null || true
	fi
}

# papt_opts NAME: print nothing, set the array PAPT_OPTS for apt-get/apt-cache.
papt_opts() {
	local dir
	dir=$(papt_dir "$1")
	PAPT_OPTS=(
		-o Dir::Etc::SourceList="$dir/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::Etc::Preferences=/dev/null
		-o Dir::Etc::PreferencesParts=/dev/null
		-o Dir::State::Lists="$dir/lists"
		-o Dir::Cache="$dir/cache"
		-o APT::Sandbox::User=root
	)
}

papt() {
	papt_opts "$1"
	shift
	apt-get -q "${PAPT_OPTS[@]}" "$@"
}

papt_cache() {
	papt_opts "$1"
	shift
	apt-cache "${PAPT_OPTS[@]}" "$@"
}

papt_update() {
	local name=$1 max_age=${2:-3600} dir stamp now
	dir=$(papt_dir "$name")
	stamp="$dir/updated"
	now=$(date +%s)
	if [[ -f $stamp ]] && ((now - $(stat -c %Y "$stamp") < max_age)); then
		return 0
	fi
	log "apt-get update (private lists: $name)"
	if papt "$name" update >"$dir/update.log" 2>&1 &&
		! grep -qE '^(W|E): Failed to fetch|^Err:' "$dir/update.log"; then
		touch "$stamp"
	else
		warn "private apt update '$name' failed (see $dir/update.log)"
		return 1
	fi
}

# Version of a package in the private lists ("" if unknown).
papt_version() {
	papt_cache "$1" policy "$2" 2>/dev/null | awk '/Candidate:/ {print $2; exit}' |
		sed 's/^(none)$//'
}
