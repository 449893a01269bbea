/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit tests for k8s/cgroup_pod: the path parser over a table of every layout (cgroupfs
 * and systemd drivers, three QoS levels, containerd / CRI-O / Docker, --cgroup-root and
 * nested setups) and of the paths it must refuse, a generated cross product of the same,
 * a property check on cut-short paths, then cgroup_pod_of_pid() over the fixture /proc
 * trees in tests/unit/fixtures/kubepods (see its README) and over trees made at run time
 * for what git cannot hold (a cgroup file that is a directory or unreadable, a file larger
 * than the read bound). Paths are relative to the repository root, where the tests run.
 * The last test times the parser (printed, not asserted).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "k8s/cgroup_pod.h"

#define FIXTURES "tests/unit/fixtures/kubepods"

/* The same ids as the fixture files. UID_S is a static pod's (the manifest's md5). */
#define UID_A	"2c9e1f5a-7b3d-4e8f-9a0b-1c2d3e4f5a6b"
#define UID_A_	"2c9e1f5a_7b3d_4e8f_9a0b_1c2d3e4f5a6b"
#define UID_B	"f47ac10b-58cc-4372-a567-0e02b2c3d479"
#define UID_B_	"f47ac10b_58cc_4372_a567_0e02b2c3d479"
#define UID_C	"7d4b2e91-0c3a-4f6e-b8d5-93a1c7e2f640"
#define UID_C_	"7d4b2e91_0c3a_4f6e_b8d5_93a1c7e2f640"
#define UID_S	"6a5c3e1f0b9d8c7a6e5f4d3c2b1a0f9e"
#define CID_1	"d0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982"
#define CID_2	"9c0abe51c6e6655d81de2d044d4fb194931f058c0426c67c7285d8f5657ed64a"
#define CID_3	"7c1c97df17c066924822b0af09a65251554962c61e23329aed04cd19020dc3b8"
#define HOST_ID "84a6fa56db711c37e20e8ba86260ec4c64a073357e9c9dbbd85dba05bad31a64"

#define SD_BU	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
#define SD_BE	"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
#define SD_G	"/kubepods.slice/kubepods-pod"
#define CTRD(c) "/cri-containerd-" c ".scope"

#define G	POD_QOS_GUARANTEED
#define BU	POD_QOS_BURSTABLE
#define BE	POD_QOS_BESTEFFORT
#define RT_NONE CONTAINER_RUNTIME_UNKNOWN
#define RT_CTRD CONTAINER_RUNTIME_CONTAINERD
#define RT_CRIO CONTAINER_RUNTIME_CRIO
#define RT_DOCK CONTAINER_RUNTIME_DOCKER

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct want {
	const char *uid; /* NULL: not a pod */
	const char *cid;
	enum pod_qos qos;
	enum container_runtime rt;
};

struct path_case {
	const char *path;
	struct want want;
};

#define NOT_A_POD                                                                                  \
	{                                                                                          \
		NULL, NULL, 0, 0                                                                   \
	}

