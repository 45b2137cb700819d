/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing: Ethernet, up to two 802.1Q/802.1ad tags, IPv4 with options,
 * IPv6 with extension headers, then TCP, UDP, SCTP, ICMP or ICMPv6. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include "ctx.h"

#define ETH_P_IP_BE	bpf_htons(0x0800)
#define ETH_P_IPV6_BE	bpf_htons(0x86DD)
#define ETH_P_8021Q_BE	bpf_htons(0x8100)
#define ETH_P_8021AD_BE	bpf_htons(0x88A8)

#define XLB_IPPROTO_ICMP	1
#define XLB_IPPROTO_TCP		6
#define XLB_IPPROTO_UDP		17
#define XLB_IPPROTO_ICMPV6	58
#define XLB_IPPROTO_SCTP	132

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

enum xlb_frag {
	XLB_FRAG_NONE = 0,
	XLB_FRAG_FIRST,		/* offset 0, more fragments: has the L4 header */
	XLB_FRAG_LATER,		/* no L4 header: ports come from xlb_frags */
};

/* Offsets, not pointers: a helper that may move the packet invalidates
 * pointers, and the libraries re-derive them from these. */
struct xlb_pkt {
	/* The tuple, laid out as its conntrack key: lookups use &key as is
	 * (8-aligned: the flow cache reads it in 64-bit words). */
	union {
		struct xlb_ct_key key;
		struct {
			union xlb_addr saddr;
			union xlb_addr daddr;
			__be16 sport;	/* ICMP: echo id (both), or 0 */
			__be16 dport;
			__u8 proto;
			__u8 family;
			__u16 key_pad;	/* 0 */
		};
	} __attribute__((aligned(8)));
	__u16 l3_off;
	__u16 l4_off;
	__u16 l3_len;		/* IP total length (v4) or header + payload (v6) */
	__u8 tcp_flags;
	__u8 frag;		/* enum xlb_frag */
	__u8 icmp_type;
	__u8 icmp_code;
	__u32 frag_id;
	__u64 now;		/* xlb_now() once conntrack is asked; else 0 */
};

_Static_assert(__builtin_offsetof(struct xlb_pkt, family) ==
	       __builtin_offsetof(struct xlb_ct_key, family) && sizeof(struct xlb_ct_key) == 40,
	       "xlb_pkt's tuple must be an xlb_ct_key");

/* The flow cache reads the key in 64-bit words (flowcache.h). A load that
 * spans several narrower stores cannot take its data from them and waits
 * until they reach the cache (a dozen cycles and more), so each key word
 * the parser assembles from narrower fields is written in one store. */
static __always_inline void key_store_v4(union xlb_addr *a, __be32 v4)
{
	union { __be32 v4[2]; __u64 w; } u = { .v4 = { v4, 0 } };

	*(__u64 *)a = u.w;
}

static __always_inline void key_store_tail(struct xlb_pkt *p)
{
	union {
		struct { __be16 sport, dport; __u8 proto, family; __u16 pad; } f;
		__u64 w;
	} u = { .f = { p->sport, p->dport, p->proto, p->family, 0 } };

	*(__u64 *)&p->sport = u.w;
}

static __always_inline int addr_eq(const union xlb_addr *a, const union xlb_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] &&
	       a->v6[2] == b->v6[2] && a->v6[3] == b->v6[3];
}

enum xlb_parse_res {
	XLB_PARSE_OK = 0,
	XLB_PARSE_UNSUPPORTED,	/* not ours to handle: pass, count a skip */
	XLB_PARSE_MALFORMED,	/* inconsistent headers: drop, count */
};

static __always_inline int parse_l2(XLB_CTX *ctx, struct xlb_pkt *p, __be16 *proto)
{
	struct ethhdr *eth = ctx_ptr(ctx, 0, sizeof(*eth));
	struct vlan_hdr *vh;
	__u32 off = sizeof(*eth);
	int i;

	if (!eth)
		return XLB_PARSE_MALFORMED;
	*proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (*proto != ETH_P_8021Q_BE && *proto != ETH_P_8021AD_BE)
			break;
		vh = ctx_ptr(ctx, off, sizeof(*vh));
		if (!vh)
			return XLB_PARSE_MALFORMED;
		*proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
	}
	p->l3_off = off;
	return XLB_PARSE_OK;
}

static __always_inline int parse_ipv4(XLB_CTX *ctx, struct xlb_pkt *p)
{
	struct iphdr *ip = ctx_ptr(ctx, p->l3_off, sizeof(*ip));
	__u32 hlen, tot, frag_off;

	if (!ip)
		return XLB_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || hlen < sizeof(*ip) || tot < hlen ||
	    !ctx_holds(ctx, p->l3_off + tot))
		return XLB_PARSE_MALFORMED;
	p->family = XLB_FAM_V4;
	key_store_v4(&p->saddr, ip->saddr);
	key_store_v4(&p->daddr, ip->daddr);
	p->proto = ip->protocol;
	p->l3_len = tot;
	p->l4_off = p->l3_off + hlen;
	frag_off = bpf_ntohs(ip->frag_off);
	p->frag_id = bpf_ntohs(ip->id);
	if (frag_off & 0x1fff)
		p->frag = XLB_FRAG_LATER;
	else if (frag_off & 0x2000)
		p->frag = XLB_FRAG_FIRST;
	return XLB_PARSE_OK;
}

