/* SPDX-License-Identifier: GPL-2.0 */
/*
 * decision_bench: the cost of one scheduling decision in the user-space policy, natively
 * (no kernel, no BPF): the work src/loop.c does per task, in its order,
 *
 *   strategy_lookup (+ strategy_snapshot_count) -> policy_account -> task_pool_push
 *   -> task_pool_pop -> cpu_select -> policy_decide
 *
 * with the pool holding TASKS waiting tasks (the decided task comes straight back as a
 * new record, so the pool size stays put) and a strategy snapshot of STRATEGIES pid rules
 * (0: no snapshot, as when no rule is configured). Half of the processes are covered by a
 * rule when there are rules, with priority levels 1..20 and some with their own slice, so
 * both orderings of the heap (levels, deadlines) are exercised. One in eight tasks has a
 * restricted cpumask. Every decision finds idle CPUs (every other online CPU of this
 * machine's topology), so cpu_select does a real search each time. -T reads the topology
 * from another sysfs tree instead (a fixture under tests/unit/fixtures/topology, or a
 * synthetic one), to see placement on machines bigger than the build host.
 *
 * usage: decision_bench -t TASKS [-s STRATEGIES (0)] [-n ITERATIONS (200000)]
 *                       [-r ROUNDS (7)] [-w WARMUP_ITERATIONS (50000)] [-T SYSFS_ROOT (/)]
 *                       [-q]
 * Prints one CSV row per round: decision_t<TASKS>_s<STRATEGIES>,native,<round>,
 * ns_per_decision,<ns> (-q: nothing; for valgrind --tool=callgrind
 * --toggle-collect=run_decisions, where instructions / ITERATIONS is the figure).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sched/cpu_select.h"
#include "sched/policy.h"
#include "sched/task_pool.h"
#include "strategy/strategy.h"
#include "topology/topology.h"

#define BASE_PID  10000
#define BASE_TGID 100000
#define NR_TGIDS  200 /* tasks are spread over this many processes */

struct sim_task {
	uint64_t vtime;
	uint64_t enq_cnt;
	int32_t cpu;
	uint32_t weight;
	bool restricted;
};

struct bench {
	struct policy_config pcfg;
	struct policy_state pst;
	struct task_pool *pool;
	struct topology *topo;
	struct strategy_snapshot *snap;
	struct sim_task *tasks;
	uint32_t nr_tasks;
	struct cpumask idle;
	struct cpumask prio_busy;
	uint64_t rng;
	uint64_t clock_ns; /* the enqueue time of the next record */
	uint32_t next;	   /* the task whose record arrives next */
	uint64_t sink;	   /* keeps the compiler from dropping the decisions */
};

const char bench_usage[] = "decision_bench -t TASKS [-s STRATEGIES] [-n ITERATIONS] "
			   "[-r ROUNDS] [-w WARMUP] [-T SYSFS_ROOT] [-q]";

/* What the BPF half would send for task @i: it ran a while and is runnable again. */
static inline void make_record(struct bench *b, uint32_t i, struct queued_task *rec)
{
	struct sim_task *st = &b->tasks[i];
	uint64_t r = xorshift64(&b->rng);

	rec->pid = BASE_PID + (int32_t)i;
	rec->tgid = BASE_TGID + (int32_t)(i % NR_TGIDS);
	rec->cpu = st->cpu;
	rec->nr_cpus_allowed = (uint32_t)b->topo->nr_cpus;
	rec->flags = GTHULHU_QF_WAKEUP;
	rec->weight = st->weight;
	rec->ran_ns = 50000 + (r & 0x1fffff); /* 50 us .. 2.1 ms */
	rec->exec_runtime = rec->ran_ns + ((r >> 24) & 0xfffff);
	rec->vtime = st->vtime;
	rec->enq_cnt = ++st->enq_cnt;
	rec->enq_ts = b->clock_ns += 1000; /* records arrive in order, 1 us apart */
	if (st->restricted) {
		rec->flags |= GTHULHU_QF_RESTRICTED;
		memcpy(rec->cpumask, b->topo->online.w, sizeof(rec->cpumask));
	}
}

/* The measured function: @n decisions, exactly as src/loop.c makes them. */
__attribute__((noinline)) void run_decisions(struct bench *b, uint64_t n);
__attribute__((noinline)) void run_decisions(struct bench *b, uint64_t n)
{
	struct queued_task rec = {0};

	for (uint64_t k = 0; k < n; k++) {
		struct strategy_effect effect;
		struct dispatched_task d;
		struct policy_task t;
		bool has_effect;
		int cpu;

		/* on_record() */
		make_record(b, b->next, &rec);
		has_effect = strategy_lookup(b->snap, rec.pid, rec.tgid, &effect);
		if (has_effect)
			strategy_snapshot_count(b->snap, &effect);
		policy_account(&b->pcfg, &b->pst, &rec, has_effect ? &effect : NULL, &t);
		task_pool_push(b->pool, &t);

		/* dispatch_pool() */
		task_pool_pop(b->pool, &t);
		cpu = cpu_select(b->topo, t.restricted ? &t.allowed : &b->topo->online, &b->idle,
				 &b->prio_busy, t.prev_cpu, t.prio_level > 0);
		policy_decide(&b->pcfg, &b->pst, &t, cpu >= 0 ? cpu : GTHULHU_CPU_ANY,
			      task_pool_count(b->pool), &d);

		/* The BPF half stores the new vruntime; the task runs, then comes back. */
		b->next = (uint32_t)(d.pid - BASE_PID);
		b->tasks[b->next].vtime = d.vtime;
		if (cpu >= 0)
			b->tasks[b->next].cpu = cpu;
		b->sink += d.deadline ^ d.slice_ns;
	}
}

