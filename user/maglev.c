/* Maglev lookup tables; see maglev.h and the paper's section 3.4. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/* Two independent seeds of one hash give the offset and skip hashes. */
#define MAGLEV_SEED_OFFSET 0x6d61676c65763031ULL
#define MAGLEV_SEED_SKIP   0x736b697078736b70ULL

/* One backend's walk through its permutation of the slots. */
struct maglev_perm {
	const char *name;
	uint32_t id;
	uint32_t pos;	/* the next slot this backend tries */
	uint32_t skip;
};

/* FNV-1a over the name from a seed, then the murmur3 finalizer so every
 * input bit reaches every output bit (FNV alone mixes high bits poorly). */
static uint64_t maglev_hash(const char *s, uint64_t seed)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

int maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return 0;
	for (uint64_t d = 2; d * d <= m; d++)
		if (m % d == 0)
			return 0;
	return 1;
}

uint32_t maglev_table_size(uint32_t n_backends)
{
	uint64_t m = (uint64_t)n_backends * MAGLEV_SLOTS_PER_BACKEND;

	if (!n_backends)
		return 0;
	if (m > MAGLEV_BIG_TABLE)
		m = MAGLEV_BIG_TABLE;
	if (m < (uint64_t)n_backends * MAGLEV_MIN_SLOTS_PER_BACKEND)
		m = (uint64_t)n_backends * MAGLEV_MIN_SLOTS_PER_BACKEND;
	for (; m <= UINT32_MAX; m++)
		if (maglev_is_prime(m))
			return m;
	return 0;
}

static int perm_cmp(const void *a, const void *b)
{
	return strcmp(((const struct maglev_perm *)a)->name,
		      ((const struct maglev_perm *)b)->name);
}

/* Sorted by name, so the table does not depend on the order of the list;
 * returns NULL with errno set for a missing or duplicate name. */
static struct maglev_perm *perms_new(const char *const *names, const uint32_t *ids, uint32_t n,
				     uint32_t m)
{
	struct maglev_perm *p = calloc(n, sizeof(*p));

	if (!p)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		if (!names[i])
			goto invalid;
		p[i].name = names[i];
		p[i].id = ids[i];
		p[i].pos = maglev_hash(names[i], MAGLEV_SEED_OFFSET) % m;
		p[i].skip = maglev_hash(names[i], MAGLEV_SEED_SKIP) % (m - 1) + 1;
	}
	qsort(p, n, sizeof(*p), perm_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (!strcmp(p[i - 1].name, p[i].name))
			goto invalid;
	return p;
invalid:
	free(p);
	errno = EINVAL;
	return NULL;
}

/* The next slot of p's permutation that nobody has taken yet. Terminates
 * because m is prime: the permutation visits every slot, and the caller only
 * asks while some slot is free. */
static uint32_t perm_next_free(struct maglev_perm *p, uint32_t m, const uint8_t *taken)
{
	uint32_t c;

	do {
		c = p->pos;
		p->pos += p->skip;
		if (p->pos >= m)
			p->pos -= m;
	} while (taken[c]);
	return c;
}

int maglev_fill(const char *const *names, const uint32_t *ids, uint32_t n, uint32_t m,
		uint32_t *table)
{
	struct maglev_perm *p;
	uint8_t *taken;
	uint32_t filled = 0, c;

	if (!n)
		return m ? -EINVAL : 0;
	if (!names || !ids || !table || m < n || !maglev_is_prime(m))
		return -EINVAL;
	p = perms_new(names, ids, n, m);
	if (!p)
		return -errno;
	taken = calloc(m, 1);
	if (!taken) {
		free(p);
		return -ENOMEM;
	}
	/* Backends take turns claiming their next preferred free slot, so each
	 * ends up with m / n slots, rounded down or up. */
	while (filled < m)
		for (uint32_t i = 0; i < n && filled < m; i++) {
			c = perm_next_free(&p[i], m, taken);
			taken[c] = 1;
			table[c] = p[i].id;
			filled++;
		}
	free(taken);
	free(p);
	return 0;
}