static const struct path_case path_cases[] = {
    /* cgroupfs driver, every QoS level, the pod's own cgroup and its containers. */
    {"/kubepods/pod" UID_B "/" CID_2, {UID_B, CID_2, G, RT_NONE}},
    {"/kubepods/pod" UID_B, {UID_B, "", G, RT_NONE}},
    {"/kubepods/burstable/pod" UID_A "/" CID_1, {UID_A, CID_1, BU, RT_NONE}},
    {"/kubepods/burstable/pod" UID_A, {UID_A, "", BU, RT_NONE}},
    {"/kubepods/besteffort/pod" UID_C "/" CID_3, {UID_C, CID_3, BE, RT_NONE}},
    {"/kubepods/besteffort/pod" UID_C, {UID_C, "", BE, RT_NONE}},
    /* CRI-O on cgroupfs keeps its prefix; its monitor is the pod's. */
    {"/kubepods/besteffort/pod" UID_C "/crio-" CID_1, {UID_C, CID_1, BE, RT_CRIO}},
    {"/kubepods/pod" UID_B "/crio-conmon-" CID_2, {UID_B, "", G, RT_CRIO}},
    /* Static pods: a 32-digit hash for a UID, in both drivers. */
    {"/kubepods/burstable/pod" UID_S "/" CID_3, {UID_S, CID_3, BU, RT_NONE}},
    {SD_BE UID_S ".slice" CTRD(CID_1), {UID_S, CID_1, BE, RT_CTRD}},
    {SD_G UID_S ".slice", {UID_S, "", G, RT_NONE}},
    /* --cgroup-root, nested runtimes, cgroup namespaces. */
    {"/kubelet/kubepods/burstable/pod" UID_A "/" CID_1, {UID_A, CID_1, BU, RT_NONE}},
    {"/docker/" HOST_ID "/kubepods/besteffort/pod" UID_C "/" CID_3, {UID_C, CID_3, BE, RT_NONE}},
    {"/../../kubepods/pod" UID_B "/" CID_2, {UID_B, CID_2, G, RT_NONE}},
    {"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
     "kubelet-kubepods-besteffort-pod" UID_C_ ".slice" CTRD(CID_3),
     {UID_C, CID_3, BE, RT_CTRD}},
    {"/system.slice/docker-" HOST_ID ".scope/kubelet.slice/kubelet-kubepods.slice/"
     "kubelet-kubepods-pod" UID_B_ ".slice" CTRD(CID_2),
     {UID_B, CID_2, G, RT_CTRD}},
    {"/docker/" HOST_ID "/kubepods.slice/kubepods-besteffort.slice/"
     "kubepods-besteffort-pod" UID_C_ ".slice/crio-" CID_1 ".scope",
     {UID_C, CID_1, BE, RT_CRIO}},
    /* systemd driver, every QoS level and runtime. */
    {SD_G UID_B_ ".slice" CTRD(CID_2), {UID_B, CID_2, G, RT_CTRD}},
    {SD_G UID_B_ ".slice", {UID_B, "", G, RT_NONE}},
    {SD_BU UID_A_ ".slice" CTRD(CID_1), {UID_A, CID_1, BU, RT_CTRD}},
    {SD_BU UID_A_ ".slice", {UID_A, "", BU, RT_NONE}},
    {SD_BE UID_C_ ".slice/crio-" CID_3 ".scope", {UID_C, CID_3, BE, RT_CRIO}},
    {SD_BE UID_C_ ".slice/crio-conmon-" CID_3 ".scope", {UID_C, "", BE, RT_CRIO}},
    {SD_BE UID_C_ ".slice", {UID_C, "", BE, RT_NONE}},
    {SD_BU UID_A_ ".slice/docker-" CID_2 ".scope", {UID_A, CID_2, BU, RT_DOCK}},
    {SD_G UID_B_ ".slice/docker-" CID_1 ".scope", {UID_B, CID_1, G, RT_DOCK}},
    /* Below the container: the container's business, ignored. */
    {SD_BE UID_C_ ".slice/crio-" CID_3 ".scope/container", {UID_C, CID_3, BE, RT_CRIO}},
    {SD_BU UID_A_ ".slice" CTRD(CID_1) "/init.scope", {UID_A, CID_1, BU, RT_CTRD}},
    {"/kubepods/burstable/pod" UID_A "/" CID_1 "/sub/dir", {UID_A, CID_1, BU, RT_NONE}},
    /* A cluster inside a pod (kind in a pod): the outer pod, the host's, decides. */
    {"/kubepods/burstable/pod" UID_A "/" CID_1 "/kubelet.slice/kubelet-kubepods.slice/"
     "kubelet-kubepods-pod" UID_B_ ".slice" CTRD(CID_2),
     {UID_A, CID_1, BU, RT_NONE}},
    /* A kubepods with no pod below it is passed over; the next one is tried. */
    {"/kubepods/besteffort/scratch/kubepods/pod" UID_B "/" CID_2, {UID_B, CID_2, G, RT_NONE}},
    {"/kubepods.slice/other/kubepods/pod" UID_B, {UID_B, "", G, RT_NONE}},

    /* Host processes and kubepods levels without a pod. */
    {"", NOT_A_POD},
    {"/", NOT_A_POD},
    {"/system.slice/sshd.service", NOT_A_POD},
    {"/system.slice/containerd.service", NOT_A_POD},
    {"/system.slice/kubelet.service", NOT_A_POD},
    {"/user.slice/user-1000.slice/session-3.scope", NOT_A_POD},
    {"/init.scope", NOT_A_POD},
    {"/k8s.io/" CID_1, NOT_A_POD},
    {"/docker/" HOST_ID, NOT_A_POD},
    {"/kubepods", NOT_A_POD},
    {"/kubepods/burstable", NOT_A_POD},
    {"/kubepods/besteffort", NOT_A_POD},
    {"/kubepods.slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable.slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-besteffort.slice", NOT_A_POD},
    {"/kubelet.slice/kubelet-kubepods.slice", NOT_A_POD},
    {"/kubelet/kubepods", NOT_A_POD},
    /* Not what the kernel prints: relative, spaces, newlines, empty elements. */
    {"kubepods/pod" UID_B "/" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "\n", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 " ", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "\r", NOT_A_POD},
    {" /kubepods/pod" UID_B "/" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B " /" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B "\t/" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "/", NOT_A_POD},
    {"/kubepods/pod" UID_B "/", NOT_A_POD},
    {"//kubepods/pod" UID_B "/" CID_2, NOT_A_POD},
    /* ... also where no other check would look: below the container, above kubepods. */
    {"/kubepods/pod" UID_B "/" CID_2 "/init.scope\n", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "/sub dir", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "/sub\x7f", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "/sub\x01", NOT_A_POD},
    {"/my cgroup/kubepods/pod" UID_B "/" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "//sub", NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 "/sub/", NOT_A_POD},
    {"/kubepods//pod" UID_B "/" CID_2, NOT_A_POD},
    /* UIDs that are not UIDs. */
    {"/kubepods/pod2c9e1f5a-7b3d-4e8f-9a0b-1c2d3e4f5a6", NOT_A_POD},   /* 35 */
    {"/kubepods/pod2c9e1f5a-7b3d-4e8f-9a0b-1c2d3e4f5a6b7", NOT_A_POD}, /* 37 */
    {"/kubepods/pod2C9E1F5A-7B3D-4E8F-9A0B-1C2D3E4F5A6B", NOT_A_POD},  /* upper case */
    {"/kubepods/pod2c9e1f5a-7b3d-4e8f-9a0b-1c2d3e4f5a6g", NOT_A_POD},  /* not hex */
    {"/kubepods/pod2c9e1f5a7-b3d-4e8f-9a0b-1c2d3e4f5a6b", NOT_A_POD},  /* dash moved */
    {"/kubepods/pod2c9e1f5a-7b3d-4e8f-9a0b1c2d3e4f5a6b", NOT_A_POD},   /* dash missing */
    {"/kubepods/pod2c9e1f5a-7b3d-4e8f-9a0b-1c2d-e4f5a6b", NOT_A_POD},  /* extra dash */
    {"/kubepods/pod2c9e1f5a07b3d-4e8f-9a0b-1c2d3e4f5a6b", NOT_A_POD},  /* digit for a dash */
    {"/kubepods/pod2c9e1f5a07b3d04e8f09a0b01c2d3e4f5a6b", NOT_A_POD},  /* 36 digits */
    {"/kubepods/pod" UID_A_, NOT_A_POD},			       /* '_' in cgroupfs */
    {SD_G UID_B ".slice", NOT_A_POD},				       /* '-' in systemd */
    {SD_G "f47ac10b_58cc-4372_a567_0e02b2c3d479.slice", NOT_A_POD},    /* mixed */
    {"/kubepods/pod6a5c3e1f0b9d8c7a6e5f4d3c2b1a0f9", NOT_A_POD},       /* 31 digits */
    {"/kubepods/pod6a5c3e1f0b9d8c7a6e5f4d3c2b1a0f9e0", NOT_A_POD},     /* 33 digits */
    {"/kubepods/pod", NOT_A_POD},
    {"/kubepods/burstable/pod/" CID_1, NOT_A_POD},
    {"/kubepods/burstable/" UID_A "/" CID_1, NOT_A_POD},
    {"/kubepods/burstable/Pod" UID_A "/" CID_1, NOT_A_POD},
    {SD_G ".slice", NOT_A_POD},
    /* Container elements that are not a runtime's. */
    {"/kubepods/pod" UID_B "/" CID_2 "0", NOT_A_POD}, /* 65 digits */
    {"/kubepods/pod" UID_B "/9c0abe51c6e6655d81de2d044d4fb194931f058c0426c67c7285d8f5657ed64",
     NOT_A_POD}, /* 63 digits */
    {"/kubepods/pod" UID_B "/9C0ABE51C6E6655D81DE2D044D4FB194931F058C0426C67C7285D8F5657ED64A",
     NOT_A_POD},
    {"/kubepods/pod" UID_B "/zc0abe51c6e6655d81de2d044d4fb194931f058c0426c67c7285d8f5657ed64a",
     NOT_A_POD},
    {"/kubepods/pod" UID_B "/crio-", NOT_A_POD},
    {"/kubepods/pod" UID_B "/crio-conmon-", NOT_A_POD},
    {"/kubepods/pod" UID_B "/docker-" CID_2, NOT_A_POD},
    {"/kubepods/pod" UID_B "/" CID_2 ".scope", NOT_A_POD},
    {"/kubepods/pod" UID_B "/crio-" CID_2 ".scope", NOT_A_POD},
    {"/kubepods/burstable/pod" UID_A "/pause", NOT_A_POD},
    {SD_G UID_B_ ".slice/" CID_2, NOT_A_POD},
    {SD_G UID_B_ ".slice/cri-containerd-" CID_2, NOT_A_POD},
    {SD_G UID_B_ ".slice/crio-" CID_2, NOT_A_POD},
    {SD_G UID_B_ ".slice/libpod-" CID_2 ".scope", NOT_A_POD},
    {SD_G UID_B_ ".slice/crio-" CID_2 ".slice", NOT_A_POD},
    {SD_G UID_B_ ".slice/cri-containerd-.scope", NOT_A_POD},
    {SD_G UID_B_ ".slice/.scope", NOT_A_POD},
    /* The pod decides: an unknown element below it is not skipped for a deeper kubepods. */
    {"/kubepods/burstable/pod" UID_A "/scratch/kubepods/pod" UID_B "/" CID_2, NOT_A_POD},
    /* systemd names that do not repeat their parent's. */
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID_C_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable-pod" UID_A_ ".slice" CTRD(CID_1), NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-pod" UID_A_ ".slice", NOT_A_POD},
    {"/kubelet.slice/kubelet-kubepods.slice/kubepods-pod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubelet-kubepods-pod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-pod" UID_B_ CTRD(CID_2), NOT_A_POD}, /* no ".slice" */
    {"/kubepods.slice/kubepods-pod" UID_B_ ".scope", NOT_A_POD},
    {"/kubepods.slice/kubepods-guaranteed.slice/kubepods-guaranteed-pod" UID_B_ ".slice",
     NOT_A_POD},
    {"/mykubepods.slice/mykubepods-pod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepodz-pod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods_pod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-xod" UID_B_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstablx-pod" UID_A_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable_pod" UID_A_ ".slice", NOT_A_POD},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_ ".slicf", NOT_A_POD},
    {"/kubepods.slice/kubepods-.slice", NOT_A_POD},
    /* cgroupfs levels that do not exist. */
    {"/kubepods/Burstable/pod" UID_A "/" CID_1, NOT_A_POD},
    {"/kubepods/guaranteed/pod" UID_B "/" CID_2, NOT_A_POD},
    {"/kubepods/burstable/besteffort/pod" UID_A "/" CID_1, NOT_A_POD},
    {"/kubepodsx/pod" UID_B "/" CID_2, NOT_A_POD},
    {"/kubepods.slice/pod" UID_B "/" CID_2, NOT_A_POD},
};