static struct strategy_snapshot *build_strategies(unsigned int n)
{
	struct strategy_rule *rules;
	struct strategy_snapshot *snap;

	if (!n)
		return NULL;
	rules = calloc(n, sizeof(*rules));
	if (!rules)
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		snprintf(rules[i].id, sizeof(rules[i].id), "bench-%u", i);
		rules[i].source = STRATEGY_SRC_CONFIG;
		/* Even process ids are covered: half the tasks when n >= NR_TGIDS / 2. */
		rules[i].pid = BASE_TGID + (int32_t)(2 * i % NR_TGIDS);
		rules[i].effect.priority = 1 + i % STRATEGY_PRIO_MAX;
		rules[i].effect.execution_time_ns = i % 3 == 0 ? 2000000 : 0;
	}
	/* Pid rules need no process table: proc_root is never read. */
	snap = strategy_snapshot_build(rules, n, "/nonexistent");
	free(rules);
	return snap;
}

static int setup(struct bench *b, uint32_t nr_tasks, unsigned int nr_strategies,
		 const char *topo_root)
{
	char err[256];
	int c;

	if (nr_tasks < 1 || nr_tasks > TASK_POOL_CAPACITY) {
		fprintf(stderr, "decision_bench: tasks must be 1..%d\n", TASK_POOL_CAPACITY);
		return -1;
	}
	memset(b, 0, sizeof(*b));
	b->pcfg.slice_max_ns = 5000000;
	b->pcfg.slice_min_ns = 500000;
	b->rng = 0x9e3779b97f4a7c15ull;
	b->nr_tasks = nr_tasks;
	b->pool = malloc(sizeof(*b->pool));
	b->topo = malloc(sizeof(*b->topo));
	b->tasks = calloc(nr_tasks, sizeof(*b->tasks));
	if (!b->pool || !b->topo || !b->tasks) {
		fprintf(stderr, "decision_bench: out of memory\n");
		return -1;
	}
	if (topology_load(b->topo, topo_root, err, sizeof(err))) {
		fprintf(stderr, "decision_bench: topology: %s\n", err);
		return -1;
	}
	b->snap = build_strategies(nr_strategies);
	if (nr_strategies && !b->snap) {
		fprintf(stderr, "decision_bench: cannot build the strategy snapshot\n");
		return -1;
	}
	/* Every other online CPU is idle; none runs priority work. */
	cpumask_zero(&b->idle);
	cpumask_zero(&b->prio_busy);
	for (c = 0; c < b->topo->nr_cpus; c++)
		if (cpumask_test(&b->topo->online, c) && c % 2 == 1)
			cpumask_set(&b->idle, c);
	if (cpumask_empty(&b->idle))
		b->idle = b->topo->online;

	task_pool_init(b->pool);
	for (uint32_t i = 0; i < nr_tasks; i++) {
		b->tasks[i].cpu = (int32_t)(i % (uint32_t)b->topo->nr_cpus);
		b->tasks[i].weight = i % 5 == 0 ? 1000 : 100; /* some nice -10 tasks */
		b->tasks[i].restricted = i % 8 == 0;
	}
	/* Fill the pool with TASKS - 1 tasks: each decision pushes one and pops one. */
	for (uint32_t i = 0; i + 1 < nr_tasks; i++) {
		struct strategy_effect effect;
		struct queued_task rec = {0};
		struct policy_task t;
		bool has_effect;

		make_record(b, i, &rec);
		has_effect = strategy_lookup(b->snap, rec.pid, rec.tgid, &effect);
		policy_account(&b->pcfg, &b->pst, &rec, has_effect ? &effect : NULL, &t);
		if (task_pool_push(b->pool, &t) != TASK_POOL_ADDED) {
			fprintf(stderr, "decision_bench: cannot fill the pool\n");
			return -1;
		}
	}
	b->next = nr_tasks - 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long tasks = 0, strategies = 0, iters = 200000, rounds = 7, warmup = 50000;
	const char *topo_root = "/";
	bool quiet = false;
	struct bench b;
	int opt;

	while ((opt = getopt(argc, argv, "t:s:n:r:w:T:q")) != -1) {
		switch (opt) {
		case 't':
			tasks = parse_num(optarg);
			break;
		case 's':
			strategies = parse_num(optarg);
			break;
		case 'n':
			iters = parse_num(optarg);
			break;
		case 'r':
			rounds = parse_num(optarg);
			break;
		case 'w':
			warmup = parse_num(optarg);
			break;
		case 'T':
			topo_root = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !tasks || !iters || !rounds || strategies > STRATEGY_MAX_RULES)
		usage();
	if (setup(&b, (uint32_t)tasks, (unsigned int)strategies, topo_root))
		return 1;
	if (warmup)
		run_decisions(&b, warmup);
	for (unsigned long r = 1; r <= rounds; r++) {
		uint64_t t0 = now_ns(), t1;

		run_decisions(&b, iters);
		t1 = now_ns();
		if (!quiet)
			printf("decision_t%lu_s%lu,native,%lu,ns_per_decision,%.2f\n", tasks,
			       strategies, r, (double)(t1 - t0) / (double)iters);
	}
	if (task_pool_count(b.pool) != tasks - 1) {
		fprintf(stderr, "decision_bench: pool size drifted to %u\n",
			task_pool_count(b.pool));
		return 1;
	}
	fprintf(stderr, "decision_bench: tasks=%lu strategies=%lu snapshot_entries=%zu sink=%llu\n",
		tasks, strategies, strategy_snapshot_entries(b.snap), (unsigned long long)b.sink);
	strategy_snapshot_free(b.snap);
	free(b.tasks);
	free(b.topo);
	free(b.pool);
	return 0;
}
