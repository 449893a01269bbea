/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The strategy store: the one list of strategies the daemon runs with, from every source.
 *
 * Order is precedence order for ties (see strategy.h): config-file strategies first (file
 * order), then API strategies (creation order), then cluster ones. Config-file strategies
 * are read-only through the API and replaced as a whole on reload; API strategies persist
 * in a state file (JSON, see strategy_json.h), written atomically: a new file is written,
 * fsync'ed and renamed over the old one, and the directory fsync'ed, so a crash or power
 * loss leaves either the old or the new list, never a mix.
 *
 * Every change is all-or-nothing: it is validated (strategy_rule_validate), saved, and only
 * then becomes the store's list and is handed to the on-change callback (the resolver),
 * in the order changes were made. A failed save changes nothing.
 *
 * Thread-safe (one mutex); never used by the scheduling loop.
 */
#ifndef GTHULHU_STRATEGY_STORE_H
#define GTHULHU_STRATEGY_STORE_H

#include <stddef.h>

#include "strategy/strategy.h"

struct strategy_store;

/* Called with the full list after every change, under the store's lock. */
typedef int (*strategy_store_change_fn)(const struct strategy_rule *rules, size_t n, void *ctx);

/* @state_path NULL or "": API strategies are not persisted. NULL on allocation failure. */
struct strategy_store *strategy_store_new(const char *state_path);
void strategy_store_free(struct strategy_store *st);
/* Set before the first change; the callback's error fails (and rolls back) the change. */
void strategy_store_on_change(struct strategy_store *st, strategy_store_change_fn fn, void *ctx);

/*
 * Read the state file into the API strategies. A missing file is an empty list (0). An
 * unreadable, corrupt or invalid file is -1 with the file, and where possible the line
 * and field, in @err; the store keeps what it had and the file is left as it is.
 */
int strategy_store_load(struct strategy_store *st, char *err, size_t errlen);

/* Replace the config-file strategies (ids "config-1", "config-2", ... in file order). */
int strategy_store_set_config(struct strategy_store *st, const struct strategy_rule *rules,
			      size_t n, char *err, size_t errlen);

/*
 * Replace the cluster strategies (SchedulingStrategy objects, from the Kubernetes client):
 * ids must start with STRATEGY_CLUSTER_ID_PREFIX ("k8s-<object name>"); all-or-nothing;
 * not persisted (the cluster keeps them). 0 or -EINVAL/-EEXIST/-ENOSPC with a message.
 */
int strategy_store_set_cluster(struct strategy_store *st, const struct strategy_rule *rules,
			       size_t n, char *err, size_t errlen);

/*
 * The changes below return 0 or a negative errno, with a message in @err:
 *   -EINVAL  the strategy is invalid (the message names the field)
 *   -EEXIST  a strategy with that id exists
 *   -ENOENT  no strategy with that id
 *   -EPERM   the strategy comes from the config file (change the file, then SIGHUP)
 *   -ENOSPC  more than STRATEGY_MAX_RULES strategies in all
 *   -EIO     the state file could not be written (nothing changed)
 */
/* Add an API strategy; an empty rule->id gets a fresh one, copied to @id_out. */
int strategy_store_add(struct strategy_store *st, const struct strategy_rule *rule,
		       char id_out[STRATEGY_ID_MAX], char *err, size_t errlen);
/* Replace the API strategy @id (the rule keeps @id), or create it when absent (*created). */
int strategy_store_put(struct strategy_store *st, const char *id, const struct strategy_rule *rule,
		       bool *created, char *err, size_t errlen);
int strategy_store_delete(struct strategy_store *st, const char *id, char *err, size_t errlen);
/* Replace every API strategy at once (the original's POST semantics); ids as in _add. */
int strategy_store_replace_api(struct strategy_store *st, const struct strategy_rule *rules,
			       size_t n, char *err, size_t errlen);

/* Copy out one strategy by id: 0 or -ENOENT. */
int strategy_store_get(struct strategy_store *st, const char *id, struct strategy_rule *out);
/* Copy out every strategy in precedence order (at most @max); returns the total count. */
size_t strategy_store_list(struct strategy_store *st, struct strategy_rule *out, size_t max);

#endif /* GTHULHU_STRATEGY_STORE_H */
