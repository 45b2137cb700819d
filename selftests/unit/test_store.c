// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The object store: change reports, last-good-version, the slice index and
 * relists, plus a 100k Services + 100k slices load to keep it honest about
 * being hash-based (bounded by count, no time asserted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "store.h"
#include "test.h"

static struct kube_service *svc(const char *name, const char *rv, const char *cip)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\",\"resourceVersion\":\"%s\"},"
		 "\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{\"name\":\"a\",\"port\":80}]}}", name, rv, cip);
	return service_from_json(buf);
}

static struct kube_slice *slice(const char *name, const char *svc_name, const char *rv)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"ns\",\"name\":\"%s\",\"resourceVersion\":\"%s\","
		 "\"labels\":{\"kubernetes.io/service-name\":\"%s\"}},\"addressType\":\"IPv4\","
		 "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}", name, rv, svc_name);
	return slice_from_json(buf);
}

static bool slices_of_is(const struct store *st, const char *key, size_t want)
{
	const struct kube_slice *s;
	size_t n = 0;

	for (s = store_slices_of(st, key); s; s = s->next_of_service)
		n++;
	return n == want;
}

static void test_upsert_delete(void)
{
	struct store *st = store_new();
	struct store_changes chg;
	const struct kube_service *s;

	test_begin("upsert_delete_report_changes");
	store_changes_init(&chg);
	CHECK(store_upsert_service(st, svc("a", "1", "10.0.0.1"), &chg) == 1, "new Service");
	CHECK(store_upsert_service(st, svc("a", "1", "10.0.0.1"), &chg) == 0, "same resourceVersion");
	CHECK(chg.n == 1 && !strcmp(chg.keys[0], "ns/a"), "one key");
	CHECK(store_upsert_service(st, svc("a", "2", "10.0.0.2"), &chg) == 1, "update");
	CHECK(chg.n == 1, "keys are reported once");
	s = store_get_service(st, "ns/a");
	CHECK(s && !strcmp(s->meta.resource_version, "2"), "latest version stored");
	CHECK(store_delete_service(st, "ns", "a", NULL) == 1, "delete");
	CHECK(store_delete_service(st, "ns", "a", NULL) == 0, "delete again");
	CHECK(!store_get_service(st, "ns/a") && store_n_services(st) == 0, "gone");
	store_changes_free(&chg);
	store_free(st);
	test_end();
}

/* A rejected update is never upserted, so the last good version stays. */
static void test_last_good(void)
{
	struct store *st = store_new();
	struct kube_service *bad = svc("a", "3", "not-an-ip");
	const struct kube_service *s;

	test_begin("bad_update_keeps_last_good_version");
	store_upsert_service(st, svc("a", "2", "10.0.0.2"), NULL);
	CHECK(!bad, "bad update decoded");
	if (bad)
		store_upsert_service(st, bad, NULL);
	s = store_get_service(st, "ns/a");
	CHECK(s && !strcmp(s->meta.resource_version, "2") && s->n_cluster_ips == 1, "last good kept");
	store_free(st);
	test_end();
}

static void test_slice_index(void)
{
	struct store *st = store_new();
	struct store_changes chg;

	test_begin("slice_index_and_label_move");
	store_changes_init(&chg);
	store_upsert_slice(st, slice("x-1", "x", "1"), NULL);
	store_upsert_slice(st, slice("x-2", "x", "1"), NULL);
	store_upsert_slice(st, slice("y-1", "y", "1"), NULL);
	CHECK(slices_of_is(st, "ns/x", 2) && slices_of_is(st, "ns/y", 1), "index");
	/* x-2 relabelled to y: both Services change. */
	CHECK(store_upsert_slice(st, slice("x-2", "y", "2"), &chg) == 1, "relabel");
	CHECK(chg.n == 2 && store_changes_has(&chg, "ns/x") && store_changes_has(&chg, "ns/y"),
	      "both Services reported (%zu)", chg.n);
	CHECK(slices_of_is(st, "ns/x", 1) && slices_of_is(st, "ns/y", 2), "index follows the label");
	CHECK(store_delete_slice(st, "ns", "x-1", NULL) == 1 && slices_of_is(st, "ns/x", 0), "delete");
	CHECK(store_n_slices(st) == 2, "%zu slices", store_n_slices(st));
	/* A chain of three: updates and deletes at its head, middle and tail. */
	store_upsert_slice(st, slice("z-1", "z", "1"), NULL);
	store_upsert_slice(st, slice("z-2", "z", "1"), NULL);
	store_upsert_slice(st, slice("z-3", "z", "1"), NULL);
	store_upsert_slice(st, slice("z-3", "z", "2"), NULL);
	store_upsert_slice(st, slice("z-1", "z", "2"), NULL);
	CHECK(slices_of_is(st, "ns/z", 3), "updates keep the chain");
	store_delete_slice(st, "ns", "z-3", NULL);
	CHECK(slices_of_is(st, "ns/z", 2), "first delete");
	store_delete_slice(st, "ns", "z-2", NULL);
	CHECK(slices_of_is(st, "ns/z", 1) && store_get_slice(st, "ns/z-1"), "second delete");
	store_changes_free(&chg);
	store_free(st);
	test_end();
}

