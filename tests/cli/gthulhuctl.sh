#!/usr/bin/env bash
# build/gthulhuctl against the real API server with a fake scheduler behind it
# (build/tests/api-fake-server): every command, human and --json output, and the exit
# codes scripts rely on (1 refused, 2 usage, 3 unreachable, 4 failed, 5 authentication).
# Needs no kernel and no root; run by `make cli-test`. Uses jq to check --json output.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
C=build/gthulhuctl
SRV=build/tests/api-fake-server
pass=0 fail=0
tmp=$(mktemp -d)
server_pids=()

cleanup() {
	local p
	for p in "${server_pids[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

for bin in "$C" "$SRV"; do
	if [ ! -x "$bin" ]; then
		echo "not ok - $bin is not built (make $bin)"
		exit 1
	fi
done
if ! command -v jq >/dev/null; then
	echo "not ok - jq is not installed (the --json checks need it)"
	exit 1
fi

ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1: $2"
}

# Start the fake server with ARGS; its pid in $server_pid. Waits (bounded) for "ready".
start_server() { # NAME ARGS...
	local name=$1 i
	shift
	"$SRV" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	server_pid=$!
	server_pids+=("$server_pid")
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$tmp/$name.out" 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "# $name: $(head -c 400 "$tmp/$name.err")"
	return 1
}

check() { # NAME WANT_RC WANT_TEXT COMMAND...  (stdout and stderr together)
	local name=$1 want_rc=$2 want_text=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -qF -- "$want_text" <<<"$out"; then
		ok "$name"
	else
		not_ok "$name" "rc=$rc (want $want_rc), output: $(head -c 400 <<<"$out")"
	fi
}

check_not() { # NAME UNWANTED_TEXT COMMAND...  (exit 0, and the text is absent)
	local name=$1 text=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && ! grep -qF -- "$text" <<<"$out"; then
		ok "$name"
	else
		not_ok "$name" "rc=$rc (want 0, without '$text'), output: $(head -c 400 <<<"$out")"
	fi
}

check_line() { # NAME ERE COMMAND...  (exit 0, and a line of stdout matches the ERE)
	local name=$1 re=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && grep -qE -- "$re" <<<"$out"; then
		ok "$name"
	else
		not_ok "$name" "rc=$rc (want 0 and a line matching $re), output: $(head -c 400 <<<"$out")"
	fi
}

check_json() { # NAME JQ_FILTER COMMAND...  (exit 0, stdout parses, the filter holds)
	local name=$1 filter=$2 out rc
	shift 2
	out=$("$@" 2>"$tmp/stderr")
	rc=$?
	if [ "$rc" -eq 0 ] && jq -e "$filter" <<<"$out" >/dev/null 2>&1; then
		ok "$name"
	else
		not_ok "$name" "rc=$rc, filter $filter, output: $(head -c 400 <<<"$out") $(head -c 200 "$tmp/stderr")"
	fi
}

# ---- no server needed: help and usage errors (exit 2, nothing sent) ----
nosock="$tmp/nobody-listens.sock"
check "--help" 0 "Usage: gthulhuctl" $C --help
check "--help names the default socket" 0 "/run/gthulhu/api.sock" $C --help
check "--help documents the exit codes" 0 "5  authentication failed" $C --help
check "--version" 0 "gthulhuctl " $C --version
check "no command: usage error" 2 "which command" $C --socket "$nosock"
check "unknown command: usage error" 2 "unknown command frob" $C --socket "$nosock" frob
check "unknown option: usage error" 2 "unknown option --frob" $C --socket "$nosock" --frob status
check "unknown option after the command" 2 "unknown option --frob" \
	$C --socket "$nosock" status --frob
check "missing subcommand: usage error" 2 "which subcommand" $C --socket "$nosock" strategies
check "unknown subcommand: usage error" 2 "unknown subcommand frob" \
	$C --socket "$nosock" config frob
