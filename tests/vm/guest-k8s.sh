#!/bin/sh
# The VM suite's Kubernetes phase, sourced by guest-suite.sh (it uses its ok/not_ok).
# A fake pod: a cgroup v2 tree with the kubelet's systemd layout holding two processes,
# and its metadata (name, namespace, labels) from a fake API server on 127.0.0.1. Gthulhu
# runs as a node agent against it: a label strategy must reach the pod's processes in BPF,
# a cluster SchedulingStrategy must apply, per-pod metrics must count, a deleted pod must
# drop out, and losing the API server must degrade, not break, the daemon.
# POSIX sh (busybox ash).

K8S_LOG=/tmp/gthulhu-k8s.log
FAKE=/opt/gthulhu/bin/fake-apiserver
API_SOCK=/run/gthulhu/api.sock
TOKEN=vm-token
NODE=vm-node
POD_UID=0b7c0d2e-5a1f-4c3b-9a55-3f1e2d3c4b5a
CID=4f6e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f
POD_CG=/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice
POD_CG=$POD_CG/kubepods-burstable-pod$(echo $POD_UID | tr - _).slice/cri-containerd-$CID.scope

api() { curl -s --max-time 5 --unix-socket "$API_SOCK" "http://gthulhu$1"; }
fake() { # fake METHOD PATH [JSON]
	curl -s --max-time 5 -X "$1" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "http://127.0.0.1:$PORT$2"
}
start_fake() {
	: >/tmp/fake.out
	mkdir -p /tmp/fake-state
	# State kept across restarts: a real API server keeps its resourceVersions (etcd).
	"$FAKE" --port "${1:-0}" --token "$TOKEN" --state-dir /tmp/fake-state >/tmp/fake.out 2>&1 &
	FAKE_PID=$!
	wait_for 10 grep -q "ready port=" /tmp/fake.out &&
		PORT=$(sed -n 's/.*ready port=\([0-9]*\).*/\1/p' /tmp/fake.out | head -n 1)
}
pod_json() {
	echo '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"upf-0","namespace":"telco",'
	echo "\"uid\":\"$POD_UID\",\"labels\":{\"app\":\"upf\",\"tier\":\"user-plane\"}},"
	echo "\"spec\":{\"nodeName\":\"$NODE\"},\"status\":{\"phase\":\"Running\"}}"
}
# A strategy's figure from /metrics: decisions made under it, or threads it covers.
rule_decisions() { api /metrics | sed -n "s/^gthulhu_strategy_decisions_total{id=\"$1\"} //p"; }
covered() { api /api/v1/scheduling/strategies | tr -d ' \n' | grep -q "\"pid\":$1[,}]"; }

echo "== Kubernetes phase"
# A node agent that cannot reach any API server configuration is refused at start.
printf 'kubernetes:\n  enabled: true\n  node_name: %s\n  kubeconfig: /nonexistent/kubeconfig\n' \
	"$NODE" >/tmp/k8s-bad.yaml
"$G" --config /tmp/k8s-bad.yaml >/tmp/k8s-bad.log 2>&1
rc=$?
if [ $rc -eq 2 ] && is_state disabled && grep -q '/nonexistent/kubeconfig' /tmp/k8s-bad.log; then
	ok "kubernetes.enabled with a missing kubeconfig: exit 2, the file named, nothing attached"
else
	not_ok "missing kubeconfig refused" "rc=$rc state=$(state) $(tail -n 2 /tmp/k8s-bad.log)"
fi
mkdir -p "$POD_CG" || not_ok "kubepods cgroup" "cannot create $POD_CG"
# The pod's workload: "upf" (a busy loop; comm is the script's name) and a sleeper.
printf '#!/bin/sh\nwhile :; do :; done\n' >/tmp/upf
chmod +x /tmp/upf
sh -c "echo \$\$ >$POD_CG/cgroup.procs && exec /tmp/upf" &
UPF=$!
sh -c "echo \$\$ >$POD_CG/cgroup.procs && while :; do sleep 0.05; done" &
SLEEPER=$!
# A host process with the same name, outside the pod: it must not be covered.
/tmp/upf &
HOST_UPF=$!

if start_fake && [ -n "$PORT" ] && fake POST /fake/pods "$(pod_json)" >/dev/null; then
	ok "fake API server on 127.0.0.1:$PORT with pod telco/upf-0"
