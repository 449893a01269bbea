/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting the daemon's helper threads: stats, reloads, the strategy resolver, process
 * events, the pod metrics collector, the API's acceptors and workers.
 *
 * The daemon runs under mlockall(MCL_FUTURE), so a thread's whole stack stays in memory:
 * glibc's default of 8 MiB a thread would pin tens of MiB. These threads keep large data
 * on the heap, so THREAD_STACK_BYTES is plenty.
 */
#ifndef GTHULHU_THREAD_H
#define GTHULHU_THREAD_H

#include <pthread.h>

#define THREAD_STACK_BYTES (256u * 1024)

/* pthread_create() with a THREAD_STACK_BYTES stack: 0 or an error number. */
static inline int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);

	if (err)
		return err;
	err = pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
	if (!err)
		err = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

#endif /* GTHULHU_THREAD_H */