check "extra argument: usage error" 2 "unexpected argument" $C --socket "$nosock" status now
check "option without its argument" 2 "needs an argument" $C status --socket
check "--timeout 0: usage error" 2 "--timeout" $C --socket "$nosock" --timeout 0 status
check "--timeout abc: usage error" 2 "--timeout" $C --socket "$nosock" --timeout abc status
check "--socket with --url: usage error" 2 "exclude each other" \
	$C --socket "$nosock" --url http://127.0.0.1:1 status
check "--url without http://: usage error" 2 "expected http://HOST:PORT" \
	$C --url ftp://127.0.0.1:1 status
check "--url with an unreadable token file: usage error" 2 "$tmp/no-token" \
	$C --url http://127.0.0.1:1 --token-file "$tmp/no-token" status
check "strategies add --pid abc: usage error" 2 "--pid abc" \
	$C --socket "$nosock" strategies add --pid abc --priority 1
check "strategies add --priority high: usage error" 2 "--priority high" \
	$C --socket "$nosock" strategies add --pid 1 --priority high
check "strategies add --execution-time 2ms: usage error" 2 "--execution-time 2ms" \
	$C --socket "$nosock" strategies add --pid 1 --execution-time 2ms
check "strategies add --selector without =: usage error" 2 "KEY=VALUE" \
	$C --socket "$nosock" strategies add --selector app --priority 1
check "strategies add without options: usage error" 2 "matcher" \
	$C --socket "$nosock" strategies add
check "strategies rm without ids: usage error" 2 "which strategy" \
	$C --socket "$nosock" strategies rm
check "strategies rm a/b: not an id, usage error" 2 "not a strategy id" \
	$C --socket "$nosock" strategies rm ok-id a/b
check "strategies apply without -f: usage error" 2 "-f FILE" \
	$C --socket "$nosock" strategies apply
check "strategies apply a missing file: usage error" 2 "$tmp/none.json" \
	$C --socket "$nosock" strategies apply -f "$tmp/none.json"
printf '{"strategies": [\n' >"$tmp/broken.json"
check "strategies apply a file that is not JSON: usage error" 2 "broken.json" \
	$C --socket "$nosock" strategies apply -f "$tmp/broken.json"
printf '{"rules": []}\n' >"$tmp/shape.json"
check "strategies apply a file without strategies: usage error" 2 "expected" \
	$C --socket "$nosock" strategies apply -f "$tmp/shape.json"
check "config set without =: usage error" 2 "expected KEY=VALUE" \
	$C --socket "$nosock" config set debug
check "config set a string value: usage error" 2 "true, false or" \
	$C --socket "$nosock" config set debug=maybe
check "config set a negative value: usage error" 2 "true, false or" \
	$C --socket "$nosock" config set stats.interval_s=-1
check "config set the same key twice: usage error" 2 "given twice" \
	$C --socket "$nosock" config set debug=true debug=false
check "config get with two keys: usage error" 2 "unexpected argument" \
	$C --socket "$nosock" config get debug stats.interval_s

# ---- unreachable (exit 3) ----
check "no daemon on the socket: exit 3, naming it" 3 "$nosock" $C --socket "$nosock" status
check "no daemon: the hint" 3 "is gthulhu running? is the API enabled?" \
	$C --socket "$nosock" strategies list
check "no daemon on the URL: exit 3" 3 "http://127.0.0.1:1" \
	$C --url http://127.0.0.1:1 --timeout 2 status

# ---- the unix socket ----
sock="$tmp/api.sock"
mkdir "$tmp/state"
if ! start_server unix --socket "$sock" --state "$tmp/state/strategies.json"; then
	echo "not ok - the fake server on $sock never said ready"
	exit 1
fi
unix_pid=$server_pid
G=("$C" --socket "$sock")

check "status" 0 "attached" "${G[@]}" status
check_json "status --json" '.success == true and (.version | type == "string")' \
	"${G[@]}" --json status
