/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Where a translated packet goes (in: the quoted flow of an ICMP error).
 * XDP only sends it back out of the device it came in on (XDP_TX, next hop
 * from the FIB); anything else (a local pod, an unresolved neighbour,
 * another device) is passed up untouched and the tc
 * program on the same device translates it and redirects it to the next hop,
 * which works for every device type. */
#ifndef XLB_FORWARD_H
#define XLB_FORWARD_H

#include "parse.h"
#include "counters.h"
#include "nat.h"
#include "conntrack.h"

#define XLB_AF_INET 2
#define XLB_AF_INET6 10

/* tc's copy of the FIB's answer for a cached flow: the device and the
 * neighbour bpf_redirect_neigh() resolves, asked from in_ifindex. */
struct xlb_tc_hop {
	__u32 in_ifindex;	/* 0 = none */
	__u32 out_ifindex;
	__u32 stamp;		/* xlb_now() >> 30 at the lookup */
	__u32 family;		/* XLB_AF_INET or XLB_AF_INET6 */
	union xlb_addr gw;
};

/* Where a tracked flow keeps what forward() may reuse instead of asking the
 * FIB: XDP the frame's MACs (struct xlb_next_hop, in the conntrack entry
 * or its flow-cache slot), tc the FIB's answer (in its flow-cache slot
 * only). NULL: nothing kept (a new flow, an ICMP error). */
struct xlb_keep {
	struct xlb_next_hop *nh;
	struct xlb_tc_hop *hop;
};

static __always_inline int fib_lookup_tuple(XLB_CTX *ctx, __u32 ifindex, const struct xlb_pkt *p,
					    const struct xlb_tuple *t,
					    struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	fib->l4_protocol = p->proto;
	fib->sport = t->sport;
	fib->dport = t->dport;
	fib->tot_len = p->l3_len;
	if (p->family == XLB_FAM_V4) {
		fib->family = XLB_AF_INET;
		fib->ipv4_src = t->saddr.v4;
		fib->ipv4_dst = t->daddr.v4;
	} else {
		fib->family = XLB_AF_INET6;
		__builtin_memcpy(fib->ipv6_src, &t->saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, &t->daddr, 16);
	}
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

#ifdef XLB_XDP
/* Put the FIB's next hop in the frame when it leaves by the device it came
 * in on, and keep it in nh (NULL for a new flow). A subprogram of its own:
 * the lookup's stack must not add to the caller's. */
static __noinline int fib_next_hop(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_tuple *t,
				   struct xlb_next_hop *nh, __u32 stamp)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct bpf_fib_lookup fib;
	struct ethhdr *eth;

	if (!p || !t)
		return -1;
	if (fib_lookup_tuple(ctx, ifindex, p, t, &fib) != BPF_FIB_LKUP_RET_SUCCESS ||
	    fib.ifindex != ifindex)
		return -1;
	eth = ctx_ptr(ctx, 0, sizeof(*eth));
	if (!eth)
		return -1;
	__builtin_memcpy(eth->h_dest, fib.dmac, 6);
	__builtin_memcpy(eth->h_source, fib.smac, 6);
	if (nh) {
		__builtin_memcpy(nh->dmac, fib.dmac, 6);
		__builtin_memcpy(nh->smac, fib.smac, 6);
		nh->stamp = stamp;
		nh->ifindex = fib.ifindex;
	}
	return 0;
}

/* A tracked flow reuses the next hop it kept for one to two seconds
 * (2^30 ns units); only a tracked flow has an nh and a p->now. */
static __always_inline int next_hop(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_tuple *t,
				    struct xlb_next_hop *nh)
{
	__u32 stamp = p->now >> 30;
	struct ethhdr *eth;

