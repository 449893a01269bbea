/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pod table (see pods.h): copy-on-write sets. One mutex guards the pointer to the
 * current set while a reader takes a reference (so the writer cannot drop it in between);
 * references are atomic counts, so a set is released without the table. Building a new
 * set happens outside the mutex; writers are serialised by a second one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/pods.h"

struct pod_set {
	uint64_t refs; /* atomic */
	uint64_t generation;
	size_t n;
	struct pod_meta *pods;
};

struct pod_table {
	pthread_mutex_t lock;	    /* the current pointer, while a reference is taken */
	pthread_mutex_t write_lock; /* one change at a time */
	struct pod_set *current;
	uint64_t labels_dropped;
	void (*on_change)(void *ctx);
	void *ctx;
};

static struct pod_set *set_alloc(size_t n);

static void set_free(struct pod_set *s);

/* A deep copy of @src into @dst; labels beyond POD_LABELS_MAX are dropped. */
static int pod_copy(struct pod_meta *dst, const struct pod_meta *src, uint64_t *dropped)
{
	uint32_t n = src->nr_labels < POD_LABELS_MAX ? src->nr_labels : POD_LABELS_MAX;

	*dst = *src;
	dst->labels = NULL;
	dst->nr_labels = 0;
	if (src->nr_labels > n)
		*dropped += src->nr_labels - n;
	if (n) {
		dst->labels = malloc(n * sizeof(*dst->labels));
		if (!dst->labels)
			return -ENOMEM;
		memcpy(dst->labels, src->labels, n * sizeof(*dst->labels));
		dst->nr_labels = n;
	}
	return 0;
}

struct pod_table *pod_table_new(void)
{
	struct pod_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->write_lock, NULL);
	t->current = set_alloc(0);
	if (!t->current) {
		free(t);
		return NULL;
	}
	return t;
}

void pod_table_free(struct pod_table *t)
{
	if (!t)
		return;
	pod_set_release(t->current);
	pthread_mutex_destroy(&t->write_lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void pod_table_on_change(struct pod_table *t, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&t->lock);
	t->on_change = fn;
	t->ctx = ctx;
	pthread_mutex_unlock(&t->lock);
}

/* Swap @next in as current; tell the listener. */
static void publish(struct pod_table *t, struct pod_set *next)
{
	struct pod_set *old;
	void (*fn)(void *);
	void *ctx;

	pthread_mutex_lock(&t->lock);
	old = t->current;
	next->generation = old->generation + 1;
	t->current = next;
	fn = t->on_change;
	ctx = t->ctx;
	pthread_mutex_unlock(&t->lock);
	pod_set_release(old);
	if (fn)
		fn(ctx);
}

static struct pod_set *set_alloc(size_t n)
{
	struct pod_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pods = calloc(n ? n : 1, sizeof(*s->pods));
	if (!s->pods) {
		free(s);
		return NULL;
	}
	s->refs = 1;
	return s;
}

static int build_and_publish(struct pod_table *t, const struct pod_meta *keep, size_t nkeep,
			     const char *skip_uid, const struct pod_meta *add)
{
	struct pod_set *next = set_alloc(nkeep + (add ? 1 : 0));
	uint64_t dropped = 0;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < nkeep; i++) {
		if (skip_uid && strcmp(keep[i].uid, skip_uid) == 0)
			continue;
		if (pod_copy(&next->pods[next->n], &keep[i], &dropped))
			goto fail;
		next->n++;
	}
	if (add) {
		if (pod_copy(&next->pods[next->n], add, &dropped))
			goto fail;
		next->n++;
	}
	__atomic_fetch_add(&t->labels_dropped, dropped, __ATOMIC_RELAXED);
	publish(t, next);
	return 0;
fail:
	set_free(next);
	return -ENOMEM;
}

int pod_table_replace(struct pod_table *t, const struct pod_meta *pods, size_t n)
{
	int err;

	pthread_mutex_lock(&t->write_lock);
	err = build_and_publish(t, pods, n, NULL, NULL);
	pthread_mutex_unlock(&t->write_lock);
	return err;
}

/* Under write_lock only writers change t->current, so it needs no reference there. */
int pod_table_upsert(struct pod_table *t, const struct pod_meta *pod)
{
	int err;

	pthread_mutex_lock(&t->write_lock);
	err = build_and_publish(t, t->current->pods, t->current->n, pod->uid, pod);
	pthread_mutex_unlock(&t->write_lock);
	return err;
}

int pod_table_remove(struct pod_table *t, const char *uid)
{
	int err = 0;

	pthread_mutex_lock(&t->write_lock);
	if (pod_set_find(t->current, uid))
		err = build_and_publish(t, t->current->pods, t->current->n, uid, NULL);
	pthread_mutex_unlock(&t->write_lock);
	return err;
}

const struct pod_set *pod_table_acquire(struct pod_table *t)
{
	struct pod_set *s;

	pthread_mutex_lock(&t->lock);
	s = t->current;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&t->lock);
	return s;
}

void pod_set_release(const struct pod_set *cs)
{
	struct pod_set *s = (struct pod_set *)cs;

	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		set_free(s);
}

static void set_free(struct pod_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->pods[i].labels);
	free(s->pods);
	free(s);
}

size_t pod_set_count(const struct pod_set *s)
{
	return s ? s->n : 0;
}

const struct pod_meta *pod_set_at(const struct pod_set *s, size_t i)
{
	return s && i < s->n ? &s->pods[i] : NULL;
}

const struct pod_meta *pod_set_find(const struct pod_set *s, const char *uid)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->pods[i].uid, uid) == 0)
			return &s->pods[i];
	return NULL;
}

uint64_t pod_set_generation(const struct pod_set *s)
{
	return s ? s->generation : 0;
}

uint64_t pod_table_labels_dropped(struct pod_table *t)
{
	return __atomic_load_n(&t->labels_dropped, __ATOMIC_RELAXED);
}

bool pod_matches_rule(const struct pod_meta *pod, const struct strategy_rule *rule)
{
	bool ns_ok = rule->nr_namespaces == 0;

	for (uint32_t i = 0; i < rule->nr_namespaces && !ns_ok; i++)
		ns_ok = strcmp(pod->namespace, rule->namespaces[i]) == 0;
	if (!ns_ok)
		return false;
	for (uint32_t i = 0; i < rule->nr_selectors; i++) {
		const struct strategy_selector *want = &rule->selectors[i];
		bool found = false;

		for (uint32_t j = 0; j < pod->nr_labels && !found; j++)
			found = strcmp(pod->labels[j].key, want->key) == 0 &&
				strcmp(pod->labels[j].value, want->value) == 0;
		if (!found)
			return false;
	}
	return true;
}
