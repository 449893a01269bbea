// SPDX-License-Identifier: GPL-2.0
/*
 * Structured JSON-lines logging (see log.h for the contract).
 *
 * The record is assembled in a thread-local buffer: no heap, no locks, so the scheduling
 * loop can log. Space for the ",\"truncated\":true}\n" tail is always held back, so a
 * record that runs out of room can still be closed as valid JSON. Each field is appended
 * all-or-nothing, except string values, which may be cut between two output units (an
 * escape or a whole UTF-8 character), so long messages keep their beginning.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

#define TAIL_TRUNC ",\"truncated\":true}\n"
#define TAIL_OK	   "}\n"
/* Content may grow up to here; the rest is reserved for the closing tail. */
#define CONTENT_MAX (LOG_LINE_MAX - (sizeof(TAIL_TRUNC) - 1))

struct log_rec {
	size_t len;
	bool open;
	bool truncated;
	char buf[LOG_LINE_MAX];
};

/* Plain ints accessed with __atomic: settings may change while other threads log. */
static int log_level = LOG_INFO;
static int log_fd = 2;
static uint64_t log_nr_dropped;
typedef void clock_fn(struct timespec *ts);
static clock_fn *log_clock;

static __thread struct log_rec tls_rec;
/* log_msg() formats here first; a 4 KiB stack frame would be rude to small thread stacks. */
static __thread char tls_fmt[LOG_LINE_MAX];

