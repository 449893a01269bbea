/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cgroup path -> (pod UID, container id, QoS, runtime), see cgroup_pod.h. Pure string work
 * over the caller's buffer plus one bounded read of /proc/<pid>/cgroup; no allocation, so
 * the resolver can call it for every process of a /proc scan.
 *
 * The kubepods element is looked for anywhere in the path, not only at its start: a
 * kubelet run with --cgroup-root puts it lower (/kubelet/kubepods, kind's
 * /kubelet.slice/kubelet-kubepods.slice), and nested setups put a host prefix in front
 * (/docker/<id>/kubepods.slice when containerd or CRI-O runs inside Docker). The first
 * kubepods element followed by a well-formed QoS level and pod decides: seen from the
 * host, a Kubernetes node nested inside a pod (kind in a pod) belongs to the outer pod,
 * which is the one this node's API server knows.
 *
 * Everything from kubepods down to the container is checked exactly (names, UID shape,
 * container id shape); one wrong element and the path is "not a pod" rather than a guess.
 * Elements below the container (a systemd or a runtime nested inside it, CRI-O's
 * "container" sub-cgroup) are the container's own business and are ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "k8s/cgroup_pod.h"

/*
 * /proc/<pid>/cgroup is one line per hierarchy: a dozen on cgroup v1, one on v2. Paths
 * below kubepods are 150 to 300 bytes, so this holds every real file with room to spare
 * and bounds what a pathological cgroup tree can make us read.
 */
#define CGROUP_FILE_MAX 8192

/* One path element: not NUL-terminated, it points into the caller's path. */
struct elem {
	const char *s;
	size_t len;
};

#define LIT(s)	      (s), (sizeof(s) - 1)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static bool elem_is(struct elem e, const char *lit, size_t n)
{
	return e.len == n && memcmp(e.s, lit, n) == 0;
}

static bool elem_starts(struct elem e, const char *lit, size_t n)
{
	return e.len >= n && memcmp(e.s, lit, n) == 0;
}

static bool elem_ends(struct elem e, const char *lit, size_t n)
{
	return e.len >= n && memcmp(e.s + e.len - n, lit, n) == 0;
}

/* Drop @n bytes from the front (the caller checked they are there). */
static struct elem elem_skip(struct elem e, size_t n)
{
	e.s += n;
	e.len -= n;
	return e;
}

/*
 * The element after the '/' at *p; *p is left on the next '/' or on the NUL. The path was
 * checked by path_ok(), so there are no empty elements to trip over.
 */
static bool next_elem(const char **p, struct elem *e)
{
	if (**p != '/')
		return false;
	e->s = ++*p;
	*p = strchrnul(e->s, '/');
	e->len = (size_t)(*p - e->s);
	return true;
}

/*
 * The kernel prints cgroup paths absolute, without empty elements, without a trailing
 * slash and, for anything the kubelet or a runtime creates, without spaces or control
 * characters. A path that breaks this came from somewhere else (a stray newline left by a
 * caller, a hand-written string) and is not trusted to name a pod. ("/" fails too: the
 * root is not a pod either.)
 */
static bool path_ok(const char *path)
{
	const unsigned char *c = (const unsigned char *)path;

	if (*c != '/')
		return false;
	for (; *c; c++) {
		if (*c <= ' ' || *c == 0x7f)
			return false;
		if (*c == '/' && (c[1] == '/' || c[1] == '\0'))
			return false;
	}
	return true;
}

/* Lower-case only: the API server, the kubelet and the runtimes never print upper case. */
static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

/*
 * A pod UID as the kubelet wrote it into the cgroup name, to the form the API shows.
 * Either a UUID, 8-4-4-4-12 hex digits separated by @sep (the systemd driver writes '_'
 * because '-' is systemd's slice separator), or 32 bare hex digits: the md5 the kubelet
 * uses as UID for a static pod. Nothing else is accepted, so a wrong layout guess cannot
 * produce a plausible-looking UID.
 */
