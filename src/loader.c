/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loader (see loader.h). Ops flags are looked up by name in the running kernel's BTF, so
 * one binary sets only flags this kernel defines, from 6.12 LTS to the newest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf_skel.h"
#include "loader.h"
#include "log/log.h"

/* From the kernel's enum scx_exit_code / scx_exit_kind (stable values since 6.12). */
#define SCX_ECODE_ACT_RESTART (1ULL << 48)

bool loader_kernel_has_sched_ext(void)
{
	return access("/sys/kernel/sched_ext", F_OK) == 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static char text[64 * 1024]; /* a verifier log; libbpf calls this from one thread */
	enum log_level lvl = level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG;
	char *line, *next;

	if (!log_enabled(lvl))
		return 0;
	vsnprintf(text, sizeof(text), fmt, ap);
	/* One record per line: a verifier log arrives as one multi-line message. */
	for (line = text; *line; line = next) {
		size_t len = strcspn(line, "\n");
		struct log_rec *r;

		next = line + len + (line[len] == '\n');
		if (!len)
			continue;
		r = log_begin(lvl, "libbpf");
		log_strn(r, "detail", line, len < LOG_LINE_MAX / 2 ? len : LOG_LINE_MAX / 2);
		log_end(r);
	}
	return 0;
}

/* Value of @name in enum @type of the kernel's BTF; false when this kernel lacks it. */
static bool kernel_enum_value(const struct btf *btf, const char *type, const char *name,
			      unsigned long long *out)
{
	__s32 id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	const struct btf_type *t;
	int i;

	if (id < 0)
		id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM64);
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	for (i = 0; i < btf_vlen(t); i++) {
		/* scx_ops_flags is a 32-bit enum in 6.12's BTF and a 64-bit one in 7.x's. */
		__u32 name_off =
		    btf_is_enum64(t) ? btf_enum64(t)[i].name_off : btf_enum(t)[i].name_off;

		if (strcmp(btf__name_by_offset(btf, name_off), name))
			continue;
		*out = btf_is_enum64(t) ? btf_enum64_value(&btf_enum64(t)[i])
					: (unsigned int)btf_enum(t)[i].val;
		return true;
	}
	return false;
}

static int find_pid_by_comm(const char *comm)
{
	char path[300], buf[32];
	struct dirent *de;
	DIR *proc = opendir("/proc");
	int pid = 0;

	if (!proc)
		return 0;
	while (!pid && (de = readdir(proc))) {
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && !strncmp(buf, comm, strlen(comm)) &&
		    buf[strlen(comm)] == '\n')
			pid = atoi(de->d_name);
		fclose(f);
	}
	closedir(proc);
	return pid;
}

static unsigned long long ops_flags(const struct btf *btf)
{
	/* Without it, implementing ops.update_idle() turns off the kernel's idle tracking. */
	static const char *const wanted[] = {"SCX_OPS_KEEP_BUILTIN_IDLE"};
	unsigned long long flags = 0, v;
	size_t i;

	if (!btf)
		return 0;
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		if (kernel_enum_value(btf, "scx_ops_flags", wanted[i], &v))
			flags |= v;
		else
			log_msg(LOG_WARN, "kernel lacks ops flag %s; continuing without it",
				wanted[i]);
	}
	return flags;
}

/*
 * 6.19+ hands a CPU's queued tasks back from any context and deprecates ops.cpu_release()
 * (a notice in the kernel log, and a removal to come): there the sched_switch hook does
 * that job instead (gthulhu_cpu_release() in gthulhu.bpf.c).
 */
static bool reenqueue_from_anywhere(const struct btf *btf)
{
	return btf &&
	       btf__find_by_name_kind(btf, "scx_bpf_reenqueue_local___v2", BTF_KIND_FUNC) > 0;
}