static const char *const level_names[] = {
    [LOG_DEBUG] = "debug",
    [LOG_INFO] = "info",
    [LOG_WARN] = "warn",
    [LOG_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	if ((int)level < LOG_DEBUG)
		level = LOG_DEBUG;
	if (level > LOG_ERROR)
		level = LOG_ERROR;
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void log_set_fd(int fd)
{
	__atomic_store_n(&log_fd, fd, __ATOMIC_RELAXED);
}

const char *log_level_name(enum log_level level)
{
	if ((int)level < LOG_DEBUG || level > LOG_ERROR)
		return "unknown";
	return level_names[level];
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
		if (name && strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

uint64_t log_dropped(void)
{
	return __atomic_load_n(&log_nr_dropped, __ATOMIC_RELAXED);
}

void log_set_clock(clock_fn *now)
{
	__atomic_store_n(&log_clock, now, __ATOMIC_RELAXED);
}

static void count_drop(void)
{
	__atomic_fetch_add(&log_nr_dropped, 1, __ATOMIC_RELAXED);
}

/* ---- buffer primitives ---------------------------------------------------------------- */

static bool put(struct log_rec *r, const char *s, size_t n)
{
	if (n > CONTENT_MAX - r->len)
		return false;
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	return true;
}

static bool put_str(struct log_rec *r, const char *s)
{
	return put(r, s, strlen(s));
}

/*
 * Length of the well-formed UTF-8 character at @s (at most @n bytes), or 0 when the
 * bytes there are not one. Overlong forms, surrogates and code points above U+10FFFF
 * are rejected, because a JSON parser may reject them too.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	/* Only the second byte has a narrowed range, and only after these leads. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Append @s escaped for a JSON string body, stopping before @limit. Returns true when
 * all of @s fit. The cut only ever falls between two output units.
 */
static bool put_escaped(struct log_rec *r, const char *str, size_t n, size_t limit)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		char esc[6];
		const char *out = esc;
		size_t out_len, in_len = 1;
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			out_len = 2;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			out_len = 6;
		} else if (c < 0x80) {
			out = (const char *)&s[i];
			out_len = 1;
		} else {
			in_len = utf8_len(s + i, n - i);
			if (in_len) {
				out = (const char *)&s[i];
				out_len = in_len;
			} else {
				/* U+FFFD per bad byte: valid JSON, damage visible. */
				out = "\\ufffd";
				out_len = 6;
				in_len = 1;
			}
		}
		if (out_len > limit - r->len)
			return false;
		memcpy(r->buf + r->len, out, out_len);
		r->len += out_len;
		i += in_len;
	}
	return true;
}

/* Append ,"key": in full or report that it did not fit (the caller rolls back). */
static bool put_key(struct log_rec *r, const char *key)
{
	if (!key)
		key = "";
	return put(r, ",\"", 2) && put_escaped(r, key, strlen(key), CONTENT_MAX) &&
	       put(r, "\":", 2);
}

/* ---- timestamp -------------------------------------------------------------------------- */

static void put2(char *p, unsigned int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * "YYYY-MM-DDThh:mm:ss.mmmZ" (24 bytes) for @ts. Done by hand because gmtime_r() takes
 * glibc's timezone lock, which the scheduling loop must not wait on. Days to a civil
 * date uses the usual era arithmetic (400-year cycles of 146097 days).
 */
static void format_ts(char out[24], const struct timespec *ts)
{
	int64_t secs = ts->tv_sec;
	int64_t days = secs / 86400, sod = secs % 86400;

	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	unsigned int day = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	unsigned int mon = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t year = yoe + era * 400 + (mon <= 2);
	unsigned int ms = (unsigned int)(ts->tv_nsec / 1000000);

	if (year < 0)
		year = 0;
	if (year > 9999)
		year = 9999;
	put2(out, (unsigned int)(year / 100));
	put2(out + 2, (unsigned int)(year % 100));
	out[4] = '-';
	put2(out + 5, mon);
	out[7] = '-';
	put2(out + 8, day);
	out[10] = 'T';
	put2(out + 11, (unsigned int)(sod / 3600));
	out[13] = ':';
	put2(out + 14, (unsigned int)(sod / 60 % 60));
	out[16] = ':';
	put2(out + 17, (unsigned int)(sod % 60));
	out[19] = '.';
	out[20] = (char)('0' + ms / 100 % 10);
	put2(out + 21, ms % 100);
	out[23] = 'Z';
}

/* ---- records ---------------------------------------------------------------------------- */

struct log_rec *log_begin(enum log_level level, const char *msg)
{
	struct log_rec *r = &tls_rec;
	clock_fn *clock;
	struct timespec ts;
	char stamp[24];

	if (!log_enabled(level))
		return NULL;
	if (r->open) {
		count_drop();
		return NULL;
	}

	clock = __atomic_load_n(&log_clock, __ATOMIC_RELAXED);
	if (clock)
		clock(&ts);
	else
		clock_gettime(CLOCK_REALTIME, &ts);
	format_ts(stamp, &ts);

	r->open = true;
	r->truncated = false;
	r->len = 0;
	/* The header is far below CONTENT_MAX, so these cannot fail. */
	put(r, "{\"ts\":\"", 7);
	put(r, stamp, sizeof(stamp));
	put_str(r, "\",\"level\":\"");
	put_str(r, log_level_name(level));
	put_str(r, "\",\"msg\":\"");
	if (!msg)
		msg = "";
	/* Hold one byte back for the closing quote. */
	if (!put_escaped(r, msg, strlen(msg), CONTENT_MAX - 1))
		r->truncated = true;
	r->buf[r->len++] = '"';
	return r;
}

void log_strn(struct log_rec *r, const char *key, const char *val, size_t len)
{
	size_t mark;

	if (!r || r->truncated)
		return;
	mark = r->len;
	if (!val) {
		if (!put_key(r, key) || !put(r, "null", 4))
			goto full;
		return;
	}
	/* The key and both quotes must fit; the value itself may be cut short. */
	if (!put_key(r, key) || !put(r, "\"", 1) || r->len >= CONTENT_MAX)
		goto full;
	if (!put_escaped(r, val, len, CONTENT_MAX - 1))
		r->truncated = true;
	r->buf[r->len++] = '"';
	return;
full:
	r->len = mark;
	r->truncated = true;
}

void log_str(struct log_rec *r, const char *key, const char *val)
{
	log_strn(r, key, val, val ? strlen(val) : 0);
}

/* A whole field whose value is already JSON; dropped entirely if it does not fit. */
static void put_raw_field(struct log_rec *r, const char *key, const char *val, size_t len)
{
	size_t mark;

	if (!r || r->truncated)
		return;
	mark = r->len;
	if (put_key(r, key) && put(r, val, len))
		return;
	r->len = mark;
	r->truncated = true;
}

/* Digits of @v, written backwards into the end of @buf; returns where they start. */
static char *fmt_u64(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void log_u64(struct log_rec *r, const char *key, uint64_t val)
{
	char buf[24], *end = buf + sizeof(buf), *p;

	if (!r)
		return;
	p = fmt_u64(end, val);
	put_raw_field(r, key, p, (size_t)(end - p));
}

void log_i64(struct log_rec *r, const char *key, int64_t val)
{
	char buf[24], *end = buf + sizeof(buf), *p;

	if (!r)
		return;
	/* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
	p = fmt_u64(end, val < 0 ? -(uint64_t)val : (uint64_t)val);
	if (val < 0)
		*--p = '-';
	put_raw_field(r, key, p, (size_t)(end - p));
}

void log_bool(struct log_rec *r, const char *key, bool val)
{
	if (val)
		put_raw_field(r, key, "true", 4);
	else
		put_raw_field(r, key, "false", 5);
}

void log_f64(struct log_rec *r, const char *key, double val)
{
	char buf[32];
	int n;

	if (!r)
		return;
	/* JSON has no NaN or infinity. */
	if (!isfinite(val)) {
		put_raw_field(r, key, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.6g", val);
	if (n <= 0 || (size_t)n >= sizeof(buf)) {
		put_raw_field(r, key, "null", 4);
		return;
	}
	/* A locale with a decimal comma would otherwise break the JSON. */
	for (char *p = buf; *p; p++)
		if (*p == ',')
			*p = '.';
	put_raw_field(r, key, buf, (size_t)n);
}

void log_end(struct log_rec *r)
{
	int saved_errno = errno;
	const char *p, *tail;
	size_t left;
	int fd;

	if (!r)
		return;
	/* Cannot fail: CONTENT_MAX keeps room for the longer tail. */
	tail = r->truncated ? TAIL_TRUNC : TAIL_OK;
	memcpy(r->buf + r->len, tail, strlen(tail));
	r->len += strlen(tail);

	fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
	p = r->buf;
	left = r->len;
	/*
	 * One write(2) in practice. Partial writes (a full non-pipe fd, a signal) are
	 * finished so the line is not left half written; anything else drops the record.
	 */
	while (left) {
		ssize_t n = write(fd, p, left);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			count_drop();
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	r->open = false;
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	int saved_errno = errno;
	struct log_rec *r;
	va_list ap;
	int n;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(tls_fmt, sizeof(tls_fmt), fmt, ap);
	va_end(ap);
	if (n < 0)
		tls_fmt[0] = '\0';
	r = log_begin(level, tls_fmt);
	if (r && (size_t)n >= sizeof(tls_fmt))
		r->truncated = true;
	log_end(r);
	errno = saved_errno;
}

void err_printf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}
