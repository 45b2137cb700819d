#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

const char *addr_str(const union xlb_addr *a, __u8 family, char *buf, size_t len)
{
	if (!inet_ntop(family == XLB_FAM_V4 ? AF_INET : AF_INET6, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *addr_port_str(const union xlb_addr *a, __u8 family, __be16 port, char *buf,
			  size_t len)
{
	char ip[XLB_ADDR_STRLEN];

	addr_str(a, family, ip, sizeof(ip));
	snprintf(buf, len, family == XLB_FAM_V4 ? "%s:%u" : "[%s]:%u", ip, ntohs(port));
	return buf;
}

int addr_parse(const char *s, union xlb_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1)
		return XLB_FAM_V4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return XLB_FAM_V6;
	return 0;
}

const char *proto_str(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	case 0:
		return "any";
	}
	return "?";
}
