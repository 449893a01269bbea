/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gthulhu: the daemon. Wires the pieces together:
 *
 *   config (YAML) -> control plane (strategy store + resolver thread, REST API, reloads)
 *                 -> loader (BPF half attached as the system's scheduler)
 *                 -> topology (sysfs) + stats thread
 *                 -> the scheduling loop on this, the main, thread
 *
 * and handles the ends: SIGINT/SIGTERM detach and exit 0; the kernel ending the scheduler
 * is logged and exits non-zero, unless the kernel asks for a restart (CPU hotplug), in
 * which case topology is read again and the scheduler attached again.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "control.h"
#include "loader.h"
#include "log/log.h"
#include "loop.h"
#include "stats.h"
#include "topology/topology.h"

/* A kernel that keeps asking for restarts this often is broken: stop trying. */
#define MAX_RESTARTS_PER_MINUTE 10

static struct {
	const char *config_path;
	const char *sysfs_root;
	const char *proc_root;
	struct gthulhu_config cfg;
} app = {.sysfs_root = "/", .proc_root = "/proc"};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: gthulhu [--config FILE] [--check] [--explain] [--help] [--version]\n"
		"\n"
		"Gthulhu becomes this machine's CPU scheduler (Linux sched_ext) until it is\n"
		"stopped with Ctrl-C or SIGTERM; the kernel's own scheduler then takes over.\n"
		"\n"
		"  -c, --config FILE   YAML configuration (defaults when absent)\n"
		"      --check         validate the configuration and exit\n"
		"      --explain       list every configuration key with type, default, meaning\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"While it runs, gthulhuctl (or any HTTP client) changes strategies and live\n"
		"knobs through the REST API on /run/gthulhu/api.sock (see api.* in --explain).\n"
		"Signals: SIGHUP re-reads the configuration (a bad file keeps the running one);\n"
		"SIGUSR1 logs a stats record now.\n"
		"Exit codes: 0 stopped by a signal, 1 error, 2 bad arguments or configuration,\n"
		"3 no sched_ext in this kernel, 4 not root, 5 the kernel ended the scheduler.\n");
}

