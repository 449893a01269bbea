/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the native benches (decision_bench, proc_scan_bench) share on top of probe_util.h:
 * the command line (a usage line each bench defines, decimal option values) and cheap
 * deterministic random numbers, so that every run does the same work. Header-only, for
 * single-file bench programs.
 */
#ifndef GTHULHU_BENCH_BENCH_UTIL_H
#define GTHULHU_BENCH_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "probe_util.h"

/* Defined by each bench: its usage line, without "usage: ". */
extern const char bench_usage[];

/* A bad command line: print the usage line and exit with 2. */
static inline __attribute__((noreturn)) void usage(void)
{
	fprintf(stderr, "usage: %s\n", bench_usage);
	exit(2);
}

/* The decimal number @s, an option's value; anything else is a usage error. */
static inline unsigned long parse_num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end)
		usage();
	return v;
}

/* xorshift64: the next number of the sequence in @s (never seed it with 0). */
static inline uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif /* GTHULHU_BENCH_BENCH_UTIL_H */
