/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent's copy of the cluster: decoded Services and EndpointSlices keyed
 * by "namespace/name", slices also indexed by their Service, and this node's
 * Node. Hash tables throughout: every event costs O(size of the change).
 *
 * Ownership: upsert and replace take the objects passed in, always (also on
 * error). A rejected object is simply never upserted, so the last good
 * version of a known object stays in place.
 *
 * Change reports: mutating calls take an optional struct store_changes and
 * add to it the key "namespace/name" of every Service whose model output may
 * have changed (for a slice: the Service named by its label, before and
 * after). An object whose resourceVersion equals the stored one (both
 * non-empty) is not a change. */
#ifndef XLB_STORE_H
#define XLB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "htab.h"
#include "kube_types.h"

struct store;

/* The keys (malloc'd, as the array) may be taken over: set keys to NULL and
 * n and cap to 0 before store_changes_free. */
struct store_changes {
	char **keys;		/* Service keys "ns/name", each once */
	size_t n;
	size_t cap;
	struct htab seen;	/* private: the keys */
};

void store_changes_init(struct store_changes *chg);
/* Free every key; the struct can be reused after store_changes_init. */
void store_changes_free(struct store_changes *chg);
bool store_changes_has(const struct store_changes *chg, const char *key);

struct store *store_new(void);
void store_free(struct store *st);

/* Each returns 1 when the store changed, 0 when not, -ENOMEM. */
int store_upsert_service(struct store *st, struct kube_service *svc, struct store_changes *chg);
int store_delete_service(struct store *st, const char *ns, const char *name,
			 struct store_changes *chg);
int store_upsert_slice(struct store *st, struct kube_slice *slice, struct store_changes *chg);
int store_delete_slice(struct store *st, const char *ns, const char *name,
		       struct store_changes *chg);

/* Relist: the store then holds exactly items[0..n) (ownership taken) plus
 * the objects keyed "ns/name" in keep[0..n_keep) (keep may be NULL): those
 * the list held in a rejected version, whose last good version stays.
 * Returns the number of Services reported in chg, or -ENOMEM. */
int store_replace_services(struct store *st, struct kube_service **items, size_t n,
			   char *const *keep, size_t n_keep, struct store_changes *chg);
int store_replace_slices(struct store *st, struct kube_slice **items, size_t n,
			 char *const *keep, size_t n_keep, struct store_changes *chg);

/* This node; takes ownership; NULL forgets it. */
void store_set_node(struct store *st, struct kube_node *node);
const struct kube_node *store_node(const struct store *st);

const struct kube_service *store_get_service(const struct store *st, const char *key);
const struct kube_slice *store_get_slice(const struct store *st, const char *key);
size_t store_n_services(const struct store *st);
size_t store_n_slices(const struct store *st);

/* Every Service, in no particular order. Return non-zero from fn to stop;
 * that value is returned. The store must not change during the walk. */
int store_for_each_service(const struct store *st,
			   int (*fn)(const struct kube_service *svc, void *ctx), void *ctx);
/* The slices labelled for Service key "ns/name": the first (NULL: none),
 * then each one's next_of_service; valid until the next change to the
 * store. */
const struct kube_slice *store_slices_of(const struct store *st, const char *svc_key);

/* "ns/name" into buf; returns buf. */
#define STORE_KEY_MAX 512
const char *store_key(const char *ns, const char *name, char *buf, size_t len);

#endif