else
	not_ok "fake API server" "$(cat /tmp/fake.out)"
fi
echo "$TOKEN" >/tmp/k8s-token
cat >/tmp/kubeconfig <<EOF
apiVersion: v1
kind: Config
current-context: vm
clusters:
  - name: vm
    cluster:
      server: http://127.0.0.1:$PORT
contexts:
  - name: vm
    context:
      cluster: vm
      user: vm
users:
  - name: vm
    user:
      tokenFile: /tmp/k8s-token
EOF
cat >/tmp/gthulhu-k8s.yaml <<EOF
stats:
  interval_s: 1
api:
  state_file: ""
kubernetes:
  enabled: true
  node_name: $NODE
  kubeconfig: /tmp/kubeconfig
strategies:
  - selectors:
      - key: app
        value: upf
    namespaces: [telco]
    priority: 20
EOF
if start_gthulhu /tmp/gthulhu-k8s.yaml "$K8S_LOG" &&
	wait_for 30 sh -c "curl -s --unix-socket $API_SOCK http://g/health | grep -q '\"pods_synced\": *true'"; then
	ok "node agent attached; pods listed and watched from the API server"
else
	not_ok "node agent start" "$(api /health) $(tail -n 5 $K8S_LOG)"
fi

# The label strategy reaches both processes of the pod, not the host's "upf".
if wait_for 10 covered $UPF && covered $SLEEPER && ! covered $HOST_UPF; then
	ok "label+namespace strategy covers the pod's processes (not the same command outside it)"
else
	not_ok "label strategy resolved to the pod's pids" "$(api /api/v1/scheduling/strategies | head -c 400)"
fi
p0=$(api /api/v1/metrics | json_num nr_prio_dispatches)
sleep 2
p1=$(api /api/v1/metrics | json_num nr_prio_dispatches)
decisions=$(rule_decisions config-1)
if [ "${p1:-0}" -gt "${p0:-0}" ] && [ "${decisions:-0}" -gt 0 ]; then
	ok "the pod's tasks are dispatched as priority in BPF ($((p1 - p0)) prio dispatches in 2 s, $decisions decisions under the rule)"
else
	not_ok "label strategy reached BPF" "prio $p0 -> $p1, decisions $decisions"
fi
pods=$(api /api/v1/pods/pids | tr -d ' \n')
if echo "$pods" | grep -q "\"pod_name\":\"upf-0\"" && echo "$pods" | grep -q "\"namespace\":\"telco\"" &&
	echo "$pods" | grep -q "\"pid\":$UPF[,}]"; then
	ok "GET /api/v1/pods/pids: upf-0 in telco with its processes"
else
	not_ok "GET /api/v1/pods/pids" "$(echo "$pods" | head -c 400)"
fi

# A cluster-wide strategy: the node applies it as k8s-<name>, source cluster.
gss='{"apiVersion":"gthulhu.io/v1alpha1","kind":"SchedulingStrategy","metadata":{"name":"telco-sleepers"},"spec":{"namespaces":["telco"],"command_regex":"^sleep$","execution_time":2000000}}'
fake POST /fake/strategies "$gss" >/dev/null
if wait_for 10 sh -c "curl -s --unix-socket $API_SOCK http://g/api/v1/strategies | tr -d ' \n' | grep -q '\"id\":\"k8s-telco-sleepers\"[^{}]*\"source\":\"cluster\"\|\"source\":\"cluster\"[^{}]*\"id\":\"k8s-telco-sleepers\"'"; then
	ok "cluster SchedulingStrategy applied as k8s-telco-sleepers"
else
	not_ok "cluster strategy" "$(api /api/v1/strategies | head -c 400) $(grep -i cluster $K8S_LOG | tail -n 2)"
fi
bad='{"apiVersion":"gthulhu.io/v1alpha1","kind":"SchedulingStrategy","metadata":{"name":"bad"},"spec":{"namespaces":["telco"],"priority":99}}'
fake POST /fake/strategies "$bad" >/dev/null
sleep 1
if ! api /api/v1/strategies | grep -q 'k8s-bad' && api /api/v1/strategies | grep -q 'k8s-telco-sleepers' &&
	api /api/v1/status | tr -d ' \n' | grep -q '"strategies_rejected":[1-9]'; then
	ok "an invalid SchedulingStrategy is rejected and counted; the valid one stays"