static const char *str_or_null(const char *s)
{
	return s ? s : "(not a pod)";
}

/* Compare with a case and say which one failed: cmocka alone would not. */
static void expect(const char *what, bool found, const struct cgroup_pod *got,
		   const struct want *want)
{
	static const struct cgroup_pod zero;

	if (!want->uid) {
		if (found || memcmp(got, &zero, sizeof(zero)) != 0) {
			print_error("%s: want not a pod (and out zeroed), got %d uid=%s cid=%s\n",
				    what, found, got->pod_uid, got->container_id);
			fail();
		}
		return;
	}
	if (!found || strcmp(got->pod_uid, want->uid) != 0 ||
	    strcmp(got->container_id, want->cid) != 0 || got->qos != want->qos ||
	    got->runtime != want->rt) {
		print_error("%s:\n  got  %d uid=%s cid=%s qos=%s rt=%s\n"
			    "  want 1 uid=%s cid=%s qos=%s rt=%s\n",
			    what, found, got->pod_uid, got->container_id, pod_qos_name(got->qos),
			    container_runtime_name(got->runtime), str_or_null(want->uid), want->cid,
			    pod_qos_name(want->qos), container_runtime_name(want->rt));
		fail();
	}
}

static void path_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(path_cases); i++) {
		struct cgroup_pod got;

		/* Garbage first: a rejection must zero it, not leave it. */
		memset(&got, 0xa5, sizeof(got));
		expect(path_cases[i].path, cgroup_pod_from_path(path_cases[i].path, &got), &got,
		       &path_cases[i].want);
	}
}

