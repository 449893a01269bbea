/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waker: a CPU hog that wakes a sleeping reader at a steady rate, for the VM suite's check
 * of which wake-ups bring the scheduling loop at once (decision_needed_now() in
 * gthulhu.bpf.c).
 *
 * The parent never sleeps: it spins, and every INTERVAL_MS writes one message to its
 * child, which blocks reading. With `pipe` the kernel marks the wake-up synchronous (the
 * writer says it will sleep soon); with `eventfd` it does not. Both wake the child from a
 * task that has not slept for far longer than a max slice, so only the sync flag differs.
 *
 * usage: waker pipe|eventfd SECONDS INTERVAL_MS
 * Prints "messages N" (messages the child read). Exit 0, 1 on an error, 2 on usage.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define END_MARK 1000000000ull

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The reader: blocking reads until the writer closes the pipe or sends END_MARK on the
 * eventfd. An eventfd read returns every message written since the last one.
 */
static int read_messages(int fd, int is_eventfd)
{
	unsigned long n = 0;

	for (;;) {
		uint64_t v = 0;
		ssize_t r = read(fd, &v, is_eventfd ? sizeof(v) : 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (is_eventfd) {
			if (v >= END_MARK) { /* the writer is done (messages may ride along) */
				n += v - END_MARK;
				break;
			}
			n += v;
		} else {
			n++;
		}
	}
	printf("messages %lu\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	int fds[2], is_eventfd, status;
	double end, next, interval;
	pid_t child;

	if (argc != 4 || (strcmp(argv[1], "pipe") && strcmp(argv[1], "eventfd")) ||
	    atof(argv[2]) <= 0 || atof(argv[3]) <= 0) {
		fprintf(stderr, "usage: waker pipe|eventfd SECONDS INTERVAL_MS\n");
		return 2;
	}
	is_eventfd = !strcmp(argv[1], "eventfd");
	if (is_eventfd) {
		fds[0] = fds[1] = eventfd(0, 0);
		if (fds[0] < 0) {
			perror("eventfd");
			return 1;
		}
	} else if (pipe(fds)) {
		perror("pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (!child) {
		if (!is_eventfd)
			close(fds[1]);
		return read_messages(fds[0], is_eventfd);
	}

	interval = atof(argv[3]) / 1000.0;
	end = now_s() + atof(argv[2]);
	next = now_s() + interval;
	for (;;) {
		double t = now_s();

		if (t >= end)
			break;
		if (t >= next) {
			uint64_t one = 1;

			if (write(fds[1], &one, is_eventfd ? sizeof(one) : 1) < 0) {
				perror("write");
				return 1;
			}
			next += interval;
		}
	}
	if (is_eventfd) {
		uint64_t mark = END_MARK;

		if (write(fds[1], &mark, sizeof(mark)) < 0) {
			perror("write");
			return 1;
		}
	} else {
		close(fds[1]);
	}
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	return 0;
}