else
	not_ok "invalid cluster strategy" "$(api /api/v1/status | tr -d '\n' | grep -o '"kubernetes":{[^}]*}')"
fi

# Each node reports in the object's status whether it applied it.
gss_status() {
	curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$PORT/apis/gthulhu.io/v1alpha1/schedulingstrategies/$1" | tr -d ' \n'
}
reported() {
	gss_status telco-sleepers | grep -q "\"$NODE\":{[^}]*\"applied\":true" &&
		gss_status bad | grep -q "\"$NODE\":{[^}]*\"applied\":false"
}
if wait_for 10 reported && gss_status bad | grep -q '"message":"[^"]*priority'; then
	ok "per-node status in the objects: applied on $NODE, and the refusal's reason"
else
	not_ok "per-node status" "$(gss_status telco-sleepers | head -c 300) $(gss_status bad | head -c 300)"
fi

# Per-pod scheduling metrics from the scheduler's own callbacks.
sleep 3
m=$(api /api/v1/pods/metrics | tr -d ' \n' | grep -o '{[^{}]*"pod_name":"upf-0"[^{}]*}')
cpu=$(echo "$m" | json_num cpu_time_ns)
runs=$(echo "$m" | json_num run_count)
vol=$(echo "$m" | json_num voluntary_switches)
# The kernel's own account of the pod's main process, to compare: ns on a CPU, ns waiting.
echo "# upf schedstat: $(cat /proc/$UPF/schedstat), uptime $(cut -d' ' -f1 /proc/uptime) s; pod: cpu $cpu ns"
# At most every CPU for the whole uptime: no double counting.
cpu_max=$(($(cut -d. -f1 /proc/uptime) * $(nproc) * 1000000000))
if [ "${cpu:-0}" -gt 1000000000 ] && [ "${cpu:-0}" -le "$cpu_max" ] && [ "${runs:-0}" -gt 10 ] && [ "${vol:-0}" -gt 10 ] &&
	api /metrics | grep -q '^gthulhu_pod_cpu_seconds_total{pod="upf-0",namespace="telco",node="vm-node"'; then
	ok "per-pod metrics: upf-0 cpu ${cpu} ns, $runs runs, $vol voluntary switches (also on /metrics)"
else
	not_ok "per-pod metrics" "$m $(api /api/v1/pods/metrics | head -c 300)"
fi

# The pod is deleted: its processes drop out of the label strategy.
fake DELETE /fake/pods/telco/upf-0 >/dev/null
if wait_for 10 sh -c "! curl -s --unix-socket $API_SOCK http://g/api/v1/scheduling/strategies | tr -d ' \n' | grep -q '\"pid\":$UPF[,}]'"; then
	ok "pod deleted mid-watch: its processes are no longer covered"
else
	not_ok "deleted pod drops out" "$(api /api/v1/scheduling/strategies | head -c 300)"
fi

# The API server goes away: degraded, pid strategies keep working; it returns: pods apply.
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null
$CTL strategies add --id host-upf --pid "$HOST_UPF" --priority 5 >/tmp/ctl.out 2>&1
if wait_for 15 sh -c "curl -s --unix-socket $API_SOCK http://g/health | grep -q '\"status\": *\"degraded\"'" &&
	wait_for 5 covered "$HOST_UPF" && is_state enabled; then
	ok "API server gone: /health degraded, a pid strategy still applies, still attached"
else
	not_ok "API server gone" "$(api /health) $(cat /tmp/ctl.out)"
fi
if start_fake "$PORT" && fake POST /fake/pods "$(pod_json)" >/dev/null &&
	wait_for 40 covered $UPF &&
	wait_for 10 sh -c "curl -s --unix-socket $API_SOCK http://g/health | grep -q '\"status\": *\"healthy\"'"; then
	ok "API server back: healthy again, the pod's strategy applies again"
else
	not_ok "API server back" "$(api /health) $(tail -n 3 $K8S_LOG)"
	threads_of "$GPID" | sed 's/^/#   /'
fi

kill -TERM "$GPID"
wait "$GPID"
rc=$?
[ $rc -eq 0 ] && is_state disabled && ok "node agent: SIGTERM, exit 0" ||
	not_ok "node agent SIGTERM" "rc=$rc state=$(state)"
kill "$UPF" "$SLEEPER" "$HOST_UPF" "$FAKE_PID" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null
