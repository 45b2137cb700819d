/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Rewrite a packet's addresses and ports with incremental checksum fix-up.
 * XDP frames carry complete checksums, so plain RFC 1624 arithmetic works;
 * skbs may be CHECKSUM_PARTIAL or COMPLETE, so tc goes through the kernel's
 * csum helpers, which know how to treat each mode. */
#ifndef XLB_NAT_H
#define XLB_NAT_H

#include "parse.h"
#include "sctp.h"

struct xlb_tuple {
	union xlb_addr saddr;
	union xlb_addr daddr;
	__be16 sport;
	__be16 dport;
};

static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* Apply ones-complement differences (words_diff()) to a checksum. In 64
 * bits, so callers add up to four differences with a plain "+" and no carry
 * to fold: three folds bring anything below 2^34 to 16 bits. */
static __always_inline __u16 csum_apply(__u16 check, __u64 diff)
{
	__u64 s = (__u16)~check + diff;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static __always_inline __u32 csum_add(__u32 a, __u32 b)
{
	a += b;
	return a + (a < b);
}

/* The ones-complement difference of a 16-bit field changing old -> new. */
static __always_inline __u32 diff16(__u16 old, __u16 new)
{
	return csum_add((__u16)~old, new);
}

/* The ones-complement difference of n (1, 2 or 4) words changing from ->
 * to, as bpf_csum_diff() computes it, without the helper call. Written out:
 * clang leaves a 4-trip loop here rolled, which costs IPv6 a dozen ns. */
static __always_inline __u32 words_diff(const __be32 *from, const __be32 *to, int n)
{
	__u64 s = (__u32)~from[0] + (__u64)to[0];

	if (n > 1)
		s += (__u32)~from[1] + (__u64)to[1];
	if (n > 2)
		s += (__u32)~from[2] + (__u64)to[2] + (__u32)~from[3] + (__u64)to[3];
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return s;
}

static __always_inline __u32 pair_diff(__u8 family, const union xlb_addr *os,
				       const union xlb_addr *od, const union xlb_addr *ns,
				       const union xlb_addr *nd)
{
	if (family == XLB_FAM_V4) {
		__be32 from[2] = { os->v4, od->v4 }, to[2] = { ns->v4, nd->v4 };

		return words_diff(from, to, 2);
	}
	return csum_add(words_diff(os->v6, ns->v6, 4), words_diff(od->v6, nd->v6, 4));
}

/* A rewrite: the tuple to write and the checksum differences from the
 * packet's own tuple to it, of the addresses (IPv4 header, L4 pseudo-header)
 * and of the ports. The flow cache keeps the differences with the tuple, so
 * a cached flow's packet computes none. */
struct xlb_xlate {
	struct xlb_tuple t;
	__u32 adiff;
	__u32 pdiff;
};

static __always_inline void xlate_diff(const struct xlb_pkt *p, struct xlb_xlate *x)
{
	__be16 from[2] = { p->sport, p->dport }, to[2] = { x->t.sport, x->t.dport };

	x->adiff = pair_diff(p->family, &p->saddr, &p->daddr, &x->t.saddr, &x->t.daddr);
	x->pdiff = words_diff((__be32 *)from, (__be32 *)to, 1);
}

/* Offset of the L4 checksum from the L4 header, or 0 when it has none we
 * can update incrementally. */
static __always_inline __u32 l4_csum_off(__u8 proto)
{
	if (proto == XLB_IPPROTO_TCP)
		return 16;
	if (proto == XLB_IPPROTO_UDP)
		return 6;
	return 0;
}

#ifdef XLB_XDP
static __always_inline int write_addrs(XLB_CTX *ctx, struct xlb_pkt *p,
				       const struct xlb_tuple *t, __u32 adiff)
{
	struct iphdr *ip;
	struct ipv6hdr *ip6;

	if (p->family == XLB_FAM_V4) {
		ip = ctx_ptr(ctx, p->l3_off, sizeof(*ip));
		if (!ip)
			return -1;
		ip->saddr = t->saddr.v4;
		ip->daddr = t->daddr.v4;
		ip->check = csum_apply(ip->check, adiff);
		return 0;
	}
	ip6 = ctx_ptr(ctx, p->l3_off, sizeof(*ip6));
	if (!ip6)
		return -1;
	addr6_copy(&ip6->saddr, &t->saddr);
	addr6_copy(&ip6->daddr, &t->daddr);
	return 0;
}

static __always_inline int write_l4(XLB_CTX *ctx, struct xlb_pkt *p,
				    const struct xlb_tuple *t, __u32 adiff, __u32 pdiff)
{
	__u32 coff = l4_csum_off(p->proto);
	/* One bounds check for the ports and the checksum. */
	__be16 *l4 = ctx_ptr(ctx, p->l4_off, coff ? coff + 2 : 4);
	__u16 sum;

	if (!l4)
		return -1;
	l4[0] = t->sport;
	l4[1] = t->dport;
	if (!coff)
		return 0;
	sum = l4[coff / 2];
	/* IPv4 UDP may carry no checksum at all; keep it that way. */
	if (p->proto == XLB_IPPROTO_UDP && !sum)
		return 0;
	sum = csum_apply(sum, (__u64)adiff + pdiff);
	if (p->proto == XLB_IPPROTO_UDP && !sum)
		sum = 0xffff;
	l4[coff / 2] = sum;
	return 0;
}
#else
static __always_inline int write_addrs(XLB_CTX *ctx, struct xlb_pkt *p,
				       const struct xlb_tuple *t, __u32 adiff)
{
	/* Source and destination follow each other in both headers (and in
	 * t for IPv6): one helper call writes both. */
	if (p->family == XLB_FAM_V4) {
		__be32 addrs[2] = { t->saddr.v4, t->daddr.v4 };

		if (bpf_skb_store_bytes(ctx, p->l3_off + offsetof(struct iphdr, saddr), addrs, 8, 0))
			return -1;
		return bpf_l3_csum_replace(ctx, p->l3_off + offsetof(struct iphdr, check),
					   0, adiff, 0);
	}
	_Static_assert(__builtin_offsetof(struct xlb_tuple, daddr) == sizeof(union xlb_addr),
		       "one 32-byte store writes both IPv6 addresses");
	return bpf_skb_store_bytes(ctx, p->l3_off + offsetof(struct ipv6hdr, saddr), &t->saddr,
				   32, 0);
}

static __always_inline int write_l4(XLB_CTX *ctx, struct xlb_pkt *p,
				    const struct xlb_tuple *t, __u32 adiff, __u32 pdiff)
{
	__u32 coff = l4_csum_off(p->proto);
	__u64 mangled = p->proto == XLB_IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 ports = (__u32)t->sport | ((__u32)t->dport << 16);

	if (coff) {
		if (bpf_l4_csum_replace(ctx, p->l4_off + coff, 0, adiff,
					BPF_F_PSEUDO_HDR | mangled) ||
		    bpf_l4_csum_replace(ctx, p->l4_off + coff, 0, pdiff, mangled))
			return -1;
	}
	return bpf_skb_store_bytes(ctx, p->l4_off, &ports, 4, 0);
}
#endif

/* Rewrite the packet to x's tuple. Later fragments carry no L4 header: only
 * their addresses change (the first fragment's L4 checksum covers the rest). */
static __always_inline int nat_rewrite(XLB_CTX *ctx, struct xlb_pkt *p,
				       const struct xlb_xlate *x)
{
	const struct xlb_tuple *t = &x->t;

	if (write_addrs(ctx, p, t, x->adiff))
		return -1;
	if (p->frag == XLB_FRAG_LATER)
		return 0;
	if (write_l4(ctx, p, t, x->adiff, x->pdiff))
		return -1;
	/* SCTP's CRC32c has no pseudo-header: only a port change invalidates it. */
	if (p->proto == XLB_IPPROTO_SCTP && (p->sport != t->sport || p->dport != t->dport))
		return sctp_update_crc(ctx, p->l4_off, p->l3_off + p->l3_len);
	return 0;
}

/* The flow an ICMP error quotes, as quoted and as it must be quoted after
 * translation. */
struct xlb_inner {
	struct xlb_tuple from;
	struct xlb_tuple to;
	__u16 l3_off;
	__u16 l4_off;
	__u8 proto;
};

/* Rewrite a 16-bit checksum field at off by diff, in packet payload (no
 * skb checksum state to keep: the enclosing ICMP checksum covers it). */
static __always_inline int payload_csum16(XLB_CTX *ctx, __u32 off, __u32 diff, __u32 *delta,
					  int udp)
{
	__u16 old, new;

	if (ctx_load(ctx, off, &old, 2))
		return 0;	/* not quoted: nothing to fix */
	if (udp && !old)
		return 0;
	new = csum_apply(old, diff);
	if (udp && !new)
		new = 0xffff;
	*delta = csum_add(*delta, diff16(old, new));
	return ctx_store(ctx, off, &new, 2);
}

/* Translate an ICMP error: the quoted packet's addresses, ports and their
 * checksums, then the outer addresses, then the ICMP checksum, which covers
 * the quote (and for ICMPv6 the outer addresses through its pseudo-header). */
static __always_inline int nat_rewrite_icmp_error(XLB_CTX *ctx, struct xlb_pkt *p,
						  const struct xlb_xlate *x,
						  const struct xlb_inner *in)
{
	__u32 adiff = pair_diff(p->family, &in->from.saddr, &in->from.daddr,
				&in->to.saddr, &in->to.daddr);
	__be16 from[2] = { in->from.sport, in->from.dport };
	__be16 to[2] = { in->to.sport, in->to.dport };
	__u32 pdiff = words_diff((__be32 *)from, (__be32 *)to, 1);
	__u32 delta = csum_add(adiff, pdiff), coff, csum_off = p->l4_off + 2;
	__u16 check;

	if (p->family == XLB_FAM_V4) {
		if (payload_csum16(ctx, in->l3_off + 10, adiff, &delta, 0) ||
		    ctx_store(ctx, in->l3_off + 12, &in->to.saddr.v4, 4) ||
		    ctx_store(ctx, in->l3_off + 16, &in->to.daddr.v4, 4))
			return -1;
	} else if (ctx_store(ctx, in->l3_off + 8, &in->to.saddr, 16) ||
		   ctx_store(ctx, in->l3_off + 24, &in->to.daddr, 16)) {
		return -1;
	}
	/* A quoted L4 checksum past the end of the error's IP packet is not
	 * part of the quote (icmp_quoted_flow()). */
	coff = l4_csum_off(in->proto);
	if (coff && in->l4_off + coff + 2 <= p->l3_off + p->l3_len &&
	    payload_csum16(ctx, in->l4_off + coff, csum_add(adiff, pdiff), &delta,
			   in->proto == XLB_IPPROTO_UDP))
		return -1;
	if (ctx_store(ctx, in->l4_off, to, 4))
		return -1;
	if (write_addrs(ctx, p, &x->t, x->adiff))
		return -1;
#ifdef XLB_XDP
	if (p->family == XLB_FAM_V6)
		delta = csum_add(delta, x->adiff);
	if (ctx_load(ctx, csum_off, &check, 2))
		return -1;
	check = csum_apply(check, delta);
	return ctx_store(ctx, csum_off, &check, 2);
#else
	(void)check;
	if (bpf_l4_csum_replace(ctx, csum_off, 0, delta, 0))
		return -1;
	if (p->family == XLB_FAM_V6)
		return bpf_l4_csum_replace(ctx, csum_off, 0, x->adiff, BPF_F_PSEUDO_HDR);
	return 0;
#endif
}

/* A first SCTP fragment whose ports change cannot be translated: its
 * CRC32c covers the whole packet, which the fragment is not. */
static __always_inline int untranslatable(const struct xlb_pkt *p, const struct xlb_xlate *x,
					  const struct xlb_inner *in)
{
	return !in && p->proto == XLB_IPPROTO_SCTP && p->frag == XLB_FRAG_FIRST &&
	       (p->sport != x->t.sport || p->dport != x->t.dport);
}

static __always_inline int translate(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_xlate *x,
				     const struct xlb_inner *in)
{
	if (in)
		return nat_rewrite_icmp_error(ctx, p, x, in);
	return nat_rewrite(ctx, p, x);
}

#endif
