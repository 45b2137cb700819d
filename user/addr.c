#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "addr.h"
#include "ipaddr.h"

/* The ABI's union xlb_addr and ipaddr's struct xlb_ip hold the same 16
 * bytes (IPv4 in the first 4): text goes through ipaddr. */
const char *addr_str(const union xlb_addr *a, __u8 family, char *buf, size_t len)
{
	struct xlb_ip ip = { .family = family };

	memcpy(ip.bytes, a, sizeof(ip.bytes));
	return xlb_ip_format(&ip, buf, len);
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
	struct xlb_ip ip;

	memset(out, 0, sizeof(*out));
	if (xlb_ip_parse(s, &ip))
		return 0;
	memcpy(out, ip.bytes, sizeof(*out));
	return ip.family;
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