static void null_path_is_not_a_pod(void **state)
{
	struct cgroup_pod got;
	const struct want none = NOT_A_POD;

	memset(&got, 0xa5, sizeof(got));
	expect("NULL", cgroup_pod_from_path(NULL, &got), &got, &none);
}

/*
 * Every driver x cgroup root x QoS x container form x UID form, generated: the table
 * above picks examples, this makes sure no combination was forgotten.
 */
static void cross_product(void **state)
{
	static const struct {
		const char *root; /* what comes before kubepods */
		bool systemd;
		const char *slice_prefix; /* systemd: --cgroup-root's part of slice names */
	} roots[] = {
	    {"", false, ""},
	    {"/kubelet", false, ""},
	    {"/docker/" HOST_ID, false, ""},
	    {"", true, ""},
	    {"/kubelet.slice", true, "kubelet-"},
	    {"/docker/" HOST_ID, true, ""},
	    {"/system.slice/docker-" HOST_ID ".scope/kubelet.slice", true, "kubelet-"},
	};
	static const struct {
		const char *name; /* "" for guaranteed */
		enum pod_qos qos;
	} levels[] = {{"", G}, {"burstable", BU}, {"besteffort", BE}};
	static const struct {
		bool systemd;
		const char *fmt; /* %s: the container id; NULL: the pod's own cgroup */
		enum container_runtime rt;
		bool conmon;
	} forms[] = {
	    {false, NULL, RT_NONE, false},
	    {false, "/%s", RT_NONE, false},
	    {false, "/crio-%s", RT_CRIO, false},
	    {false, "/crio-conmon-%s", RT_CRIO, true},
	    {true, NULL, RT_NONE, false},
	    {true, "/cri-containerd-%s.scope", RT_CTRD, false},
	    {true, "/crio-%s.scope", RT_CRIO, false},
	    {true, "/crio-conmon-%s.scope", RT_CRIO, true},
	    {true, "/docker-%s.scope", RT_DOCK, false},
	};
	static const struct {
		const char *dashed, *underscored;
	} uids[] = {{UID_A, UID_A_}, {UID_S, UID_S}};
	size_t n = 0;

	for (size_t r = 0; r < ARRAY_SIZE(roots); r++)
		for (size_t l = 0; l < ARRAY_SIZE(levels); l++)
			for (size_t f = 0; f < ARRAY_SIZE(forms); f++)
				for (size_t u = 0; u < ARRAY_SIZE(uids); u++) {
					char path[512], ctr[128] = "";
					const char *sp = roots[r].slice_prefix, *q = levels[l].name;
					struct want want = {uids[u].dashed,
							    forms[f].fmt && !forms[f].conmon ? CID_1
											     : "",
							    levels[l].qos, forms[f].rt};
					struct cgroup_pod got;

					if (forms[f].systemd != roots[r].systemd)
						continue;
					if (forms[f].fmt)
						snprintf(ctr, sizeof(ctr), forms[f].fmt, CID_1);
					if (!roots[r].systemd)
						snprintf(path, sizeof(path),
							 "%s/kubepods%s%s/pod%s%s", roots[r].root,
							 *q ? "/" : "", q, uids[u].dashed, ctr);
					else if (!*q)
						snprintf(
						    path, sizeof(path),
						    "%s/%skubepods.slice/%skubepods-pod%s.slice%s",
						    roots[r].root, sp, sp, uids[u].underscored,
						    ctr);
					else
						snprintf(path, sizeof(path),
							 "%s/%skubepods.slice/%skubepods-%s.slice/"
							 "%skubepods-%s-pod%s.slice%s",
							 roots[r].root, sp, sp, q, sp, q,
							 uids[u].underscored, ctr);
					expect(path, cgroup_pod_from_path(path, &got), &got, &want);
					n++;
				}
	assert_int_equal(n, (3 * 4 + 4 * 5) * 3 * 2);
}

