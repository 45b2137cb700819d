// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The object store; see store.h. Its tables (htab.h) hold pointers to what
 * they index and read the keys from there (an object's meta.key, a slice
 * list's first slice, a change report's key): a large cluster has a few
 * hundred thousand of each. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "htab.h"
#include "store.h"

static const void *str_key(const void *obj)
{
	return obj;
}

/* Sets of keys: the object is the key string itself. */
static const struct htab_ops str_ops = { str_key, htab_str_hash, htab_str_equal };

/* ---- change reports ---------------------------------------------------- */

void store_changes_init(struct store_changes *chg)
{
	memset(chg, 0, sizeof(*chg));
	htab_init(&chg->seen, &str_ops);
}

void store_changes_free(struct store_changes *chg)
{
	size_t i;

	for (i = 0; i < chg->n; i++)
		free(chg->keys[i]);
	free(chg->keys);
	htab_free(&chg->seen);
	store_changes_init(chg);
}

bool store_changes_has(const struct store_changes *chg, const char *key)
{
	return htab_get(&chg->seen, key);
}

static int changes_add(struct store_changes *chg, const char *key)
{
	void *old;
	char *k;

	if (!chg || store_changes_has(chg, key))
		return 0;
	if (chg->n == chg->cap) {
		size_t cap = chg->cap ? chg->cap * 2 : 16;
		char **keys = realloc(chg->keys, cap * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		chg->keys = keys;
		chg->cap = cap;
	}
	k = strdup(key);
	if (!k || htab_put(&chg->seen, k, &old)) {
		free(k);
		return -ENOMEM;
	}
	chg->keys[chg->n++] = k;
	return 0;
}

/* ---- the store ---------------------------------------------------------- */

static const void *service_key_of(const void *obj)
{
	return ((const struct kube_service *)obj)->meta.key;
}

static const void *slice_key_of(const void *obj)
{
	return ((const struct kube_slice *)obj)->meta.key;
}

static const void *service_of_slice(const void *obj)
{
	return ((const struct kube_slice *)obj)->service_key;
}

static const struct htab_ops service_ops = { service_key_of, htab_str_hash, htab_str_equal };
static const struct htab_ops slice_ops = { slice_key_of, htab_str_hash, htab_str_equal };
static const struct htab_ops by_service_ops = { service_of_slice, htab_str_hash,
						 htab_str_equal };

struct store {
	struct htab services;	/* struct kube_service by "ns/name" */
	struct htab slices;	/* struct kube_slice by "ns/name" */
	struct htab by_service;	/* a Service's first slice by "ns/service" */
	struct kube_node *node;
};

const char *store_key(const char *ns, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", ns, name);
	return buf;
}

struct store *store_new(void)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	htab_init(&st->services, &service_ops);
	htab_init(&st->slices, &slice_ops);
	htab_init(&st->by_service, &by_service_ops);
	return st;
}

void store_free(struct store *st)
{
	void *obj;
	size_t i;

	if (!st)
		return;
	for (i = 0; (obj = htab_next(&st->services, &i));)
		kube_service_free(obj);
	for (i = 0; (obj = htab_next(&st->slices, &i));)
		kube_slice_free(obj);
	htab_free(&st->services);
	htab_free(&st->slices);
	htab_free(&st->by_service);
	kube_node_free(st->node);
	free(st);
}

/* Same object version: resourceVersion is opaque but equal means equal. */
static bool same_version(const struct kube_meta *a, const struct kube_meta *b)
{
	return *a->resource_version && !strcmp(a->resource_version, b->resource_version);
}

int store_upsert_service(struct store *st, struct kube_service *svc, struct store_changes *chg)
{
	struct kube_service *old = htab_get(&st->services, svc->meta.key);
	void *prev;

	if (old && same_version(&old->meta, &svc->meta)) {
		kube_service_free(svc);
		return 0;
	}
	if (changes_add(chg, svc->meta.key) || htab_put(&st->services, svc, &prev)) {
		kube_service_free(svc);
		return -ENOMEM;
	}
	kube_service_free(prev);
	return 1;
}

int store_delete_service(struct store *st, const char *ns, const char *name,
			 struct store_changes *chg)
{
	char key[STORE_KEY_MAX];
	struct kube_service *old;
	int err;

	store_key(ns, name, key, sizeof(key));
	old = htab_del(&st->services, key);
	if (!old)
		return 0;
	err = changes_add(chg, key);
	kube_service_free(old);
	return err ? err : 1;
}

const struct kube_service *store_get_service(const struct store *st, const char *key)
{
	return htab_get(&st->services, key);
}

size_t store_n_services(const struct store *st)
{
	return st->services.len;
}