static void test_relist(void)
{
	struct store *st = store_new();
	struct store_changes chg;
	struct kube_service *items[3];
	struct kube_slice *sitems[2];
	int n;

	test_begin("relist_reports_only_differences");
	store_upsert_service(st, svc("keep", "1", "10.0.0.1"), NULL);
	store_upsert_service(st, svc("change", "1", "10.0.0.2"), NULL);
	store_upsert_service(st, svc("gone", "1", "10.0.0.3"), NULL);
	store_upsert_slice(st, slice("keep-1", "keep", "1"), NULL);
	store_upsert_slice(st, slice("gone-1", "gone", "1"), NULL);
	items[0] = svc("keep", "1", "10.0.0.1");
	items[1] = svc("change", "2", "10.0.0.9");
	items[2] = svc("new", "1", "10.0.0.4");
	store_changes_init(&chg);
	n = store_replace_services(st, items, 3, NULL, 0, &chg);
	CHECK(n == 3 && chg.n == 3, "returned %d, %zu keys", n, chg.n);
	CHECK(!store_changes_has(&chg, "ns/keep") && store_changes_has(&chg, "ns/change") &&
	      store_changes_has(&chg, "ns/new") && store_changes_has(&chg, "ns/gone"), "keys");
	CHECK(store_n_services(st) == 3 && !store_get_service(st, "ns/gone"), "contents");
	store_changes_free(&chg);

	sitems[0] = slice("keep-1", "keep", "1");
	sitems[1] = slice("new-1", "new", "1");
	store_changes_init(&chg);
	n = store_replace_slices(st, sitems, 2, NULL, 0, &chg);
	CHECK(n == 2 && store_changes_has(&chg, "ns/new") && store_changes_has(&chg, "ns/gone") &&
	      !store_changes_has(&chg, "ns/keep"), "slice relist reports Services (%d)", n);
	CHECK(slices_of_is(st, "ns/gone", 0) && slices_of_is(st, "ns/new", 1), "index after relist");
	store_changes_free(&chg);
	store_free(st);
	test_end();
}

/* Scale: 100k Services and 100k slices, then one event each way. */
static void test_scale(void)
{
	enum { N = 100000 };
	struct store *st = store_new();
	struct store_changes chg;
	char name[32], ip[32];
	int i;

	test_begin("scale_100k_services_and_slices");
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		if (store_upsert_service(st, svc(name, "1", ip), NULL) != 1 ||
		    store_upsert_slice(st, slice(name, name, "1"), NULL) != 1)
			break;
	}
	CHECK(store_n_services(st) == N && store_n_slices(st) == N, "%zu services %zu slices",
	      store_n_services(st), store_n_slices(st));
	store_changes_init(&chg);
	store_upsert_slice(st, slice("s4242", "s4242", "2"), &chg);
	CHECK(chg.n == 1 && !strcmp(chg.keys[0], "ns/s4242") && slices_of_is(st, "ns/s4242", 1),
	      "one event, one change");
	store_changes_free(&chg);
	store_free(st);
	test_end();
}

int main(void)
{
	test_upsert_delete();
	test_last_good();
	test_slice_index();
	test_relist();
	test_scale();
	return test_exit_status();
}
