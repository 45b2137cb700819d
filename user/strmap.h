/* A string-keyed hash map (open addressing) for the agent's bookkeeping. */
#ifndef XLB_STRMAP_H
#define XLB_STRMAP_H

#include <stddef.h>

struct strmap_entry {
	char *key;	/* NULL: empty slot */
	void *value;
};

struct strmap {
	struct strmap_entry *slots;
	size_t cap;	/* power of two */
	size_t len;	/* live entries */
	size_t used;	/* live + deleted (tombstones) */
};

void strmap_init(struct strmap *m);
/* Frees the keys; values belong to the caller (free them first). */
void strmap_free(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; the key is copied. 0 or -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Remove; returns the value it had (NULL if absent). */
void *strmap_del(struct strmap *m, const char *key);

/* for (i = 0; strmap_next(m, &i, &e); ) visits every entry once. */
int strmap_next(const struct strmap *m, size_t *i, struct strmap_entry **e);

#endif
