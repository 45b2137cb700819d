/* Tests of the Maglev table (user/maglev.c): prime sizes, full and even
 * tables, determinism, and the consistency property that makes Maglev worth
 * having: changing the backend set moves few slots of the backends that stay. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "test.h"

/* Maglev does not bound how many slots of the backends that stay move when
 * one goes. With M ~ 100 N the paper's fill moves 1-4% of them, and up to
 * 16% when two backends draw the same skip, so that their permutations are
 * shifts of one another (here 198.18.0.10 and .18 with N = 10, M = 1009).
 * At the sizes maglev_table_size() picks (~1000 N) it stays under 1%. */
#define MAX_MOVED_PCT 16
#define MAX_MOVED_PCT_TABLE_SIZE 1

#define MAX_BE 128
#define MAX_M 70000	/* > maglev_table_size(MAX_BE) */

static char name_buf[MAX_BE][32];
static const char *names[MAX_BE];
static uint32_t ids[MAX_BE];

/* Backend i is "198.18.<i/200>.<i%200+10>:8080" with id 1000 + i. */
static void setup_names(void)
{
	for (int i = 0; i < MAX_BE; i++) {
		snprintf(name_buf[i], sizeof(name_buf[i]), "198.18.%d.%d:8080", i / 200,
			 i % 200 + 10);
		names[i] = name_buf[i];
		ids[i] = 1000 + i;
	}
}

/* Fill with backends [0, n) except skip (-1: none); m from the caller. */
static int fill_without(uint32_t n, int skip, uint32_t m, uint32_t *table)
{
	const char *nm[MAX_BE];
	uint32_t id[MAX_BE], k = 0;

	for (uint32_t i = 0; i < n; i++) {
		if ((int)i == skip)
			continue;
		nm[k] = names[i];
		id[k++] = ids[i];
	}
	return maglev_fill(nm, id, k, m, table);
}

static uint32_t smallest_prime_from(uint32_t m)
{
	while (!maglev_is_prime(m))
		m++;
	return m;
}

static void test_sizes(void)
{
	uint32_t m;
	int ok = 1;

	test_begin("maglev_size_smallest_prime_from_target");
	CHECK(maglev_table_size(0) == 0, "size(0) = %u", maglev_table_size(0));
	CHECK(maglev_table_size(1) == 1009, "size(1) = %u", maglev_table_size(1));
	CHECK(maglev_table_size(3) == 3001, "size(3) = %u", maglev_table_size(3));
	CHECK(maglev_table_size(100) == 65537, "size(100) = %u", maglev_table_size(100));
	CHECK(maglev_table_size(1000) == 100003, "size(1000) = %u", maglev_table_size(1000));
	CHECK(maglev_table_size(UINT32_MAX) == 0, "size(UINT32_MAX) does not fit");
	for (uint32_t n = 1; n <= 2000 && ok; n++) {
		uint32_t target = 1000 * n < 65537 ? 1000 * n : 65537;

		if (target < 100 * n)
			target = 100 * n;
		m = maglev_table_size(n);
		ok &= CHECK(m >= 100 * n && m == smallest_prime_from(target), "size(%u) = %u", n, m);
	}
	CHECK(!maglev_is_prime(0) && !maglev_is_prime(1) && maglev_is_prime(2) &&
	      !maglev_is_prime(65535) && maglev_is_prime(65537) &&
	      maglev_is_prime(4294967291u), "maglev_is_prime wrong on a known value");
	test_end();
}

/* Every slot holds a backend of the set and every backend owns m/n slots,
 * rounded down or up: the fill hands out slots round-robin. */
static void test_full_and_even(void)
{
	static const uint32_t ns[] = { 1, 2, 3, 7, 10, 50, 100, MAX_BE };
	static uint32_t table[MAX_M];
	uint32_t count[MAX_BE];

	test_begin("maglev_table_full_and_even");
	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		uint32_t n = ns[t], m = maglev_table_size(n);

		memset(count, 0, sizeof(count));
		memset(table, 0xff, sizeof(table));
		if (!CHECK(!maglev_fill(names, ids, n, m, table), "fill n=%u m=%u", n, m))
			continue;
		for (uint32_t s = 0; s < m; s++) {
			uint32_t i = table[s] - 1000;

			if (!CHECK(i < n, "n=%u slot %u holds %u", n, s, table[s]))
				break;
			count[i]++;
		}
		for (uint32_t i = 0; i < n; i++)
			CHECK(count[i] == m / n || count[i] == m / n + 1,
			      "n=%u m=%u: backend %u owns %u slots", n, m, i, count[i]);
		CHECK(table[m] == 0xffffffff, "n=%u: wrote past slot m", n);
	}
	test_end();
}

/* The same set gives the same table, whatever its order; and the table does
 * not change between builds (a new one would move every Maglev flow whose
 * conntrack entry is gone when the agent is upgraded). */
