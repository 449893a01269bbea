// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the cgroup path parser (src/k8s/cgroup_pod.c): the paths come from
 * /proc/<pid>/cgroup of any process on the node, so any bytes must be parsed without a
 * crash or an overrun, and what is accepted must be well formed: a non-empty UID of hex
 * digits and dashes, a container id that is empty or 64 hex digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/cgroup_pod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_pod pod;
	char *path = malloc(size + 1);
	size_t n;

	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	if (cgroup_pod_from_path(path, &pod)) {
		n = strnlen(pod.pod_uid, sizeof(pod.pod_uid));
		if (n == 0 || n == sizeof(pod.pod_uid))
			abort();
		for (size_t i = 0; i < n; i++)
			if (!is_hex(pod.pod_uid[i]) && pod.pod_uid[i] != '-')
				abort();
		n = strnlen(pod.container_id, sizeof(pod.container_id));
		if (n != 0 && n != 64)
			abort();
		for (size_t i = 0; i < n; i++)
			if (!is_hex(pod.container_id[i]))
				abort();
		if (pod.qos == POD_QOS_UNKNOWN)
			abort();
	}
	free(path);
	return 0;
}
