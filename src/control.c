/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control plane (see control.h): the running configuration, reloads, the strategy
 * store and the REST API's view of the scheduler.
 *
 * One mutex guards the running configuration and the attach state; the API threads and the
 * reload thread take it, the scheduling loop never does. Reloads run on a thread of their
 * own because reading a file and rebuilding strategies may take milliseconds, which the
 * loop must never spend.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "bpf_skel.h"
#include "control.h"
#include "counters.h"
#include "k8s_agent.h"
#include "log/log.h"
#include "stats.h"
#include "proc_events.h"
#include "strategy/store.h"
#include "strategy/strategy.h"
#include "thread.h"

#define RESOLVE_INTERVAL_MS 100

static struct {
	pthread_mutex_t lock;
	struct gthulhu_config running; /* large: static */
	struct gthulhu_config next;    /* the reload's scratch copy */
	const char *config_path;
	struct strategy_store *store;
	struct api_server *api;
	pthread_t reload_thread;
	bool reload_running;
	int reload_fd; /* eventfd: 1 = reload, a large value = stop */
	/* Attach state, for the API. */
	struct loader *ld;
	struct sched_loop *loop;
	time_t started, attached_at;
	uint64_t attaches;
	struct gthulhu_exit_info last_exit;
} ctl = {.lock = PTHREAD_MUTEX_INITIALIZER, .reload_fd = -1};

#define STOP_VALUE 0x100000000ull

struct policy_config control_policy_of(const struct gthulhu_config *cfg)
{
	struct policy_config p = {
	    .slice_max_ns = cfg->slice_ns_default,
	    .slice_min_ns = cfg->slice_ns_min,
	};
	return p;
}

/* The slice and debug knobs of @cfg into both halves of the scheduler. With ctl.lock held. */
static void push_live_knobs(const struct gthulhu_config *cfg)
{
	struct policy_config p = control_policy_of(cfg);

	if (ctl.loop)
		sched_loop_request_policy(ctl.loop, &p);
	if (ctl.ld && ctl.ld->skel)
		loader_set_live_knobs(ctl.ld->skel, cfg);
	log_set_level(cfg->debug ? LOG_DEBUG : LOG_INFO);
}

/* Live knobs from @next into the running system. With ctl.lock held. */
static void apply_live(const struct gthulhu_config *next)
{
	push_live_knobs(next);
	if (next->stats_interval_s != ctl.running.stats_interval_s)
		stats_set_interval(next->stats_interval_s);
	ctl.running.slice_ns_default = next->slice_ns_default;
	ctl.running.slice_ns_min = next->slice_ns_min;
	ctl.running.stats_interval_s = next->stats_interval_s;
	ctl.running.debug = next->debug;
}

/* ---- reload (SIGHUP) -------------------------------------------------------------------- */

/* Whether keys that only apply at the next start differ between @a and @b. */
static bool restart_only_keys_differ(const struct gthulhu_config *a, const struct gthulhu_config *b)
{
	struct config_value va[64], vb[64];
	size_t n = config_values(a, va, 64);

	config_values(b, vb, 64);
	for (size_t i = 0; i < n; i++) {
		if (va[i].live)
			continue;
		if (va[i].kind == CONFIG_STRING ? strcmp(va[i].string, vb[i].string) != 0
						: va[i].number != vb[i].number)
			return true;
	}
	return false;
}