static bool parse_uid(struct elem e, char sep, char out[POD_UID_MAX])
{
	static const size_t dash_at[] = {8, 13, 18, 23};
	size_t d = 0;

	if (e.len == 32 && all_hex(e.s, e.len)) {
		memcpy(out, e.s, e.len);
		out[e.len] = '\0';
		return true;
	}
	if (e.len != 36)
		return false;
	for (size_t i = 0; i < e.len; i++) {
		if (d < 4 && i == dash_at[d]) {
			if (e.s[i] != sep)
				return false;
			out[i] = '-';
			d++;
		} else if (is_hex(e.s[i])) {
			out[i] = e.s[i];
		} else {
			return false;
		}
	}
	out[e.len] = '\0';
	return true;
}

/*
 * How a runtime names a container's cgroup below the pod: a prefix, an id, and (systemd
 * driver) the ".scope" suffix. "crio-conmon-" must come before "crio-", which it extends.
 */
struct runtime_form {
	const char *prefix;
	size_t prefix_len;
	enum container_runtime rt;
	/*
	 * CRI-O's conmon (with conmon_cgroup = "pod") gets a cgroup per container, named after
	 * the container, but it is the runtime's monitor, not the workload: the kubelet counts
	 * it in the pod, not in the container. We do the same: the pod, container_id "", and
	 * the runtime, which is known.
	 */
	bool conmon;
};

static const struct runtime_form systemd_forms[] = {
    {LIT("cri-containerd-"), CONTAINER_RUNTIME_CONTAINERD, false},
    {LIT("crio-conmon-"), CONTAINER_RUNTIME_CRIO, true},
    {LIT("crio-"), CONTAINER_RUNTIME_CRIO, false},
    {LIT("docker-"), CONTAINER_RUNTIME_DOCKER, false},
};

/*
 * cgroupfs driver: containerd and Docker (cri-dockerd) use the bare id, so the runtime
 * stays unknown; CRI-O keeps its prefix. The empty prefix goes last.
 */
static const struct runtime_form cgroupfs_forms[] = {
    {LIT("crio-conmon-"), CONTAINER_RUNTIME_CRIO, true},
    {LIT("crio-"), CONTAINER_RUNTIME_CRIO, false},
    {LIT(""), CONTAINER_RUNTIME_UNKNOWN, false},
};

/*
 * Container ids are 64 lower-case hex digits from every CRI runtime (containerd, CRI-O and
 * Docker all draw 32 random bytes). Requiring exactly that means a path cut short
 * somewhere (a bounded read, a caller's small buffer) can never pass for another, shorter
 * container id, and an overlong one is refused rather than truncated.
 */
#define CONTAINER_ID_LEN 64
_Static_assert(CONTAINER_ID_LEN < CONTAINER_ID_MAX, "container_id holds an id and its NUL");

/* The container element below the pod, in one of @forms followed by @suffix. */
static bool parse_container(struct elem e, const struct runtime_form *forms, size_t n,
			    const char *suffix, size_t suffix_len, struct cgroup_pod *pod)
{
	if (!elem_ends(e, suffix, suffix_len))
		return false;
	e.len -= suffix_len;
	for (size_t i = 0; i < n; i++) {
		struct elem id;

		if (!elem_starts(e, forms[i].prefix, forms[i].prefix_len))
			continue;
		id = elem_skip(e, forms[i].prefix_len);
		if (id.len != CONTAINER_ID_LEN || !all_hex(id.s, id.len))
			return false;
		if (!forms[i].conmon) {
			memcpy(pod->container_id, id.s, id.len);
			pod->container_id[id.len] = '\0';
		}
		pod->runtime = forms[i].rt;
		return true;
	}
	return false;
}

/* What a kubepods element turned out to hold. */
enum found {
	FOUND_BAD = -1, /* a pod, but what lies below it is not a container we know */
	FOUND_NONE = 0, /* no QoS level and pod below it: not the kubelet's kubepods */
	FOUND_POD = 1,
};

/*
 * What follows the pod element: nothing (the pod's own cgroup) or a container. Once the pod
 * is found, the path is decided: an unknown element below it is refused, not guessed at,
 * and a kubepods further down (a cluster nested in this pod) is never looked at.
 */
