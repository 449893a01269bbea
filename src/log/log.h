/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structured logging: one JSON object per line on stderr (JSON Lines).
 *
 *   {"ts":"2026-11-27T01:40:00.123Z","level":"info","msg":"attached","nr_cpus":2}
 *
 * Every part of the daemon logs through here, including the scheduling loop, so the
 * record path never allocates, never takes a lock and never blocks on anything but the
 * final write(2). A record is built in a thread-local buffer and written with one
 * write(2), so lines from concurrent threads never interleave (LOG_LINE_MAX is no larger
 * than PIPE_BUF, which keeps that true for pipes as well).
 *
 *   struct log_rec *r = log_begin(LOG_INFO, "attached");
 *   log_str(r, "ops", "gthulhu");
 *   log_u64(r, "nr_cpus", nr_cpus);
 *   log_end(r);
 *
 * A record below the current level costs one atomic load: log_begin() returns NULL and
 * every field function accepts NULL. A record too long for the buffer is cut at a field
 * (or inside a string value, never inside an escape or a UTF-8 character) and gets
 * "truncated":true, so every line is valid JSON whatever the input bytes are.
 *
 * <syslog.h> also defines LOG_DEBUG, LOG_INFO...: do not include both in one file.
 */
#ifndef GTHULHU_LOG_H
#define GTHULHU_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Bytes in one line, newline included. <= PIPE_BUF so a write to a pipe is atomic. */
#define LOG_LINE_MAX 4096

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO = 1,
	LOG_WARN = 2,
	LOG_ERROR = 3,
};

struct log_rec;

/* Records below @level are dropped. The default is LOG_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* Where lines go (default 2, stderr). The caller keeps ownership of @fd. */
void log_set_fd(int fd);

/* "debug", "info", "warn", "error"; and back (0, or -1 for an unknown name). */
const char *log_level_name(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);

/*
 * Start a record on this thread; NULL when @level is filtered out. One record per
 * thread at a time: a log_begin() before the previous record's log_end() returns NULL
 * (the nested record is dropped and counted in log_dropped()), it never clobbers the
 * open one.
 */
struct log_rec *log_begin(enum log_level level, const char *msg);

/* Fields, in the order given. @key should be unique and not ts/level/msg. */
void log_str(struct log_rec *r, const char *key, const char *val); /* NULL -> null */
void log_strn(struct log_rec *r, const char *key, const char *val, size_t len);
void log_u64(struct log_rec *r, const char *key, uint64_t val);
void log_i64(struct log_rec *r, const char *key, int64_t val);
void log_bool(struct log_rec *r, const char *key, bool val);
void log_f64(struct log_rec *r, const char *key, double val); /* %.6g; NaN/inf -> null */

/* Finish the record and write the line. errno is preserved. */
void log_end(struct log_rec *r);

/* A record with a printf-formatted message and no fields. errno is preserved. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Format a message into a caller's error buffer (@err may be NULL or @len 0: nothing is
 * written). For functions that report "what is wrong" to a caller rather than to the log.
 */
void err_printf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records lost: nested log_begin(), or write(2) failed (e.g. EAGAIN, EPIPE). */
uint64_t log_dropped(void);

/* For tests: replace the clock used for "ts" (NULL restores CLOCK_REALTIME). */
void log_set_clock(void (*now)(struct timespec *ts));

#endif /* GTHULHU_LOG_H */