check_json "--json after the command" '.success == true' "${G[@]}" status --json

check "strategies list: the header" 0 "ID  SOURCE  PRIORITY  SLICE  MATCH  THREADS  DECISIONS" \
	"${G[@]}" strategies list

add_and_list() { # NAME WANT_IN_LIST ADD_OPTIONS...
	local name=$1 want=$2 id rc
	shift 2
	id=$("${G[@]}" strategies add "$@" 2>"$tmp/stderr")
	rc=$?
	if [ "$rc" -ne 0 ] || [ -z "$id" ]; then
		not_ok "strategies add $name" "rc=$rc, id '$id', $(head -c 300 "$tmp/stderr")"
		return
	fi
	ok "strategies add $name"
	check "strategies list shows the $name strategy" 0 "$want" "${G[@]}" strategies list
	check "strategies list: $name has id $id" 0 "$id" "${G[@]}" strategies list
	added+=("$id")
}
added=()
add_and_list "--pid" "pid=4242" --pid 4242 --priority 5
add_and_list "--tid with --execution-time" "tid=4243" --tid 4243 --execution-time 2000000
add_and_list "--regex" 'comm~^nginx$' --regex '^nginx$' --priority true
add_and_list "--regex --cmdline" "cmdline~java -jar" --regex 'java -jar' --cmdline --priority 3
add_and_list "--cgroup" "cgroup=/system.slice/web.service" \
	--cgroup /system.slice/web.service --priority 1
add_and_list "--selector and --namespace" "app=web tier=front ns=default,prod" \
	--selector app=web --selector tier=front --namespace default --namespace prod --priority 2
check "strategies add --id: prints that id" 0 "my-rule" \
	"${G[@]}" strategies add --id my-rule --pid 77 --priority 4
added+=(my-rule)
check_line "strategies list: a row with id, source, priority, slice, match" \
	'^[^ ]+ +api +5 +default +pid=4242 +[0-9-]+ +[0-9-]+$' "${G[@]}" strategies list
check_line "strategies list: a slice in ms" ' api +0 +2ms +tid=4243 ' "${G[@]}" strategies list
check_line "strategies list: priority true is level 20" ' api +20 +default +comm~\^nginx\$ ' \
	"${G[@]}" strategies list
check_json "strategies list --json" \
	'[.strategies[].id] | index("my-rule") != null' "${G[@]}" --json strategies list
check_json "strategies add --json" '.success == true' \
	"${G[@]}" --json strategies add --id json-rule --pid 78 --priority 4
added+=(json-rule)
check "strategies add a taken id: refused, exit 1" 1 "gthulhuctl: id: a strategy 'my-rule' exists" \
	"${G[@]}" strategies add --id my-rule --pid 79 --priority 4
check "strategies add priority 99: refused, exit 1" 1 "priority" \
	"${G[@]}" strategies add --pid 80 --priority 99
check "strategies add without an effect: refused, exit 1" 1 "effect" \
	"${G[@]}" strategies add --pid 81
check "strategies add a bad regex: refused, exit 1" 1 "command_regex" \
	"${G[@]}" strategies add --regex '(' --priority 1
check "strategies rm every added strategy" 0 "deleted ${added[-1]}" \
	"${G[@]}" strategies rm "${added[@]}"
check_not "strategies list: the removed ones are gone" "pid=4242" "${G[@]}" strategies list
check_not "strategies list: my-rule is gone" "my-rule" "${G[@]}" strategies list
check "strategies rm an unknown id: refused, exit 1" 1 "gthulhuctl: id: no strategy 'no-such-rule'" \
	"${G[@]}" strategies rm no-such-rule
"${G[@]}" strategies add --id rm-a --pid 91 --priority 1 >/dev/null
"${G[@]}" strategies add --id rm-b --pid 92 --priority 1 >/dev/null
check "strategies rm: an unknown id in the middle, exit 1" 1 "deleted rm-b" \
	"${G[@]}" strategies rm rm-a no-such-rule rm-b
