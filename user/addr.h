/* Text form of the ABI's addresses (for the CLI, logs and tests). */
#ifndef XLB_ADDR_H
#define XLB_ADDR_H

#include <stddef.h>
#include <linux/types.h>
#include "xlb_abi.h"

#define XLB_ADDR_STRLEN 64

/* "198.19.0.10" or "2001:db8::1" */
const char *addr_str(const union xlb_addr *a, __u8 family, char *buf, size_t len);
/* "198.19.0.10:80" or "[2001:db8::1]:80" (port in network order) */
const char *addr_port_str(const union xlb_addr *a, __u8 family, __be16 port, char *buf,
			  size_t len);
/* Parse an IPv4 or IPv6 literal; returns the family (4 or 6) or 0. */
int addr_parse(const char *s, union xlb_addr *out);
const char *proto_str(__u8 proto);

#endif