static void reload(void)
{
	char err[512];
	struct log_rec *r;

	if (!ctl.config_path) {
		log_msg(LOG_WARN, "reload asked for, but Gthulhu was started without --config");
		return;
	}
	pthread_mutex_lock(&ctl.lock);
	if (config_load_file(ctl.config_path, &ctl.next, err, sizeof(err))) {
		pthread_mutex_unlock(&ctl.lock);
		r = log_begin(LOG_WARN, "reload rejected: keeping the running configuration");
		log_str(r, "error", err);
		log_end(r);
		return;
	}
	if (strategy_store_set_config(ctl.store, ctl.next.rules, ctl.next.nr_rules, err,
				      sizeof(err))) {
		pthread_mutex_unlock(&ctl.lock);
		r = log_begin(LOG_WARN, "reload rejected: keeping the running configuration");
		log_str(r, "error", err);
		log_end(r);
		return;
	}
	if (restart_only_keys_differ(&ctl.running, &ctl.next))
		log_msg(LOG_WARN, "builtin_idle, early_processing, stall_timeout_ms and api.* "
				  "apply at the next start");
	apply_live(&ctl.next);
	memcpy(ctl.running.rules, ctl.next.rules, sizeof(ctl.running.rules));
	ctl.running.nr_rules = ctl.next.nr_rules;
	pthread_mutex_unlock(&ctl.lock);
	r = log_begin(LOG_INFO, "configuration reloaded");
	log_u64(r, "strategies", ctl.next.nr_rules);
	log_end(r);
}

static void *reload_main(void *arg)
{
	struct pollfd pfd = {.fd = ctl.reload_fd, .events = POLLIN};

	for (;;) {
		uint64_t v = 0;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		if (read(ctl.reload_fd, &v, sizeof(v)) != sizeof(v))
			continue;
		if (v >= STOP_VALUE)
			break;
		reload();
	}
	return NULL;
}

void control_request_reload(void)
{
	uint64_t one = 1;

	/* Non-blocking eventfd: several SIGHUPs before the thread runs make one reload. */
	if (ctl.reload_fd >= 0 && write(ctl.reload_fd, &one, sizeof(one)) < 0)
		log_msg(LOG_WARN, "reload request lost: %s", strerror(errno));
}

/* ---- the API's backend ------------------------------------------------------------------ */

static void read_view(void *ctx, struct api_sched_view *v)
{
	struct utsname u;
	time_t now = time(NULL);

	memset(v, 0, sizeof(*v));
	snprintf(v->version, sizeof(v->version), "%s", GTHULHU_VERSION);
	if (!uname(&u))
		snprintf(v->kernel, sizeof(v->kernel), "%s", u.release);
	snprintf(v->ops_name, sizeof(v->ops_name), "gthulhu");

	pthread_mutex_lock(&ctl.lock);
	v->uptime_s = (uint64_t)(now - ctl.started);
	v->restarts = ctl.attaches ? ctl.attaches - 1 : 0;
	if (ctl.ld && ctl.ld->skel) {
		const struct gthulhu_counters *c = &ctl.ld->skel->bss->counters;
		const struct gthulhu_cpu_state *cs = ctl.ld->skel->bss->cpu_state;
		struct loop_stats ls;

		v->attached = true;
		v->attached_s = (uint64_t)(now - ctl.attached_at);
		v->kfunc_api = (uint32_t)ctl.ld->skel->bss->kfunc_api_in_use;
		for (size_t i = 0; i < nr_counter_descs && i < 40; i++) {
			v->counters[i].name = counter_descs[i].name;
			v->counters[i].help = counter_descs[i].help;
			v->counters[i].gauge = counter_descs[i].gauge;
			v->counters[i].value = counter_read(c, &counter_descs[i]);
			v->nr_counters = i + 1;
		}
		v->nr_cpus = (uint32_t)libbpf_num_possible_cpus();
		if (v->nr_cpus > API_MAX_CPUS)
			v->nr_cpus = API_MAX_CPUS;
		if (v->nr_cpus > GTHULHU_MAX_CPUS)
			v->nr_cpus = GTHULHU_MAX_CPUS;
		for (uint32_t i = 0; i < v->nr_cpus; i++)
			v->cpu_dispatches[i] = __atomic_load_n(&cs[i].nr_started, __ATOMIC_RELAXED);
		if (ctl.loop) {
			sched_loop_stats(ctl.loop, &ls);
			v->loop_batches = ls.batches;
			v->loop_records = ls.records;
			v->loop_decisions = ls.decisions;
			for (int i = 0; i < API_LATENCY_BUCKETS && i < LOOP_LATENCY_BUCKETS; i++)
				v->loop_latency_hist[i] = ls.latency_hist[i];
		}
	}
	v->last_exit.kind = ctl.last_exit.kind;
	v->last_exit.exit_code = ctl.last_exit.exit_code;
	snprintf(v->last_exit.reason, sizeof(v->last_exit.reason), "%s", ctl.last_exit.reason);
	snprintf(v->last_exit.msg, sizeof(v->last_exit.msg), "%s", ctl.last_exit.msg);
	pthread_mutex_unlock(&ctl.lock);
}

