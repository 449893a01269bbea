/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which Kubernetes pod (and container) a process belongs to, read from its cgroup path.
 *
 * The kubelet puts every pod in a cgroup named after the pod's UID, below a QoS level,
 * and the container runtime puts each container below that. Two drivers name them
 * differently, and both exist under cgroup v2 and v1:
 *   cgroupfs: /kubepods/burstable/pod<uid>/<container-id>
 *             /kubepods/pod<uid>/<container-id>                  (guaranteed)
 *   systemd:  /kubepods.slice/kubepods-burstable.slice/
 *               kubepods-burstable-pod<uid with '_' for '-'>.slice/
 *               cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 * The kubepods element may sit anywhere in the path: below a --cgroup-root (kind uses
 * /kubelet.slice/kubelet-kubepods.slice), below a host container (/docker/<id>/kubepods).
 * Everything from there to the container is checked exactly; a path that does not fit is
 * "not a pod".
 * This file only parses; the resolver (strategy/) and the pod metrics (k8s/pod_metrics)
 * call it. Nothing here talks to Kubernetes.
 *
 * Static pods: the cgroup carries the UID the kubelet gave the pod (a 32-hex-digit hash of
 * the manifest), while the API server's mirror pod has a UID of its own and shows the
 * kubelet's in its "kubernetes.io/config.hash" annotation; match on that for static pods.
 */
#ifndef GTHULHU_CGROUP_POD_H
#define GTHULHU_CGROUP_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POD_UID_MAX	 64 /* a UUID is 36 bytes; room for odd runtimes, + NUL */
#define CONTAINER_ID_MAX 72 /* 64 hex digits + NUL, with room to spare */

enum pod_qos {
	POD_QOS_UNKNOWN = 0,
	POD_QOS_GUARANTEED,
	POD_QOS_BURSTABLE,
	POD_QOS_BESTEFFORT,
};

enum container_runtime {
	CONTAINER_RUNTIME_UNKNOWN = 0, /* cgroupfs driver: a bare id says nothing of the runtime */
	CONTAINER_RUNTIME_CONTAINERD,  /* cri-containerd-<id>.scope */
	CONTAINER_RUNTIME_CRIO,	       /* crio-<id>.scope */
	CONTAINER_RUNTIME_DOCKER,      /* docker-<id>.scope */
};

struct cgroup_pod {
	char pod_uid[POD_UID_MAX];	     /* with dashes, as the Kubernetes API shows it */
	char container_id[CONTAINER_ID_MAX]; /* 64 hex digits; "" for the pod's own cgroup */
	enum pod_qos qos;
	enum container_runtime runtime;
};

/*
 * Parse one cgroup path (the part after "0::" or "N:controllers:"), NUL-terminated with no
 * newline. true when the path lies inside a pod's cgroup; false for host processes,
 * kubepods itself, a QoS level without a pod, and anything malformed (out is then zeroed).
 * A UID is 8-4-4-4-12 lower-case hex digits (with '_' for '-' in systemd slice names) or
 * 32 hex digits (static pods); a container id is exactly 64 lower-case hex digits, so a
 * path cut short never yields a wrong id. CRI-O's monitor (crio-conmon-<id>) counts as
 * the pod itself (container_id "", runtime CONTAINER_RUNTIME_CRIO): it is the runtime's,
 * not the workload's, and is accounted to the pod. No allocation, no I/O; @out must not be
 * NULL.
 */
bool cgroup_pod_from_path(const char *path, struct cgroup_pod *out);

/*
 * The pod of process @pid from @proc_root/<pid>/cgroup: the cgroup v2 line ("0::") when it
 * names a pod, else the first v1 line that does (any controller, "name=systemd" too).
 * 1 found, 0 not in a pod, -errno when the file cannot be read: -ENOENT when the process
 * exited (also when it exits mid-read), -EACCES and the like passed through, -EINVAL for a
 * NULL @proc_root or @pid <= 0. At most 8 KiB of the file is read; a line cut off by that
 * bound is ignored. @out is zeroed unless 1 is returned.
 */
int cgroup_pod_of_pid(const char *proc_root, int32_t pid, struct cgroup_pod *out);

/*
 * The same from the text of such a file already read (NUL-terminated), for callers that
 * read it for other reasons too. @complete false: the text was cut short, and its last
 * line, unless it ends in a newline, is ignored. @text is written to while parsing and
 * left as it was. 1 found, 0 not in a pod.
 */
int cgroup_pod_from_file(char *text, bool complete, struct cgroup_pod *out);

/*
 * Static strings, "" for UNKNOWN or out of range. Runtime names are the schemes of a pod
 * status's containerID ("containerd://<id>", "cri-o://<id>", "docker://<id>").
 */
const char *pod_qos_name(enum pod_qos qos);		       /* "guaranteed", ..., "" */
const char *container_runtime_name(enum container_runtime rt); /* "containerd", ..., "" */

#endif /* GTHULHU_CGROUP_POD_H */