static void test_deterministic(void)
{
	static uint32_t a[MAX_M], b[MAX_M];
	const char *rev_names[10];
	uint32_t rev_ids[10], m = maglev_table_size(10), h = 2166136261u;

	test_begin("maglev_deterministic");
	maglev_fill(names, ids, 10, m, a);
	maglev_fill(names, ids, 10, m, b);
	CHECK(!memcmp(a, b, m * sizeof(a[0])), "two fills differ");
	for (int i = 0; i < 10; i++) {
		rev_names[i] = names[9 - i];
		rev_ids[i] = ids[9 - i];
	}
	CHECK(!maglev_fill(rev_names, rev_ids, 10, m, b), "fill reversed");
	CHECK(!memcmp(a, b, m * sizeof(a[0])), "the order of the list changed the table");
	/* golden values of a 307-slot table */
	maglev_fill(names, ids, 3, 307, a);
	for (uint32_t s = 0; s < 307; s++)
		h = (h ^ (a[s] - 1000)) * 16777619u;
	CHECK(a[0] == 1002 && a[1] == 1002 && a[2] == 1002 && a[306] == 1000 &&
	      h == 0x48fed2dfu, "table for 3 backends changed: %u %u %u .. %u, hash 0x%08x",
	      a[0], a[1], a[2], a[306], h);
	test_end();
}

/* Removing backend k of n (same m): its slots go to the others, and of the
 * slots of the backends that stay at most max_pct percent move. */
static void test_remove_stability(uint32_t n, uint32_t m, uint32_t max_pct)
{
	static uint32_t before[MAX_M], after[MAX_M];
	uint32_t moved_max = 0;
	char name[80];

	snprintf(name, sizeof(name), "maglev_remove_one_of_%u_m%u_moves_under_%u_pct", n, m,
		 max_pct);
	test_begin(name);
	maglev_fill(names, ids, n, m, before);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t owned = 0, moved = 0;

		fill_without(n, k, m, after);
		for (uint32_t s = 0; s < m; s++) {
			if (before[s] == ids[k]) {
				owned++;
				CHECK(after[s] != ids[k], "removed backend still in slot %u", s);
			} else {
				moved += before[s] != after[s];
			}
		}
		CHECK(owned <= m / n + 1, "backend %u owned %u of %u slots", k, owned, m);
		CHECK(moved * 100 <= (m - owned) * max_pct,
		      "removing backend %u of %u moved %u of the %u other slots", k, n, moved,
		      m - owned);
		if (moved > moved_max)
			moved_max = moved;
	}
	fprintf(stderr, "  n=%u m=%u: at most %u surviving slots moved (%.2f%%)\n", n, m,
		moved_max, 100.0 * moved_max / m);
	test_end();
}

/* Adding a backend (same m): it takes m/(n+1) slots, rounded down or up, and
 * at most MAX_MOVED_PCT of the other slots move besides. */
static void test_add_stability(uint32_t n)
{
	static uint32_t before[MAX_M], after[MAX_M];
	uint32_t m = maglev_table_size(n + 1), taken = 0, moved = 0;
	char name[64];

	snprintf(name, sizeof(name), "maglev_add_one_to_%u_moves_about_1_of_n", n);
	test_begin(name);
	maglev_fill(names, ids, n, m, before);
	maglev_fill(names, ids, n + 1, m, after);
	for (uint32_t s = 0; s < m; s++) {
		if (after[s] == ids[n])
			taken++;
		else
			moved += before[s] != after[s];
	}
	CHECK(taken == m / (n + 1) || taken == m / (n + 1) + 1, "new backend got %u of %u slots",
	      taken, m);
	CHECK(moved * 100 <= (m - taken) * MAX_MOVED_PCT,
	      "adding a backend to %u moved %u of the %u other slots", n, moved, m - taken);
	fprintf(stderr, "  n=%u+1 m=%u: new backend took %u, %u others moved\n", n, m, taken,
		moved);
	test_end();
}

static void test_edges(void)
{
	static uint32_t table[MAX_M];
	const char *dup[] = { "a:1", "b:1", "a:1" };
	const char *missing[] = { "a:1", NULL };

	test_begin("maglev_edge_cases");
	CHECK(maglev_fill(NULL, NULL, 0, 0, NULL) == 0, "empty set, empty table");
	CHECK(maglev_fill(names, ids, 0, 101, table) == -EINVAL, "no backend for 101 slots");
	CHECK(!maglev_fill(names, ids, 1, 101, table), "one backend");
	for (int s = 0; s < 101; s++)
		if (!CHECK(table[s] == ids[0], "one backend: slot %d holds %u", s, table[s]))
			break;
	CHECK(!maglev_fill(names, ids, 2, 2, table) && table[0] != table[1],
	      "two backends, two slots: %u %u", table[0], table[1]);
	memset(table, 0, sizeof(table));
	CHECK(maglev_fill(names, ids, 3, 100, table) == -EINVAL, "m=100 is not prime");
	CHECK(maglev_fill(names, ids, 3, 2, table) == -EINVAL, "m < n");
	CHECK(maglev_fill(dup, ids, 3, 307, table) == -EINVAL, "duplicate name accepted");
	CHECK(maglev_fill(missing, ids, 2, 307, table) == -EINVAL, "NULL name accepted");
	CHECK(maglev_fill(names, ids, 3, 307, NULL) == -EINVAL, "NULL table accepted");
	for (int s = 0; s < 307; s++)
		if (!CHECK(!table[s], "a failed fill wrote slot %d", s))
			break;
	test_end();
}

int main(void)
{
	static const uint32_t ns[] = { 3, 10, 50 };

	setup_names();
	test_sizes();
	test_full_and_even();
	test_deterministic();
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		test_remove_stability(ns[i], maglev_table_size(ns[i]), MAX_MOVED_PCT_TABLE_SIZE);
		test_remove_stability(ns[i], smallest_prime_from(100 * ns[i]), MAX_MOVED_PCT);
		test_add_stability(ns[i]);
	}
	test_edges();
	return test_exit_status();
}