static void get_config(void *ctx, struct gthulhu_config *out)
{
	pthread_mutex_lock(&ctl.lock);
	memcpy(out, &ctl.running, sizeof(*out));
	pthread_mutex_unlock(&ctl.lock);
}

/*
 * Only the keys the request named change, on top of the running configuration as it is
 * now under the lock: a reload that ran since the API read it is not undone.
 */
static int apply_config(void *ctx, const struct gthulhu_config *next, const char *const *keys,
			size_t nkeys, char *err, size_t errlen)
{
	struct gthulhu_config *merged = &ctl.next; /* the reload's scratch: same lock */
	struct log_rec *r;

	pthread_mutex_lock(&ctl.lock);
	memcpy(merged, &ctl.running, sizeof(*merged));
	for (size_t i = 0; i < nkeys; i++) {
		if (!config_key_is_live(keys[i]) || config_copy_key(merged, next, keys[i])) {
			pthread_mutex_unlock(&ctl.lock);
			snprintf(err, errlen, "%s: not a live key", keys[i]);
			return -1;
		}
	}
	/* The API checked the request against what it read; a reload since may clash. */
	if (config_check(merged, err, errlen)) {
		pthread_mutex_unlock(&ctl.lock);
		return API_CONFIG_CONFLICT;
	}
	apply_live(merged);
	r = log_begin(LOG_INFO, "live configuration changed");
	log_u64(r, "slice_ns_default", merged->slice_ns_default);
	log_u64(r, "slice_ns_min", merged->slice_ns_min);
	log_u64(r, "stats_interval_s", merged->stats_interval_s);
	log_bool(r, "debug", merged->debug);
	log_end(r);
	pthread_mutex_unlock(&ctl.lock);
	return 0;
}

/* ---- life cycle ------------------------------------------------------------------------- */

static int push_rules(const struct strategy_rule *rules, size_t n, void *ctx)
{
	return strategy_resolver_set_rules(rules, n);
}

static json_t *pods_json(void *ctx)
{
	return k8s_agent_pods_json();
}

static void k8s_view(void *ctx, struct api_k8s_view *out)
{
	k8s_agent_view(out);
}

static size_t pod_metrics(void *ctx, struct api_pod_metrics *out, size_t max)
{
	return k8s_agent_pod_metrics(out, max);
}

static int start_api(const struct gthulhu_config *cfg)
{
	struct api_options opt = {
	    .unix_path = cfg->api_socket,
	    .tcp_addr = cfg->api_listen,
	    .token_file = cfg->api_token_file,
	    .tcp_auth_disabled = cfg->api_loopback_no_auth,
	    .store = ctl.store,
	    .backend = {.read_view = read_view,
			.get_config = get_config,
			.apply_config = apply_config,
			.pods = pods_json,
			.kubernetes = k8s_view,
			.pod_metrics = pod_metrics},
	};
	struct log_rec *r;
	char err[512];

	ctl.api = api_start(&opt, err, sizeof(err));
	if (!ctl.api) {
		r = log_begin(LOG_ERROR, "cannot start the REST API");
		log_str(r, "error", err);
		log_end(r);
		return -1;
	}
	r = log_begin(LOG_INFO, "REST API listening");
	log_str(r, "socket", cfg->api_socket);
	if (cfg->api_listen[0])
		log_str(r, "listen", cfg->api_listen);
	log_end(r);
	return 0;
}