static int parse_args(int argc, char **argv, bool *check_only)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'k'},
	    {"explain", no_argument, NULL, 'e'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    /* For tests: read topology and processes from fixture trees. */
	    {"sysfs-root", required_argument, NULL, 's'},
	    {"proc-root", required_argument, NULL, 'p'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			app.config_path = optarg;
			break;
		case 'k':
			*check_only = true;
			break;
		case 'e':
			config_explain(stdout);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("gthulhu %s\n", GTHULHU_VERSION);
			exit(EXIT_OK);
		case 's':
			app.sysfs_root = optarg;
			break;
		case 'p':
			app.proc_root = optarg;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gthulhu: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

static int load_config(struct gthulhu_config *cfg)
{
	char err[512];

	config_set_defaults(cfg);
	if (!app.config_path)
		return 0;
	if (config_load_file(app.config_path, cfg, err, sizeof(err))) {
		struct log_rec *r = log_begin(LOG_ERROR, "invalid configuration");

		log_str(r, "error", err);
		log_end(r);
		return -1;
	}
	return 0;
}

/* SIGHUP, on the loop thread: hand it on, the control thread does the work. */
static void on_sighup(struct sched_loop *l)
{
	control_request_reload();
}

static int signal_fd_for_loop(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* Blocked before any thread starts, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* What the placement policy will see: worth a line when a task lands somewhere odd. */
static void log_topology(const struct topology *t)
{
	char online[256], fallbacks[64];
	struct log_rec *r = log_begin(LOG_INFO, "CPU topology");

	cpumask_format(&t->online, online, sizeof(online));
	topology_fallback_names(t, fallbacks, sizeof(fallbacks));
	log_str(r, "online", online);
	log_u64(r, "cores", (uint64_t)t->nr_domains[TOPO_CORE]);
	log_u64(r, "l2_domains", (uint64_t)t->nr_domains[TOPO_L2]);
	log_u64(r, "llcs", (uint64_t)t->nr_domains[TOPO_LLC]);
	log_u64(r, "numa_nodes", (uint64_t)t->nr_domains[TOPO_NODE]);
	log_str(r, "fallbacks", fallbacks);
	log_end(r);
}

/* One attach: returns when a signal or the kernel ends it. */
static int run_attached(struct topology *topo, int sfd, bool *restart)
{
	static struct gthulhu_config cfg; /* large: keep it off the stack */
	struct policy_config pcfg;
	struct sched_loop *loop;
	enum loop_result res;
	struct loader ld;
	char err[256];
	int rc;

	*restart = false;
	/* Live knobs may have changed since the start (API, SIGHUP): attach with them. */
	control_running_config(&cfg);
	pcfg = control_policy_of(&cfg);
	if (topology_load(topo, app.sysfs_root, err, sizeof(err))) {
		log_msg(LOG_ERROR, "cannot read the CPU topology: %s", err);
		return EXIT_ERROR;
	}
	log_topology(topo);
	rc = loader_attach(&ld, &cfg);
	if (rc)
		return rc == -EPERM || rc == -EACCES ? EXIT_NOT_ROOT : EXIT_ERROR;

	loop = sched_loop_new(&ld, topo, &pcfg, sfd);
	if (!loop) {
		loader_detach(&ld);
		return EXIT_ERROR;
	}
	stats_start(&ld, loop, cfg.stats_interval_s);
	control_attached(&ld, loop);

	res = sched_loop_run(loop, on_sighup);

	control_detached();
	stats_stop();
	stats_log(&ld, loop);
	switch (res) {
	case LOOP_SIGNAL_EXIT:
		rc = EXIT_OK;
		break;
	case LOOP_KERNEL_EXIT:
		loader_log_exit(&ld);
		*restart = loader_restart_requested(&ld);
		rc = EXIT_KERNEL_ENDED;
		break;
	default:
		rc = EXIT_ERROR;
	}
	sched_loop_free(loop);
	loader_detach(&ld);
	if (rc == EXIT_OK)
		log_msg(LOG_INFO, "detached: the kernel's scheduler is back in charge");
	return rc;
}

int main(int argc, char **argv)
{
	static struct topology topo; /* large: keep it off the stack */
	time_t window = 0;
	int restarts = 0, rc, sfd;
	bool check_only = false, restart;

	if (parse_args(argc, argv, &check_only))
		return EXIT_USAGE;
	if (load_config(&app.cfg))
		return EXIT_USAGE;
	log_set_level(app.cfg.debug ? LOG_DEBUG : LOG_INFO);
	if (check_only) {
		log_msg(LOG_INFO, "configuration is valid");
		return EXIT_OK;
	}
	if (geteuid() != 0) {
		log_msg(LOG_ERROR, "gthulhu must run as root: loading a CPU scheduler needs "
				   "CAP_SYS_ADMIN and CAP_BPF");
		return EXIT_NOT_ROOT;
	}
	if (!loader_kernel_has_sched_ext()) {
		log_msg(LOG_ERROR,
			"this kernel has no sched_ext (/sys/kernel/sched_ext is missing): "
			"Gthulhu needs Linux 6.12 or newer built with "
			"CONFIG_SCHED_CLASS_EXT=y");
		return EXIT_NO_SCHED_EXT;
	}
	/* The loop must never page-fault: lock what exists and all that comes later. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		log_msg(LOG_WARN,
			"mlockall failed (%s): the loop may page-fault under memory "
			"pressure",
			strerror(errno));

	sfd = signal_fd_for_loop();
	if (sfd < 0) {
		log_msg(LOG_ERROR, "signalfd: %s", strerror(errno));
		return EXIT_ERROR;
	}
	if (control_start(&app.cfg, app.config_path, app.proc_root)) {
		close(sfd);
		return EXIT_USAGE;
	}

	for (;;) {
		rc = run_attached(&topo, sfd, &restart);
		if (!restart)
			break;
		if (time(NULL) - window > 60) {
			window = time(NULL);
			restarts = 0;
		}
		if (++restarts > MAX_RESTARTS_PER_MINUTE) {
			log_msg(LOG_ERROR,
				"the kernel asked for more than %d restarts in a minute: "
				"giving up",
				MAX_RESTARTS_PER_MINUTE);
			break;
		}
		log_msg(LOG_INFO, "the kernel asked for a restart: attaching again");
	}
	control_stop();
	close(sfd);
	return rc;
}