	if (!nh || nh->ifindex != ctx->ingress_ifindex || stamp - nh->stamp >= 2)
		return fib_next_hop(ctx, p, t, nh, stamp);
	eth = ctx_ptr(ctx, 0, sizeof(*eth));
	if (!eth)
		return -1;
	/* Both MACs in one 8- and one 4-byte move: they follow each other in
	 * nh and in the header alike (unaligned: see addr6_copy()). */
	*(__u64 *)eth->h_dest = *(const __u64 *)nh->dmac;
	*(__u32 *)(eth->h_dest + 8) = *(const __u32 *)(nh->dmac + 8);
	return 0;
}

/* Inline: XDP's forward is the hot path's tail and needs little stack. */
static __always_inline int forward(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_xlate *x,
				   const struct xlb_inner *in, const struct xlb_keep *keep)
{
	if (untranslatable(p, x, in))
		return verdict_skip(XLB_SKIP_FRAGMENT);
	/* The MACs are outside every checksum: set before the rewrite, and
	 * a packet that then fails to translate is dropped anyway. */
	if (next_hop(ctx, p, &x->t, keep->nh))
		return verdict_skip(XLB_SKIP_LOCAL_DELIVERY);
	if (translate(ctx, p, x, in))
		return verdict_drop(XLB_DROP_REWRITE);
	count_verdict(XLB_VERDICT_TX);
	return XDP_TX;
}

/* Send a rebuilt packet (REJECT) back where it came from. */
static __always_inline int reflect(XLB_CTX *ctx)
{
	return XDP_TX;
}
#else
/* A kept hop serves while it was asked from this device less than one to
 * two seconds ago (2^30 ns units), as XDP's does. */
static __always_inline int tc_hop_fresh(__u32 ifindex, const struct xlb_pkt *p,
					const struct xlb_tc_hop *h)
{
	return h && h->in_ifindex == ifindex && (__u32)(p->now >> 30) - h->stamp < 2;
}

/* Ask the FIB for t's next hop from device ifindex, into h. On success the
 * lookup leaves the next hop (gateway or target) in its destination. */
static __always_inline int tc_hop_lookup(XLB_CTX *ctx, __u32 ifindex, struct xlb_pkt *p,
					 const struct xlb_tuple *t, struct xlb_tc_hop *h)
{
	struct bpf_fib_lookup fib;
	int rc = fib_lookup_tuple(ctx, ifindex, p, t, &fib);

	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	h->in_ifindex = ifindex;
	h->out_ifindex = fib.ifindex;
	h->stamp = p->now >> 30;
	h->family = fib.family;
	if (fib.family == XLB_AF_INET)
		h->gw.v4 = fib.ipv4_dst;
	else
		__builtin_memcpy(&h->gw, fib.ipv6_dst, 16);
	return 0;
}

/* bpf_redirect_neigh() resolves the neighbour itself; tc keeps only where
 * to send (keep->hop), and asks the FIB when it has nothing fresh. */
static __noinline int forward(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_xlate *x,
			      const struct xlb_inner *in, const struct xlb_keep *keep)
{
	struct xlb_tc_hop fresh, *h = keep->hop;
	__u32 ifindex = ctx_ifindex(ctx);
	struct bpf_redir_neigh nh = {};

	if (untranslatable(p, x, in))
		return verdict_skip(XLB_SKIP_FRAGMENT);
	if (translate(ctx, p, x, in))
		return verdict_drop(XLB_DROP_REWRITE);
	if (!tc_hop_fresh(ifindex, p, h)) {
		if (!h)
			h = &fresh;
		if (tc_hop_lookup(ctx, ifindex, p, &x->t, h)) {
			count_verdict(XLB_VERDICT_STACK);
			return TC_ACT_OK;
		}
	}
	nh.nh_family = h->family;
	if (h->family == XLB_AF_INET)
		nh.ipv4_nh = h->gw.v4;
	else
		__builtin_memcpy(nh.ipv6_nh, &h->gw, 16);
	count_verdict(XLB_VERDICT_REDIRECT);
	return bpf_redirect_neigh(h->out_ifindex, &nh, sizeof(nh), 0);
}

static __always_inline int reflect(XLB_CTX *ctx)
{
	return bpf_redirect(ctx->ifindex, 0);
}
#endif

#endif
