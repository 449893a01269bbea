/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the topology and CPU-choice tests: where the fixture sysfs trees live
 * (GTHULHU_TOPO_FIXTURES overrides) and loading one into the test's topology.
 */
#ifndef GTHULHU_TEST_TOPOLOGY_FIXTURE_H
#define GTHULHU_TEST_TOPOLOGY_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "topology/topology.h"

/* Too big for the stack; one load per test is cheap. */
static struct topology topo;

static const char *fixture(const char *name)
{
	static char path[512];
	const char *dir = getenv("GTHULHU_TOPO_FIXTURES");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/fixtures/topology", name);
	return path;
}

#endif /* GTHULHU_TEST_TOPOLOGY_FIXTURE_H */