check_not "strategies rm: the known ones around it are gone" "rm-a" "${G[@]}" strategies list

cat >"$tmp/apply.json" <<'EOF'
{"strategies": [
  {"id": "from-file-1", "pid": 1001, "priority": 7},
  {"id": "from-file-2", "command_regex": "^postgres$", "execution_time": 3000000}
]}
EOF
check "strategies apply -f FILE (JSON object)" 0 "applied 2 strategies" \
	"${G[@]}" strategies apply -f "$tmp/apply.json"
check "strategies list shows the applied ones" 0 "from-file-2" "${G[@]}" strategies list
check "strategies list: an applied regex strategy" 0 'comm~^postgres$' "${G[@]}" strategies list
check "strategies apply - (a bare list on stdin)" 0 "applied 1 strategies" \
	bash -c "echo '[{\"id\": \"from-stdin\", \"tid\": 2002, \"priority\": 9}]' |
		\"\$0\" --socket \"\$1\" strategies apply -f -" "$C" "$sock"
check "strategies list shows the stdin one" 0 "from-stdin" "${G[@]}" strategies list
check_not "apply replaced the file's strategies" "from-file-1" "${G[@]}" strategies list
cat >"$tmp/apply.yaml" <<'EOF'
# strategies as in the config file
strategies:
  - id: from-yaml
    command_regex: "^redis-server$"
    priority: true
  - pid: 3003
    execution_time: 1000000
EOF
check "strategies apply -f FILE (YAML)" 0 "applied 2 strategies" \
	"${G[@]}" strategies apply -f "$tmp/apply.yaml"
check "strategies list shows the YAML one" 0 'comm~^redis-server$' "${G[@]}" strategies list
printf 'strategies:\n  - pid: [5\n' >"$tmp/broken.yaml"
check "strategies apply a YAML syntax error: usage error naming the line" 2 "line 3" \
	"${G[@]}" strategies apply -f "$tmp/broken.yaml"
printf 'strategies:\n  - pid: 5\n    pid: 6\n' >"$tmp/dup.yaml"
check "strategies apply a YAML duplicate key: usage error" 2 "duplicate key pid" \
	"${G[@]}" strategies apply -f "$tmp/dup.yaml"
printf '{"strategies": [{"pid": 5, "priority": 3, "colour": "blue"}]}\n' >"$tmp/unknown.json"
check "strategies apply an invalid file: refused with the daemon's error, exit 1" 1 "colour" \
	"${G[@]}" strategies apply -f "$tmp/unknown.json"
printf '{"strategies": [{"pid": 5, "priority": 33}]}\n' >"$tmp/range.json"
check "strategies apply an out-of-range priority: exit 1" 1 "priority" \
	"${G[@]}" strategies apply -f "$tmp/range.json"
check "a refused apply changed nothing" 0 "from-yaml" "${G[@]}" strategies list
check "strategies apply an empty list removes the API strategies" 0 "applied 0 strategies" \
	bash -c "echo '{\"strategies\": []}' | \"\$0\" --socket \"\$1\" strategies apply -f -" \
	"$C" "$sock"
check_not "strategies list: none left from the API" "from-yaml" "${G[@]}" strategies list

check "config get: the table" 0 "scheduler.slice_ns_default" "${G[@]}" config get
check "config get: the LIVE column" 0 "LIVE" "${G[@]}" config get
check_json "config get --json" '.success == true' "${G[@]}" --json config get
check "config set a live key" 0 "scheduler.slice_ns_default = 6000000" \
	"${G[@]}" config set scheduler.slice_ns_default=6000000
check "config get KEY shows the new value" 0 "6000000" \
	"${G[@]}" config get scheduler.slice_ns_default
check "config set a boolean" 0 "debug = true" "${G[@]}" config set debug=true
check "config get debug" 0 "true" "${G[@]}" config get debug
check "config set an out-of-range value: refused, exit 1" 1 "scheduler.slice_ns_default" \
	"${G[@]}" config set scheduler.slice_ns_default=1
