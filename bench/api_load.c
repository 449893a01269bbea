/* SPDX-License-Identifier: GPL-2.0 */
/*
 * api_load: a steady stream of REST API requests to the running daemon, for `make bench`
 * ("a thousand requests per second must not raise the loop's latency").
 *
 * Open loop: a request is due every 1/RATE s whatever happened to the earlier ones, as
 * RATE independent clients (gthulhuctl or curl calls) would send them; one connection per
 * request, "GET PATH" over the daemon's unix socket, at most MAX_INFLIGHT at once. The
 * round trip is counted from the moment a request was due, so a slow server cannot hide
 * its queueing (no coordinated omission).
 *
 * usage: api_load [-u SOCKET (/run/gthulhu/api.sock)] [-p PATH (/api/v1/status)]
 *                 [-r RATE (1000)] [-d SECONDS (10)] [-c MAX_INFLIGHT (256)]
 * Prints "key value" lines: due (requests due in the run), sent, ok (HTTP 200), errors
 * (refused, reset, not 200), refused (of those: the listen backlog was full), dropped (due while
 * MAX_INFLIGHT were open), timeouts (no answer 5 s after the run), rate (answers with 200 per
 * second of run), p50_us, p99_us, max_us (round trip of the ok ones, from when they were due). Exit
 * 0 when every due request got a 200, 1 otherwise, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "probe_util.h"

#define GRACE_NS 5000000000ull /* wait this long for answers after the run */

enum conn_state { FREE, CONNECTING, WAITING };

struct conn {
	enum conn_state state;
	uint64_t due;
	size_t got;
	char head[16]; /* "HTTP/1.1 200" */
};

