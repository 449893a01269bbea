/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting the daemon's helper threads: stats, reloads, the strategy resolver, process
 * events, the pod metrics collector, the API's acceptors and workers, the Kubernetes watches.
 *
 * The daemon runs under mlockall(MCL_FUTURE), so a thread's whole stack stays in memory:
 * glibc's default of 8 MiB a thread would pin tens of MiB. These threads keep large data
 * on the heap, so THREAD_STACK_BYTES is plenty.
 *
 * Each thread gets a name (at most 15 characters), so `top -H`, /proc/<pid>/task/<tid>/comm
 * and a profile say which part of the daemon spends the time.
 */
#ifndef GTHULHU_THREAD_H
#define GTHULHU_THREAD_H

#include <pthread.h>
#include <string.h>

#define THREAD_STACK_BYTES (256u * 1024)

/* pthread_create() with a THREAD_STACK_BYTES stack and @name: 0 or an error number. */
static inline int thread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return err;
	err = pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
	if (!err)
		err = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	/* A name is a diagnostic aid: a thread that could not be named still does its work. */
	if (!err && strlen(name) < 16)
		(void)pthread_setname_np(*thread, name);
	return err;
}

#endif /* GTHULHU_THREAD_H */