/*
 * Every prefix of every accepted path: either not a pod, or the same pod with the same
 * container or none (cut right after the pod element). Never a shorter id, a shorter UID
 * or another QoS: what a cut-off line in a bounded read would otherwise produce.
 */
static void cut_short_paths_never_lie(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(path_cases); i++) {
		const struct path_case *c = &path_cases[i];
		size_t len = strlen(c->path);
		char buf[1024];

		if (!c->want.uid)
			continue;
		assert_true(len < sizeof(buf));
		for (size_t cut = 0; cut <= len; cut++) {
			struct cgroup_pod got;

			memcpy(buf, c->path, cut);
			buf[cut] = '\0';
			if (!cgroup_pod_from_path(buf, &got))
				continue;
			if (strcmp(got.pod_uid, c->want.uid) != 0 || got.qos != c->want.qos ||
			    (got.container_id[0] && strcmp(got.container_id, c->want.cid) != 0)) {
				print_error("cut to \"%s\": uid=%s cid=%s\n", buf, got.pod_uid,
					    got.container_id);
				fail();
			}
		}
	}
}

/* Long elements anywhere: refused (or passed over, before kubepods), never copied. */
static void overlong_elements(void **state)
{
	const size_t big = 10000;
	char *junk = malloc(big + 1), *path = malloc(2 * big + 512);
	struct cgroup_pod got;
	const struct want none = NOT_A_POD, pod = {UID_B, CID_2, G, RT_NONE};

	assert_non_null(junk);
	assert_non_null(path);
	memset(junk, 'a', big);
	junk[big] = '\0';

	sprintf(path, "/kubepods/pod" UID_B "/%s", junk);
	expect("long container element", cgroup_pod_from_path(path, &got), &got, &none);
	sprintf(path, "/kubepods/pod%s", junk);
	expect("long pod element", cgroup_pod_from_path(path, &got), &got, &none);
	sprintf(path, "/kubepods/burstable/pod" UID_A "/crio-%s", junk);
	expect("long crio id", cgroup_pod_from_path(path, &got), &got, &none);
	sprintf(path, SD_G UID_B_ ".slice/cri-containerd-%s.scope", junk);
	expect("long containerd id", cgroup_pod_from_path(path, &got), &got, &none);
	sprintf(path, "/kubepods.slice/kubepods-%s.slice", junk);
	expect("long QoS slice", cgroup_pod_from_path(path, &got), &got, &none);
	sprintf(path, "/%s-kubepods.slice/%s-kubepods-pod" UID_B_ ".slice", junk, junk);
	expect("long cgroup root", cgroup_pod_from_path(path, &got), &got,
	       &(struct want){UID_B, "", G, RT_NONE});
	sprintf(path, "/%s/kubepods/pod" UID_B "/" CID_2, junk);
	expect("long element before kubepods", cgroup_pod_from_path(path, &got), &got, &pod);
	sprintf(path, "/kubepods/pod" UID_B "/" CID_2 "/%s", junk);
	expect("long element below the container", cgroup_pod_from_path(path, &got), &got, &pod);
	free(junk);
	free(path);
}

static void names(void **state)
{
	assert_string_equal(pod_qos_name(POD_QOS_GUARANTEED), "guaranteed");
	assert_string_equal(pod_qos_name(POD_QOS_BURSTABLE), "burstable");
	assert_string_equal(pod_qos_name(POD_QOS_BESTEFFORT), "besteffort");
	assert_string_equal(pod_qos_name(POD_QOS_UNKNOWN), "");
	assert_string_equal(pod_qos_name((enum pod_qos)42), "");
	assert_string_equal(container_runtime_name(CONTAINER_RUNTIME_CONTAINERD), "containerd");
	assert_string_equal(container_runtime_name(CONTAINER_RUNTIME_CRIO), "cri-o");
	assert_string_equal(container_runtime_name(CONTAINER_RUNTIME_DOCKER), "docker");
	assert_string_equal(container_runtime_name(CONTAINER_RUNTIME_UNKNOWN), "");
	assert_string_equal(container_runtime_name((enum container_runtime) - 1), "");
}

