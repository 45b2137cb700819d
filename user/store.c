// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The object store; see store.h. One chained hash table type (string key ->
 * pointer) serves the Service map, the slice map, the slice-by-Service index
 * and the string sets used for change reports and relists. The tables borrow
 * their keys from what they index (an object's meta.key, a slice list's own
 * key, a change report's key list): a large cluster has a few hundred
 * thousand of them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "store.h"

struct hent {
	struct hent *next;
	const char *key;	/* borrowed: lives as long as the entry */
	void *val;
};

struct hmap {
	struct hent **buckets;
	size_t n_buckets;	/* a power of two */
	size_t n;
};

#define HMAP_MIN_BUCKETS 64

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int hmap_init(struct hmap *m)
{
	m->n = 0;
	m->n_buckets = HMAP_MIN_BUCKETS;
	m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
	return m->buckets ? 0 : -ENOMEM;
}

/* Frees the entries, not the keys or values. */
static void hmap_destroy(struct hmap *m)
{
	size_t i;

	for (i = 0; i < m->n_buckets; i++) {
		struct hent *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->n = m->n_buckets = 0;
}

static struct hent **hmap_slot(const struct hmap *m, const char *key)
{
	struct hent **pp = &m->buckets[hash_str(key) & (m->n_buckets - 1)];

	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

static void *hmap_get(const struct hmap *m, const char *key)
{
	struct hent *e = *hmap_slot(m, key);

	return e ? e->val : NULL;
}

/* Doubling keeps chains short; a failed grow just leaves them longer. */
static void hmap_grow(struct hmap *m)
{
	size_t i, nb = m->n_buckets * 2;
	struct hent **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < m->n_buckets; i++) {
		struct hent *e = m->buckets[i], *next;

		for (; e; e = next) {
			size_t j = hash_str(e->key) & (nb - 1);

			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

/* Sets key to val; *old gets the previous value (NULL if new). The entry
 * keeps key (not a copy), also when it replaces one. */
static int hmap_put(struct hmap *m, const char *key, void *val, void **old)
{
	struct hent **pp = hmap_slot(m, key), *e;

	*old = NULL;
	if (*pp) {
		*old = (*pp)->val;
		(*pp)->val = val;
		(*pp)->key = key;
		return 0;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->key = key;
	e->val = val;
	*pp = e;
	if (++m->n > m->n_buckets)
		hmap_grow(m);
	return 0;
}

/* Removes key; returns its value or NULL. */
static void *hmap_del(struct hmap *m, const char *key)
{
	struct hent **pp = hmap_slot(m, key), *e = *pp;
	void *val;

	if (!e)
		return NULL;
	*pp = e->next;
	val = e->val;
	free(e);
	m->n--;
	return val;
}

#define hmap_for_each(m, i, e)                                   \
	for ((i) = 0; (i) < (m)->n_buckets; (i)++)              \
		for ((e) = (m)->buckets[i]; (e); (e) = (e)->next)

/* ---- change reports ---------------------------------------------------- */

struct strset {
	struct hmap map;
};

void store_changes_init(struct store_changes *chg)
{
	memset(chg, 0, sizeof(*chg));
}

void store_changes_free(struct store_changes *chg)
{
	size_t i;

	for (i = 0; i < chg->n; i++)
		free(chg->keys[i]);
	free(chg->keys);
	if (chg->seen) {
		hmap_destroy(&chg->seen->map);
		free(chg->seen);
	}
	store_changes_init(chg);
}

bool store_changes_has(const struct store_changes *chg, const char *key)
{
	return chg->seen && hmap_get(&chg->seen->map, key);
}

static int changes_add(struct store_changes *chg, const char *key)
{
	void *old;
	char *k;

	if (!chg || store_changes_has(chg, key))
		return 0;
	if (!chg->seen) {
		chg->seen = calloc(1, sizeof(*chg->seen));
		if (!chg->seen || hmap_init(&chg->seen->map)) {
			free(chg->seen);
			chg->seen = NULL;
			return -ENOMEM;
		}
	}
	if (chg->n == chg->cap) {
		size_t cap = chg->cap ? chg->cap * 2 : 16;
		char **keys = realloc(chg->keys, cap * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		chg->keys = keys;
		chg->cap = cap;
	}
	k = strdup(key);
	if (!k || hmap_put(&chg->seen->map, k, k, &old)) {
		free(k);
		return -ENOMEM;
	}
	chg->keys[chg->n++] = k;
	return 0;
}

/* ---- the store ---------------------------------------------------------- */

/* The slices of one Service, with the index's key. */
struct slice_list {
	struct kube_slice **v;
	size_t n;
	size_t cap;
	char key[];	/* "ns/service" */
};

struct store {
	struct hmap services;	/* "ns/name" -> struct kube_service */
	struct hmap slices;	/* "ns/name" -> struct kube_slice */
	struct hmap by_service;	/* "ns/service" -> struct slice_list */
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
	if (hmap_init(&st->services) || hmap_init(&st->slices) || hmap_init(&st->by_service)) {
		store_free(st);
		return NULL;
	}
	return st;
}

void store_free(struct store *st)
{
	struct hent *e;
	size_t i;

	if (!st)
		return;
	if (st->services.buckets) {
		hmap_for_each(&st->services, i, e)
			kube_service_free(e->val);
	}
	if (st->slices.buckets) {
		hmap_for_each(&st->slices, i, e)
			kube_slice_free(e->val);
	}
	if (st->by_service.buckets) {
		hmap_for_each(&st->by_service, i, e) {
			struct slice_list *l = e->val;

			free(l->v);
			free(l);
		}
	}
	hmap_destroy(&st->services);
	hmap_destroy(&st->slices);
	hmap_destroy(&st->by_service);
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
	struct kube_service *old = hmap_get(&st->services, svc->meta.key);
	void *prev;

	if (old && same_version(&old->meta, &svc->meta)) {
		kube_service_free(svc);
		return 0;
	}
	if (changes_add(chg, svc->meta.key) ||
	    hmap_put(&st->services, svc->meta.key, svc, &prev)) {
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
	old = hmap_del(&st->services, key);
	if (!old)
		return 0;
	err = changes_add(chg, key);
	kube_service_free(old);
	return err ? err : 1;
}

const struct kube_service *store_get_service(const struct store *st, const char *key)
{
	return hmap_get(&st->services, key);
}

size_t store_n_services(const struct store *st)
{
	return st->services.n;
}

int store_for_each_service(const struct store *st,
			   int (*fn)(const struct kube_service *svc, void *ctx), void *ctx)
{
	struct hent *e;
	size_t i;
	int ret;

	hmap_for_each(&st->services, i, e) {
		ret = fn(e->val, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- slices and their index ---------------------------------------------- */

static int index_add(struct store *st, struct kube_slice *s)
{
	struct slice_list *l = hmap_get(&st->by_service, s->service_key);
	void *old;

	if (!l) {
		l = calloc(1, sizeof(*l) + strlen(s->service_key) + 1);
		if (!l)
			return -ENOMEM;
		strcpy(l->key, s->service_key);
		if (hmap_put(&st->by_service, l->key, l, &old)) {
			free(l);
			return -ENOMEM;
		}
	}
	/* Most Services have one slice. */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1;
		struct kube_slice **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = s;
	return 0;
}

static void index_del(struct store *st, const struct kube_slice *s)
{
	struct slice_list *l = hmap_get(&st->by_service, s->service_key);
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n && l->v[i] != s; i++)
		;
	if (i < l->n)
		l->v[i] = l->v[--l->n];
	if (!l->n) {
		hmap_del(&st->by_service, s->service_key);
		free(l->v);
		free(l);
	}
}

/* Reports the Service the slice belongs to. */
static int report_slice(struct store_changes *chg, const struct kube_slice *s)
{
	return changes_add(chg, s->service_key);
}

int store_upsert_slice(struct store *st, struct kube_slice *slice, struct store_changes *chg)
{
	struct kube_slice *old = hmap_get(&st->slices, slice->meta.key);
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
	if (hmap_put(&st->slices, slice->meta.key, slice, &prev)) {
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
	old = hmap_del(&st->slices, key);
	if (!old)
		return 0;
	index_del(st, old);
	err = report_slice(chg, old);
	kube_slice_free(old);
	return err ? err : 1;
}

const struct kube_slice *store_get_slice(const struct store *st, const char *key)
{
	return hmap_get(&st->slices, key);
}

size_t store_n_slices(const struct store *st)
{
	return st->slices.n;
}

struct kube_slice *const *store_slices_of(const struct store *st, const char *svc_key, size_t *n)
{
	struct slice_list *l = hmap_get(&st->by_service, svc_key);

	*n = l ? l->n : 0;
	return l ? l->v : NULL;
}

/* ---- relists -------------------------------------------------------------- */

/* The keys of a relist, to find the stored objects it no longer has. */
static int relist_keys(struct hmap *set, void *const *items, size_t n, char *const *keep,
		       size_t n_keep, const struct kube_meta *(*meta)(const void *))
{
	void *old;
	size_t i;
	int err;

	err = hmap_init(set);
	for (i = 0; !err && i < n; i++)
		err = hmap_put(set, meta(items[i])->key, set, &old);
	for (i = 0; !err && i < n_keep; i++)
		err = hmap_put(set, keep[i], set, &old);
	return err;
}

static const struct kube_meta *svc_meta(const void *p)
{
	return &((const struct kube_service *)p)->meta;
}

static const struct kube_meta *slice_meta(const void *p)
{
	return &((const struct kube_slice *)p)->meta;
}

/* Stored keys of map that are not in keep. */
static int stale_keys(const struct hmap *map, const struct hmap *keep, struct store_changes *out)
{
	struct hent *e;
	size_t i;

	hmap_for_each(map, i, e) {
		if (!hmap_get(keep, e->key) && changes_add(out, e->key))
			return -ENOMEM;
	}
	return 0;
}

/* The relist skeleton shared by Services and slices: upsert every item,
 * then delete what the relist no longer has. */
static int replace_all(struct store *st, void **items, size_t n, char *const *keep,
		       size_t n_keep, struct store_changes *chg,
		       const struct hmap *map, const struct kube_meta *(*meta)(const void *),
		       int (*upsert)(struct store *, void *, struct store_changes *),
		       int (*del)(struct store *, const char *, const char *,
				  struct store_changes *))
{
	struct store_changes stale;
	struct hmap listed;
	size_t i, before = chg ? chg->n : 0;
	int err;

	store_changes_init(&stale);
	err = relist_keys(&listed, items, n, keep, n_keep, meta);
	if (!err)
		err = stale_keys(map, &listed, &stale);
	hmap_destroy(&listed);
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
	return replace_all(st, (void **)items, n, keep, n_keep, chg, &st->services, svc_meta,
			   upsert_svc_cb, store_delete_service);
}

int store_replace_slices(struct store *st, struct kube_slice **items, size_t n,
			 char *const *keep, size_t n_keep, struct store_changes *chg)
{
	return replace_all(st, (void **)items, n, keep, n_keep, chg, &st->slices, slice_meta,
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
