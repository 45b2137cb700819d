/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The kube-proxy semantics of /work/shared/spec/SERVICES.md as a pure
 * function: store (Services, EndpointSlices, this Node) + flags -> one
 * model_svc_port per (Service port, address family) with its endpoint sets,
 * frontends and flags. No BPF, no I/O; see README-model.md. */
#ifndef XLB_MODEL_H
#define XLB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlb_abi.h"
#include "ipaddr.h"
#include "store.h"

struct model_config {
	const char *node_name;		/* --hostname-override: "local" endpoints */
	/* --nodeport-addresses: "primary" (the Node's primary IPv4 and IPv6
	 * address), or a CIDR list matched against the Node's addresses and
	 * host_addrs. */
	bool nodeport_primary;
	const struct xlb_prefix *nodeport_cidrs;
	size_t n_nodeport_cidrs;
	const struct xlb_ip *host_addrs;	/* optional: the host's interface addresses */
	size_t n_host_addrs;
	bool allow_external_ips;	/* AllowServiceExternalIPs gate */
	/* Carried for the sync (pod detection, service-CIDR DROP); the Service
	 * semantics computed here do not depend on them. Empty cluster_cidrs =
	 * no pod detection. */
	const struct xlb_prefix *cluster_cidrs;
	size_t n_cluster_cidrs;
	const struct xlb_prefix *service_cidrs;
	size_t n_service_cidrs;
};

struct model_endpoint {
	struct xlb_ip ip;
	__u16 port;		/* the slice's ports[].port */
	bool is_local;
	bool ready;
	bool serving;
	bool terminating;
};

struct model_frontend {
	__u8 kind;		/* XLB_FE_CLUSTER_IP, _NODE_PORT, _LOAD_BALANCER, _EXTERNAL_IP */
	bool gated;		/* externalIP with the gate off: count, do not touch */
	struct xlb_ip addr;
	__u16 port;
	__u8 proto;
};

struct model_svc_port {
	char *key;		/* "ns/name:portname:TCP:v4" */
	char *svc_key;		/* "ns/name" */
	char *port_name;
	__u8 family;		/* XLB_FAM_V4 / XLB_FAM_V6 */
	__u8 proto;		/* IPPROTO_* */
	__u16 port;		/* the Service port */
	__u32 flags;		/* XLB_SVC_ETP_LOCAL, _ITP_LOCAL, _AFFINITY, _SOURCE_RANGES */
	__u32 affinity_timeout;	/* seconds, with XLB_SVC_AFFINITY */
	/* Cluster set: ready endpoints after topology hints, else the serving
	 * terminating ones. Local set: local ready, else local serving
	 * terminating. Both sorted by (ip, port). */
	struct model_endpoint *cluster;
	size_t n_cluster;
	struct model_endpoint *local;
	size_t n_local;
	bool has_endpoints;	/* any usable endpoint anywhere: else REJECT */
	struct model_frontend *fes;
	size_t n_fes;
	/* loadBalancerSourceRanges of this family, plus the LB IPs themselves
	 * when a range holds the node's address; empty = no filter. */
	struct xlb_prefix *source_ranges;
	size_t n_source_ranges;
	__u16 health_check_node_port;	/* LoadBalancer + ETP Local only; else 0 */
	__u32 local_ready;	/* distinct local ready endpoint IPs of the Service (family) */
	int64_t trigger_time_ns;	/* latest slice trigger time; 0 = none */
};

struct model_counts {
	unsigned int ext_ips_skipped;	/* externalIPs not programmed (gate off) */
	unsigned int ext_ip_services;	/* Services having such externalIPs */
	unsigned int no_local_internal;	/* ITP Local ports: endpoints, none local */
	unsigned int no_local_external;	/* ETP Local ports: endpoints, none local */
};

struct model_state {
	struct model_svc_port *ports;	/* model_build: sorted by key */
	size_t n_ports;
	size_t cap;
	struct model_counts counts;
	struct xlb_ip node_ips[2];	/* primary IPv4, IPv6 (family 0 = none) */
	struct xlb_ip *nodeport_addrs;	/* addresses serving NodePorts */
	size_t n_nodeport_addrs;
};

void model_state_init(struct model_state *out);
void model_state_free(struct model_state *out);

/* Computes the whole model into out (initialised or freed before). Returns
 * 0 or -ENOMEM (out is then empty). */
int model_build(const struct store *st, const struct model_config *cfg, struct model_state *out);
/* The same for one Service (key "ns/name"), into a fresh out: its ports and
 * its share of the counts. A deleted or skipped Service gives no ports. The
 * sync keeps the per-Service results of the last run and sums the counts. */
int model_build_service(const struct store *st, const struct model_config *cfg,
			const char *svc_key, struct model_state *out);

/* Binary search in a model_build result. */
const struct model_svc_port *model_find(const struct model_state *s, const char *key);

#endif