struct pid_case {
	const char *tree; /* below FIXTURES */
	int32_t pid;
	int ret;
	struct want want;
};

static const struct pid_case pid_cases[] = {
    {"v2-cgroupfs", 100, 1, {UID_A, CID_1, BU, RT_NONE}},
    {"v2-cgroupfs", 101, 1, {UID_B, CID_2, G, RT_NONE}},
    {"v2-cgroupfs", 102, 1, {UID_C, "", BE, RT_NONE}},
    {"v2-cgroupfs", 103, 1, {UID_S, CID_3, BU, RT_NONE}},
    {"v2-cgroupfs", 104, 1, {UID_C, CID_1, BE, RT_CRIO}},
    {"v2-systemd-containerd", 100, 1, {UID_A, CID_1, BU, RT_CTRD}},
    {"v2-systemd-containerd", 101, 1, {UID_B, CID_2, G, RT_CTRD}},
    {"systemd-crio", 100, 1, {UID_C, CID_3, BE, RT_CRIO}},
    {"systemd-crio", 101, 1, {UID_C, "", BE, RT_CRIO}},
    {"systemd-crio", 102, 1, {UID_C, CID_3, BE, RT_CRIO}},
    {"systemd-docker", 100, 1, {UID_A, CID_2, BU, RT_DOCK}},
    /* v1: the pod in some controllers only, name=systemd only, or two that disagree. */
    {"v1", 100, 1, {UID_C, CID_1, BE, RT_NONE}},
    {"v1", 101, 1, {UID_A, CID_2, BU, RT_DOCK}},
    {"v1", 102, 1, {UID_B, CID_2, G, RT_NONE}},
    /* hybrid: the 0:: line when it names a pod, else the v1 lines. */
    {"hybrid", 100, 1, {UID_A, CID_1, BU, RT_CTRD}},
    {"hybrid", 101, 1, {UID_A, CID_1, BU, RT_NONE}},
    {"hybrid", 102, 1, {UID_C, CID_3, BE, RT_NONE}},
    {"host", 100, 0, NOT_A_POD},
    {"host", 101, 0, NOT_A_POD},
    {"host", 102, 0, NOT_A_POD},
    {"host", 103, 0, NOT_A_POD},
    {"host", 104, 0, NOT_A_POD},
    {"host", 105, 0, NOT_A_POD},
    {"host", 106, 0, NOT_A_POD},
    {"host", 107, 0, NOT_A_POD},
    {"underscores", 100, 1, {UID_B, CID_2, G, RT_CTRD}},
    {"nested-kubelet", 100, 1, {UID_A, CID_1, BU, RT_NONE}},
    {"nested-kubelet", 101, 1, {UID_C, CID_3, BE, RT_CTRD}},
    {"nested-docker", 100, 1, {UID_C, CID_3, BE, RT_NONE}},
    {"nested-docker", 101, 1, {UID_C, CID_1, BE, RT_CRIO}},
    {"nested-docker", 102, 1, {UID_B, CID_2, G, RT_NONE}},
    /* Gone: no such pid, or the pid directory without its cgroup file. */
    {"host", 999, -ENOENT, NOT_A_POD},
    {"exited", 100, -ENOENT, NOT_A_POD},
    {"no-such-tree", 100, -ENOENT, NOT_A_POD},
};

static void fixture_trees(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(pid_cases); i++) {
		const struct pid_case *c = &pid_cases[i];
		char root[256], what[300];
		struct cgroup_pod got;
		int ret;

		snprintf(root, sizeof(root), FIXTURES "/%s", c->tree);
		snprintf(what, sizeof(what), "%s/%d", root, (int)c->pid);
		memset(&got, 0xa5, sizeof(got));
		ret = cgroup_pod_of_pid(root, c->pid, &got);
		if (ret != c->ret) {
			print_error("%s: returned %d, want %d\n", what, ret, c->ret);
			fail();
		}
		expect(what, ret == 1, &got, &c->want);
	}
}

