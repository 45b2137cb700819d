#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* A deleted slot keeps a non-NULL key pointing here so probing continues. */
static char tombstone[1];

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != tombstone)
			free(m->slots[i].key);
	free(m->slots);
	strmap_init(m);
}

static struct strmap_entry *find(const struct strmap *m, const char *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct strmap_entry *e = &m->slots[i];

		if (!e->key)
			return NULL;
		if (e->key != tombstone && !strcmp(e->key, key))
			return e;
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_entry *e = find(m, key);

	return e ? e->value : NULL;
}

static int grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct strmap_entry *old = m->slots, *slots;
	size_t old_cap = m->cap;

	/* Only tombstones: rehash at the same size. */
	if (m->len * 2 < m->cap)
		cap = m->cap;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	m->len = m->used = 0;
	for (size_t i = 0; i < old_cap; i++) {
		struct strmap_entry *e = &old[i], *n;
		size_t j;

		if (!e->key || e->key == tombstone)
			continue;
		for (j = hash_str(e->key) & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
			;
		n = &slots[j];
		*n = *e;
		m->len++;
		m->used++;
	}
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_entry *e = find(m, key);
	size_t i;

	if (e) {
		e->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m))
		return -ENOMEM;
	for (i = hash_str(key) & (m->cap - 1); m->slots[i].key && m->slots[i].key != tombstone;
	     i = (i + 1) & (m->cap - 1))
		;
	e = &m->slots[i];
	if (!e->key)
		m->used++;
	e->key = strdup(key);
	if (!e->key) {
		e->key = tombstone;
		return -ENOMEM;
	}
	e->value = value;
	m->len++;
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry *e = find(m, key);
	void *v;

	if (!e)
		return NULL;
	v = e->value;
	free(e->key);
	e->key = tombstone;
	e->value = NULL;
	m->len--;
	return v;
}

int strmap_next(const struct strmap *m, size_t *i, struct strmap_entry **e)
{
	while (*i < m->cap) {
		struct strmap_entry *s = &m->slots[(*i)++];

		if (s->key && s->key != tombstone) {
			*e = s;
			return 1;
		}
	}
	return 0;
}