check "config set a key that is not live: refused, exit 1" 1 "builtin_idle" \
	"${G[@]}" config set builtin_idle=false
check "config set an unknown key: refused, exit 1" 1 "no.such.key" \
	"${G[@]}" config set no.such.key=1
check "config get an unknown key: exit 1" 1 "no.such.key" "${G[@]}" config get no.such.key
check "config set with one malformed pair: usage error" 2 "true, false or" \
	"${G[@]}" config set scheduler.slice_ns_default=7000000 debug=maybe
check "... and nothing was sent" 0 "6000000" "${G[@]}" config get scheduler.slice_ns_default

check "metrics: Prometheus text" 0 "gthulhu_up" "${G[@]}" metrics
check_json "metrics --json" '.success == true' "${G[@]}" --json metrics
check "pods: the header" 0 "NAMESPACE  POD" "${G[@]}" pods
check_json "pods --json" '.pods | type == "array"' "${G[@]}" --json pods
check "pods metrics: the header" 0 "NAMESPACE  POD       CPU_S  WAIT_S" "${G[@]}" pods metrics
check "pods metrics: a row" 0 "default    fake-pod  2.500  0.125   42    40         2            7" "${G[@]}" pods metrics
check_json "pods metrics --json" '.pods[0].cpu_time_ns == 2500000000' "${G[@]}" --json pods metrics
check "pods metrics: no extra words" 2 "unexpected argument now" "${G[@]}" pods metrics now

# A daemon that accepts the connection but never answers (stopped): a timeout, exit 3.
kill -STOP "$unix_pid"
check "a daemon that does not answer: exit 3 after --timeout" 3 "is gthulhu running" \
	"${G[@]}" --timeout 0.5 status
kill -CONT "$unix_pid"
check "the same daemon answers again" 0 "attached" "${G[@]}" status

# The daemon fails (HTTP 5xx): its state file can no longer be written. Exit 4.
rm -rf "$tmp/state" && touch "$tmp/state"
check "the daemon fails to save a strategy: exit 4 with its message" 4 "the daemon failed" \
	"${G[@]}" strategies add --pid 93 --priority 1

# ---- TCP with a bearer token ----
printf 's3cret-token-for-tests\n' >"$tmp/token"
printf 'not-the-token\n' >"$tmp/wrong"
chmod 600 "$tmp/token" "$tmp/wrong"
# Port 0: the kernel picks a free one; the server prints "port N" after "ready".
if ! start_server tcp --socket "$tmp/tcp.sock" --listen 127.0.0.1:0 --token-file "$tmp/token"; then
	not_ok "the fake server on TCP never said ready" "see above"
elif ! port=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$tmp/tcp.out") || [ -z "$port" ]; then
	not_ok "the fake server on TCP printed no port" "$(head -c 200 "$tmp/tcp.out")"
else
	U="http://127.0.0.1:$port"
	check "TCP, right token: exit 0" 0 "attached" $C --url "$U" --token-file "$tmp/token" status
	check "TCP, token from GTHULHU_TOKEN_FILE: exit 0" 0 "ID" \
		env GTHULHU_TOKEN_FILE="$tmp/token" $C --url "$U" strategies list
	check "TCP, wrong token: exit 5" 5 "authentication failed" \
		$C --url "$U" --token-file "$tmp/wrong" status
	check "TCP, no token: exit 5" 5 "authentication failed" \
		env -u GTHULHU_TOKEN_FILE $C --url "$U" status
	check "TCP, --url with a trailing slash" 0 "gthulhu_up" \
		$C --url "$U/" --token-file "$tmp/token" metrics
	check "TCP, a change with the token" 0 "tcp-rule" \
		$C --url "$U" --token-file "$tmp/token" strategies add --id tcp-rule --pid 9 \
		--priority 1
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