/* The fixtures must be there, or every "not a pod" above would pass for nothing. */
static void fixtures_present(void **state)
{
	struct stat st;

	assert_int_equal(stat(FIXTURES "/host/100/cgroup", &st), 0);
	assert_int_equal(stat(FIXTURES "/exited/100", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(FIXTURES "/exited/100/cgroup", &st), -1);
}

static void bad_arguments(void **state)
{
	char longroot[5001];
	struct cgroup_pod got;
	const struct want none = NOT_A_POD;

	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(cgroup_pod_of_pid(FIXTURES "/v2-cgroupfs", 0, &got), -EINVAL);
	expect("pid 0", false, &got, &none);
	assert_int_equal(cgroup_pod_of_pid(FIXTURES "/v2-cgroupfs", -100, &got), -EINVAL);
	assert_int_equal(cgroup_pod_of_pid(NULL, 100, &got), -EINVAL);
	/* Short elements, so that open() of a cut-down path would not fail by itself. */
	for (size_t i = 0; i + 2 < sizeof(longroot); i += 2)
		memcpy(longroot + i, "x/", 2);
	longroot[sizeof(longroot) - 1] = '\0';
	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(cgroup_pod_of_pid(longroot, 100, &got), -ENAMETOOLONG);
	expect("long proc root", false, &got, &none);
}

/*
 * The real /proc, for what the fixtures only imitate: our own entry reads (in a pod or
 * not, depending on where the tests run), a reaped child's is gone.
 */
static void real_proc(void **state)
{
	struct cgroup_pod got;
	int status, ret;
	pid_t child;

	ret = cgroup_pod_of_pid("/proc", getpid(), &got);
	assert_true(ret == 0 || ret == 1);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(cgroup_pod_of_pid("/proc", child, &got), -ENOENT);
}

/* A /proc tree in a temporary directory, for what git cannot hold. */
struct tmp_proc {
	char root[64];
};

/* Made before each test that needs one and removed after it, even when it fails. */
static int tmp_proc_setup(void **state)
{
	static struct tmp_proc t;

	snprintf(t.root, sizeof(t.root), "%s", "/tmp/test_cgroup_pod.XXXXXX");
	if (!mkdtemp(t.root))
		return -1;
	*state = &t;
	/* Traversable by anyone, so that a permission error can only come from the file. */
	return chmod(t.root, 0755);
}

static void tmp_proc_write(struct tmp_proc *t, int pid, const char *text, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%d", t->root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%d/cgroup", t->root, pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tmp_proc_teardown(void **state)
{
	const struct tmp_proc *t = *state;

	return nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int of_pid(struct tmp_proc *t, int pid, struct cgroup_pod *got)
{
	memset(got, 0xa5, sizeof(*got));
	return cgroup_pod_of_pid(t->root, pid, got);
}

/* A read error after a successful open: the cgroup "file" is a directory. */
static void read_error_passes_through(void **state)
{
	struct tmp_proc *t = *state;
	struct cgroup_pod got;
	char path[128];
	const struct want none = NOT_A_POD;

	snprintf(path, sizeof(path), "%s/42", t->root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/42/cgroup", t->root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(of_pid(t, 42, &got), -EISDIR);
	expect("cgroup is a directory", false, &got, &none);
}

/*
 * -EACCES passes through. Root reads a mode-000 file regardless, so as root the call is
 * made again from a child that gave up root; as anyone else, directly.
 */
static void permission_denied_passes_through(void **state)
{
	static const char line[] = "0::/kubepods/pod" UID_B "/" CID_2 "\n";
	struct tmp_proc *t = *state;
	struct cgroup_pod got;
	char path[128];

	tmp_proc_write(t, 43, line, sizeof(line) - 1);
	snprintf(path, sizeof(path), "%s/43/cgroup", t->root);
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(of_pid(t, 43, &got), -EACCES);
	} else {
		int status;
		pid_t child;

		assert_int_equal(of_pid(t, 43, &got), 1);
		child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(2);
			_exit(of_pid(t, 43, &got) == -EACCES && !got.pod_uid[0] ? 0 : 1);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

/* Lines the kernel would not write are skipped; the last line may lack its newline. */
static void odd_lines(void **state)
{
	static const char garbage[] = "garbage\n\n:\n0:\n12:cpu\n0::/kubepods/pod" UID_B "/" CID_2;
	static const char spaces[] = "0::/kubepods/pod" UID_B "/" CID_2 " \n";
	static const char crlf[] = "0::/kubepods/pod" UID_B "/" CID_2 "\r\n";
	/* The path is everything after the second ':', colons included. */
	static const char colon[] = "3:cpu:/kubepods/pod" UID_B "/" CID_2 ":x\n";
	static const char colon_deep[] = "3:cpu:/kubepods/pod" UID_B "/" CID_2 "/a:b\n";
	/* Not a v2 line: hierarchy 0 with controllers, or another hierarchy without. */
	static const char not_v2[] = "0:cpu:/kubepods/pod" UID_A "\n"
				     "10::/kubepods/pod" UID_C "\n"
				     "0::/kubepods/pod" UID_B "\n";
	struct tmp_proc *t = *state;
	struct cgroup_pod got;
	const struct want b = {UID_B, CID_2, G, RT_NONE}, none = NOT_A_POD;

	tmp_proc_write(t, 1, garbage, sizeof(garbage) - 1);
	tmp_proc_write(t, 2, spaces, sizeof(spaces) - 1);
	tmp_proc_write(t, 3, crlf, sizeof(crlf) - 1);
	tmp_proc_write(t, 4, "", 0);
	tmp_proc_write(t, 5, colon, sizeof(colon) - 1);
	tmp_proc_write(t, 6, not_v2, sizeof(not_v2) - 1);
	tmp_proc_write(t, 7, colon_deep, sizeof(colon_deep) - 1);
	assert_int_equal(of_pid(t, 1, &got), 1);
	expect("garbage lines", true, &got, &b);
	assert_int_equal(of_pid(t, 2, &got), 0);
	expect("trailing space", false, &got, &none);
	assert_int_equal(of_pid(t, 3, &got), 0);
	assert_int_equal(of_pid(t, 4, &got), 0);
	assert_int_equal(of_pid(t, 5, &got), 0);
	assert_int_equal(of_pid(t, 6, &got), 1);
	expect("v2 is 0:: only", true, &got, &(struct want){UID_B, "", G, RT_NONE});
	assert_int_equal(of_pid(t, 7, &got), 1);
	expect("colon below the container", true, &got, &b);
}

/*
 * A pod line after @filler bytes of host lines, for every filler size around the 8 KiB
 * read bound: the pod whole and right, or not at all, never a pod cut down to its own
 * cgroup or to a bit of its container id.
 */
static void read_bound(void **state)
{
	static const char pod_line[] = "3:cpu,cpuacct:/kubepods/pod" UID_B "/" CID_2 "\n";
	static const char v2_line[] = "0::/kubepods/pod" UID_B "/" CID_2 "\n";
	const size_t pod_len = sizeof(pod_line) - 1, v2_len = sizeof(v2_line) - 1;
	struct cgroup_pod got;
	const struct want b = {UID_B, CID_2, G, RT_NONE};
	char buf[20000];
	size_t found = 0, missed = 0;
	int pid = 1;
	struct tmp_proc *t = *state;

	for (size_t filler = 7800; filler <= 8300; filler++, pid++) {
		size_t len = 0;
		int ret;

		/* 100-byte host lines, then one of whatever is left (at least 12 bytes). */
		while (filler - len >= 112)
			len += (size_t)sprintf(buf + len, "%-99s\n", "5:memory:/system.slice");
		len += (size_t)sprintf(buf + len, "%-*s\n", (int)(filler - len - 1), "7:pids:/");
		assert_int_equal(len, filler);
		memcpy(buf + len, pod_line, pod_len);
		tmp_proc_write(t, pid, buf, len + pod_len);
		ret = of_pid(t, pid, &got);
		if (ret == 1) {
			expect("pod line near the bound", true, &got, &b);
			/* The bound is one place: past it, never found again. */
			assert_int_equal(missed, 0);
			found++;
		} else {
			assert_int_equal(ret, 0);
			missed++;
		}
		/* Well within the bound: found. Starting past it: cannot be. */
		if (filler + pod_len <= 8000)
			assert_int_equal(ret, 1);
		if (filler >= 8192)
			assert_int_equal(ret, 0);
	}
	assert_true(found > 0 && missed > 0);

	/* The bound does not hide a v2 line that comes first in a file longer than it. */
	memcpy(buf, v2_line, v2_len);
	memset(buf + v2_len, 'x', sizeof(buf) - v2_len);
	tmp_proc_write(t, pid, buf, sizeof(buf));
	assert_int_equal(of_pid(t, pid, &got), 1);
	expect("v2 line first in a long file", true, &got, &b);
}

/* The parser's speed over the table, for the report: printed, not asserted. */
static void parse_speed(void **state)
{
	const size_t n = 1000000, m = ARRAY_SIZE(path_cases);
	size_t pods = 0, want = 0;
	struct timespec a, b;
	struct cgroup_pod got;
	double ns;

	for (size_t i = 0; i < n; i++)
		want += path_cases[i % m].want.uid != NULL;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t i = 0; i < n; i++)
		pods += cgroup_pod_from_path(path_cases[i % m].path, &got);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(pods, want);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("cgroup_pod_from_path: %zu paths (%zu pods), %.1f ns/path\n", n, pods, ns / n);

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(cgroup_pod_of_pid(FIXTURES "/hybrid", 100, &got), 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("cgroup_pod_of_pid: 13-line hybrid file, %.0f ns/call\n", ns / 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_table),
	    cmocka_unit_test(null_path_is_not_a_pod),
	    cmocka_unit_test(cross_product),
	    cmocka_unit_test(cut_short_paths_never_lie),
	    cmocka_unit_test(overlong_elements),
	    cmocka_unit_test(names),
	    cmocka_unit_test(fixtures_present),
	    cmocka_unit_test(fixture_trees),
	    cmocka_unit_test(bad_arguments),
	    cmocka_unit_test(real_proc),
	    cmocka_unit_test_setup_teardown(read_error_passes_through, tmp_proc_setup,
					    tmp_proc_teardown),
	    cmocka_unit_test_setup_teardown(permission_denied_passes_through, tmp_proc_setup,
					    tmp_proc_teardown),
	    cmocka_unit_test_setup_teardown(odd_lines, tmp_proc_setup, tmp_proc_teardown),
	    cmocka_unit_test_setup_teardown(read_bound, tmp_proc_setup, tmp_proc_teardown),
	    cmocka_unit_test(parse_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