int control_start(const struct gthulhu_config *cfg, const char *config_path, const char *proc_root)
{
	struct strategy_rule *all = NULL;
	char err[512];
	size_t n;
	int rc;

	ctl.config_path = config_path;
	ctl.started = time(NULL);
	memcpy(&ctl.running, cfg, sizeof(ctl.running));
	ctl.store = strategy_store_new(cfg->api_state_file);
	if (!ctl.store)
		goto fail_nomem;
	if (strategy_store_load(ctl.store, err, sizeof(err)) ||
	    strategy_store_set_config(ctl.store, cfg->rules, cfg->nr_rules, err, sizeof(err))) {
		struct log_rec *r = log_begin(LOG_ERROR, "cannot load the strategies");

		log_str(r, "error", err);
		log_end(r);
		goto fail;
	}
	all = calloc(STRATEGY_MAX_RULES, sizeof(*all));
	if (!all)
		goto fail_nomem;
	n = strategy_store_list(ctl.store, all, STRATEGY_MAX_RULES);
	rc = strategy_resolver_start(all, n, proc_root, RESOLVE_INTERVAL_MS);
	free(all);
	if (rc) {
		log_msg(LOG_ERROR, "cannot start the strategy resolver: %s", strerror(-rc));
		goto fail;
	}
	/* From here on the store feeds the resolver. */
	strategy_store_on_change(ctl.store, push_rules, NULL);
	rc = proc_events_start();
	if (rc)
		log_msg(LOG_WARN, "no process events (%s): the strategy resolver rescans /proc",
			strerror(-rc));

	ctl.reload_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = ctl.reload_fd < 0 ? errno
			       : thread_start(&ctl.reload_thread, "gt-reload", reload_main, NULL);
	if (rc) {
		log_msg(LOG_ERROR, "cannot start the reload thread: %s", strerror(rc));
		goto fail_resolver;
	}
	ctl.reload_running = true;
	if (k8s_agent_start(cfg, ctl.store))
		goto fail_resolver;
	if (cfg->api_enabled && (cfg->api_socket[0] || cfg->api_listen[0]) && start_api(cfg))
		goto fail_resolver;
	return 0;

fail_nomem:
	log_msg(LOG_ERROR, "out of memory starting the control plane");
	goto fail;
fail_resolver:
	control_stop();
	return -1;
fail:
	strategy_store_free(ctl.store);
	ctl.store = NULL;
	return -1;
}

void control_stop(void)
{
	uint64_t stop = STOP_VALUE;

	if (ctl.api)
		api_stop(ctl.api);
	ctl.api = NULL;
	k8s_agent_stop();
	if (ctl.reload_running) {
		if (write(ctl.reload_fd, &stop, sizeof(stop)) == sizeof(stop))
			pthread_join(ctl.reload_thread, NULL);
		ctl.reload_running = false;
	}
	if (ctl.reload_fd >= 0)
		close(ctl.reload_fd);
	ctl.reload_fd = -1;
	proc_events_stop();
	strategy_resolver_stop();
	strategy_store_free(ctl.store);
	ctl.store = NULL;
}

void control_attached(struct loader *ld, struct sched_loop *loop)
{
	pthread_mutex_lock(&ctl.lock);
	ctl.ld = ld;
	ctl.loop = loop;
	ctl.attached_at = time(NULL);
	ctl.attaches++;
	/* A live change made while this attach was set up reached neither half: again. */
	push_live_knobs(&ctl.running);
	stats_set_interval(ctl.running.stats_interval_s);
	pthread_mutex_unlock(&ctl.lock);
	/* __u64 is unsigned long long, uint64_t unsigned long: the same 64 bits. */
	strategy_resolver_mirror_generation((uint64_t *)&ld->skel->bss->strategy_gen);
	k8s_agent_attached(ld);
}

void control_detached(void)
{
	k8s_agent_detached();
	strategy_resolver_mirror_generation(NULL);
	pthread_mutex_lock(&ctl.lock);
	if (ctl.ld && ctl.ld->skel && ctl.ld->skel->bss->exit_info.kind)
		ctl.last_exit = ctl.ld->skel->bss->exit_info;
	ctl.ld = NULL;
	ctl.loop = NULL;
	pthread_mutex_unlock(&ctl.lock);
}

void control_running_config(struct gthulhu_config *out)
{
	get_config(NULL, out);
}
