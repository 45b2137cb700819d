/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Lookups that decide a new flow: frontend, source class, source ranges,
 * affinity and backend choice from the service's selection table. */
#ifndef XLB_LOOKUP_H
#define XLB_LOOKUP_H

#include "parse.h"
#include "maps.h"

enum xlb_src_class {
	XLB_SRC_EXTERNAL,
	XLB_SRC_POD,
	XLB_SRC_NODE,
};

static __always_inline struct xlb_frontend *
frontend_get(const union xlb_addr *addr, __be16 port, __u8 proto, __u8 family)
{
	struct xlb_frontend_key k = {};

	k.addr = *addr;
	k.port = port;
	k.proto = proto;
	k.family = family;
	return bpf_map_lookup_elem(&xlb_frontends, &k);
}

static __always_inline __u32 local_addr_flags(const union xlb_addr *addr, __u8 family)
{
	struct xlb_addr_key k = {};
	__u32 *flags;

	k.addr = *addr;
	k.family = family;
	flags = bpf_map_lookup_elem(&xlb_local_addrs, &k);
	return flags ? *flags : 0;
}

static __always_inline int lpm_contains(void *map, __u32 id, const union xlb_addr *addr,
					__u8 family)
{
	struct xlb_lpm_key k = {};

	k.prefixlen = 32 + (family == XLB_FAM_V4 ? 32 : 128);
	k.id = id;
	k.addr = *addr;
	return bpf_map_lookup_elem(map, &k) != NULL;
}

/* Frontend for the destination: exact (address, port, protocol), then the
 * NodePort entry when the address serves NodePorts. */
static __always_inline struct xlb_frontend *frontend_find(const struct xlb_pkt *p)
{
	union xlb_addr any = {};
	struct xlb_frontend *fe;

	fe = frontend_get(&p->daddr, p->dport, p->proto, p->family);
	if (fe)
		return fe;
	if (!(local_addr_flags(&p->daddr, p->family) & XLB_ADDR_NODEPORT))
		return NULL;
	return frontend_get(&any, p->dport, p->proto, p->family);
}

static __always_inline int src_class(const struct xlb_config *cfg, const struct xlb_pkt *p)
{
	if ((cfg->flags & XLB_CFG_POD_DETECT) &&
	    lpm_contains(&xlb_pod_cidrs, p->family, &p->saddr, p->family))
		return XLB_SRC_POD;
	if (local_addr_flags(&p->saddr, p->family) & XLB_ADDR_NODE)
		return XLB_SRC_NODE;
	return XLB_SRC_EXTERNAL;
}

/* A 32-bit hash of the flow for Maglev: stable across packets and CPUs. */
static __always_inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 flow_hash(const struct xlb_pkt *p)
{
	__u32 h = p->proto, i;

#pragma unroll
	for (i = 0; i < 4; i++)
		h = mix32(h ^ p->saddr.v6[i]) + i;
#pragma unroll
	for (i = 0; i < 4; i++)
		h = mix32(h ^ p->daddr.v6[i]) + i;
	return mix32(h ^ ((__u32)p->sport << 16 | p->dport));
}

static __always_inline struct xlb_backend *backend_get(__u32 id)
{
	return bpf_map_lookup_elem(&xlb_backends, &id);
}

/* Slot -> backend in the table generation svc names. */
static __always_inline struct xlb_backend *
slot_backend(__u32 svc_id, const struct xlb_service *svc, __u8 set, __u32 index, __u32 *id)
{
	struct xlb_slot_key k = {
		.svc_id = svc_id,
		.gen = svc->gen,
		.set = set,
		.index = index,
	};
	__u32 *bid = bpf_map_lookup_elem(&xlb_slots, &k);

	if (!bid)
		return NULL;
	*id = *bid;
	return backend_get(*bid);
}

#endif
