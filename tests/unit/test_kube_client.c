// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for the Kubernetes client (src/k8s/kube_client.c, kube_config.c).
 *
 * Configuration parsing is tested directly (kubeconfig files and the in-cluster
 * environment written to a mkdtemp directory). Everything else runs the real client
 * against build/tests/fake-apiserver (tests/k8s/fake_apiserver.c), a separate process
 * that speaks the API's JSON over http on 127.0.0.1 and has control endpoints to add and
 * delete objects, expire resourceVersions, cut watches, hold events and change the
 * token. The fake is found next to this binary (make unit builds both) and a missing one
 * fails the run. Nothing asserts after a fixed sleep: conditions are polled with a 5 s
 * deadline (WAIT_FOR). The https tests run the same fake with TLS, on certificates that
 * make builds into build/tests/tls (tests/k8s/make-test-certs.sh); missing ones fail the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "k8s/kube_client.h"
#include "k8s/pods.h"
#include "log/log.h"
#include "strategy/strategy.h"

#define NODE	 "node-a"
#define WAIT_MS	 5000
#define TOKEN_OK "tok-0123456789abcdef"

static char dir[64];	     /* this run's temporary directory */
static char fake_bin[4096];  /* build/tests/fake-apiserver */
static char kubeconfig[128]; /* dir/kubeconfig: http://127.0.0.1:<port>, tokenFile */
static char token_path[128];
static char tls_dir[4000]; /* build/tests/tls: ca.crt, server.*, client.*, other-ca.crt */

/*
 * The next fake_start() serves https (FAKE_TLS) and also takes client certificates of
 * the test CA as identity (FAKE_TLS_CLIENT_CERTS); the test's own calls to the fake
 * follow. client_start() writes the kubeconfig's cluster and user entries from kc_cluster
 * and kc_user (defaults: nothing but the server, and the token file).
 */
static enum { FAKE_HTTP, FAKE_TLS, FAKE_TLS_CLIENT_CERTS } fake_tls;
static char kc_cluster[16384], kc_user[16384];

/* One test's world: the fake server, a pod table and the client under test. */
static struct {
	pid_t pid;
	int port;
	struct pod_table *pods;
	struct kube_client *client;
	bool report_status; /* client_start() turns status reports on */
} w;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll @cond until it holds or WAIT_MS pass; then it must hold. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		uint64_t end_ = now_ms() + WAIT_MS;                                                \
		while (!(cond) && now_ms() < end_)                                                 \
			usleep(10000);                                                             \
		if (!(cond))                                                                       \
			fail_msg("timed out after %d ms waiting for: %s", WAIT_MS, #cond);         \
	} while (0)

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	/* Write and rename, as the kubelet does with rotated tokens. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* ---- the fake API server ---- */

