/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Plain C views of the Kubernetes objects xlb reads: only the fields
 * kube-proxy uses, already validated and parsed (see decode.h). Every string
 * is owned by its object and freed with it; pointers are never NULL unless
 * the field says "NULL = absent". A large cluster keeps about a million
 * endpoints: strings that repeat across objects (node and port names) are
 * shared, and endpoints are stored packed (kube_slice_endpoint()). */
#ifndef XLB_KUBE_TYPES_H
#define XLB_KUBE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "ipaddr.h"

/* Caps on arrays in one object; larger ones are rejected as "too_large".
 * The API server's own limits are lower (slices: 1000 endpoints, 100 ports;
 * hints: 8), so only forged or corrupt objects hit them. */
#define KUBE_MAX_PORTS		1024	/* Service or EndpointSlice ports */
#define KUBE_MAX_IPS		256	/* externalIPs, ingress, source ranges */
#define KUBE_MAX_ENDPOINTS	1000	/* endpoints in one slice */
#define KUBE_MAX_ADDRESSES	100	/* addresses of one endpoint */
#define KUBE_MAX_HINTS		64	/* forZones / forNodes of one endpoint */
#define KUBE_MAX_NODE_ADDRS	64	/* Node status.addresses */
#define KUBE_MAX_TAINTS		256
#define KUBE_MAX_STRLEN		4096	/* any single string field */
#define KUBE_MAX_NAME		253	/* metadata.name, as the API server */
#define KUBE_MAX_NAMESPACE	63

#define KUBE_AFFINITY_DEFAULT_TIMEOUT 10800	/* seconds, as the API server */

/* One allocation: key owns the block the other strings point into. */
struct kube_meta {
	char *key;		/* "namespace/name", the store's key */
	const char *ns;		/* "" for cluster-scoped objects (Node) */
	const char *name;
	const char *resource_version;	/* opaque; "" when absent */
};

enum kube_svc_type {
	KUBE_SVC_CLUSTER_IP,
	KUBE_SVC_NODE_PORT,
	KUBE_SVC_LOAD_BALANCER,
	KUBE_SVC_EXTERNAL_NAME,
};

struct kube_svc_port {
	const char *name;	/* "" for the single unnamed port; shared */
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_SCTP */
	__u16 port;
	__u16 node_port;	/* 0 = none */
};

struct kube_lb_ingress {
	struct xlb_ip ip;
	bool vip;		/* ipMode absent or "VIP"; "Proxy" (or unknown) = false */
};

/* Fields ordered to pack: a large cluster holds 100k of these. */
struct kube_service {
	struct kube_meta meta;
	struct kube_svc_port *ports;
	struct xlb_ip *external_ips;		/* invalid entries skipped */
	struct kube_lb_ingress *ingress;	/* entries with a valid ip only */
	struct xlb_prefix *source_ranges;	/* trimmed; invalid skipped */
	__u16 n_ports;			/* at most KUBE_MAX_PORTS */
	__u16 n_external_ips;		/* these at most KUBE_MAX_IPS */
	__u16 n_ingress;
	__u16 n_source_ranges;
	enum kube_svc_type type;
	__u32 affinity_timeout;	/* seconds; default 10800 */
	/* One ClusterIP per family, paired from clusterIPs[i] / ipFamilies[i]
	 * (fallback clusterIP); no two of the same family. */
	struct xlb_ip cluster_ips[2];
	__u8 n_cluster_ips;
	__u16 health_check_node_port;	/* 0 = none */
	bool headless;		/* clusterIP "None" or empty */
	bool proxy_excluded;	/* labelled service-proxy-name or headless */
	bool etp_local;		/* externalTrafficPolicy Local */
	bool itp_local;		/* internalTrafficPolicy Local */
	bool affinity;		/* sessionAffinity ClientIP */
	bool allocate_lb_node_ports;	/* default true */
};

enum kube_addr_type {
	KUBE_ADDR_IPV4,
	KUBE_ADDR_IPV6,
	KUBE_ADDR_FQDN,	/* deprecated: decoded but carries no endpoints */
};

struct kube_slice_port {
	const char *name;	/* NULL = absent: kube-proxy ignores such a port; shared */
	__u8 proto;
	__u16 port;	/* 0 = absent or 0: ignored */
};

/* hints.forZones / hints.forNodes of one endpoint. */
struct kube_hints {
	char **for_zones;
	size_t n_for_zones;
	char **for_nodes;
	size_t n_for_nodes;
};

/* One endpoint as kube_slice_endpoint() unpacks it. The endpoint's zone is
 * not kept: kube-proxy's topology reads the hints and the Node's zone. */
struct kube_endpoint {
	struct xlb_ip ip;	/* addresses[0] */
	bool ready;		/* absent = true */
	bool serving;		/* absent = true */
	bool terminating;	/* absent = false */
	const char *node_name;	/* NULL = absent */
	const struct kube_hints *hints;	/* NULL = none */
};

struct kube_slice {
	struct kube_meta meta;
	char *service_key;	/* "namespace/<label kubernetes.io/service-name>" */
	/* The store's: the next slice of the same Service (store_slices_of). */
	struct kube_slice *next_of_service;
	struct kube_slice_port *ports;
	/* The valid endpoints of the address type, packed (12 bytes each for
	 * IPv4, 24 for IPv6); read with kube_slice_endpoint(). */
	void *endpoints;
	struct kube_hints **hints;	/* per endpoint; NULL when none has hints */
	/* endpoints.kubernetes.io/last-change-trigger-time as Unix time in
	 * nanoseconds; 0 = absent or unparsable. */
	int64_t trigger_time_ns;
	enum kube_addr_type addr_type;
	__u16 n_ports;		/* at most KUBE_MAX_PORTS */
	__u16 n_endpoints;	/* at most KUBE_MAX_ENDPOINTS */
};

enum kube_node_addr_type {
	KUBE_NODE_INTERNAL_IP,
	KUBE_NODE_EXTERNAL_IP,
	KUBE_NODE_OTHER,	/* any other type carrying an IP */
};

struct kube_node_addr {
	enum kube_node_addr_type type;
	struct xlb_ip ip;
};

struct kube_node {
	struct kube_meta meta;
	char *zone;		/* label topology.kubernetes.io/zone; NULL = absent */
	struct kube_node_addr *addrs;	/* entries whose address is an IP */
	size_t n_addrs;
	bool deleting;		/* metadata.deletionTimestamp set */
	bool to_be_deleted;	/* taint ToBeDeletedByClusterAutoscaler */
};

#endif
