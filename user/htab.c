// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* See htab.h. Deletion shifts the following entries back (no tombstones),
 * so a long-lived table with churn never needs a rebuild. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

#define HTAB_MIN_CAP 16

uint64_t htab_hash_bytes(const void *key, size_t len)
{
	const unsigned char *b = key;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

uint64_t htab_str_hash(const void *key)
{
	return htab_hash_bytes(key, strlen(key));
}

bool htab_str_equal(const void *a, const void *b)
{
	return !strcmp(a, b);
}

void htab_init(struct htab *t, const struct htab_ops *ops)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
}

void htab_free(struct htab *t)
{
	free(t->slots);
	htab_init(t, t->ops);
}

static size_t home(const struct htab *t, const void *obj)
{
	return t->ops->hash(t->ops->key(obj)) & (t->cap - 1);
}

static size_t find_key(const struct htab *t, const void *key)
{
	size_t i;

	if (!t->cap)
		return SIZE_MAX;
	for (i = t->ops->hash(key) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1))
		if (t->ops->equal(t->ops->key(t->slots[i]), key))
			return i;
	return SIZE_MAX;
}

void *htab_get(const struct htab *t, const void *key)
{
	size_t i = find_key(t, key);

	return i == SIZE_MAX ? NULL : t->slots[i];
}

static void insert(struct htab *t, void *obj)
{
	size_t i;

	for (i = home(t, obj); t->slots[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = obj;
	t->len++;
}

/* At most 3/4 full: linear probing stays short. */
static int reserve_one(struct htab *t)
{
	size_t old_cap = t->cap, cap = t->cap ? t->cap * 2 : HTAB_MIN_CAP;
	void **old = t->slots;

	if ((t->len + 1) * 4 <= t->cap * 3)
		return 0;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->cap = cap;
	t->len = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			insert(t, old[i]);
	free(old);
	return 0;
}

int htab_put(struct htab *t, void *obj, void **old)
{
	size_t i = find_key(t, t->ops->key(obj));

	*old = NULL;
	if (i != SIZE_MAX) {
		*old = t->slots[i];
		t->slots[i] = obj;
		return 0;
	}
	if (reserve_one(t))
		return -ENOMEM;
	insert(t, obj);
	return 0;
}

/* Empty slot i, then move back every following entry whose probe
 * sequence passes through the hole (Knuth 6.4, algorithm R). */
static void *remove_at(struct htab *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;
	void *obj = t->slots[i];

	t->slots[i] = NULL;
	t->len--;
	for (;;) {
		size_t h;

		j = (j + 1) & mask;
		if (!t->slots[j])
			return obj;
		h = home(t, t->slots[j]);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		t->slots[i] = t->slots[j];
		t->slots[j] = NULL;
		i = j;
	}
}

void *htab_del(struct htab *t, const void *key)
{
	size_t i = find_key(t, key);

	return i == SIZE_MAX ? NULL : remove_at(t, i);
}

void *htab_next(const struct htab *t, size_t *i)
{
	while (*i < t->cap) {
		void *obj = t->slots[(*i)++];

		if (obj)
			return obj;
	}
	return NULL;
}