/* Skips the extension headers a router or load balancer may meet; anything
 * else (ESP, no next header, unknown) is not ours. */
static __always_inline int parse_ipv6(XLB_CTX *ctx, struct xlb_pkt *p)
{
	struct ipv6hdr *ip6 = ctx_ptr(ctx, p->l3_off, sizeof(*ip6));
	struct ipv6_opt_hdr *oh;
	struct frag_hdr *fh;
	__u32 off;
	__u8 nh;
	int i;

	if (!ip6)
		return XLB_PARSE_MALFORMED;
	if (ip6->version != 6 ||
	    !ctx_holds(ctx, p->l3_off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len)))
		return XLB_PARSE_MALFORMED;
	p->family = XLB_FAM_V6;
	addr6_copy(&p->saddr, &ip6->saddr);
	addr6_copy(&p->daddr, &ip6->daddr);
	p->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	nh = ip6->nexthdr;
	off = p->l3_off + sizeof(*ip6);
#pragma unroll
	for (i = 0; i < 6; i++) {
		switch (nh) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			oh = ctx_ptr(ctx, off, sizeof(*oh));
			if (!oh)
				return XLB_PARSE_MALFORMED;
			nh = oh->nexthdr;
			off += (oh->hdrlen + 1) * 8;
			break;
		case 51:	/* authentication header: length in 4-byte units */
			oh = ctx_ptr(ctx, off, sizeof(*oh));
			if (!oh)
				return XLB_PARSE_MALFORMED;
			nh = oh->nexthdr;
			off += (oh->hdrlen + 2) * 4;
			break;
		case 44:	/* fragment */
			fh = ctx_ptr(ctx, off, sizeof(*fh));
			if (!fh)
				return XLB_PARSE_MALFORMED;
			nh = fh->nexthdr;
			p->frag_id = bpf_ntohl(fh->identification);
			if (bpf_ntohs(fh->frag_off) & 0xfff8)
				p->frag = XLB_FRAG_LATER;
			else if (bpf_ntohs(fh->frag_off) & 1)
				p->frag = XLB_FRAG_FIRST;
			off += sizeof(*fh);
			break;
		default:
			goto done;
		}
		if (off > XLB_HDR_MAX)
			return XLB_PARSE_UNSUPPORTED;
	}
	return XLB_PARSE_UNSUPPORTED;
done:
	p->proto = nh;
	p->l4_off = off;
	return XLB_PARSE_OK;
}

static __always_inline int parse_l4(XLB_CTX *ctx, struct xlb_pkt *p)
{
	struct tcphdr *th;
	struct udphdr *uh;
	struct icmphdr *ich;
	__be16 *ports;

	if (p->frag == XLB_FRAG_LATER)
		return XLB_PARSE_OK;
	switch (p->proto) {
	case XLB_IPPROTO_TCP:
		th = ctx_ptr(ctx, p->l4_off, sizeof(*th));
		if (!th || th->doff < 5)
			return XLB_PARSE_MALFORMED;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return XLB_PARSE_OK;
	case XLB_IPPROTO_UDP:
		uh = ctx_ptr(ctx, p->l4_off, sizeof(*uh));
		if (!uh)
			return XLB_PARSE_MALFORMED;
		p->sport = uh->source;
		p->dport = uh->dest;
		return XLB_PARSE_OK;
	case XLB_IPPROTO_SCTP:
		/* common header: source port, destination port, tag, CRC32c */
		ports = ctx_ptr(ctx, p->l4_off, 12);
		if (!ports)
			return XLB_PARSE_MALFORMED;
		p->sport = ports[0];
		p->dport = ports[1];
		return XLB_PARSE_OK;
	case XLB_IPPROTO_ICMP:
	case XLB_IPPROTO_ICMPV6:
		ich = ctx_ptr(ctx, p->l4_off, sizeof(*ich));
		if (!ich)
			return XLB_PARSE_MALFORMED;
		p->icmp_type = ich->type;
		p->icmp_code = ich->code;
		return XLB_PARSE_OK;
	}
	return XLB_PARSE_UNSUPPORTED;
}

static __always_inline int parse_packet(XLB_CTX *ctx, struct xlb_pkt *p)
{
	__be16 proto;
	int res;

	res = parse_l2(ctx, p, &proto);
	if (res)
		return res;
	if (proto == ETH_P_IP_BE)
		res = parse_ipv4(ctx, p);
	else if (proto == ETH_P_IPV6_BE)
		res = parse_ipv6(ctx, p);
	else
		return XLB_PARSE_UNSUPPORTED;
	if (res)
		return res;
	if (p->l4_off > XLB_HDR_MAX)
		return XLB_PARSE_UNSUPPORTED;
	res = parse_l4(ctx, p);
	if (!res)
		key_store_tail(p);
	return res;
}

#endif
