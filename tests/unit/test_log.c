// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for src/log: exact output for fields, numbers, levels and escaping, and, for
 * the cases where exact strings are impractical (truncation at every boundary, random
 * bytes, concurrent writers), a small strict JSON checker of our own. The checker decodes
 * UTF-8 independently of log.c, so a bug in one is not mirrored by the other.
 *
 * Output goes to a pipe set with log_set_fd(); the clock is pinned with log_set_clock().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log/log.h"

#define HDR_TS "{\"ts\":\"2026-11-27T03:40:00.123Z\""

static int pfd[2] = {-1, -1};
static char out[1 << 17];
static struct timespec fake_now = {1795750800, 123456789};

static void fixed_clock(struct timespec *ts)
{
	*ts = fake_now;
}

/* Everything written since the last call, NUL-terminated. */
static size_t drain(void)
{
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(out) - 1 && (n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return len;
}

static int setup(void **state)
{
	if (pipe(pfd) || fcntl(pfd[0], F_SETFL, O_NONBLOCK))
		return -1;
	log_set_fd(pfd[1]);
	log_set_level(LOG_INFO);
	log_set_clock(fixed_clock);
	fake_now.tv_sec = 1795750800;
	fake_now.tv_nsec = 123456789;
	return 0;
}

static int teardown(void **state)
{
	log_set_fd(2);
	log_set_clock(NULL);
	log_set_level(LOG_INFO);
	close(pfd[0]);
	close(pfd[1]);
	return 0;
}

/* ---- a strict checker for the JSON we emit (a flat object, then "\n") ------------------ */

/* Length of the valid UTF-8 character at @s, or 0. */
static size_t check_utf8(const unsigned char *s, const unsigned char *end)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static const unsigned char *check_string(const unsigned char *p, const unsigned char *end)
{
	if (p >= end || *p++ != '"')
		return NULL;
	while (p < end && *p != '"') {
		if (*p < 0x20)
			return NULL;
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (p + i >= end || !strchr("0123456789abcdefABCDEF", p[i]))
						return NULL;
				p += 5;
			} else if (strchr("\"\\/bfnrt", *p) && *p) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		size_t n = check_utf8(p, end);

		if (!n)
			return NULL;
		p += n;
	}
	return p < end ? p + 1 : NULL;
}

static const unsigned char *check_number(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *d;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < end && *p == '.') {
		d = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		d = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	return p;
}

static const unsigned char *check_value(const unsigned char *p, const unsigned char *end)
{
	static const char *const words[] = {"true", "false", "null"};

	if (p < end && *p == '"')
		return check_string(p, end);
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
			return p + n;
	}
	return check_number(p, end);
}

/* One record: a valid flat JSON object, then exactly one newline, within LOG_LINE_MAX. */
static bool valid_line(const char *line, size_t len)
{
	const unsigned char *p = (const unsigned char *)line, *end = p + len;

	if (len == 0 || len > LOG_LINE_MAX || line[len - 1] != '\n')
		return false;
	end--;
	if (*p++ != '{')
		return false;
	for (bool first = true; p < end && *p != '}'; first = false) {
		if (!first && *p++ != ',')
			return false;
		p = check_string(p, end);
		if (!p || p >= end || *p++ != ':')
			return false;
		p = check_value(p, end);
		if (!p)
			return false;
	}
	return p < end && *p == '}' && p + 1 == end;
}

/* Every line of @buf valid; returns how many. */
static size_t check_lines(const char *buf, size_t len)
{
	size_t n = 0;

	for (const char *p = buf, *nl; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (!nl)
			fail_msg("unterminated line: %.80s", p);
		if (!valid_line(p, (size_t)(nl - p + 1)))
			fail_msg("invalid JSON line: %.*s", (int)(nl - p), p);
		n++;
	}
	return n;
}

static void test_checker_self_test(void **state)
{
	/* The checker must reject what a broken logger might produce. */
	assert_true(valid_line("{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":null,\"e\":-1.5e+06}\n", 47));
	assert_false(valid_line("{\"a\":1}", 7));
	assert_false(valid_line("{\"a\":\"\x01\"}\n", 10));
	assert_false(valid_line("{\"a\":\"\xff\"}\n", 10));
	assert_false(valid_line("{\"a\":\"\xc0\xaf\"}\n", 11));
	assert_false(valid_line("{\"a\":\"\\x\"}\n", 11));
	assert_false(valid_line("{\"a\":01}\n", 9));
	assert_false(valid_line("{\"a\":1,}\n", 9));
	assert_false(valid_line("{\"a\":\"b}\n", 9));
}

/* ---- exact output ----------------------------------------------------------------------- */

