// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the YAML configuration loader (src/config/config.c): the file is
 * operator input, but a reload (SIGHUP) must never take the daemon down, whatever the file
 * holds. Any input is accepted or refused without a crash, a leak or unbounded work.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* ~1 MiB of rules: static, not on the fuzzer's stack. */
	static struct gthulhu_config cfg;
	char err[1024];

	config_set_defaults(&cfg);
	if (config_load_buffer((const char *)data, size, "fuzz", &cfg, err, sizeof(err)) == 0) {
		/* What was accepted passes the checks between keys too. */
		if (config_check(&cfg, err, sizeof(err)))
			abort();
	}
	return 0;
}
