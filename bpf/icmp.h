/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* REJECT: turn the packet in place into an ICMP (ICMPv6) port unreachable
 * from the frontend back to the client, quoting the offending packet. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "parse.h"
#include "nat.h"

/* L2 header bytes kept across the rebuild (Ethernet + two VLAN tags, padded). */
#define XLB_L2_SAVE 24
/* Bytes of the offending IPv6 packet quoted (IPv4 quotes header + 8 octets). */
#define XLB_QUOTE6_MAX 128

/* Per-CPU scratch for the saved L2 header and the quote being summed. */
struct reject_scratch {
	__u8 l2[XLB_L2_SAVE];
	__u8 quote[XLB_QUOTE6_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reject_scratch);
} xlb_reject_scratch SEC(".maps");

struct icmp_v4_hdrs {
	struct iphdr ip;
	struct icmphdr icmp;
};

struct icmp_v6_hdrs {
	struct ipv6hdr ip6;
	struct icmp6hdr icmp6;
};

/* Swap the MACs of the saved L2 header and put it at the new frame start. */
static __always_inline int restore_l2(XLB_CTX *ctx, __u8 *l2)
{
	__u8 mac[6];

	__builtin_memcpy(mac, l2, 6);
	__builtin_memcpy(l2, l2 + 6, 6);
	__builtin_memcpy(l2 + 6, mac, 6);
	return ctx_store(ctx, 0, l2, XLB_L2_SAVE);
}

/* Make room for hdr_len bytes of new headers after the L2 header (which
 * moves to the new frame start, MACs swapped) and cut the frame to the new
 * headers plus quote bytes of the offending packet. */
static __always_inline int make_room(XLB_CTX *ctx, struct reject_scratch *sc, __u32 l3,
				     __u32 hdr_len, __u32 quote)
{
	if (l3 > XLB_L2_SAVE - 2 || ctx_load(ctx, 0, sc->l2, XLB_L2_SAVE))
		return -1;
	if (ctx_adjust_head(ctx, hdr_len) || restore_l2(ctx, sc->l2))
		return -1;
	return ctx_set_len(ctx, l3 + hdr_len + quote);
}

/* Sum of the quoted bytes at off (len a multiple of 4, at most max). */
static __always_inline __u32 quote_sum(XLB_CTX *ctx, __u8 *buf, __u32 off, __u32 len,
				       __u32 seed)
{
	if (len > XLB_QUOTE6_MAX || len < 4)
		return seed;
	if (ctx_load(ctx, off, buf, len))
		return seed;
	return bpf_csum_diff(NULL, 0, (__be32 *)buf, len, seed);
}

static __always_inline int reject_v4(XLB_CTX *ctx, struct xlb_pkt *p,
					struct reject_scratch *sc)
{
	__u32 l3 = p->l3_off, quote = p->l4_off - p->l3_off + 8;
	struct icmp_v4_hdrs h = {};
	__u32 sum;

	if (quote > p->l3_len || quote > 68 || make_room(ctx, sc, l3, sizeof(h), quote))
		return -1;
	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(sizeof(h) + quote);
	h.ip.ttl = 64;
	h.ip.protocol = XLB_IPPROTO_ICMP;
	h.ip.saddr = p->daddr.v4;
	h.ip.daddr = p->saddr.v4;
	h.ip.check = ~csum_fold32(bpf_csum_diff(NULL, 0, (__be32 *)&h.ip, sizeof(h.ip), 0));
	h.icmp.type = 3;	/* destination unreachable */
	h.icmp.code = 3;	/* port unreachable */
	sum = quote_sum(ctx, sc->quote, l3 + sizeof(h), quote, 0);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.icmp, sizeof(h.icmp), sum);
	h.icmp.checksum = ~csum_fold32(sum);
	return ctx_store(ctx, l3, &h, sizeof(h));
}

static __always_inline int reject_v6(XLB_CTX *ctx, struct xlb_pkt *p,
					struct reject_scratch *sc)
{
	__u32 l3 = p->l3_off, quote = p->l3_len;
	struct icmp_v6_hdrs h = {};
	__be32 pseudo[2];
	__u32 sum;

	/* RFC 4443 lets the quote stop anywhere: long extension headers may
	 * push the ports out of it. */
	if (quote > XLB_QUOTE6_MAX)
		quote = XLB_QUOTE6_MAX;
	quote &= ~3U;
	if (quote < sizeof(struct ipv6hdr) || make_room(ctx, sc, l3, sizeof(h), quote))
		return -1;
	h.ip6.version = 6;
	h.ip6.payload_len = bpf_htons(sizeof(h.icmp6) + quote);
	h.ip6.nexthdr = XLB_IPPROTO_ICMPV6;
	h.ip6.hop_limit = 64;
	__builtin_memcpy(&h.ip6.saddr, &p->daddr, 16);
	__builtin_memcpy(&h.ip6.daddr, &p->saddr, 16);
	h.icmp6.icmp6_type = 1;	/* destination unreachable */
	h.icmp6.icmp6_code = 4;	/* port unreachable */
	pseudo[0] = bpf_htonl(sizeof(h.icmp6) + quote);
	pseudo[1] = bpf_htonl(XLB_IPPROTO_ICMPV6);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.ip6.saddr, 32, 0);
	sum = bpf_csum_diff(NULL, 0, pseudo, sizeof(pseudo), sum);
	sum = quote_sum(ctx, sc->quote, l3 + sizeof(h), quote, sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&h.icmp6, sizeof(h.icmp6), sum);
	h.icmp6.icmp6_cksum = ~csum_fold32(sum);
	return ctx_store(ctx, l3, &h, sizeof(h));
}

static __always_inline int icmp_reject(XLB_CTX *ctx, struct xlb_pkt *p)
{
	__u32 zero = 0;
	struct reject_scratch *sc = bpf_map_lookup_elem(&xlb_reject_scratch, &zero);

	if (!sc)
		return -1;
	if (p->family == XLB_FAM_V4)
		return reject_v4(ctx, p, sc);
	return reject_v6(ctx, p, sc);
}

#endif