static void test_record(void **state)
{
	struct log_rec *r = log_begin(LOG_INFO, "attached");

	assert_non_null(r);
	log_str(r, "ops", "gthulhu");
	log_u64(r, "nr_cpus", 2);
	log_i64(r, "delta", -5);
	log_bool(r, "ok", true);
	log_bool(r, "bad", false);
	log_str(r, "none", NULL);
	log_strn(r, "comm", "kworker/0:1H-events", 7);
	log_end(r);
	drain();
	assert_string_equal(out,
			    HDR_TS ",\"level\":\"info\",\"msg\":\"attached\",\"ops\":\"gthulhu\","
				   "\"nr_cpus\":2,\"delta\":-5,\"ok\":true,\"bad\":false,"
				   "\"none\":null,\"comm\":\"kworker\"}\n");

	log_end(log_begin(LOG_WARN, NULL));
	drain();
	assert_string_equal(out, HDR_TS ",\"level\":\"warn\",\"msg\":\"\"}\n");
}

static void test_numbers(void **state)
{
	struct log_rec *r = log_begin(LOG_ERROR, "n");

	log_u64(r, "u0", 0);
	log_u64(r, "umax", UINT64_MAX);
	log_i64(r, "imin", INT64_MIN);
	log_i64(r, "imax", INT64_MAX);
	log_i64(r, "m1", -1);
	log_i64(r, "z", 0);
	log_f64(r, "half", 0.5);
	log_f64(r, "neg", -2.25);
	log_f64(r, "big", 1e6);
	log_f64(r, "nan", NAN);
	log_f64(r, "inf", -INFINITY);
	log_end(r);
	drain();
	assert_string_equal(out,
			    HDR_TS ",\"level\":\"error\",\"msg\":\"n\",\"u0\":0,"
				   "\"umax\":18446744073709551615,\"imin\":-9223372036854775808,"
				   "\"imax\":9223372036854775807,\"m1\":-1,\"z\":0,\"half\":0.5,"
				   "\"neg\":-2.25,\"big\":1e+06,\"nan\":null,\"inf\":null}\n");
	check_lines(out, strlen(out));
}

static void test_timestamps(void **state)
{
	static const struct {
		time_t sec;
		long nsec;
		const char *ts;
	} cases[] = {
	    {0, 0, "1970-01-01T00:00:00.000Z"},
	    {951782400, 999999999, "2000-02-29T00:00:00.999Z"},
	    {951868799, 1000000, "2000-02-29T23:59:59.001Z"},
	    {1709210096, 42000000, "2024-02-29T12:34:56.042Z"},
	    {4102444799, 500000000, "2099-12-31T23:59:59.500Z"},
	    {253402300799, 0, "9999-12-31T23:59:59.000Z"},
	    {-1, 0, "1969-12-31T23:59:59.000Z"},
	};
	char want[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_now.tv_sec = cases[i].sec;
		fake_now.tv_nsec = cases[i].nsec;
		log_msg(LOG_INFO, "x");
		drain();
		snprintf(want, sizeof(want), "{\"ts\":\"%s\",", cases[i].ts);
		if (strncmp(out, want, strlen(want)) != 0)
			fail_msg("%lld: got %.40s, want %s", (long long)cases[i].sec, out, want);
	}

	/* The real clock gives the same shape. */
	log_set_clock(NULL);
	log_msg(LOG_INFO, "now");
	drain();
	assert_int_equal(strlen(out) > 33, 1);
	for (int i = 0; i < 24; i++) {
		const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
		char c = out[7 + i];

		if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i])
			fail_msg("bad timestamp %.31s", out);
	}
}