static void fake_start(int port, const char *token, bool keep_state)
{
	char port_s[16], state[128], line[64] = "", errlog[128];
	char cert[4200], key[4200], ca[4200];
	const char *argv[16];
	struct pollfd pfd;
	int fds[2], n = 0, argc = 0;
	size_t len = 0;

	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(errlog, sizeof(errlog), "%s/fake.err", dir);
	mkdir(state, 0700);
	argv[argc++] = fake_bin;
	argv[argc++] = "--port";
	argv[argc++] = port_s;
	if (token) {
		argv[argc++] = "--token";
		argv[argc++] = token;
	}
	if (keep_state) {
		argv[argc++] = "--state-dir";
		argv[argc++] = state;
	}
	if (fake_tls != FAKE_HTTP) {
		snprintf(cert, sizeof(cert), "%s/server.crt", tls_dir);
		snprintf(key, sizeof(key), "%s/server.key", tls_dir);
		argv[argc++] = "--tls-cert";
		argv[argc++] = cert;
		argv[argc++] = "--tls-key";
		argv[argc++] = key;
	}
	if (fake_tls == FAKE_TLS_CLIENT_CERTS) {
		snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
		argv[argc++] = "--tls-client-ca";
		argv[argc++] = ca;
	}
	argv[argc] = NULL;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	w.pid = fork();
	assert_true(w.pid >= 0);
	if (w.pid == 0) {
		int err = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fds[1], 1);
		if (err >= 0)
			dup2(err, 2);
		execv(fake_bin, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	pfd = (struct pollfd){.fd = fds[0], .events = POLLIN};
	while (!strchr(line, '\n') && len < sizeof(line) - 1 && poll(&pfd, 1, WAIT_MS) == 1) {
		n = (int)read(fds[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		line[len] = '\0';
	}
	close(fds[0]);
	if (sscanf(line, "ready port=%d", &w.port) != 1)
		fail_msg("fake-apiserver did not start: \"%s\" (see %s)", line, errlog);
	if (port)
		assert_int_equal(w.port, port);
}

static void fake_kill(int sig)
{
	int status;

	if (w.pid <= 0)
		return;
	kill(w.pid, sig);
	waitpid(w.pid, &status, 0);
	w.pid = 0;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *p)
{
	json_t **out = p;
	json_t *doc = json_loadb(data, size * nmemb, 0, NULL);

	/* The fake's answers are small: one chunk. */
	if (doc) {
		json_decref(*out);
		*out = doc;
	}
	return size * nmemb;
}

/*
 * One request to the fake, with the usual token (the controls ignore it) and, when
 * @ctype, a Content-Type; returns the HTTP status, the JSON answer in @out (if given).
 */
static long fake_call_ct(const char *method, const char *path, const char *ctype, const char *body,
			 json_t **out)
{
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[256], ct[128], ca[4200], cert[4200], key[4200];
	json_t *doc = NULL;
	long code = 0;

	assert_non_null(e);
	hdrs = curl_slist_append(hdrs, "Authorization: Bearer " TOKEN_OK);
	assert_non_null(hdrs);
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, ct);
		assert_non_null(hdrs);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", fake_tls ? "https" : "http", w.port,
		 path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (fake_tls != FAKE_HTTP) {
		snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	}
	if (fake_tls == FAKE_TLS_CLIENT_CERTS) {
		snprintf(cert, sizeof(cert), "%s/client.crt", tls_dir);
		snprintf(key, sizeof(key), "%s/client.key", tls_dir);
		curl_easy_setopt(e, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(e, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &doc);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	if (out)
		*out = doc;
	else
		json_decref(doc);
	return code;
}

static long fake_call(const char *method, const char *path, const char *body, json_t **out)
{
	return fake_call_ct(method, path, NULL, body, out);
}

static void control(const char *method, const char *path)
{
	assert_int_equal(fake_call(method, path, NULL, NULL), 200);
}

/* A Pod as the API has it; @labels is a JSON object text, @phase may be NULL. */
static void add_pod(const char *ns, const char *name, const char *uid, const char *node,
		    const char *labels, const char *phase)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"metadata\": {\"name\": \"%s\", \"namespace\": \"%s\", \"uid\": \"%s\", "
		 "\"labels\": %s}, \"spec\": {\"nodeName\": \"%s\", \"containers\": "
		 "[{\"name\": \"c\", \"image\": \"busybox\"}]}, \"status\": {\"phase\": \"%s\"}}",
		 name, ns, uid, labels ? labels : "{}", node, phase ? phase : "Running");
	assert_int_equal(fake_call("POST", "/fake/pods", body, NULL), 200);
}

static void del_pod(const char *ns, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/fake/pods/%s/%s", ns, name);
	control("DELETE", path);
}

/* @status: a JSON object text, or NULL to keep the object's current status. */
static void add_strategy_status(const char *name, const char *spec, const char *status)
{
	char body[2048];

	snprintf(body, sizeof(body),
		 "{\"apiVersion\": \"gthulhu.io/v1alpha1\", \"kind\": \"SchedulingStrategy\", "
		 "\"metadata\": {\"name\": \"%s\"}, \"spec\": %s%s%s}",
		 name, spec, status ? ", \"status\": " : "", status ? status : "");
	assert_int_equal(fake_call("POST", "/fake/strategies", body, NULL), 200);
}

static void add_strategy(const char *name, const char *spec)
{
	add_strategy_status(name, spec, NULL);
}

static void del_strategy(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/fake/strategies/%s", name);
	control("DELETE", path);
}

/* ---- what the client did ---- */

/* The latest rules handed to on_strategies. */
static struct {
	pthread_mutex_t lock;
	struct strategy_rule rules[16];
	size_t n;
	unsigned int calls;
	bool refuse, bad_ctx;
} rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int on_strategies(void *ctx, const struct strategy_rule *rules, size_t n, char *err,
			 size_t errlen)
{
	int ret = 0;

	/* On the client's thread: no cmocka assert here, a flag checked by the test. */
	pthread_mutex_lock(&rec.lock);
	rec.bad_ctx |= ctx != &rec;
	rec.calls++;
	if (rec.refuse) {
		snprintf(err, errlen, "refused by the test");
		ret = -1;
	} else {
		rec.n = n < 16 ? n : 16;
		memcpy(rec.rules, rules, rec.n * sizeof(*rules));
	}
	pthread_mutex_unlock(&rec.lock);
	return ret;
}

static unsigned int rec_calls(void)
{
	unsigned int n;

	pthread_mutex_lock(&rec.lock);
	n = rec.calls;
	pthread_mutex_unlock(&rec.lock);
	return n;
}

/* The ids handed over last, joined by ',' (in their order). */
static const char *rec_ids(void)
{
	static char ids[512];

	ids[0] = '\0';
	pthread_mutex_lock(&rec.lock);
	for (size_t i = 0; i < rec.n; i++) {
		strcat(ids, i ? "," : "");
		strcat(ids, rec.rules[i].id);
	}
	pthread_mutex_unlock(&rec.lock);
	return ids;
}

static bool rec_ids_are(const char *want)
{
	return !strcmp(rec_ids(), want);
}

#define SS_PATH "/apis/gthulhu.io/v1alpha1/schedulingstrategies"
#define VALID	"{\"command_regex\": \"^x$\", \"priority\": 1}"

/* PATCH requests the fake received, whatever it answered. */
static json_int_t fake_patches(void)
{
	json_t *st = NULL;
	json_int_t n;

	assert_int_equal(fake_call("GET", "/fake/stats", NULL, &st), 200);
	assert_non_null(st);
	n = json_integer_value(json_object_get(st, "patches"));
	json_decref(st);
	return n;
}

/*
 * Does object @name's .status.nodes.@node say @applied, with a message that is "" when
 * @msg is "" and contains @msg otherwise, an RFC 3339 UTC time and nothing else?
 */
static bool report_is(const char *name, const char *node, bool applied, const char *msg)
{
	char path[256];
	json_t *obj = NULL, *e;
	const char *m, *t;
	bool ok;

	snprintf(path, sizeof(path), SS_PATH "/%s", name);
	if (fake_call("GET", path, NULL, &obj) != 200) {
		json_decref(obj);
		return false;
	}
	e = json_object_get(json_object_get(json_object_get(obj, "status"), "nodes"), node);
	m = json_string_value(json_object_get(e, "message"));
	t = json_string_value(json_object_get(e, "updated"));
	ok = json_is_boolean(json_object_get(e, "applied")) &&
	     json_is_true(json_object_get(e, "applied")) == applied && m &&
	     (msg[0] ? strstr(m, msg) != NULL : !m[0]) && t && strlen(t) == 20 && t[4] == '-' &&
	     t[10] == 'T' && t[19] == 'Z' && json_object_size(e) == 3;
	json_decref(obj);
	return ok;
}

/* Write @node's entry of @name's status, as that node's daemon would. */
static long patch_status(const char *name, const char *ctype, const char *node, bool applied)
{
	char path[256], body[512];

	snprintf(path, sizeof(path), SS_PATH "/%s/status", name);
	snprintf(body, sizeof(body),
		 "{\"status\": {\"nodes\": {\"%s\": {\"applied\": %s, \"message\": \"\", "
		 "\"updated\": \"2024-05-06T07:08:09Z\"}}}}",
		 node, applied ? "true" : "false");
	return fake_call_ct("PATCH", path, ctype, body, NULL);
}

static void set_refuse(bool refuse)
{
	pthread_mutex_lock(&rec.lock);
	rec.refuse = refuse;
	pthread_mutex_unlock(&rec.lock);
}

static struct kube_status status(void)
{
	struct kube_status st;

	kube_client_status(w.client, &st);
	return st;
}

static bool has_pod(const char *uid)
{
	const struct pod_set *s = pod_table_acquire(w.pods);
	bool found = pod_set_find(s, uid) != NULL;

	pod_set_release(s);
	return found;
}

/* The pod's only label is @key=@value. */
static bool pod_label_is(const char *uid, const char *key, const char *value)
{
	const struct pod_set *s = pod_table_acquire(w.pods);
	const struct pod_meta *p = pod_set_find(s, uid);
	bool ok = p && p->nr_labels == 1 && !strcmp(p->labels[0].key, key) &&
		  !strcmp(p->labels[0].value, value);

	pod_set_release(s);
	return ok;
}

static uint64_t generation(void)
{
	const struct pod_set *s = pod_table_acquire(w.pods);
	uint64_t g = pod_set_generation(s);

	pod_set_release(s);
	return g;
}

static size_t pod_count(void)
{
	const struct pod_set *s = pod_table_acquire(w.pods);
	size_t n = pod_set_count(s);

	pod_set_release(s);
	return n;
}

/* The fake's request log: how many requests to @path had @needle in their query. */
static int queries_with(const char *path, bool watch, const char *needle, int *total)
{
	json_t *st = NULL, *r;
	int n = 0;
	size_t i;

	assert_int_equal(fake_call("GET", "/fake/stats", NULL, &st), 200);
	assert_non_null(st);
	*total = 0;
	json_array_foreach(json_object_get(st, "requests"), i, r)
	{
		const char *q = json_string_value(json_object_get(r, "query"));

		if (strcmp(json_string_value(json_object_get(r, "path")), path) ||
		    json_is_true(json_object_get(r, "watch")) != watch)
			continue;
		(*total)++;
		n += q && strstr(q, needle);
	}
	json_decref(st);
	return n;
}

/* ---- setup ---- */

static void write_kubeconfig(int port)
{
	char text[40000];

	snprintf(text, sizeof(text),
		 "apiVersion: v1\n"
		 "kind: Config\n"
		 "current-context: test\n"
		 "contexts:\n"
		 "- name: other\n"
		 "  context: {cluster: nowhere, user: nobody}\n"
		 "- name: test\n"
		 "  context:\n"
		 "    cluster: fake\n"
		 "    user: tester\n"
		 "clusters:\n"
		 "- name: fake\n"
		 "  cluster:\n"
		 "    server: %s://127.0.0.1:%d/\n"
		 "%s"
		 "users:\n"
		 "- name: tester\n"
		 "  user:\n"
		 "%s",
		 fake_tls ? "https" : "http", port, kc_cluster,
		 kc_user[0] ? kc_user : "    tokenFile: token\n");
	write_file(kubeconfig, text);
}

static void client_start(bool strategies, unsigned int watch_timeout_s)
{
	struct kube_client_options o = {
	    .kubeconfig = kubeconfig,
	    .node_name = NODE,
	    .watch_strategies = strategies,
	    .pods = w.pods,
	    .on_strategies = on_strategies,
	    .ctx = &rec,
	    .backoff_max_ms = 400,
	    .watch_timeout_s = watch_timeout_s,
	    .report_status = w.report_status,
	};
	char err[256] = "";

	write_kubeconfig(w.port);
	w.client = kube_client_start(&o, err, sizeof(err));
	if (!w.client)
		fail_msg("kube_client_start: %s", err);
}

static int setup(void **state)
{
	memset(&w, 0, sizeof(w));
	pthread_mutex_lock(&rec.lock);
	rec.n = 0;
	rec.calls = 0;
	rec.refuse = false;
	rec.bad_ctx = false;
	pthread_mutex_unlock(&rec.lock);
	w.pods = pod_table_new();
	assert_non_null(w.pods);
	write_file(token_path, TOKEN_OK "\n");
	fake_tls = FAKE_HTTP;
	kc_cluster[0] = kc_user[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	bool bad_ctx;

	kube_client_stop(w.client);
	w.client = NULL;
	fake_kill(SIGTERM);
	pod_table_free(w.pods);
	w.pods = NULL;
	pthread_mutex_lock(&rec.lock);
	bad_ctx = rec.bad_ctx;
	pthread_mutex_unlock(&rec.lock);
	return bad_ctx ? -1 : 0; /* on_strategies got another ctx than the one given */
}

static int group_setup(void **state)
{
	char exe[4096], ca[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char logp[128];
	int fd;

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(fake_bin, sizeof(fake_bin), "%s/fake-apiserver", dirname(exe));
	if (access(fake_bin, X_OK)) {
		fprintf(stderr, "%s: %s (build it with make build/tests/fake-apiserver)\n",
			fake_bin, strerror(errno));
		return -1;
	}
	/* dirname() cut exe down in place: it is this binary's directory now. */
	if (snprintf(tls_dir, sizeof(tls_dir), "%s/tls", exe) >= (int)sizeof(tls_dir))
		return -1;
	snprintf(ca, sizeof(ca), "%s/ca.crt", tls_dir);
	if (access(ca, R_OK)) {
		fprintf(stderr, "%s: %s (make them with make build/tests/tls/ca.crt)\n", ca,
			strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "/tmp/gthulhu-kube-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	/* The client's log goes to a file: the test output stays readable. */
	snprintf(logp, sizeof(logp), "%s/client.log", dir);
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	log_set_fd(fd);
	log_set_level(LOG_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	/* GTHULHU_TEST_KEEP=1 keeps the client's and the fake's logs for a look. */
	if (getenv("GTHULHU_TEST_KEEP")) {
		fprintf(stderr, "logs kept in %s\n", dir);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return -1;
	curl_global_cleanup();
	return 0;
}

/* ---- configuration ---- */

static void test_base64(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"QQ==", "A"},
	    {"QUI=", "AB"},
	    {"QUJD", "ABC"},
	    {"QUJDRA==", "ABCD"},
	    {"QU\nJD\r\n RA==", "ABCD"},
	};
	static const char *const bad[] = {"Q", "QQ=A", "QR==", "Q!==", "", "===="};
	unsigned char *d;
	size_t len;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		d = kube_base64_decode(ok[i].in, &len);
		assert_non_null(d);
		assert_int_equal(len, strlen(ok[i].out));
		assert_memory_equal(d, ok[i].out, len);
		free(d);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(kube_base64_decode(bad[i], &len));
}

/* Load @text as a kubeconfig; 0 or -1 with @err. */
static int load_text(const char *text, struct kube_config *cfg, char *err, size_t errlen)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/kc.yaml", dir);
	write_file(path, text);
	return kube_config_load(path, NULL, cfg, err, errlen);
}

static void expect_error(const char *text, const char *needle)
{
	struct kube_config cfg;
	char err[256] = "";

	assert_int_equal(load_text(text, &cfg, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
	assert_null(cfg.server);
}

static void test_kubeconfig(void **state)
{
	struct kube_config cfg;
	char err[256] = "", path[160], text[1024];

	/* A fixed token, an http server, the CA inline ("PEM" in base64), insecure. */
	assert_int_equal(load_text("current-context: a\n"
				   "contexts: [{name: a, context: {cluster: c, user: u}}]\n"
				   "clusters:\n"
				   "- name: c\n"
				   "  cluster:\n"
				   "    server: http://127.0.0.1:8080///\n"
				   "    certificate-authority-data: UEVN\n"
				   "    insecure-skip-tls-verify: true\n"
				   "users: [{name: u, user: {token: abc.def}}]\n",
				   &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg.server, "http://127.0.0.1:8080");
	assert_string_equal(cfg.token, "abc.def");
	assert_null(cfg.token_file);
	assert_int_equal(cfg.ca_len, 3);
	assert_memory_equal(cfg.ca_data, "PEM", 3);
	assert_true(cfg.insecure);
	assert_non_null(strstr(cfg.origin, "context a"));
	kube_config_free(&cfg);

	/* Relative paths are relative to the kubeconfig's directory; tokenFile wins. */
	write_file(token_path, TOKEN_OK "\n");
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	write_file(path, "-----BEGIN CERTIFICATE-----\n");
	assert_int_equal(
	    load_text("current-context: b\n"
		      "contexts: [{name: b, context: {cluster: c, user: u}}]\n"
		      "clusters: [{name: c, cluster: {server: 'https://k8s.example:6443', "
		      "certificate-authority: ca.pem}}]\n"
		      "users: [{name: u, user: {token: fixed, tokenFile: token}}]\n",
		      &cfg, err, sizeof(err)),
	    0);
	assert_string_equal(cfg.server, "https://k8s.example:6443");
	assert_string_equal(cfg.ca_file, path);
	snprintf(path, sizeof(path), "%s/token", dir);
	assert_string_equal(cfg.token_file, path);
	assert_false(cfg.insecure);
	kube_config_free(&cfg);

	/* A context without a user: anonymous. */
	assert_int_equal(load_text("current-context: a\n"
				   "contexts: [{name: a, context: {cluster: c}}]\n"
				   "clusters: [{name: c, cluster: {server: 'http://[::1]:80'}}]\n",
				   &cfg, err, sizeof(err)),
			 0);
	assert_null(cfg.token);
	assert_null(cfg.token_file);
	kube_config_free(&cfg);

	/* Every refusal names what is wrong. */
	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(kube_config_load(path, NULL, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	expect_error("clusters: []\n", "no current-context");
	expect_error("current-context: x\ncontexts: [{name: a, context: {cluster: c}}]\n",
		     "context \"x\" not found");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n",
		     "cluster \"c\" not found");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		     "clusters: [{name: c, cluster: {}}]\n",
		     "has no server");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		     "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n",
		     "expected http:// or https://");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		     "clusters: [{name: c, cluster: {server: 'https://x'}}]\n",
		     "user \"u\" not found");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		     "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		     "users: [{name: u, user: {exec: {command: aws}}}]\n",
		     "exec and auth-provider credentials are not supported");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		     "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		     "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n",
		     "tokenFile \"/nonexistent/token\"");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
		     "clusters: [{name: c, cluster: {server: 'https://x', "
		     "certificate-authority-data: '!!'}}]\n",
		     "certificate-authority-data: not valid base64");
	expect_error("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		     "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
		     "users: [{name: u, user: {client-certificate-data: UEVN}}]\n",
		     "client-certificate and client-key go together");
	expect_error("current-context: [a\n", "not valid YAML");

	/* kube_client_start() reports the same. */
	{
		struct kube_client_options o = {.kubeconfig = path, .node_name = NODE};

		snprintf(path, sizeof(path), "%s/missing.yaml", dir);
		o.pods = pod_table_new();
		assert_null(kube_client_start(&o, err, sizeof(err)));
		assert_non_null(strstr(err, "missing.yaml"));
		o.node_name = "";
		assert_null(kube_client_start(&o, err, sizeof(err)));
		assert_non_null(strstr(err, "node name"));
		/* A token file that is empty. */
		o.node_name = NODE;
		snprintf(text, sizeof(text), "%s/empty-token", dir);
		write_file(text, "\n");
		snprintf(
		    text, sizeof(text),
		    "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
		    "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
		    "users: [{name: u, user: {tokenFile: empty-token}}]\n");
		snprintf(path, sizeof(path), "%s/kc.yaml", dir);
		write_file(path, text);
		assert_null(kube_client_start(&o, err, sizeof(err)));
		assert_non_null(strstr(err, "empty"));
		pod_table_free(o.pods);
	}
}

static void test_in_cluster(void **state)
{
	struct kube_config cfg;
	char sa[128], path[192], err[256] = "";

	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	snprintf(path, sizeof(path), "%s/token", sa);
	write_file(path, "sa-token\n");
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	write_file(path, "-----BEGIN CERTIFICATE-----\n");

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_config_load(NULL, sa, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	{
		/* The daemon gets the same refusal from kube_client_start(). */
		struct kube_client_options o = {.node_name = NODE, .sa_dir = sa};

		o.pods = pod_table_new();
		assert_null(kube_client_start(&o, err, sizeof(err)));
		assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
		pod_table_free(o.pods);
	}

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_load("", sa, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.server, "https://10.96.0.1:443");
	snprintf(path, sizeof(path), "%s/token", sa);
	assert_string_equal(cfg.token_file, path);
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	assert_string_equal(cfg.ca_file, path);
	assert_string_equal(cfg.origin, "in-cluster");
	kube_config_free(&cfg);

	/* An IPv6 service address gets brackets. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(kube_config_load(NULL, sa, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.server, "https://[fd00:10:96::1]:6443");
	kube_config_free(&cfg);

	/* No CA file: the system's CAs (as client-go); a bad port or no token: refused. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(kube_config_load(NULL, sa, &cfg, err, sizeof(err)), 0);
	assert_null(cfg.ca_file);
	kube_config_free(&cfg);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_equal(kube_config_load(NULL, sa, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT"));
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	snprintf(path, sizeof(path), "%s/token", sa);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(kube_config_load(NULL, sa, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

/* ---- pods ---- */

static void test_list_watch(void **state)
{
	const struct pod_set *set;
	const struct pod_meta *p;
	struct strategy_rule rule = {.id = "sel", .nr_selectors = 1, .nr_namespaces = 1};
	int total, with;
	uint64_t gen;

	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "web-1", "uid-web-1", NODE, "{\"app\": \"x\", \"tier\": \"fe\"}", NULL);
	add_pod("other", "web-2", "uid-web-2", NODE, "{\"app\": \"x\"}", NULL);
	add_pod("ns", "db-1", "uid-db-1", NODE, "{\"app\": \"y\"}", NULL);
	add_pod("ns", "far", "uid-far", "node-b", "{\"app\": \"x\"}", NULL);
	add_pod("ns", "done", "uid-done", NODE, "{\"app\": \"x\"}", "Succeeded");
	client_start(false, 0);
	WAIT_FOR(status().pods_synced);
	assert_int_equal(pod_count(), 3);
	assert_false(has_pod("uid-far"));
	assert_false(has_pod("uid-done"));

	set = pod_table_acquire(w.pods);
	p = pod_set_find(set, "uid-web-1");
	assert_non_null(p);
	assert_string_equal(p->name, "web-1");
	assert_string_equal(p->namespace, "ns");
	assert_string_equal(p->node, NODE);
	assert_int_equal(p->nr_labels, 2);
	assert_string_equal(p->labels[0].key, "app");
	assert_string_equal(p->labels[0].value, "x");
	assert_string_equal(p->labels[1].key, "tier");

	/* A label strategy (app=x in ns) picks exactly web-1 among this node's pods. */
	snprintf(rule.selectors[0].key, sizeof(rule.selectors[0].key), "app");
	snprintf(rule.selectors[0].value, sizeof(rule.selectors[0].value), "x");
	snprintf(rule.namespaces[0], sizeof(rule.namespaces[0]), "ns");
	for (size_t i = 0; i < pod_set_count(set); i++) {
		p = pod_set_at(set, i);
		assert_int_equal(pod_matches_rule(p, &rule), !strcmp(p->uid, "uid-web-1"));
	}
	pod_set_release(set);

	/* Changes while watching: added, moved away, finished, deleted. */
	add_pod("ns", "web-3", "uid-web-3", NODE, "{\"app\": \"x\"}", NULL);
	WAIT_FOR(has_pod("uid-web-3"));
	add_pod("ns", "far-2", "uid-far-2", "node-b", NULL, NULL);
	add_pod("ns", "db-1", "uid-db-1", NODE, "{\"app\": \"y\"}", "Failed");
	del_pod("ns", "web-1");
	WAIT_FOR(!has_pod("uid-web-1"));
	WAIT_FOR(!has_pod("uid-db-1"));
	add_pod("ns", "web-4", "uid-web-4", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-web-4"));
	/* far-2 came before web-4 on the stream, and the selector filtered it out. */
	assert_false(has_pod("uid-far-2"));
	assert_int_equal(pod_count(), 3); /* web-2, web-3, web-4 */
	/* A label change is an upsert of the same uid. */
	add_pod("ns", "web-4", "uid-web-4", NODE, "{\"app\": \"z\"}", NULL);
	WAIT_FOR(pod_label_is("uid-web-4", "app", "z"));
	assert_int_equal(pod_count(), 3);
	/* A MODIFIED that changes nothing of ours (status) leaves the table alone. */
	gen = generation();
	add_pod("other", "web-2", "uid-web-2", NODE, "{\"app\": \"x\"}", "Pending");
	add_pod("ns", "web-5", "uid-web-5", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-web-5"));
	assert_int_equal(generation(), gen + 1);

	/* A static pod's mirror: its processes' cgroups carry the config hash, not its uid. */
	assert_int_equal(
	    fake_call("POST", "/fake/pods",
		      "{\"metadata\": {\"name\": \"etcd-n1\", \"namespace\": \"kube-system\", "
		      "\"uid\": \"mirror-uid\", \"annotations\": {\"kubernetes.io/config.mirror\": "
		      "\"0123456789abcdef0123456789abcdef\", \"kubernetes.io/config.hash\": "
		      "\"0123456789abcdef0123456789abcdef\"}}, \"spec\": {\"nodeName\": \"" NODE
		      "\"}, \"status\": {\"phase\": \"Running\"}}",
		      NULL),
	    200);
	WAIT_FOR(has_pod("0123456789abcdef0123456789abcdef"));
	assert_false(has_pod("mirror-uid"));
	del_pod("kube-system", "etcd-n1");
	WAIT_FOR(!has_pod("0123456789abcdef0123456789abcdef"));

	/* Every list and watch of pods carried the node's field selector. */
	with = queries_with("/api/v1/pods", false, "fieldSelector=spec.nodeName%3D" NODE, &total);
	assert_true(total >= 1);
	assert_int_equal(with, total);
	with = queries_with("/api/v1/pods", true, "fieldSelector=spec.nodeName%3D" NODE, &total);
	assert_true(total >= 1);
	assert_int_equal(with, total);
	assert_int_equal(queries_with("/api/v1/pods", true, "allowWatchBookmarks=true", &total),
			 total);

	assert_true(status().reachable);
	assert_string_equal(status().last_error, "");
	assert_int_equal(status().lists, 1);
	assert_true(status().watch_events >=
		    9); /* web-3, db-1, web-1, web-4 ×2, web-2, web-5, etcd ×2 */
	assert_true(status().last_sync_unix > 0);
	assert_int_equal(status().errors, 0);
}

static void test_paged_list(void **state)
{
	char name[32], uid[32];
	int total;

	fake_start(0, TOKEN_OK, false);
	/* Two full pages of KUBE_LIST_PAGE and one more pod, among other nodes' pods. */
	for (int i = 0; i < 2 * KUBE_LIST_PAGE + 1; i++) {
		snprintf(name, sizeof(name), "p-%d", i);
		snprintf(uid, sizeof(uid), "uid-p-%d", i);
		add_pod("ns", name, uid, NODE, NULL, NULL);
		if (i % 20 == 0) {
			snprintf(name, sizeof(name), "far-%d", i);
			snprintf(uid, sizeof(uid), "uid-far-%d", i);
			add_pod("ns", name, uid, "node-b", NULL, NULL);
		}
	}
	client_start(false, 0);
	WAIT_FOR(status().pods_synced);
	assert_int_equal(pod_count(), 2 * KUBE_LIST_PAGE + 1);
	assert_int_equal(status().lists, 1);
	assert_int_equal(queries_with("/api/v1/pods", false, "continue=", &total), 2);
	assert_int_equal(total, 3);
}

static void test_expired(void **state)
{
	uint64_t lists;

	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	add_pod("ns", "b", "uid-b", NODE, NULL, NULL);
	client_start(false, 0);
	WAIT_FOR(status().pods_synced);
	lists = status().lists;

	/*
	 * Changes the running watch never sees: held back, then the history is forgotten
	 * and the watch gets an ERROR 410. Only a relist can bring them.
	 */
	control("POST", "/fake/hold?on=1");
	add_pod("ns", "c", "uid-c", NODE, NULL, NULL);
	del_pod("ns", "a");
	control("POST", "/fake/expire");
	control("POST", "/fake/hold?on=0");
	WAIT_FOR(status().relists_410 >= 1 && has_pod("uid-c") && !has_pod("uid-a"));
	WAIT_FOR(status().lists == lists + 1 && status().pods_synced);
	assert_true(has_pod("uid-b"));

	/*
	 * The other form: the watch is cut, and the resumed watch's resourceVersion is too
	 * old, so the server answers HTTP 410 at once.
	 */
	control("POST", "/fake/hold?on=1");
	add_pod("ns", "d", "uid-d", NODE, NULL, NULL);
	del_pod("ns", "b");
	control("POST", "/fake/expire?keep_watches=1");
	control("POST", "/fake/drop");
	control("POST", "/fake/hold?on=0");
	WAIT_FOR(status().relists_410 >= 2 && has_pod("uid-d") && !has_pod("uid-b"));
	WAIT_FOR(status().lists == lists + 2 && status().pods_synced);
	assert_int_equal(pod_count(), 2); /* c, d */

	/* And the watch after the relist works. */
	add_pod("ns", "e", "uid-e", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-e"));
}

static void test_dropped(void **state)
{
	uint64_t lists, reconnects;

	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	client_start(false, 0);
	WAIT_FOR(status().pods_synced);
	lists = status().lists;
	reconnects = status().reconnects;

	for (int round = 1; round <= 3; round++) {
		char name[16], uid[16];

		control("POST", "/fake/drop");
		WAIT_FOR(status().reconnects >= reconnects + (uint64_t)round);
		snprintf(name, sizeof(name), "n%d", round);
		snprintf(uid, sizeof(uid), "uid-n%d", round);
		add_pod("ns", name, uid, NODE, NULL, NULL);
		WAIT_FOR(has_pod(uid));
	}
	/* The watch resumed from its resourceVersion: no relist was needed. */
	assert_int_equal(status().lists, lists);
	assert_true(has_pod("uid-a"));
	WAIT_FOR(status().pods_synced);
}

static void test_watch_timeout(void **state)
{
	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	client_start(false, 1); /* timeoutSeconds=1: the server ends each watch after 1 s */
	WAIT_FOR(status().pods_synced);
	WAIT_FOR(status().reconnects >= 2);
	add_pod("ns", "b", "uid-b", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-b"));
	/* Watches ended normally are resumed, never relisted, and are not errors. */
	assert_int_equal(status().lists, 1);
	assert_int_equal(status().errors, 0);
	assert_int_equal(queries_with("/api/v1/pods", true, "timeoutSeconds=1", &(int){0}) >= 2, 1);
}

static void test_long_event(void **state)
{
	size_t big = KUBE_LINE_MAX + 1024;
	char *body = malloc(big + 512);
	size_t len;

	assert_non_null(body);
	fake_start(0, TOKEN_OK, false);
	client_start(false, 0);
	WAIT_FOR(status().pods_synced);

	/* One event longer than the line buffer: the watch is abandoned and a LIST used. */
	len = (size_t)snprintf(body, 512,
			       "{\"metadata\": {\"name\": \"huge\", \"namespace\": \"ns\", "
			       "\"uid\": \"uid-huge\", \"annotations\": {\"blob\": \"");
	memset(body + len, 'x', big);
	len += big;
	snprintf(body + len, 512, "\"}}, \"spec\": {\"nodeName\": \"%s\"}}", NODE);
	assert_int_equal(fake_call("POST", "/fake/pods", body, NULL), 200);
	free(body);
	WAIT_FOR(has_pod("uid-huge") && status().lists >= 2);
	assert_true(status().errors >= 1);
	WAIT_FOR(status().pods_synced);
	add_pod("ns", "small", "uid-small", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-small"));
}

static void test_token_rotation(void **state)
{
	struct kube_status st;

	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	write_file(token_path, "stale-token\n");
	client_start(false, 0);
	WAIT_FOR(status().errors >= 2 && strstr(status().last_error, "401"));
	st = status();
	assert_string_equal(st.last_error, "GET /api/v1/pods: 401 Unauthorized");
	assert_null(strstr(st.last_error, "stale-token"));
	assert_true(st.reachable); /* it answered, with 401 */
	assert_false(st.pods_synced);
	assert_true(st.token_reloads >= 1); /* a 401 makes it read the file again */
	assert_int_equal(pod_count(), 0);

	/* The kubelet rotates the file: the next attempt uses the new token. */
	write_file(token_path, TOKEN_OK "\n");
	WAIT_FOR(status().pods_synced && has_pod("uid-a"));
	assert_string_equal(status().last_error, "");

	/* The server moves on to another token; the running watch is cut. */
	control("POST", "/fake/token?value=tok-2");
	control("POST", "/fake/drop");
	WAIT_FOR(strstr(status().last_error, "401"));
	assert_true(has_pod("uid-a")); /* kept meanwhile */
	write_file(token_path, "tok-2\n");
	WAIT_FOR(status().pods_synced);
	add_pod("ns", "b", "uid-b", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-b"));
	assert_string_equal(status().last_error, "");
}

static void test_server_restart(void **state)
{
	struct kube_status st;
	int port;

	fake_start(0, TOKEN_OK, true);
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	add_pod("ns", "b", "uid-b", NODE, NULL, NULL);
	client_start(false, 0);
	WAIT_FOR(status().pods_synced && pod_count() == 2);
	port = w.port;

	fake_kill(SIGKILL);
	WAIT_FOR(!status().reachable && status().last_error[0]);
	st = status();
	assert_false(st.pods_synced);
	assert_non_null(strstr(st.last_error, "GET /api/v1/pods"));
	/* Several attempts fail while it is down; the table keeps what it had. */
	WAIT_FOR(status().errors >= st.errors + 2);
	assert_int_equal(pod_count(), 2);
	assert_true(has_pod("uid-a") && has_pod("uid-b"));

	fake_start(port, TOKEN_OK, true); /* same port, same objects */
	WAIT_FOR(status().pods_synced && status().reachable);
	assert_string_equal(status().last_error, "");
	assert_int_equal(pod_count(), 2);
	add_pod("ns", "c", "uid-c", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-c"));
	assert_true(status().reconnects >= 1);
}

static void test_stop_is_prompt(void **state)
{
	uint64_t t0;

	/* Stopped in the middle of a watch. */
	fake_start(0, TOKEN_OK, false);
	client_start(true, 0);
	WAIT_FOR(status().pods_synced && status().strategies_synced);
	t0 = now_ms();
	kube_client_stop(w.client);
	w.client = NULL;
	assert_true(now_ms() - t0 < 1000);

	/* Stopped while a request waits for a slow answer. */
	control("POST", "/fake/slow?ms=4000");
	client_start(true, 0);
	usleep(100000); /* let it send its LIST; the slow answer is what is timed below */
	t0 = now_ms();
	kube_client_stop(w.client);
	w.client = NULL;
	assert_true(now_ms() - t0 < 1000);
	control("POST", "/fake/slow?ms=0");

	/* Stopped while backing off from an unreachable server. */
	fake_kill(SIGKILL);
	client_start(true, 0);
	WAIT_FOR(status().errors >= 2);
	t0 = now_ms();
	kube_client_stop(w.client);
	w.client = NULL;
	assert_true(now_ms() - t0 < 1000);
}

/* ---- SchedulingStrategies ---- */

static const struct strategy_rule *rec_find(const char *id, struct strategy_rule *copy)
{
	const struct strategy_rule *found = NULL;

	pthread_mutex_lock(&rec.lock);
	for (size_t i = 0; i < rec.n; i++)
		if (!strcmp(rec.rules[i].id, id)) {
			*copy = rec.rules[i];
			found = copy;
		}
	pthread_mutex_unlock(&rec.lock);
	return found;
}

static void test_strategies(void **state)
{
	struct strategy_rule r;
	struct kube_status st;
	const struct pod_set *set;
	uint64_t rejected, lists;
	unsigned int calls;

	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "upf-1", "uid-upf-1", NODE, "{\"app\": \"upf\"}", NULL);
	add_pod("other", "upf-2", "uid-upf-2", NODE, "{\"app\": \"upf\"}", NULL);
	add_pod("ns", "smf-1", "uid-smf-1", NODE, "{\"app\": \"smf\"}", NULL);
	add_strategy("web", "{\"selectors\": [{\"key\": \"app\", \"value\": \"upf\"}], "
			    "\"namespaces\": [\"ns\"], \"priority\": true}");
	client_start(true, 0);
	WAIT_FOR(status().strategies_synced && status().pods_synced);
	WAIT_FOR(rec_ids_are("k8s-web"));
	assert_non_null(rec_find("k8s-web", &r));
	assert_int_equal(r.source, STRATEGY_SRC_CLUSTER);
	assert_int_equal(r.effect.priority, STRATEGY_PRIO_MAX);
	assert_int_equal(r.nr_selectors, 1);
	assert_string_equal(r.selectors[0].key, "app");
	assert_string_equal(r.selectors[0].value, "upf");
	assert_int_equal(r.nr_namespaces, 1);
	assert_int_equal(strategy_rule_validate(&r, NULL, 0), 0);

	/* The rule picks, among the table's pods, the upf pod of namespace ns only. */
	set = pod_table_acquire(w.pods);
	assert_int_equal(pod_set_count(set), 3);
	for (size_t i = 0; i < pod_set_count(set); i++)
		assert_int_equal(pod_matches_rule(pod_set_at(set, i), &r),
				 !strcmp(pod_set_at(set, i)->uid, "uid-upf-1"));
	pod_set_release(set);

	/* Added while watching: the full set, sorted by name, after each change. */
	add_strategy("batch", "{\"command_regex\": \"^make$\", \"execution_time\": 20000000, "
			      "\"priority\": 0}");
	WAIT_FOR(rec_ids_are("k8s-batch,k8s-web"));
	assert_non_null(rec_find("k8s-batch", &r));
	assert_int_equal(r.effect.execution_time_ns, 20000000);
	assert_string_equal(r.command_regex, "^make$");

	/* Invalid ones are rejected and counted; the valid ones stay. */
	calls = rec_calls();
	add_strategy("bad-pid", "{\"pid\": 42, \"priority\": 5}");
	WAIT_FOR(status().strategies_rejected == 1);
	assert_non_null(strstr(status().last_rejected, "bad-pid: spec.pid: not allowed"));
	add_strategy("bad-regex", "{\"command_regex\": \"(\", \"priority\": 5}");
	add_strategy("bad-prio", "{\"command_regex\": \"x\", \"priority\": 99}");
	add_strategy("bad-key", "{\"command_regex\": \"x\", \"priority\": 1, \"colour\": 1}");
	add_strategy("a-name-that-is-far-too-long-to-become-a-strategy-id-0123456789",
		     "{\"command_regex\": \"x\", \"priority\": 1}");
	WAIT_FOR(status().strategies_rejected == 5);
	assert_non_null(strstr(status().last_rejected, "metadata.name"));
	assert_string_equal(rec_ids(), "k8s-batch,k8s-web");
	assert_int_equal(rec_calls(), calls); /* nothing valid changed: no call */
	assert_int_equal(status().nr_strategies, 2);

	/* A valid object turned invalid leaves the set; fixed, it comes back. */
	add_strategy("batch", "{\"command_regex\": \"^make$\", \"tid\": 7}");
	WAIT_FOR(rec_ids_are("k8s-web"));
	assert_int_equal(status().strategies_rejected, 6);
	add_strategy("batch", "{\"command_regex\": \"^make$\", \"priority\": 3}");
	WAIT_FOR(rec_ids_are("k8s-batch,k8s-web"));

	/* A relist neither repeats the rejections nor loses anything. */
	rejected = status().strategies_rejected;
	lists = status().lists;
	control("POST", "/fake/expire");
	/* Both watches (pods and strategies) are told 410 and both relist. */
	WAIT_FOR(status().relists_410 >= 2 && status().lists >= lists + 2);
	WAIT_FOR(status().strategies_synced);
	assert_int_equal(status().strategies_rejected, rejected);
	assert_string_equal(rec_ids(), "k8s-batch,k8s-web");

	/* Deleted: gone from the next call. */
	del_strategy("web");
	WAIT_FOR(rec_ids_are("k8s-batch"));
	del_strategy("bad-pid");
	del_strategy("batch");
	WAIT_FOR(rec_ids_are(""));
	assert_int_equal(status().nr_strategies, 0);

	/* The daemon may refuse a set: that is an error, and the watch goes on. */
	pthread_mutex_lock(&rec.lock);
	rec.refuse = true;
	pthread_mutex_unlock(&rec.lock);
	add_strategy("late", "{\"command_regex\": \"x\", \"priority\": 1}");
	WAIT_FOR(strstr(status().last_error, "refused by the test"));
	st = status();
	assert_true(st.errors >= 1);
	assert_true(st.strategies_synced && st.pods_synced);

	/* report_status is off here: after all that, not one write to the API. */
	assert_int_equal(fake_patches(), 0);
	assert_int_equal(st.status_patches + st.status_patch_errors, 0);
}

static void test_crd_missing(void **state)
{
	struct kube_status st;

	fake_start(0, TOKEN_OK, false);
	control("POST", "/fake/crd?installed=0");
	add_pod("ns", "a", "uid-a", NODE, NULL, NULL);
	client_start(true, 0);
	WAIT_FOR(status().pods_synced && has_pod("uid-a"));
	WAIT_FOR(status().errors >= 2);
	st = status();
	assert_false(st.strategies_synced);
	assert_non_null(strstr(st.last_error, "schedulingstrategies: 404 Not Found"));
	assert_int_equal(rec_calls(), 0);
	/* Pods work meanwhile. */
	add_pod("ns", "b", "uid-b", NODE, NULL, NULL);
	WAIT_FOR(has_pod("uid-b"));

	/* The CRD is installed later: picked up by the retries. */
	control("POST", "/fake/crd?installed=1");
	add_strategy("web", "{\"namespaces\": [\"ns\"], \"priority\": 4}");
	WAIT_FOR(status().strategies_synced && rec_ids_are("k8s-web"));
	assert_string_equal(status().last_error, "");
}

/* ---- status reports ---- */

static void test_status_report(void **state)
{
	json_int_t patches;

	fake_start(0, TOKEN_OK, false);
	add_strategy("good", "{\"command_regex\": \"^nginx$\", \"priority\": 3}");
	add_strategy("bad", "{\"command_regex\": \"x\", \"priority\": 99}");
	/* Another node reported first: a merge patch must leave its entry alone. */
	add_strategy_status("shared", "{\"namespaces\": [\"ns\"], \"priority\": 2}",
			    "{\"nodes\": {\"node-b\": {\"applied\": false, \"message\": \"old\", "
			    "\"updated\": \"2024-01-01T00:00:00Z\"}}}");
	w.report_status = true;
	client_start(true, 0);
	WAIT_FOR(report_is("good", NODE, true, ""));
	WAIT_FOR(report_is("bad", NODE, false, "spec.priority"));
	WAIT_FOR(report_is("shared", NODE, true, ""));
	assert_true(report_is("shared", "node-b", false, "old"));
	WAIT_FOR(status().status_patches == 3);
	assert_int_equal(fake_patches(), 3);
	assert_int_equal(status().status_patch_errors, 0);
	assert_string_equal(rec_ids(), "k8s-good,k8s-shared");

	/*
	 * Each patch came back as a MODIFIED event with the same spec: no call, no patch.
	 * Checked after a later event, which the client handles after those: "zzz-" sorts
	 * last, so once its report is in, the round it belongs to is over.
	 */
	add_strategy("zzz-marker-1", VALID);
	WAIT_FOR(report_is("zzz-marker-1", NODE, true, ""));
	WAIT_FOR(status().status_patches == 4);
	assert_int_equal(fake_patches(), 4);
	assert_int_equal(rec_calls(), 2);		   /* the list, then zzz-marker-1 */
	assert_int_equal(status().strategies_rejected, 1); /* "bad" once, not its echo */

	/* Another node's report is a status-only change too. */
	assert_int_equal(patch_status("good", "application/merge-patch+json", "node-b", true), 200);
	add_strategy("zzz-marker-2", VALID);
	WAIT_FOR(report_is("zzz-marker-2", NODE, true, ""));
	WAIT_FOR(status().status_patches == 5);
	assert_int_equal(fake_patches(), 6); /* ours and the test's */
	assert_int_equal(rec_calls(), 3);
	assert_true(report_is("good", NODE, true, "") && report_is("good", "node-b", true, ""));

	/* Fixed, the rejected one is applied; broken, an applied one says why not. */
	add_strategy("bad", "{\"command_regex\": \"x\", \"priority\": 5}");
	WAIT_FOR(report_is("bad", NODE, true, ""));
	add_strategy("good", "{\"command_regex\": \"^nginx$\", \"tid\": 7}");
	WAIT_FOR(report_is("good", NODE, false, "spec.tid"));
	assert_true(report_is("good", "node-b", true, ""));
	WAIT_FOR(rec_ids_are("k8s-bad,k8s-shared,k8s-zzz-marker-1,k8s-zzz-marker-2"));
	WAIT_FOR(status().status_patches == 7);

	/*
	 * A refused set: the new object says so; the others keep the daemon's previous set
	 * (all or nothing), so they stay applied and are not patched.
	 */
	set_refuse(true);
	add_strategy("late", VALID);
	WAIT_FOR(report_is("late", NODE, false, "refused by the daemon: refused by the test"));
	set_refuse(false);
	add_strategy("zzz-marker-3", VALID);
	WAIT_FOR(report_is("zzz-marker-3", NODE, true, ""));
	assert_true(report_is("late", NODE, true, ""));
	WAIT_FOR(status().status_patches == 10); /* late twice, zzz-marker-3 */
	assert_int_equal(fake_patches(), 11);

	/* A deleted object is forgotten: the same one created again is reported again. */
	del_strategy("late");
	WAIT_FOR(!strstr(rec_ids(), "k8s-late"));
	add_strategy("late", VALID);
	WAIT_FOR(report_is("late", NODE, true, ""));
	WAIT_FOR(status().status_patches == 11);

	/* A restarted client finds its reports in the statuses: nothing to send again. */
	kube_client_stop(w.client);
	w.client = NULL;
	patches = fake_patches();
	client_start(true, 0);
	WAIT_FOR(status().strategies_synced);
	add_strategy("zzz-marker-4", VALID);
	WAIT_FOR(report_is("zzz-marker-4", NODE, true, ""));
	WAIT_FOR(status().status_patches == 1);
	assert_int_equal(fake_patches(), patches + 1);
	assert_int_equal(status().status_patch_errors, 0);
	assert_string_equal(status().last_error, "");
}

static void test_status_errors(void **state)
{
	struct kube_status st;
	json_int_t patches;
	uint64_t t0;

	fake_start(0, TOKEN_OK, false);
	/* The fake itself: merge patches only, of known objects. */
	add_strategy("a", VALID);
	assert_int_equal(patch_status("a", "application/json", NODE, true), 415);
	assert_int_equal(patch_status("nope", "application/merge-patch+json", NODE, true), 404);
	assert_int_equal(fake_patches(), 2);

	/* RBAC without patch on schedulingstrategies/status. */
	control("POST", "/fake/patchfail?code=403");
	w.report_status = true;
	client_start(true, 0);
	WAIT_FOR(rec_ids_are("k8s-a"));
	WAIT_FOR(status().status_patch_errors == 1);
	/* The watch goes on; a failed report is not tried again for the same version. */
	add_strategy("b", VALID);
	WAIT_FOR(rec_ids_are("k8s-a,k8s-b"));
	WAIT_FOR(status().status_patch_errors == 2);
	assert_int_equal(fake_patches(), 4);

	/* The object is gone (404), the server fails (503), or does not answer at all. */
	control("POST", "/fake/patchfail?code=404");
	add_strategy("c", VALID);
	WAIT_FOR(rec_ids_are("k8s-a,k8s-b,k8s-c"));
	WAIT_FOR(status().status_patch_errors == 3);
	control("POST", "/fake/patchfail?code=503");
	add_strategy("d", VALID);
	WAIT_FOR(rec_ids_are("k8s-a,k8s-b,k8s-c,k8s-d"));
	WAIT_FOR(status().status_patch_errors == 4);
	assert_int_equal(fake_patches(), 6);
	control("POST", "/fake/patchfail?code=1");
	add_strategy("e", VALID);
	WAIT_FOR(rec_ids_are("k8s-a,k8s-b,k8s-c,k8s-d,k8s-e"));
	WAIT_FOR(status().status_patch_errors == 5);
	st = status();
	assert_int_equal(st.status_patches, 0);
	assert_int_equal(st.errors, 0); /* not the client's errors: they do not show there */
	assert_string_equal(st.last_error, "");
	assert_true(st.strategies_synced && st.reachable);

	/* Patches work again: a new version of "a" is reported, the others wait for theirs. */
	control("POST", "/fake/patchfail?code=0");
	patches = fake_patches();
	add_strategy("a", "{\"command_regex\": \"^x$\", \"priority\": 2}");
	WAIT_FOR(report_is("a", NODE, true, ""));
	WAIT_FOR(status().status_patches == 1);
	add_strategy("zzz-marker", VALID);
	WAIT_FOR(report_is("zzz-marker", NODE, true, ""));
	WAIT_FOR(status().status_patches == 2);
	assert_int_equal(fake_patches(), patches + 2);
	assert_int_equal(status().status_patch_errors, 5);

	/* Stopped while a report waits for a slow answer: it ends at once all the same. */
	control("POST", "/fake/slow?ms=4000");
	add_strategy("slow", VALID);
	WAIT_FOR(strstr(rec_ids(), "k8s-slow"));
	usleep(100000); /* let the report go out; the slow answer is what is timed below */
	t0 = now_ms();
	kube_client_stop(w.client);
	w.client = NULL;
	assert_true(now_ms() - t0 < 1000);
	control("POST", "/fake/slow?ms=0");
}

/* ---- https ---- */

/* @name in the test's TLS directory. */
static const char *tls_file(const char *name)
{
	static char paths[8][4200];
	static unsigned int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s/%s", tls_dir, name);
	return p;
}

/* The base64 of file @name in the TLS directory, for a kubeconfig's *-data fields. */
static const char *tls_base64(const char *name)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char out[2][6000];
	static unsigned int next;
	unsigned char in[4096];
	char *o = out[next++ % 2];
	FILE *f = fopen(tls_file(name), "r");
	size_t n, i, k = 0;

	assert_non_null(f);
	n = fread(in, 1, sizeof(in), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(in));
	for (i = 0; i < n; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
				 (i + 2 < n ? in[i + 2] : 0);

		o[k++] = abc[v >> 18 & 63];
		o[k++] = abc[v >> 12 & 63];
		o[k++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		o[k++] = i + 2 < n ? abc[v & 63] : '=';
	}
	o[k] = '\0';
	return o;
}

/* A fresh client with these kubeconfig cluster and user entries (YAML lines). */
static void tls_client_start(const char *cluster, const char *user)
{
	kube_client_stop(w.client);
	w.client = NULL;
	snprintf(kc_cluster, sizeof(kc_cluster), "%s", cluster);
	snprintf(kc_user, sizeof(kc_user), "%s", user);
	client_start(false, 0);
}

static bool last_error_has(const char *needle)
{
	return strstr(status().last_error, needle) != NULL;
}

/* LIST and WATCH work over https: the pod there at the start and one added later arrive. */
static void expect_synced_over_tls(const char *next_uid)
{
	char name[64];

	WAIT_FOR(status().pods_synced && has_pod("uid-tls-1"));
	snprintf(name, sizeof(name), "pod-%s", next_uid);
	add_pod("ns", name, next_uid, NODE, NULL, NULL);
	WAIT_FOR(has_pod(next_uid));
	assert_string_equal(status().last_error, "");
}

/*
 * The API server is reached over https in every real cluster: the kubeconfig's CA (file
 * or inline data), insecure-skip-tls-verify, the in-cluster ca.crt; and the wrong CA or
 * none fails with the TLS error in last_error, not a silent retry.
 */
static void test_tls_server(void **state)
{
	char line[8200], sa[128], path[192], port[16];
	struct kube_client_options o = {
	    .node_name = NODE, .on_strategies = on_strategies, .ctx = &rec, .backoff_max_ms = 400};
	char err[256] = "";
	FILE *in, *out;

	fake_tls = FAKE_TLS;
	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "tls-1", "uid-tls-1", NODE, NULL, NULL);

	snprintf(line, sizeof(line), "    certificate-authority: %s\n", tls_file("ca.crt"));
	tls_client_start(line, "");
	expect_synced_over_tls("uid-tls-2");

	snprintf(line, sizeof(line), "    certificate-authority-data: %s\n", tls_base64("ca.crt"));
	tls_client_start(line, "");
	expect_synced_over_tls("uid-tls-3");

	tls_client_start("    insecure-skip-tls-verify: true\n", "");
	expect_synced_over_tls("uid-tls-4");

	/* A CA that did not sign the server's certificate: refused, and said why. */
	snprintf(line, sizeof(line), "    certificate-authority: %s\n", tls_file("other-ca.crt"));
	tls_client_start(line, "");
	WAIT_FOR(status().errors >= 2 && last_error_has("certificate"));
	assert_false(status().pods_synced);
	assert_false(status().reachable);
	/* No CA at all: the system's CAs do not know the test CA either. */
	tls_client_start("", "");
	WAIT_FOR(status().errors >= 2 && last_error_has("certificate"));
	assert_false(status().pods_synced);
	kube_client_stop(w.client);
	w.client = NULL;

	/* In a pod: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, sa/ca.crt. */
	snprintf(sa, sizeof(sa), "%s/sa-tls", dir);
	mkdir(sa, 0700);
	snprintf(path, sizeof(path), "%s/token", sa);
	write_file(path, TOKEN_OK "\n");
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	in = fopen(tls_file("ca.crt"), "r");
	out = fopen(path, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in))
		fputs(line, out);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	snprintf(port, sizeof(port), "%d", w.port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	o.sa_dir = sa;
	o.pods = w.pods;
	w.client = kube_client_start(&o, err, sizeof(err));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	if (!w.client)
		fail_msg("kube_client_start (in-cluster): %s", err);
	expect_synced_over_tls("uid-tls-5");
}

/* A kubeconfig user with a client certificate (file or inline) needs no token. */
static void test_tls_client_cert(void **state)
{
	char cluster[4400], user[8000];

	fake_tls = FAKE_TLS_CLIENT_CERTS;
	fake_start(0, TOKEN_OK, false);
	add_pod("ns", "tls-1", "uid-tls-1", NODE, NULL, NULL);
	snprintf(cluster, sizeof(cluster), "    certificate-authority: %s\n", tls_file("ca.crt"));

	snprintf(user, sizeof(user), "    client-certificate: %s\n    client-key: %s\n",
		 tls_file("client.crt"), tls_file("client.key"));
	tls_client_start(cluster, user);
	expect_synced_over_tls("uid-tls-2");

	snprintf(user, sizeof(user), "    client-certificate-data: %s\n    client-key-data: %s\n",
		 tls_base64("client.crt"), tls_base64("client.key"));
	tls_client_start(cluster, user);
	expect_synced_over_tls("uid-tls-3");

	/* Neither a certificate nor a token: the server answers 401, and the client says so. */
	tls_client_start(cluster, "    username: nobody\n");
	WAIT_FOR(last_error_has("401"));
	assert_false(status().pods_synced);
	assert_true(status().reachable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_kubeconfig),
	    cmocka_unit_test(test_in_cluster),
	    cmocka_unit_test_setup_teardown(test_list_watch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paged_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_strategies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crd_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_report, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls_client_cert, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