int store_for_each_service(const struct store *st,
			   int (*fn)(const struct kube_service *svc, void *ctx), void *ctx)
{
	const struct kube_service *svc;
	size_t i = 0;
	int ret;

	while ((svc = htab_next(&st->services, &i))) {
		ret = fn(svc, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- slices and their index ---------------------------------------------- */

/* A Service's slices are chained through next_of_service from the one in
 * by_service: no allocation per Service (most have one slice). */
static int index_add(struct store *st, struct kube_slice *s)
{
	void *head;

	s->next_of_service = htab_get(&st->by_service, s->service_key);
	return htab_put(&st->by_service, s, &head);
}

static void index_del(struct store *st, struct kube_slice *s)
{
	struct kube_slice *head = htab_get(&st->by_service, s->service_key), **pp;
	void *old;

	if (!head)
		return;
	if (head == s) {
		if (s->next_of_service)
			htab_put(&st->by_service, s->next_of_service, &old);	/* replaces s */
		else
			htab_del(&st->by_service, s->service_key);
		return;
	}
	for (pp = &head->next_of_service; *pp; pp = &(*pp)->next_of_service)
		if (*pp == s) {
			*pp = s->next_of_service;
			return;
		}
}

/* Reports the Service the slice belongs to. */
static int report_slice(struct store_changes *chg, const struct kube_slice *s)
{
	return changes_add(chg, s->service_key);
}

int store_upsert_slice(struct store *st, struct kube_slice *slice, struct store_changes *chg)
{
	struct kube_slice *old = htab_get(&st->slices, slice->meta.key);
	void *prev;
	int err;

	if (old && same_version(&old->meta, &slice->meta)) {
		kube_slice_free(slice);
		return 0;
	}
	if (index_add(st, slice)) {
		kube_slice_free(slice);
		return -ENOMEM;
	}
	if (htab_put(&st->slices, slice, &prev)) {
		index_del(st, slice);
		kube_slice_free(slice);
		return -ENOMEM;
	}
	/* The label may have moved the slice to another Service: both change. */
	err = report_slice(chg, slice);
	if (prev) {
		if (!err)
			err = report_slice(chg, prev);
		index_del(st, prev);
		kube_slice_free(prev);
	}
	return err ? err : 1;
}

int store_delete_slice(struct store *st, const char *ns, const char *name,
		       struct store_changes *chg)
{
	char key[STORE_KEY_MAX];
	struct kube_slice *old;
	int err;

	store_key(ns, name, key, sizeof(key));
	old = htab_del(&st->slices, key);
	if (!old)
		return 0;
	index_del(st, old);
	err = report_slice(chg, old);
	kube_slice_free(old);
	return err ? err : 1;
}

const struct kube_slice *store_get_slice(const struct store *st, const char *key)
{
	return htab_get(&st->slices, key);
}

size_t store_n_slices(const struct store *st)
{
	return st->slices.len;
}

const struct kube_slice *store_slices_of(const struct store *st, const char *svc_key)
{
	return htab_get(&st->by_service, svc_key);
}

/* ---- relists -------------------------------------------------------------- */

/* The keys of a relist (items are objects of map), to find the stored
 * objects it no longer has. */
static int relist_keys(struct htab *set, const struct htab *map, void *const *items, size_t n,
		       char *const *keep, size_t n_keep)
{
	void *old;
	size_t i;
	int err = 0;

	htab_init(set, &str_ops);
	for (i = 0; !err && i < n; i++)
		err = htab_put(set, (void *)map->ops->key(items[i]), &old);
	for (i = 0; !err && i < n_keep; i++)
		err = htab_put(set, keep[i], &old);
	return err;
}

/* Stored keys of map that are not in keep. */
static int stale_keys(const struct htab *map, const struct htab *keep, struct store_changes *out)
{
	const void *obj;
	size_t i = 0;

	while ((obj = htab_next(map, &i))) {
		const char *key = map->ops->key(obj);

		if (!htab_get(keep, key) && changes_add(out, key))
			return -ENOMEM;
	}
	return 0;
}

/* The relist skeleton shared by Services and slices: upsert every item,
 * then delete what the relist no longer has. */
static int replace_all(struct store *st, void **items, size_t n, char *const *keep,
		       size_t n_keep, struct store_changes *chg, const struct htab *map,
		       int (*upsert)(struct store *, void *, struct store_changes *),
		       int (*del)(struct store *, const char *, const char *,
				  struct store_changes *))
{
	struct store_changes stale;
	struct htab listed;
	size_t i, before = chg ? chg->n : 0;
	int err;

	store_changes_init(&stale);
	err = relist_keys(&listed, map, items, n, keep, n_keep);
	if (!err)
		err = stale_keys(map, &listed, &stale);
	htab_free(&listed);
	for (i = 0; i < n; i++) {
		int ret = upsert(st, items[i], chg);	/* always takes the item */

		if (ret < 0)
			err = ret;
	}
	for (i = 0; !err && i < stale.n; i++) {
		char *slash = strchr(stale.keys[i], '/');

		*slash = '\0';
		err = del(st, stale.keys[i], slash + 1, chg);
		err = err < 0 ? err : 0;
	}
	store_changes_free(&stale);
	return err ? err : (int)((chg ? chg->n : 0) - before);
}

static int upsert_svc_cb(struct store *st, void *p, struct store_changes *chg)
{
	return store_upsert_service(st, p, chg);
}

static int upsert_slice_cb(struct store *st, void *p, struct store_changes *chg)
{
	return store_upsert_slice(st, p, chg);
}

int store_replace_services(struct store *st, struct kube_service **items, size_t n,
			   char *const *keep, size_t n_keep, struct store_changes *chg)
{
	return replace_all(st, (void **)items, n, keep, n_keep, chg, &st->services,
			   upsert_svc_cb, store_delete_service);
}

int store_replace_slices(struct store *st, struct kube_slice **items, size_t n,
			 char *const *keep, size_t n_keep, struct store_changes *chg)
{
	return replace_all(st, (void **)items, n, keep, n_keep, chg, &st->slices,
			   upsert_slice_cb, store_delete_slice);
}

/* ---- the node -------------------------------------------------------------- */

void store_set_node(struct store *st, struct kube_node *node)
{
	kube_node_free(st->node);
	st->node = node;
}

const struct kube_node *store_node(const struct store *st)
{
	return st->node;
}
