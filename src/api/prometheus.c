/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GET /metrics: the scheduler's figures in Prometheus' text exposition format 0.0.4, so
 * a Prometheus server (or anything that reads its format) can scrape Gthulhu directly.
 *
 * Names: gthulhu_<counter>_total for running totals, gthulhu_<gauge> for levels, one
 * # HELP and # TYPE per family. Everything comes from the backend's view, the strategy
 * store's count and the resolver's per-rule stats, as for the JSON endpoints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4"

void api_buf_printf(struct api_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		size_t cap;
		char *p;

		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		cap = b->cap ? b->cap * 2 : 8192;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
}

/* A metric name from a counter's: [a-zA-Z0-9_], anything else becomes '_'. */
static void metric_name(char *out, size_t len, const char *name, const char *suffix)
{
	size_t n = (size_t)snprintf(out, len, "gthulhu_%s", name);

	if (n >= len)
		n = len - 1;
	for (size_t i = sizeof("gthulhu_") - 1; i < n; i++)
		if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
		      (out[i] >= '0' && out[i] <= '9') || out[i] == '_'))
			out[i] = '_';
	if (suffix && (n < strlen(suffix) || strcmp(out + n - strlen(suffix), suffix)))
		snprintf(out + n, len - n, "%s", suffix);
}

/* # HELP and # TYPE; HELP text escapes '\' and newlines as the format asks. */
static void family(struct api_buf *b, const char *name, const char *type, const char *help)
{
	api_buf_printf(b, "# HELP %s ", name);
	for (const char *p = help ? help : ""; *p; p++) {
		if (*p == '\\')
			api_buf_printf(b, "\\\\");
		else if (*p == '\n')
			api_buf_printf(b, "\\n");
		else
			api_buf_printf(b, "%c", *p);
	}
	api_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void one(struct api_buf *b, const char *name, const char *type, const char *help,
		unsigned long long value)
{
	family(b, name, type, help);
	api_buf_printf(b, "%s %llu\n", name, value);
}

/* A label value: '\', '"' and newlines escaped. */
static void label_value(struct api_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			api_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			api_buf_printf(b, "\\n");
		else
			api_buf_printf(b, "%c", *v);
	}
}

/*
 * The loop's latency histogram: bucket 0 holds batches under 1 us, bucket i (1..14)
 * those in [2^(i-1), 2^i) us, the last one 2^14 us (16.384 ms) and more. Prometheus
 * buckets are cumulative with an upper bound "le", so bucket i becomes le=2^i us, and
 * the last one le="+Inf", equal to _count.
 *
 * The loop keeps counts only, not the sum of latencies, yet a histogram needs _sum. We
 * estimate it from bucket midpoints (0.5 us for bucket 0, 0.75 * 2^i us for bucket i, and
 * 2^14 us, the lower bound, for the open last bucket): good to a factor of 1.5 per sample,
 * which keeps rate(_sum)/rate(_count) a usable average latency.
 */
static void latency_histogram(struct api_buf *b, const struct api_sched_view *v)
{
	static const char name[] = "gthulhu_loop_latency_seconds";
	unsigned long long cum = 0;
	double sum_us = 0;
	int i;

	family(b, name, "histogram",
	       "Time from the scheduling loop's wake-up to the last decision of a batch.");
	for (i = 0; i < API_LATENCY_BUCKETS - 1; i++) {
		cum += v->loop_latency_hist[i];
		sum_us += (double)v->loop_latency_hist[i] * (i ? 0.75 * (double)(1u << i) : 0.5);
		api_buf_printf(b, "%s_bucket{le=\"%.6f\"} %llu\n", name, (double)(1u << i) / 1e6,
			       cum);
	}
	cum += v->loop_latency_hist[i];
	sum_us += (double)v->loop_latency_hist[i] * (double)(1u << (i - 1));
	api_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	api_buf_printf(b, "%s_sum %.9f\n", name, sum_us / 1e6);
	api_buf_printf(b, "%s_count %llu\n", name, cum);
}

static void strategy_stats(struct api_buf *b, size_t nr_strategies)
{
	struct strategy_rule_stats *st = calloc(STRATEGY_MAX_RULES, sizeof(*st));
	size_t n;

	one(b, "gthulhu_strategies", "gauge", "Strategies from every source.", nr_strategies);
	if (!st) {
		b->oom = true;
		return;
	}
	n = strategy_resolver_stats(st, STRATEGY_MAX_RULES);
	family(b, "gthulhu_strategy_decisions_total", "counter",
	       "Scheduling decisions made under each strategy.");
	for (size_t i = 0; i < n; i++) {
		api_buf_printf(b, "gthulhu_strategy_decisions_total{id=\"");
		label_value(b, st[i].id);
		api_buf_printf(b, "\"} %llu\n", (unsigned long long)st[i].decisions);
	}
	family(b, "gthulhu_strategy_threads", "gauge", "Threads each strategy covers now.");
	for (size_t i = 0; i < n; i++) {
		api_buf_printf(b, "gthulhu_strategy_threads{id=\"");
		label_value(b, st[i].id);
		api_buf_printf(b, "\"} %llu\n", (unsigned long long)st[i].threads);
	}
	free(st);
}

