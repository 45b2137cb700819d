/* Programs the model into the maps: diff one Service's desired ports against
 * what is programmed and apply in an order that never exposes a half state
 * (new backends, then the selection tables in one swap, then source ranges
 * and frontends, then removal of what is no longer referenced). A restarted
 * agent adopts the pinned state first, so an unchanged Service costs no map
 * write and no flow is disturbed. */
#ifndef XLB_SYNC_H
#define XLB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps.h"
#include "model.h"

struct sync;

struct sync_stats {
	uint64_t map_writes;	/* updates and deletes issued */
	uint64_t udp_flows_flushed;
	uint64_t errors;
	uint32_t svc_ports;	/* programmed service ports */
	uint32_t backends;	/* programmed backends */
};

struct sync *sync_new(struct xlb_maps *maps, bool maglev);
void sync_free(struct sync *s);

/* Index what the pinned maps hold, for adoption by the next applies. */
int sync_adopt(struct sync *s, char *err, size_t errlen);
/* Make svc_key's programmed ports equal desired (model_build_service output;
 * empty = the Service is gone). On error (-E2BIG: a map is full) nothing of
 * the new version is referenced and the previous version stays programmed. */
int sync_apply_service(struct sync *s, const char *svc_key, const struct model_state *desired,
		       char *err, size_t errlen);
/* After the first full pass: remove adopted entries no Service claimed. */
int sync_collect_garbage(struct sync *s);

/* The node-wide part: masquerade addresses, pod and service CIDRs, this
 * node's addresses (NODE) and NodePort addresses (NODEPORT). */
struct sync_node {
	struct xlb_config cfg;
	const struct xlb_prefix *pod_cidrs;
	size_t n_pod_cidrs;
	const struct xlb_prefix *svc_cidrs;
	size_t n_svc_cidrs;
	const struct xlb_ip *node_addrs;
	size_t n_node_addrs;
	const struct xlb_ip *nodeport_addrs;
	size_t n_nodeport_addrs;
};
int sync_apply_node(struct sync *s, const struct sync_node *node, char *err, size_t errlen);

void sync_get_stats(const struct sync *s, struct sync_stats *out);

#endif