static void test_levels(void **state)
{
	enum log_level l;

	log_set_level(LOG_WARN);
	assert_int_equal(log_get_level(), LOG_WARN);
	assert_false(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_ERROR));

	/* Below the level: NULL, and every field function takes NULL. */
	struct log_rec *r = log_begin(LOG_INFO, "hidden");

	assert_null(r);
	log_str(r, "a", "b");
	log_strn(r, "a", "b", 1);
	log_u64(r, "a", 1);
	log_i64(r, "a", 1);
	log_bool(r, "a", true);
	log_f64(r, "a", 1.0);
	log_end(r);
	log_msg(LOG_DEBUG, "hidden %d", 1);
	log_msg(LOG_INFO, "hidden");
	assert_int_equal(drain(), 0);

	log_msg(LOG_WARN, "shown");
	log_msg(LOG_ERROR, "shown");
	drain();
	assert_string_equal(out, HDR_TS ",\"level\":\"warn\",\"msg\":\"shown\"}\n" HDR_TS
					",\"level\":\"error\",\"msg\":\"shown\"}\n");

	log_set_level(LOG_DEBUG);
	log_msg(LOG_DEBUG, "dbg");
	drain();
	assert_string_equal(out, HDR_TS ",\"level\":\"debug\",\"msg\":\"dbg\"}\n");

	/* Out-of-range levels are clamped rather than disabling everything. */
	log_set_level((enum log_level)99);
	assert_int_equal(log_get_level(), LOG_ERROR);
	log_set_level((enum log_level)(-3));
	assert_int_equal(log_get_level(), LOG_DEBUG);

	assert_string_equal(log_level_name(LOG_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_INFO), "info");
	assert_string_equal(log_level_name(LOG_WARN), "warn");
	assert_string_equal(log_level_name(LOG_ERROR), "error");
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("WARN", &l), -1);
	assert_int_equal(log_level_parse("warning", &l), -1);
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void test_escaping(void **state)
{
	struct log_rec *r = log_begin(LOG_INFO, "say \"hi\" \\ back/slash\n\ttab\x01\x1f\x7f end");

	log_str(r, "k\"ey\n", "v\\al\"\r");
	log_strn(r, "nul", "a\0b", 3);
	log_end(r);
	drain();
	assert_string_equal(out, HDR_TS
			    ",\"level\":\"info\",\"msg\":\"say \\\"hi\\\" \\\\ "
			    "back/slash\\u000a\\u0009tab\\u0001\\u001f\\u007f end\","
			    "\"k\\\"ey\\u000a\":\"v\\\\al\\\"\\u000d\",\"nul\":\"a\\u0000b\"}\n");
	check_lines(out, strlen(out));
}

static void test_utf8(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    /* Well-formed: passed through untouched. */
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"},
	    {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
	    {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf"},
	    /* Ill-formed: one U+FFFD per byte that is not part of a valid character. */
	    {"\xff", "\\ufffd"},
	    {"a\x80z", "a\\ufffdz"},
	    {"\xe6\x97", "\\ufffd\\ufffd"},
	    {"\xe6\x97x", "\\ufffd\\ufffdx"},
	    {"\xc0\xaf", "\\ufffd\\ufffd"},			  /* overlong '/' */
	    {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},		  /* overlong, 3 bytes */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},		  /* a surrogate */
	    {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* above U+10FFFF */
	    {"\xf5\x80", "\\ufffd\\ufffd"},
	    {"\xc3\xa9\xc3", "\xc3\xa9\\ufffd"},
	};
	char want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		log_msg(LOG_INFO, "%s", cases[i].in);
		drain();
		snprintf(want, sizeof(want), HDR_TS ",\"level\":\"info\",\"msg\":\"%s\"}\n",
			 cases[i].want);
		assert_string_equal(out, want);
		check_lines(out, strlen(out));
	}

	/* A length that cuts a character in half: the stray byte is replaced, not overrun. */
	struct log_rec *r = log_begin(LOG_INFO, "m");

	log_strn(r, "comm", "\xe6\x97\xa5\xe6\x9c\xac", 4);
	log_end(r);
	drain();
	assert_string_equal(out, HDR_TS ",\"level\":\"info\",\"msg\":\"m\",\"comm\":\"\xe6\x97\xa5"
					"\\ufffd\"}\n");
}

static void test_log_msg_format(void **state)
{
	log_msg(LOG_INFO, "%d tasks on %s (%.1f%%)", 3, "cpu1", 12.5);
	drain();
	assert_string_equal(out,
			    HDR_TS ",\"level\":\"info\",\"msg\":\"3 tasks on cpu1 (12.5%)\"}\n");

	/* errno survives logging, and %m sees the caller's errno. */
	errno = ENOENT;
	log_msg(LOG_ERROR, "open: %m");
	assert_int_equal(errno, ENOENT);
	drain();
	assert_non_null(strstr(out, strerror(ENOENT)));
	errno = EAGAIN;
	struct log_rec *r = log_begin(LOG_INFO, "x");

	log_u64(r, "a", 1);
	log_end(r);
	assert_int_equal(errno, EAGAIN);
	drain();
}

/* ---- truncation ------------------------------------------------------------------------- */

static const char tail[] = ",\"truncated\":true}\n";

static bool ends_truncated(const char *s, size_t len)
{
	size_t tl = strlen(tail);

	return len >= tl && memcmp(s + len - tl, tail, tl) == 0;
}

