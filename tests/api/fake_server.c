// SPDX-License-Identifier: GPL-2.0
/*
 * The real REST API server with a fake scheduler behind it, for the CLI's tests
 * (tests/cli): no kernel, no BPF, no root needed.
 *
 *   api-fake-server --socket PATH [--listen HOST:PORT (--token-file F | --no-auth)]
 *                   [--state FILE]
 *
 * The backend is fixed: attached, 4 CPUs, the original's counters with known values, a
 * configuration kept in memory (PATCH /api/v1/config changes it), one fake pod. The
 * strategy store is real (persisted to --state when given) and feeds the real resolver,
 * so per-strategy stats work. Prints "ready" on stdout once listening (then "port N"
 * when there is a TCP listener) and exits 0 on SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "api/api.h"
#include "strategy/store.h"
#include "strategy/strategy.h"

static struct {
	pthread_mutex_t lock;
	struct gthulhu_config cfg; /* large: static, not on a stack */
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const struct {
	const char *name, *help;
	uint64_t value;
	bool gauge;
} counters[] = {
    {"usersched_last_run_at", "Last time the user-space scheduler ran (ns).", 123456789, true},
    {"nr_queued", "Tasks waiting in user space.", 3, true},
    {"nr_scheduled", "Tasks the scheduler holds.", 2, true},
    {"nr_running", "Tasks running.", 4, true},
    {"nr_online_cpus", "CPUs online.", 4, true},
    {"nr_user_dispatches", "Tasks dispatched by user space.", 1000, false},
    {"nr_kernel_dispatches", "Tasks dispatched by the BPF half.", 200, false},
    {"nr_cancel_dispatches", "Dispatches cancelled.", 5, false},
    {"nr_bounce_dispatches", "Dispatches bounced.", 6, false},
    {"nr_failed_dispatches", "Dispatches failed.", 7, false},
    {"nr_sched_congested", "Times the dispatch ring was full.", 8, false},
};

static void read_view(void *ctx, struct api_sched_view *v)
{
	struct utsname u;

	v->attached = true;
	v->uptime_s = 42;
	v->attached_s = 40;
	v->restarts = 1;
	snprintf(v->version, sizeof(v->version), "fake");
	snprintf(v->kernel, sizeof(v->kernel), "%s", uname(&u) ? "unknown" : u.release);
	snprintf(v->ops_name, sizeof(v->ops_name), "gthulhu");
	v->kfunc_api = 3;
	v->nr_counters = sizeof(counters) / sizeof(counters[0]);
	for (size_t i = 0; i < v->nr_counters; i++) {
		v->counters[i].name = counters[i].name;
		v->counters[i].help = counters[i].help;
		v->counters[i].value = counters[i].value;
		v->counters[i].gauge = counters[i].gauge;
	}
	v->nr_cpus = 4;
	for (uint32_t c = 0; c < 4; c++)
		v->cpu_dispatches[c] = 100 * (c + 1);
	v->loop_batches = 50;
	v->loop_records = 1200;
	v->loop_decisions = 1200;
	for (int i = 0; i < API_LATENCY_BUCKETS; i++)
		v->loop_latency_hist[i] = (uint64_t)(i < 8 ? 8 - i : 0);
}

static void get_config(void *ctx, struct gthulhu_config *out)
{
	pthread_mutex_lock(&fake.lock);
	*out = fake.cfg;
	pthread_mutex_unlock(&fake.lock);
}

static int apply_config(void *ctx, const struct gthulhu_config *next, const char *const *keys,
			size_t nkeys, char *err, size_t errlen)
{
	pthread_mutex_lock(&fake.lock);
	fake.cfg = *next;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static json_t *pods(void *ctx)
{
	return json_pack("{s:[{s:s, s:s, s:s, s:s, s:[{s:i, s:s, s:i}]}]}", "pods", "pod_name",
			 "fake-pod", "namespace", "default", "pod_uid",
			 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "container_id", "c0ffee",
			 "processes", "pid", (int)getpid(), "command", "api-fake-server", "ppid",
			 (int)getppid());
}

static size_t pod_metrics(void *ctx, struct api_pod_metrics *out, size_t max)
{
	if (!max)
		return 0;
	memset(out, 0, sizeof(*out));
	snprintf(out->uid, sizeof(out->uid), "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	snprintf(out->name, sizeof(out->name), "fake-pod");
	snprintf(out->namespace, sizeof(out->namespace), "default");
	out->containers = 1;
	out->cpu_ns = 2500000000ull;
	out->wait_ns = 125000000ull;
	out->runs = 42;
	out->voluntary_switches = 40;
	out->involuntary_switches = 2;
	out->migrations = 7;
	return 1;
}

static int to_resolver(const struct strategy_rule *rules, size_t n, void *ctx)
{
	return strategy_resolver_set_rules(rules, n);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: api-fake-server --socket PATH [--listen HOST:PORT "
		   "(--token-file FILE | --no-auth)] [--state FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"listen", required_argument, NULL, 'l'},
	    {"token-file", required_argument, NULL, 't'},
	    {"no-auth", no_argument, NULL, 'n'},
	    {"state", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct api_options opt = {0};
	const char *state = NULL;
	struct api_server *srv;
	char err[512];
	sigset_t sigs;
	int c, sig;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.unix_path = optarg;
			break;
		case 'l':
			opt.tcp_addr = optarg;
			break;
		case 't':
			opt.token_file = optarg;
			break;
		case 'n':
			opt.tcp_auth_disabled = true;
			break;
		case 'S':
			state = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !opt.unix_path) {
		usage(stderr);
		return 2;
	}
	/* Blocked before any thread starts, so every thread inherits it and sigwait() gets it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	config_set_defaults(&fake.cfg);
	opt.store = strategy_store_new(state);
	if (!opt.store || strategy_resolver_start(NULL, 0, "/proc", 1000)) {
		fprintf(stderr, "api-fake-server: cannot set up the strategy store or resolver\n");
		return 1;
	}
	strategy_store_on_change(opt.store, to_resolver, NULL);
	if (strategy_store_load(opt.store, err, sizeof(err))) {
		fprintf(stderr, "api-fake-server: %s\n", err);
		return 1;
	}
	opt.backend = (struct api_backend){
	    .read_view = read_view,
	    .get_config = get_config,
	    .apply_config = apply_config,
	    .pods = pods,
	    .pod_metrics = pod_metrics,
	};
	srv = api_start(&opt, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "api-fake-server: %s\n", err);
		return 1;
	}
	printf("ready\n");
	if (api_tcp_port(srv))
		printf("port %u\n", api_tcp_port(srv));
	fflush(stdout);

	while (sigwait(&sigs, &sig))
		;
	api_stop(srv);
	strategy_resolver_stop();
	strategy_store_free(opt.store);
	return 0;
}
