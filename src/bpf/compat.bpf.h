/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One BPF object for every kernel from 6.12 LTS to 7.x.
 *
 * sched_ext renamed its kfuncs in 6.13 (scx_bpf_dispatch* -> scx_bpf_dsq_insert*,
 * scx_bpf_consume -> scx_bpf_dsq_move_to_local, *_from_dsq* -> scx_bpf_dsq_move*), removed
 * the old names in 6.17 and added `___v2` forms that return whether they worked. Every
 * name is declared weak here; bpf_ksym_exists() picks the one the running kernel has,
 * and the verifier drops the other branches as dead code at load time.
 *
 * libbpf strips the last `___suffix` when it resolves a kfunc, so `foo___compat` binds to
 * the kernel's `foo`, and `foo___v2___compat` to the kernel's literal `foo___v2`.
 */
#ifndef GTHULHU_COMPAT_BPF_H
#define GTHULHU_COMPAT_BPF_H

/* 6.12 names. */
void scx_bpf_dispatch___compat(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym __weak;
bool scx_bpf_consume___compat(u64 dsq_id) __ksym __weak;
void scx_bpf_dispatch_from_dsq_set_slice___compat(struct bpf_iter_scx_dsq *it__iter,
						  u64 slice) __ksym __weak;
void scx_bpf_dispatch_from_dsq_set_vtime___compat(struct bpf_iter_scx_dsq *it__iter,
						  u64 vtime) __ksym __weak;
bool scx_bpf_dispatch_from_dsq___compat(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
					u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dispatch_vtime_from_dsq___compat(struct bpf_iter_scx_dsq *it__iter,
					      struct task_struct *p, u64 dsq_id,
					      u64 enq_flags) __ksym __weak;

/* 6.13+ names (declared again under our own suffix so no vmlinux.h is assumed). */
void scx_bpf_dsq_insert___compat(struct task_struct *p, u64 dsq_id, u64 slice,
				 u64 enq_flags) __ksym __weak;
void scx_bpf_dsq_insert_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				       u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___compat(u64 dsq_id) __ksym __weak;
void scx_bpf_dsq_move_set_slice___compat(struct bpf_iter_scx_dsq *it__iter,
					 u64 slice) __ksym __weak;
void scx_bpf_dsq_move_set_vtime___compat(struct bpf_iter_scx_dsq *it__iter,
					 u64 vtime) __ksym __weak;
bool scx_bpf_dsq_move___compat(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id,
			       u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_vtime___compat(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				     u64 dsq_id, u64 enq_flags) __ksym __weak;

/* 6.19+ forms that report failure. */
bool scx_bpf_dsq_insert___v2___compat(struct task_struct *p, u64 dsq_id, u64 slice,
				      u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___v2___compat(u64 dsq_id, u64 enq_flags) __ksym __weak;

/*
 * Handing a CPU's queued tasks back: from ops.cpu_release() only up to 6.18; from any
 * context on 6.19+, which deprecates ops.cpu_release() (see gthulhu_sched_switch()).
 */
u32 scx_bpf_reenqueue_local___compat(void) __ksym __weak;
void scx_bpf_reenqueue_local___v2___compat(void) __ksym __weak;

/* Kicks, idle tracking and helpers present since 6.12; weak so a removal fails soft. */
s32 scx_bpf_select_cpu_dfl___compat(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				    bool *is_idle) __ksym __weak;

static __always_inline int kfunc_api(void)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___compat))
		return GTHULHU_KFUNC_INSERT_V2;
	if (bpf_ksym_exists(scx_bpf_dsq_insert___compat))
		return GTHULHU_KFUNC_INSERT;
	return GTHULHU_KFUNC_DISPATCH;
}

static __always_inline void dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___compat))
		scx_bpf_dsq_insert___v2___compat(p, dsq_id, slice, enq_flags);
	else if (bpf_ksym_exists(scx_bpf_dsq_insert___compat))
		scx_bpf_dsq_insert___compat(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___compat(p, dsq_id, slice, enq_flags);
}

static __always_inline void dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice,
					     u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime___compat))
		scx_bpf_dsq_insert_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
}

static __always_inline bool dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___compat))
		return scx_bpf_dsq_move_to_local___v2___compat(dsq_id, 0);
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___compat))
		return scx_bpf_dsq_move_to_local___compat(dsq_id);
	return scx_bpf_consume___compat(dsq_id);
}

/*
 * Move @p, which must sit in the DSQ @it iterates, to @dsq_id with a new slice and,
 * when @vtime_order, a new position in a vtime-ordered queue.
 */
static __always_inline bool dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 dsq_id,
				     u64 slice, u64 vtime, bool vtime_order, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move___compat)) {
		scx_bpf_dsq_move_set_slice___compat(it, slice);
		if (!vtime_order)
			return scx_bpf_dsq_move___compat(it, p, dsq_id, enq_flags);
		scx_bpf_dsq_move_set_vtime___compat(it, vtime);
		return scx_bpf_dsq_move_vtime___compat(it, p, dsq_id, enq_flags);
	}
	scx_bpf_dispatch_from_dsq_set_slice___compat(it, slice);
	if (!vtime_order)
		return scx_bpf_dispatch_from_dsq___compat(it, p, dsq_id, enq_flags);
	scx_bpf_dispatch_from_dsq_set_vtime___compat(it, vtime);
	return scx_bpf_dispatch_vtime_from_dsq___compat(it, p, dsq_id, enq_flags);
}

#endif /* GTHULHU_COMPAT_BPF_H */
