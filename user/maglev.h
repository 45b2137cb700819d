/* Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, section 3.4): a lookup table of
 * prime size M where each backend owns about M/N slots, and changing the
 * backend set moves few slots that belong to backends which stay. The data
 * path indexes the table with the flow hash (XLB_SVC_MAGLEV).
 *
 * A table only stays stable while M stays the same: the agent should keep a
 * service's M as long as maglev_table_size() of the new backend count is not
 * larger, since a new M reshuffles every slot. */
#ifndef XLB_MAGLEV_H
#define XLB_MAGLEV_H

#include <stdint.h>

/* Table size: at least 100 slots per backend (the paper's minimum), and
 * 1000 per backend up to 65537 slots. Removing one of N backends then moves
 * its 1/N share plus under 1% of the other slots; at 100 per backend it is
 * 1-4%, and up to 16% when two backends draw the same skip (their
 * permutations are then shifts of each other). */
#define MAGLEV_MIN_SLOTS_PER_BACKEND 100
#define MAGLEV_SLOTS_PER_BACKEND 1000
#define MAGLEV_BIG_TABLE 65537

/* The smallest prime >= max(100 n, min(1000 n, 65537)); 0 for no backend
 * or when that would not fit in 32 bits. */
uint32_t maglev_table_size(uint32_t n_backends);

/* True when m is prime. */
int maglev_is_prime(uint32_t m);

/* Fills table[0..m) with ids[i] of the n backends named names[i] (a stable
 * name such as "198.18.2.10:8080"; the same name always gets the same
 * permutation, and backends are taken in name order, so the order of the list
 * does not matter). m must be a prime >= n; n = 0 needs m = 0. Returns 0, or
 * -EINVAL for bad arguments (a missing or duplicate name too) or -ENOMEM; the
 * table is untouched then. */
int maglev_fill(const char *const *names, const uint32_t *ids, uint32_t n, uint32_t m,
		uint32_t *table);

#endif