static enum found parse_below_pod(const char *p, const struct runtime_form *forms, size_t n,
				  const char *suffix, size_t suffix_len, struct cgroup_pod *pod)
{
	struct elem e;

	if (!next_elem(&p, &e))
		return FOUND_POD;
	return parse_container(e, forms, n, suffix, suffix_len, pod) ? FOUND_POD : FOUND_BAD;
}

/*
 * The QoS level's name; guaranteed pods have none and sit right below kubepods, so
 * anything else is taken for a pod element (and checked as one).
 */
static enum pod_qos qos_of(struct elem e)
{
	if (elem_is(e, LIT("burstable")))
		return POD_QOS_BURSTABLE;
	if (elem_is(e, LIT("besteffort")))
		return POD_QOS_BESTEFFORT;
	return POD_QOS_GUARANTEED;
}

/*
 * cgroupfs driver, after "kubepods":
 *   pod<uid>[/<cid>]                         guaranteed
 *   burstable/pod<uid>[/<cid>], besteffort/...
 */
static enum found parse_cgroupfs(const char *p, struct cgroup_pod *pod)
{
	struct elem e;

	if (!next_elem(&p, &e))
		return FOUND_NONE;
	pod->qos = qos_of(e);
	if (pod->qos != POD_QOS_GUARANTEED) {
		if (!next_elem(&p, &e))
			return FOUND_NONE;
	}
	if (!elem_starts(e, LIT("pod")) || !parse_uid(elem_skip(e, 3), '-', pod->pod_uid))
		return FOUND_NONE;
	return parse_below_pod(p, cgroupfs_forms, ARRAY_SIZE(cgroupfs_forms), LIT(""), pod);
}

/*
 * A systemd slice below @parent (a slice name without ".slice"): "<parent>-<name>.slice".
 * A slice's name spells out its whole ancestry, so each level repeats its parent's.
 */
static bool child_slice(struct elem parent, struct elem e, struct elem *name)
{
	const size_t sfx = sizeof(".slice") - 1;

	if (e.len <= parent.len + 1 + sfx || !elem_starts(e, parent.s, parent.len) ||
	    e.s[parent.len] != '-' || !elem_ends(e, LIT(".slice")))
		return false;
	*name = elem_skip(e, parent.len + 1);
	name->len -= sfx;
	return true;
}

/*
 * systemd driver, after the kubepods slice @kp ("kubepods.slice", or "<root>-kubepods.slice"
 * under --cgroup-root):
 *   kubepods-pod<uid>.slice[/<runtime>-<cid>.scope]                      guaranteed
 *   kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice[/...]     burstable, besteffort
 */
static enum found parse_systemd(struct elem kp, const char *p, struct cgroup_pod *pod)
{
	struct elem parent = {kp.s, kp.len - (sizeof(".slice") - 1)};
	struct elem e, name;

	if (!next_elem(&p, &e) || !child_slice(parent, e, &name))
		return FOUND_NONE;
	pod->qos = qos_of(name);
	if (pod->qos != POD_QOS_GUARANTEED) {
		parent.s = e.s;
		parent.len = e.len - (sizeof(".slice") - 1);
		if (!next_elem(&p, &e) || !child_slice(parent, e, &name))
			return FOUND_NONE;
	}
	if (!elem_starts(name, LIT("pod")) || !parse_uid(elem_skip(name, 3), '_', pod->pod_uid))
		return FOUND_NONE;
	return parse_below_pod(p, systemd_forms, ARRAY_SIZE(systemd_forms), LIT(".scope"), pod);
}

bool cgroup_pod_from_path(const char *path, struct cgroup_pod *out)
{
	const char *p = path;
	struct elem e;

	memset(out, 0, sizeof(*out));
	if (!path || !path_ok(path))
		return false;
	while (next_elem(&p, &e)) {
		/* Built aside, so that a half-parsed candidate never leaks into @out. */
		struct cgroup_pod pod;
		enum found found;
		bool systemd;

		if (elem_is(e, LIT("kubepods")))
			systemd = false;
		else if (elem_is(e, LIT("kubepods.slice")) || elem_ends(e, LIT("-kubepods.slice")))
			systemd = true;
		else
			continue;
		memset(&pod, 0, sizeof(pod));
		found = systemd ? parse_systemd(e, p, &pod) : parse_cgroupfs(p, &pod);
		if (found == FOUND_BAD)
			return false;
		if (found == FOUND_POD) {
			*out = pod;
			return true;
		}
	}
	return false;
}

