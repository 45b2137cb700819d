/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A hash table of pointers to objects that hold their own key: one pointer
 * per slot (open addressing, linear probing), no entry allocations and no
 * key copies. The agent's large tables (Services, slices, programmed
 * Services) have a few hundred thousand entries each.
 *
 * Keys are unique; the table never frees the objects. */
#ifndef XLB_HTAB_H
#define XLB_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab_ops {
	const void *(*key)(const void *obj);
	uint64_t (*hash)(const void *key);
	bool (*equal)(const void *a, const void *b);	/* two keys */
};

struct htab {
	void **slots;		/* NULL: empty */
	size_t cap;		/* 0 or a power of two */
	size_t len;
	const struct htab_ops *ops;
};

void htab_init(struct htab *t, const struct htab_ops *ops);
/* Frees the table, not the objects. */
void htab_free(struct htab *t);
void *htab_get(const struct htab *t, const void *key);
/* Insert obj; an object with an equal key is replaced and returned in *old
 * (NULL if none). 0 or -ENOMEM. */
int htab_put(struct htab *t, void *obj, void **old);
/* Remove the object with key; returns it, or NULL. */
void *htab_del(struct htab *t, const void *key);

/* for (i = 0; (o = htab_next(t, &i)); ) visits every object once; the
 * table must not change meanwhile. */
void *htab_next(const struct htab *t, size_t *i);

/* NUL-terminated string keys. */
uint64_t htab_str_hash(const void *key);
bool htab_str_equal(const void *a, const void *b);
/* Any fixed-size key: FNV-1a over len bytes. */
uint64_t htab_hash_bytes(const void *key, size_t len);

#endif
