/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4/IPv6 addresses and CIDR prefixes as parsed from Kubernetes objects and
 * flags. Parsing follows Go's netutils.ParseIPSloppy, which kube-proxy uses:
 * IPv4 octets may carry leading zeros and are read as decimal, never octal
 * ("172.30.0.041" = 172.30.0.41); an IPv4-mapped IPv6 address is IPv4. */
#ifndef XLB_IPADDR_H
#define XLB_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct xlb_ip {
	__u8 family;	/* XLB_FAM_V4 (4) or XLB_FAM_V6 (6) */
	__u8 bytes[16];	/* network order; IPv4 in the first 4, rest zero */
};

struct xlb_prefix {
	struct xlb_ip ip;	/* host bits cleared */
	__u8 len;		/* 0..32 or 0..128 */
};

/* Long enough for any IPv6 text form plus "/128". */
#define XLB_IP_STRLEN 48

/* Return 0, or -EINVAL for anything that is not exactly one address (no
 * surrounding whitespace, no IPv6 zone). */
int xlb_ip_parse(const char *s, struct xlb_ip *out);
/* "addr/len"; host bits are cleared as Go's ParseCIDR does. */
int xlb_prefix_parse(const char *s, struct xlb_prefix *out);
/* Canonical text (dotted quad, RFC 5952 IPv6); returns buf. */
const char *xlb_ip_format(const struct xlb_ip *ip, char *buf, size_t len);
const char *xlb_prefix_format(const struct xlb_prefix *p, char *buf, size_t len);

bool xlb_prefix_contains(const struct xlb_prefix *p, const struct xlb_ip *ip);
bool xlb_ip_equal(const struct xlb_ip *a, const struct xlb_ip *b);
/* Total order: IPv4 before IPv6, then bytes. */
int xlb_ip_cmp(const struct xlb_ip *a, const struct xlb_ip *b);
bool xlb_ip_is_loopback(const struct xlb_ip *ip);

#endif