static unsigned long parse_uint(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v == 0 || v > max) {
		fprintf(stderr, "api_load: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

struct run {
	const struct sockaddr_un *sa;
	const char *req;
	size_t req_len;
	struct pollfd *pfd;
	struct conn *conn;
	size_t max, inflight;
	size_t sent, ok, errors, refused, dropped;
	uint64_t *rtt;
};

static void finish(struct run *r, size_t i, int ok)
{
	if (ok) {
		r->rtt[r->ok++] = now_ns() - r->conn[i].due;
	} else {
		r->errors++;
	}
	close(r->pfd[i].fd);
	r->pfd[i].fd = -1;
	r->pfd[i].events = 0;
	r->conn[i].state = FREE;
	r->inflight--;
}

/* Send the request on a connected socket; the answer is then awaited. */
static void send_request(struct run *r, size_t i)
{
	ssize_t w = send(r->pfd[i].fd, r->req, r->req_len, MSG_NOSIGNAL);

	if (w != (ssize_t)r->req_len) {
		finish(r, i, 0);
		return;
	}
	r->conn[i].state = WAITING;
	r->pfd[i].events = POLLIN;
}

static void start_request(struct run *r, uint64_t due)
{
	size_t i;
	int fd;

	r->sent++;
	for (i = 0; i < r->max && r->conn[i].state != FREE; i++)
		;
	if (i == r->max) {
		r->dropped++;
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r->errors++;
		return;
	}
	r->pfd[i].fd = fd;
	r->conn[i].due = due;
	r->conn[i].got = 0;
	r->inflight++;
	if (!connect(fd, (const struct sockaddr *)r->sa, sizeof(*r->sa))) {
		send_request(r, i);
	} else if (errno == EINPROGRESS) {
		r->conn[i].state = CONNECTING;
		r->pfd[i].events = POLLOUT;
	} else {
		/* A unix socket says EAGAIN when its listen backlog is full. */
		if (errno == EAGAIN)
			r->refused++;
		r->conn[i].state = WAITING;
		finish(r, i, 0);
	}
}

static void on_event(struct run *r, size_t i)
{
	struct conn *c = &r->conn[i];
	char buf[4096];
	ssize_t n;

	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(r->pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
			finish(r, i, 0);
		else
			send_request(r, i);
		return;
	}
	/* Connection: close: the answer ends at EOF. */
	for (;;) {
		n = read(r->pfd[i].fd, buf, sizeof(buf));
		if (n > 0) {
			size_t take = sizeof(c->head) - c->got;

			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(c->head + c->got, buf, take);
			c->got += take;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	finish(r, i,
	       n == 0 && c->got >= 12 && !memcmp(c->head, "HTTP/1.", 7) &&
		   !memcmp(c->head + 9, "200", 3));
}

int main(int argc, char **argv)
{
	const char *sock_path = "/run/gthulhu/api.sock", *path = "/api/v1/status";
	unsigned long rate = 1000, duration_s = 10, max_inflight = 256;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t start, step, next, end, stop;
	size_t due = 0, timeouts = 0;
	struct run r = {0};
	int failed = 0;
	char req[512];
	int opt, len;

	while ((opt = getopt(argc, argv, "u:p:r:d:c:")) != -1) {
		switch (opt) {
		case 'u':
			sock_path = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'r':
			rate = parse_uint(optarg, 1000000);
			break;
		case 'd':
			duration_s = parse_uint(optarg, 86400);
			break;
		case 'c':
			max_inflight = parse_uint(optarg, 4096);
			break;
		default:
			fprintf(stderr,
				"usage: api_load [-u SOCKET] [-p PATH] [-r RATE] [-d SECONDS] "
				"[-c MAX_INFLIGHT]\n");
			return 2;
		}
	}
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "api_load: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, sock_path);
	len = snprintf(req, sizeof(req),
		       "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
	if (len <= 0 || (size_t)len >= sizeof(req)) {
		fprintf(stderr, "api_load: path too long\n");
		return 2;
	}
	r.sa = &sa;
	r.req = req;
	r.req_len = (size_t)len;
	r.max = max_inflight;
	r.pfd = calloc(r.max, sizeof(*r.pfd));
	r.conn = calloc(r.max, sizeof(*r.conn));
	r.rtt = calloc(rate * duration_s + 1, sizeof(*r.rtt));
	if (!r.pfd || !r.conn || !r.rtt) {
		perror("api_load: calloc");
		free(r.rtt);
		free(r.conn);
		free(r.pfd);
		return 1;
	}
	for (size_t i = 0; i < r.max; i++)
		r.pfd[i].fd = -1;

	step = 1000000000ull / rate;
	start = now_ns();
	end = start + (uint64_t)duration_s * 1000000000ull;
	stop = end + GRACE_NS;
	next = start;
	for (;;) {
		uint64_t now = now_ns(), wake;
		struct timespec ts;

		while (next < end && next <= now) {
			start_request(&r, next);
			due++;
			next += step;
		}
		if (now >= stop || (next >= end && !r.inflight))
			break;
		wake = next < end ? next : stop;
		ts.tv_sec = (time_t)((wake - now) / 1000000000ull);
		ts.tv_nsec = (long)((wake - now) % 1000000000ull);
		if (ppoll(r.pfd, r.max, &ts, NULL) < 0 && errno != EINTR) {
			perror("api_load: ppoll");
			failed = 1;
			break;
		}
		for (size_t i = 0; i < r.max; i++)
			if (r.pfd[i].fd >= 0 && r.pfd[i].revents)
				on_event(&r, i);
	}
	for (size_t i = 0; i < r.max; i++) {
		if (r.conn[i].state != FREE) {
			close(r.pfd[i].fd);
			timeouts++;
		}
	}
	if (!due)
		fprintf(stderr, "api_load: no request was due\n");
	printf("due %zu\n", due);
	printf("sent %zu\n", r.sent - r.dropped);
	printf("ok %zu\n", r.ok);
	printf("errors %zu\n", r.errors);
	printf("refused %zu\n", r.refused);
	printf("dropped %zu\n", r.dropped);
	printf("timeouts %zu\n", timeouts);
	printf("rate %.1f\n", (double)r.ok / (double)duration_s);
	if (r.ok) {
		qsort(r.rtt, r.ok, sizeof(*r.rtt), cmp_u64);
		printf("p50_us %.1f\n", percentile(r.rtt, r.ok, 50) / 1000.0);
		printf("p99_us %.1f\n", percentile(r.rtt, r.ok, 99) / 1000.0);
		printf("max_us %.1f\n", r.rtt[r.ok - 1] / 1000.0);
	}
	free(r.rtt);
	free(r.conn);
	free(r.pfd);
	return !failed && due && r.ok == due ? 0 : 1;
}
