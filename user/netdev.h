/* The node's interfaces and addresses, for attaching and for the maps. */
#ifndef XLB_NETDEV_H
#define XLB_NETDEV_H

#include <stddef.h>
#include <net/if.h>
#include "ipaddr.h"

/* Interfaces holding a default route (IPv4 or IPv6); returns the count. */
int netdev_default_route(char names[][IF_NAMESIZE], int max);
/* Non-loopback addresses of this network namespace; returns the count. */
size_t netdev_host_addrs(struct xlb_ip *out, size_t max);
/* Interfaces whose name matches one of the comma-separated globs; calls fn
 * with each ifindex; returns how many matched. */
int netdev_for_each_match(const char *globs, void (*fn)(int ifindex, const char *name, void *arg),
			  void *arg);

#endif