static void test_truncate_message(void **state)
{
	static char big[3 * LOG_LINE_MAX];
	size_t len, fit;

	memset(big, 'a', sizeof(big) - 1);
	log_end(log_begin(LOG_INFO, big));
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_true(len <= LOG_LINE_MAX);
	assert_true(len >= LOG_LINE_MAX - 8); /* cut near the limit, not at some early point */
	assert_true(ends_truncated(out, len));

	/* Through log_msg too, where the format buffer is the first limit. */
	log_msg(LOG_INFO, "%s", big);
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_true(ends_truncated(out, len));

	/*
	 * The longest message that fits whole (room for the marker is always kept back),
	 * and one byte more.
	 */
	fit =
	    LOG_LINE_MAX - strlen(tail) + 2 - strlen(HDR_TS ",\"level\":\"info\",\"msg\":\"\"}\n");
	big[fit] = '\0';
	log_end(log_begin(LOG_INFO, big));
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_false(ends_truncated(out, len));
	assert_int_equal(len, LOG_LINE_MAX - strlen(tail) + 2);
	big[fit] = 'a';
	big[fit + 1] = '\0';
	log_end(log_begin(LOG_INFO, big));
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_true(ends_truncated(out, len));
}

static void test_truncate_fields(void **state)
{
	struct log_rec *r = log_begin(LOG_INFO, "many");
	char key[24], last[32], *cut;
	size_t len;
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "field_%04d", i);
		log_u64(r, key, 1234567890123ULL);
	}
	/* Once truncated, nothing more is added, not even a field that would fit. */
	log_bool(r, "z", true);
	log_end(r);
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_true(len <= LOG_LINE_MAX);
	assert_true(ends_truncated(out, len));
	assert_null(strstr(out, "\"z\""));
	/* Whole fields only: the last one before the marker is complete. */
	cut = out + len - strlen(tail);
	*cut = '\0';
	snprintf(last, sizeof(last), ":1234567890123");
	assert_int_equal(strcmp(cut - strlen(last), last), 0);

	/* A long string value is cut inside the string, keeping the record valid. */
	static char big[2 * LOG_LINE_MAX];

	memset(big, 'b', sizeof(big) - 1);
	r = log_begin(LOG_INFO, "long value");
	log_str(r, "v", big);
	log_u64(r, "after", 1);
	log_end(r);
	len = drain();
	assert_int_equal(check_lines(out, len), 1);
	assert_true(ends_truncated(out, len));
	assert_non_null(strstr(out, "\"v\":\"bbbb"));
	assert_null(strstr(out, "after"));
}

/*
 * Every cut position against every kind of output unit (plain, 2-byte escape, 6-byte
 * escape, multi-byte UTF-8, replacement): the line must stay valid and within the limit.
 */
static void test_truncate_boundaries(void **state)
{
	static const char *const units[] = {
	    "a", "\"", "\x01", "\xc3\xa9", "\xf0\x9f\x98\x80", "\xff", "\\", "\xe6\x97\xa5"};
	static char msg[LOG_LINE_MAX + 64];

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		for (size_t pre = LOG_LINE_MAX - 140; pre < LOG_LINE_MAX - 40; pre++) {
			size_t o = pre, len;

			memset(msg, 'x', pre);
			while (o + strlen(units[u]) < sizeof(msg) - 1) {
				memcpy(msg + o, units[u], strlen(units[u]));
				o += strlen(units[u]);
			}
			msg[o] = '\0';
			log_end(log_begin(LOG_INFO, msg));
			len = drain();
			assert_int_equal(check_lines(out, len), 1);

			/* Same thing as a field value after a message. */
			struct log_rec *r = log_begin(LOG_INFO, "f");

			log_str(r, "v", msg + pre - 3000);
			log_end(r);
			len = drain();
			assert_int_equal(check_lines(out, len), 1);
		}
	}
}

/* Random bytes, random field mixes: every line valid. A fixed seed keeps it repeatable. */
static void test_random_records(void **state)
{
	static char buf[LOG_LINE_MAX * 2];
	unsigned int seed = 12345;

	for (int iter = 0; iter < 3000; iter++) {
		size_t mlen = (size_t)rand_r(&seed) % (iter % 10 ? 200 : sizeof(buf) - 1);
		struct log_rec *r;
		int nf;

		for (size_t i = 0; i < mlen; i++)
			buf[i] = (char)(rand_r(&seed) % 255 + 1);
		buf[mlen] = '\0';
		r = log_begin(LOG_INFO, buf);
		nf = rand_r(&seed) % 40;
		for (int f = 0; f < nf; f++) {
			size_t vlen = (size_t)rand_r(&seed) % 300;
			char key[16];

			for (size_t i = 0; i < vlen; i++)
				buf[i] = (char)(rand_r(&seed) & 0xff);
			snprintf(key, sizeof(key), "k%d", f);
			switch (rand_r(&seed) % 4) {
			case 0:
				log_strn(r, key, buf, vlen);
				break;
			case 1:
				log_i64(r, key, (int64_t)rand_r(&seed) - RAND_MAX / 2);
				break;
			case 2:
				log_bool(r, key, rand_r(&seed) & 1);
				break;
			default:
				log_f64(r, key, (double)rand_r(&seed) / 7.0);
				break;
			}
		}
		log_end(r);
		assert_int_equal(check_lines(out, drain()), 1);
	}
}

