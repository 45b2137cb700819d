/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A per-CPU, direct-mapped cache of established flows in front of
 * conntrack. A conntrack lookup is a call into the kernel's hash map code
 * (two calls and returns deep, plus jhash over the 40-byte key); on CPUs
 * with return-stack mitigations those returns are most of an established
 * flow's cost. A slot here is found and checked with inline loads only.
 *
 * A slot copies what forwarding needs from a conntrack entry: the translated
 * tuple with its checksum differences (so a hit computes none) and XDP's
 * next hop; tc keeps its FIB answer here too (struct xlb_keep). It is only a copy, so it is trusted briefly and
 * only for packets that change nothing in the entry:
 * - filled from an ESTABLISHED entry, used only by packets without SYN, FIN
 *   or RST and not fragmented (those go to conntrack, which keeps TCP state
 *   and the fragment table);
 * - valid for one second (XLB_FC_TTL): then the packet goes to conntrack,
 *   which refreshes last_seen (written at most once a second anyway), finds
 *   an expired or evicted entry, and refills the slot;
 * - valid only while xlb_config.ct_gen is unchanged: userspace bumps it
 *   after deleting entries (UDP flows of a removed endpoint), so a deleted
 *   flow is never served from here.
 * Per CPU, so no locking; a collision just means a conntrack lookup. */
#ifndef XLB_FLOWCACHE_H
#define XLB_FLOWCACHE_H

#include "parse.h"
#include "conntrack.h"
#include "nat.h"
#include "forward.h"

#define XLB_FC_SLOTS	1024	/* power of two */
#define XLB_FC_TTL	NSEC_PER_SEC

struct xlb_fc_slot {
	struct xlb_ct_key key;
	struct xlb_xlate x;
	struct xlb_next_hop nh;	/* XDP's */
	struct xlb_tc_hop hop;	/* tc's: each program has its own cache */
	__u32 gen;		/* xlb_config.ct_gen at the fill */
	__u64 expires;		/* xlb_now() */
};

/* Private to one program instance: the loader neither pins nor shares maps
 * named *_cache. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_FC_SLOTS);
	__type(key, __u32);
	__type(value, struct xlb_fc_slot);
} xlb_flow_cache SEC(".maps");

/* Packets that may change their conntrack entry never use the cache. */
static __always_inline int fc_eligible(const struct xlb_config *cfg, const struct xlb_pkt *p)
{
	if (cfg->flags & XLB_CFG_NO_FLOW_CACHE)
		return 0;
	return p->frag == XLB_FRAG_NONE &&
	       !(p->tcp_flags & (TCPF_SYN | TCPF_FIN | TCPF_RST));
}

_Static_assert(sizeof(struct xlb_ct_key) == 40 && XLB_FC_SLOTS == 1 << 10,
	       "fc_slot() and fc_key_eq() read five words, fc_slot() makes 10 bits");

/* A hash short enough to cost a few cycles, over the key's five 64-bit
 * words: the sum of each address's halves (the source's rotated, so a flow
 * and its mirror differ), the ports, protocol and family, one multiply.
 * A collision only costs a conntrack lookup. */
static __always_inline struct xlb_fc_slot *fc_slot(const struct xlb_ct_key *k)
{
	const __u64 *w = (const void *)k;
	__u64 src = w[0] + w[1], dst = w[2] + w[3];
	__u32 idx;

	idx = (((src << 13 | src >> 51) ^ dst ^ w[4]) * 0x9e3779b97f4a7c15ULL) >> 54;
	return bpf_map_lookup_elem(&xlb_flow_cache, &idx);	/* 2^10 slots */
}

static __always_inline int fc_key_eq(const struct xlb_ct_key *a, const struct xlb_ct_key *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

static __always_inline int fc_hit(const struct xlb_fc_slot *s, const struct xlb_ct_key *k,
				  const struct xlb_config *cfg, __u64 now)
{
	return s && s->gen == cfg->ct_gen && now < s->expires && fc_key_eq(&s->key, k);
}

/* Copy the rewrite of an entry that conntrack just served (and touched)
 * into the slot; whether it did. tc's hop is asked again. */
static __always_inline int fc_fill(struct xlb_fc_slot *s, const struct xlb_ct_key *k,
				   const struct xlb_xlate *x, const struct xlb_ct_entry *e,
				   const struct xlb_config *cfg, __u64 now)
{
	if (!s || e->state != XLB_CT_ESTABLISHED)
		return 0;
	s->key = *k;
	s->x = *x;
	s->nh = e->nh;
	s->hop.in_ifindex = 0;
	s->gen = cfg->ct_gen;
	s->expires = now + XLB_FC_TTL;
	return 1;
}

#endif
