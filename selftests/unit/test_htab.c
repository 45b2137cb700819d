// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* htab: lookups, replacement, and deletion (entries shift back into the
 * hole, also across the end of the slot array) under a mixed load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "test.h"

struct obj {
	char key[16];
	int val;
};

static const void *obj_key(const void *o)
{
	return ((const struct obj *)o)->key;
}

static const struct htab_ops ops = { obj_key, htab_str_hash, htab_str_equal };

/* Every key collides near the end of the array: one long probe run that
 * wraps around. */
static uint64_t same_hash(const void *key)
{
	return (uint64_t)-3;
}

static const struct htab_ops colliding = { obj_key, same_hash, htab_str_equal };

#define N 5000

static int check_all(const struct htab *t, struct obj *objs, size_t n, size_t step)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct obj *o = htab_get(t, objs[i].key);
		bool want = i % step != 0;

		bad += want ? o != &objs[i] : o != NULL;
	}
	return bad;
}

static void run(const char *name, const struct htab_ops *o, size_t n)
{
	struct obj *objs = calloc(n, sizeof(*objs)), repl;
	struct htab t;
	void *old;
	size_t i, len;
	int bad = 0;

	test_begin(name);
	htab_init(&t, o);
	for (i = 0; i < n; i++) {
		snprintf(objs[i].key, sizeof(objs[i].key), "ns/svc-%zu", i);
		bad += htab_put(&t, &objs[i], &old) || old;
	}
	CHECK(!bad && t.len == n, "%d failed inserts, len %zu", bad, t.len);
	repl = objs[7];
	CHECK(!htab_put(&t, &repl, &old) && old == &objs[7] && htab_get(&t, "ns/svc-7") == &repl,
	      "replacement");
	htab_put(&t, &objs[7], &old);
	for (i = 0; i < n; i += 3)
		bad += htab_del(&t, objs[i].key) != &objs[i];
	CHECK(!bad && !htab_del(&t, objs[0].key), "%d failed deletes", bad);
	CHECK(!(bad = check_all(&t, objs, n, 3)), "%d wrong lookups after deletes", bad);
	for (i = 0, len = 0; htab_next(&t, &i); len++)
		;
	CHECK(len == t.len && len == n - (n + 2) / 3, "walk saw %zu of %zu", len, t.len);
	htab_free(&t);
	free(objs);
	test_end();
}

int main(void)
{
	run("htab_put_get_del", &ops, N);
	run("htab_del_in_one_wrapping_run", &colliding, 40);
	return test_exit_status();
}