/*
 * Read all of @fd into @buf (at most @size bytes). *complete is false when the file goes
 * on beyond the buffer, so that the caller can ignore a cut-off last line.
 */
static ssize_t read_bounded(int fd, char *buf, size_t size, bool *complete)
{
	size_t len = 0;
	char probe;

	for (;;) {
		ssize_t n = read(fd, len < size ? buf + len : &probe, len < size ? size - len : 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			*complete = true;
			return (ssize_t)len;
		}
		if (len == size) {
			*complete = false;
			return (ssize_t)len;
		}
		len += (size_t)n;
	}
}

int cgroup_pod_of_pid(const char *proc_root, int32_t pid, struct cgroup_pod *out)
{
	char path[PATH_MAX], buf[CGROUP_FILE_MAX];
	bool complete;
	ssize_t len;
	int fd, n;

	memset(out, 0, sizeof(*out));
	if (!proc_root || pid <= 0)
		return -EINVAL;
	n = snprintf(path, sizeof(path), "%s/%" PRId32 "/cgroup", proc_root, pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	len = read_bounded(fd, buf, sizeof(buf) - 1, &complete);
	close(fd);
	/* A process that exits between open() and read() makes procfs answer ESRCH. */
	if (len == -ESRCH)
		return -ENOENT;
	if (len < 0)
		return (int)len;
	buf[len] = '\0';
	return cgroup_pod_from_file(buf, complete, out);
}

int cgroup_pod_from_file(char *text, bool complete, struct cgroup_pod *out)
{
	struct cgroup_pod v1;
	bool have_v1 = false;
	char *line;

	memset(out, 0, sizeof(*out));
	memset(&v1, 0, sizeof(v1));
	for (line = text; *line;) {
		char *nl = strchr(line, '\n'), *ctl, *cg;
		struct cgroup_pod pod;
		bool v2 = false, named;

		if (!nl && !complete)
			break; /* cut off by the bound: its path may be a truncated one */
		if (nl)
			*nl = '\0';
		/* "<hierarchy>:<controllers>:<path>"; the path itself may hold ':'. */
		ctl = strchr(line, ':');
		cg = ctl ? strchr(ctl + 1, ':') : NULL;
		named = cg && cgroup_pod_from_path(cg + 1, &pod);
		if (named)
			v2 = ctl == line + 1 && line[0] == '0' && cg == ctl + 1;
		if (nl)
			*nl = '\n'; /* the caller's text stays as it was */
		if (v2) {
			*out = pod;
			return 1;
		}
		if (named && !have_v1) {
			v1 = pod;
			have_v1 = true;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (!have_v1)
		return 0;
	*out = v1;
	return 1;
}

const char *pod_qos_name(enum pod_qos qos)
{
	switch (qos) {
	case POD_QOS_GUARANTEED:
		return "guaranteed";
	case POD_QOS_BURSTABLE:
		return "burstable";
	case POD_QOS_BESTEFFORT:
		return "besteffort";
	default:
		return "";
	}
}

/*
 * The scheme the Kubernetes API puts in front of a container id in a pod's status
 * ("containerd://<id>", "cri-o://<id>", "docker://<id>"), so that callers can match a
 * container against containerStatuses[].containerID by pasting the two together.
 */
const char *container_runtime_name(enum container_runtime rt)
{
	switch (rt) {
	case CONTAINER_RUNTIME_CONTAINERD:
		return "containerd";
	case CONTAINER_RUNTIME_CRIO:
		return "cri-o";
	case CONTAINER_RUNTIME_DOCKER:
		return "docker";
	default:
		return "";
	}
}