/* One per-pod family: a sample per pod, labelled so dashboards can group by namespace. */
static void pod_family(struct api_buf *b, const struct api_pod_metrics *rows, size_t n,
		       const char *node, const char *name, const char *help, size_t field,
		       double scale)
{
	family(b, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&rows[i] + field);

		api_buf_printf(b, "%s{pod=\"", name);
		label_value(b, rows[i].name);
		api_buf_printf(b, "\",namespace=\"");
		label_value(b, rows[i].namespace);
		api_buf_printf(b, "\",node=\"");
		label_value(b, node);
		api_buf_printf(b, "\",pod_uid=\"");
		label_value(b, rows[i].uid);
		if (scale == 1.0)
			api_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
		else
			api_buf_printf(b, "\"} %.9f\n", (double)v * scale);
	}
}

static void kubernetes(struct api_buf *b, struct api_ctx *ctx)
{
	struct api_pod_metrics *rows;
	struct api_k8s_view k;
	size_t n;

	api_read_k8s(ctx, &k);
	if (!k.enabled)
		return;
	one(b, "gthulhu_kubernetes_api_reachable", "gauge",
	    "1 when the Kubernetes API server answered the last request.", k.reachable);
	one(b, "gthulhu_kubernetes_pods_synced", "gauge",
	    "1 while this node's pods are listed and watched.", k.pods_synced);
	one(b, "gthulhu_kubernetes_pods", "gauge", "Pods known on this node.",
	    (unsigned long long)k.pods);
	one(b, "gthulhu_kubernetes_errors_total", "counter",
	    "Failed requests to the Kubernetes API server.", (unsigned long long)k.errors);
	one(b, "gthulhu_kubernetes_strategies_rejected_total", "counter",
	    "SchedulingStrategy objects that failed validation.",
	    (unsigned long long)k.strategies_rejected);
	rows = api_read_pod_metrics(ctx, &n);
	if (!rows)
		return;
	pod_family(b, rows, n, k.node, "gthulhu_pod_voluntary_switches_total",
		   "Context switches where a pod's task blocked.",
		   offsetof(struct api_pod_metrics, voluntary_switches), 1.0);
	pod_family(b, rows, n, k.node, "gthulhu_pod_involuntary_switches_total",
		   "Context switches where a pod's task was preempted.",
		   offsetof(struct api_pod_metrics, involuntary_switches), 1.0);
	pod_family(b, rows, n, k.node, "gthulhu_pod_cpu_seconds_total",
		   "CPU time of a pod's tasks.", offsetof(struct api_pod_metrics, cpu_ns), 1e-9);
	pod_family(b, rows, n, k.node, "gthulhu_pod_wait_seconds_total",
		   "Time a pod's tasks waited runnable for a CPU.",
		   offsetof(struct api_pod_metrics, wait_ns), 1e-9);
	pod_family(b, rows, n, k.node, "gthulhu_pod_runs_total",
		   "Times a pod's tasks started to run.", offsetof(struct api_pod_metrics, runs),
		   1.0);
	pod_family(b, rows, n, k.node, "gthulhu_pod_migrations_total",
		   "Times a pod's tasks ran on another CPU than the last time.",
		   offsetof(struct api_pod_metrics, migrations), 1.0);
	free(rows);
}

void api_prometheus(struct api_ctx *ctx, const struct api_req *req, struct api_resp *resp)
{
	struct api_sched_view *v = api_read_view(ctx);
	struct api_buf b = {0};
	char name[128];

	if (!v) {
		api_resp_error(resp, 500, "out of memory");
		return;
	}

	one(&b, "gthulhu_up", "gauge", "1 while Gthulhu is the system's scheduler, else 0.",
	    v->attached);
	one(&b, "gthulhu_uptime_seconds", "gauge", "Seconds since the daemon started.",
	    (unsigned long long)v->uptime_s);
	one(&b, "gthulhu_attached_seconds", "gauge", "Seconds since the current attach.",
	    (unsigned long long)v->attached_s);
	one(&b, "gthulhu_restarts_total", "counter", "Re-attaches the kernel asked for.",
	    (unsigned long long)v->restarts);
	for (size_t i = 0; i < v->nr_counters; i++) {
		if (!v->counters[i].name)
			continue;
		metric_name(name, sizeof(name), v->counters[i].name,
			    v->counters[i].gauge ? NULL : "_total");
		one(&b, name, v->counters[i].gauge ? "gauge" : "counter", v->counters[i].help,
		    (unsigned long long)v->counters[i].value);
	}
	family(&b, "gthulhu_cpu_dispatches_total", "counter", "Tasks started on each CPU.");
	for (uint32_t cpu = 0; cpu < v->nr_cpus; cpu++)
		api_buf_printf(&b, "gthulhu_cpu_dispatches_total{cpu=\"%u\"} %llu\n", cpu,
			       (unsigned long long)v->cpu_dispatches[cpu]);
	one(&b, "gthulhu_loop_batches_total", "counter", "Batches the scheduling loop handled.",
	    (unsigned long long)v->loop_batches);
	one(&b, "gthulhu_loop_records_total", "counter", "Task records the loop received.",
	    (unsigned long long)v->loop_records);
	one(&b, "gthulhu_loop_decisions_total", "counter", "Decisions the loop sent back.",
	    (unsigned long long)v->loop_decisions);
	latency_histogram(&b, v);
	strategy_stats(&b, api_strategy_count(ctx));
	kubernetes(&b, ctx);
	free(v);

	if (b.oom) {
		free(b.data);
		api_resp_error(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->text = b.data;
	resp->text_len = b.len;
	resp->content_type = PROM_CONTENT_TYPE;
}