int loader_attach(struct loader *ld, const struct gthulhu_config *cfg)
{
	struct gthulhu_bpf *skel;
	struct log_rec *r;
	struct btf *btf;
	bool switch_hook;
	int err;

	libbpf_set_print(libbpf_log);
	memset(ld, 0, sizeof(*ld));

	skel = gthulhu_bpf__open();
	if (!skel) {
		err = -errno;
		log_msg(LOG_ERROR, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->usersched_pid = gettid();
	skel->rodata->usersched_tgid = getpid();
	skel->rodata->khugepaged_pid = find_pid_by_comm("khugepaged");
	loader_set_live_knobs(skel, cfg);
	skel->rodata->stall_timeout_ns = cfg->stall_timeout_ms * 1000000ULL;
	/* Often enough to notice a lost wake-up well before the stall timeout. */
	skel->rodata->heartbeat_ns = cfg->stall_timeout_ms * 1000000ULL / 4;
	skel->rodata->builtin_idle = cfg->builtin_idle;
	skel->rodata->early_processing = cfg->early_processing;
	/* Per-pod counting costs a map update per context switch: only when asked for. */
	skel->rodata->pod_metrics_enabled = cfg->k8s_enabled && cfg->k8s_pod_metrics;
	btf = btf__load_vmlinux_btf();
	skel->struct_ops.gthulhu_ops->flags = ops_flags(btf);
	switch_hook = reenqueue_from_anywhere(btf);
	btf__free(btf);
	if (switch_hook) {
		skel->struct_ops.gthulhu_ops->cpu_release = NULL;
		bpf_program__set_autoload(skel->progs.gthulhu_sched_switch, true);
	}

	err = gthulhu_bpf__load(skel);
	if (err) {
		log_msg(LOG_ERROR, "the kernel refused the BPF scheduler (verifier log above): %s",
			strerror(-err));
		gthulhu_bpf__destroy(skel);
		return err;
	}
	ld->link = bpf_map__attach_struct_ops(skel->maps.gthulhu_ops);
	if (!ld->link) {
		err = -errno;
		log_msg(LOG_ERROR, "cannot attach the scheduler: %s%s", strerror(-err),
			err == -EBUSY ? " (another sched_ext scheduler is running)" : "");
		gthulhu_bpf__destroy(skel);
		return err;
	}
	if (switch_hook) {
		ld->switch_link = bpf_program__attach(skel->progs.gthulhu_sched_switch);
		if (!ld->switch_link) {
			err = -errno;
			log_msg(LOG_ERROR, "cannot attach the sched_switch hook: %s",
				strerror(-err));
			bpf_link__destroy(ld->link);
			ld->link = NULL;
			gthulhu_bpf__destroy(skel);
			return err;
		}
	}
	ld->skel = skel;

	r = log_begin(LOG_INFO, "attached");
	log_str(r, "ops", "gthulhu");
	log_i64(r, "kfunc_api", skel->bss->kfunc_api_in_use);
	log_u64(r, "nr_online_cpus", skel->bss->counters.nr_online_cpus);
	log_u64(r, "ops_flags", skel->struct_ops.gthulhu_ops->flags);
	log_str(r, "rt_handback", switch_hook ? "sched_switch" : "cpu_release");
	log_end(r);
	return 0;
}

void loader_set_live_knobs(struct gthulhu_bpf *skel, const struct gthulhu_config *cfg)
{
	struct gthulhu_bpf__data_live *live = skel->data_live;

	__atomic_store_n(&live->slice_max_ns, cfg->slice_ns_default, __ATOMIC_RELAXED);
	__atomic_store_n(&live->slice_min_ns, cfg->slice_ns_min, __ATOMIC_RELAXED);
	/* About 5% for normal tasks under priority overload, as RT throttling leaves. */
	__atomic_store_n(&live->starvation_ns, cfg->slice_ns_default * 20, __ATOMIC_RELAXED);
	__atomic_store_n(&live->debug, cfg->debug, __ATOMIC_RELAXED);
}

void loader_detach(struct loader *ld)
{
	bpf_link__destroy(ld->switch_link);
	ld->switch_link = NULL;
	bpf_link__destroy(ld->link);
	ld->link = NULL;
	gthulhu_bpf__destroy(ld->skel);
	ld->skel = NULL;
}

bool loader_kernel_exited(const struct loader *ld)
{
	return __atomic_load_n(&ld->skel->bss->exit_info.kind, __ATOMIC_ACQUIRE) != 0;
}

bool loader_restart_requested(const struct loader *ld)
{
	return loader_kernel_exited(ld) &&
	       (ld->skel->bss->exit_info.exit_code & SCX_ECODE_ACT_RESTART);
}

static const char *exit_kind_name(int kind)
{
	switch (kind) {
	case 1:
		return "done";
	case 64:
		return "unregistered";
	case 65:
		return "unregistered_bpf";
	case 66:
		return "unregistered_kernel";
	case 67:
		return "sysrq";
	case 1024:
		return "error";
	case 1025:
		return "error_bpf";
	case 1026:
		return "error_stall";
	default:
		return "unknown";
	}
}

/* The kernel's dump of every CPU and task, one record per line: it far exceeds one line. */
static void log_exit_dump(const char *dump, enum log_level level)
{
	const char *line = dump, *end = dump + strnlen(dump, GTHULHU_EXIT_DUMP_LEN);

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		struct log_rec *r = log_begin(level, "exit dump");

		log_strn(r, "line", line, len);
		log_end(r);
		line += len + 1;
	}
}

void loader_log_exit(const struct loader *ld)
{
	const struct gthulhu_exit_info *ei = &ld->skel->bss->exit_info;
	bool restart = loader_restart_requested(ld);
	struct log_rec *r;

	r = log_begin(restart ? LOG_WARN : LOG_ERROR, "the kernel ended the scheduler");
	log_str(r, "exit_kind", exit_kind_name(ei->kind));
	log_i64(r, "exit_kind_code", ei->kind);
	log_i64(r, "exit_code", ei->exit_code);
	log_bool(r, "restart", restart);
	log_str(r, "reason", ei->reason);
	log_str(r, "message", ei->msg);
	log_end(r);
	log_exit_dump(ld->skel->bss->exit_dump, restart ? LOG_DEBUG : LOG_INFO);
}
