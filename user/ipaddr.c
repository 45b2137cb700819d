// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xlb_abi.h"
#include "ipaddr.h"

/* Dotted decimal with any number of leading zeros per octet, as Go's old
 * parser (and so kube-proxy) accepts; an octet above 255 is invalid. */
static int parse_v4(const char *s, __u8 out[4])
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned int v = 0;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned int)(*s - '0');
			if (v > 255)
				return -EINVAL;
			s++;
		}
		if (s == start)
			return -EINVAL;
		out[i] = (__u8)v;
		if (i < 3 && *s++ != '.')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

static const __u8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int xlb_ip_parse(const char *s, struct xlb_ip *out)
{
	struct in6_addr a6;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!strchr(s, ':')) {
		if (parse_v4(s, out->bytes))
			return -EINVAL;
		out->family = XLB_FAM_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return -EINVAL;
	if (!memcmp(a6.s6_addr, v4_mapped_prefix, sizeof(v4_mapped_prefix))) {
		memcpy(out->bytes, a6.s6_addr + 12, 4);
		out->family = XLB_FAM_V4;
		return 0;
	}
	memcpy(out->bytes, a6.s6_addr, 16);
	out->family = XLB_FAM_V6;
	return 0;
}

static unsigned int family_bits(__u8 family)
{
	return family == XLB_FAM_V4 ? 32 : 128;
}

static void clear_host_bits(struct xlb_prefix *p)
{
	unsigned int i, bits = family_bits(p->ip.family);

	for (i = p->len; i < bits; i++)
		p->ip.bytes[i / 8] &= (__u8)~(0x80 >> (i % 8));
}

int xlb_prefix_parse(const char *s, struct xlb_prefix *out)
{
	char buf[XLB_IP_STRLEN];
	const char *slash, *l;
	unsigned int len = 0;
	size_t n;

	if (!s || !out)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (xlb_ip_parse(buf, &out->ip))
		return -EINVAL;
	l = slash + 1;
	if (!*l)
		return -EINVAL;
	for (; *l; l++) {
		if (*l < '0' || *l > '9')
			return -EINVAL;
		len = len * 10 + (unsigned int)(*l - '0');
		if (len > 128)
			return -EINVAL;
	}
	/* "::ffff:10.0.0.0/104" style prefixes are not worth supporting. */
	if (out->ip.family == XLB_FAM_V4 && strchr(buf, ':'))
		return -EINVAL;
	if (len > family_bits(out->ip.family))
		return -EINVAL;
	out->len = (__u8)len;
	clear_host_bits(out);
	return 0;
}

const char *xlb_ip_format(const struct xlb_ip *ip, char *buf, size_t len)
{
	int af = ip->family == XLB_FAM_V4 ? AF_INET : AF_INET6;

	if (!inet_ntop(af, ip->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *xlb_prefix_format(const struct xlb_prefix *p, char *buf, size_t len)
{
	char ip[XLB_IP_STRLEN];

	snprintf(buf, len, "%s/%u", xlb_ip_format(&p->ip, ip, sizeof(ip)), p->len);
	return buf;
}

bool xlb_prefix_contains(const struct xlb_prefix *p, const struct xlb_ip *ip)
{
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (p->ip.family != ip->family)
		return false;
	if (memcmp(p->ip.bytes, ip->bytes, full))
		return false;
	if (!rest)
		return true;
	return !((p->ip.bytes[full] ^ ip->bytes[full]) & (__u8)(0xff00 >> rest));
}

bool xlb_ip_equal(const struct xlb_ip *a, const struct xlb_ip *b)
{
	return !xlb_ip_cmp(a, b);
}

int xlb_ip_cmp(const struct xlb_ip *a, const struct xlb_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

bool xlb_ip_is_loopback(const struct xlb_ip *ip)
{
	static const __u8 v6_lo[16] = { [15] = 1 };

	if (ip->family == XLB_FAM_V4)
		return ip->bytes[0] == 127;
	return !memcmp(ip->bytes, v6_lo, sizeof(v6_lo));
}