/* ---- misuse and failures ---------------------------------------------------------------- */

static void test_nested_begin(void **state)
{
	uint64_t before = log_dropped();
	struct log_rec *outer = log_begin(LOG_INFO, "outer");

	/* A nested record is dropped; it must not clobber the open one. */
	assert_null(log_begin(LOG_ERROR, "inner"));
	assert_int_equal(log_dropped(), before + 1);
	log_u64(outer, "x", 1);
	log_end(outer);
	drain();
	assert_string_equal(out, HDR_TS ",\"level\":\"info\",\"msg\":\"outer\",\"x\":1}\n");
	/* And the thread can log again afterwards. */
	log_msg(LOG_INFO, "again");
	drain();
	assert_non_null(strstr(out, "\"again\""));
}

static void test_write_failure(void **state)
{
	uint64_t before = log_dropped();

	log_set_fd(-1);
	errno = 0;
	log_msg(LOG_ERROR, "lost");
	assert_int_equal(errno, 0);
	assert_int_equal(log_dropped(), before + 1);
	log_set_fd(pfd[1]);
	log_msg(LOG_INFO, "back");
	drain();
	assert_non_null(strstr(out, "\"back\""));
}

/* ---- threads ---------------------------------------------------------------------------- */

#define NR_THREADS 8
#define PER_THREAD 600

struct collector {
	int fd;
	char *buf;
	size_t len, cap;
};

static void *collect(void *arg)
{
	struct collector *c = arg;
	ssize_t n;

	while ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) > 0)
		c->len += (size_t)n;
	return NULL;
}

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char payload[LOG_LINE_MAX];

	for (int i = 0; i < PER_THREAD; i++) {
		/* Lengths up to the limit, so lines are large enough to interleave if split. */
		size_t len = (size_t)(i * 37 + id * 101) % (LOG_LINE_MAX - 200);
		struct log_rec *r = log_begin(LOG_INFO, "t");

		memset(payload, 'A' + id, len);
		payload[len] = '\0';
		log_i64(r, "id", id);
		log_i64(r, "seq", i);
		log_str(r, "p", payload);
		log_end(r);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct collector c = {.cap = (size_t)NR_THREADS * PER_THREAD * LOG_LINE_MAX};
	int tp[2], seen[NR_THREADS] = {0};
	pthread_t rd, wr[NR_THREADS];
	size_t lines = 0;

	assert_int_equal(pipe(tp), 0);
	c.fd = tp[0];
	c.buf = malloc(c.cap);
	assert_non_null(c.buf);
	log_set_fd(tp[1]);
	assert_int_equal(pthread_create(&rd, NULL, collect, &c), 0);
	for (int i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_create(&wr[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(wr[i], NULL);
	close(tp[1]);
	pthread_join(rd, NULL);
	close(tp[0]);
	log_set_fd(pfd[1]);

	assert_int_equal(check_lines(c.buf, c.len), NR_THREADS * PER_THREAD);
	/* Each line is one thread's record, whole: its payload is all that thread's letter. */
	for (char *p = c.buf, *nl; p < c.buf + c.len; p = nl + 1, lines++) {
		int id, seq;
		char *pl;

		nl = memchr(p, '\n', (size_t)(c.buf + c.len - p));
		*nl = '\0';
		pl = strstr(p, "\"p\":\"");
		assert_non_null(pl);
		assert_int_equal(sscanf(strstr(p, "\"id\":"), "\"id\":%d,\"seq\":%d", &id, &seq),
				 2);
		assert_true(id >= 0 && id < NR_THREADS);
		/* Lines from one thread arrive in order. */
		assert_int_equal(seq, seen[id]);
		seen[id]++;
		for (pl += 5; *pl != '"'; pl++)
			if (*pl != 'A' + id)
				fail_msg("interleaved line from thread %d", id);
	}
	assert_int_equal(lines, NR_THREADS * PER_THREAD);
	free(c.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checker_self_test),
	    cmocka_unit_test_setup_teardown(test_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_msg_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncate_boundaries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_begin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
