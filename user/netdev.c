#include <fnmatch.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netdev.h"

static int add_name(char names[][IF_NAMESIZE], int n, int max, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return n;
	if (n == max)
		return n;
	snprintf(names[n], IF_NAMESIZE, "%s", name);
	return n + 1;
}

int netdev_default_route(char names[][IF_NAMESIZE], int max)
{
	char line[512], ifname[64], dst[64];
	unsigned long mask;
	int n = 0, plen;
	FILE *f;

	/* /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask */
	f = fopen("/proc/net/route", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s %*s %*s %*s %*s %*s %lx", ifname, dst, &mask) == 3 &&
		    !strcmp(dst, "00000000") && !mask)
			n = add_name(names, n, max, ifname);
	if (f)
		fclose(f);
	/* /proc/net/ipv6_route: dst plen src plen next-hop metric ref use flags iface */
	f = fopen("/proc/net/ipv6_route", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %x %*s %*s %*s %*s %*s %*s %*s %63s", dst, &plen, ifname) == 3 &&
		    !plen && strcmp(ifname, "lo"))
			n = add_name(names, n, max, ifname);
	if (f)
		fclose(f);
	return n;
}

size_t netdev_host_addrs(struct xlb_ip *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		struct xlb_ip ip = {};

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			ip.family = 4;
			memcpy(ip.bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			ip.family = 6;
			memcpy(ip.bytes, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		if (!xlb_ip_is_loopback(&ip))
			out[n++] = ip;
	}
	freeifaddrs(ifa);
	return n;
}

int netdev_for_each_match(const char *globs, void (*fn)(int ifindex, const char *name, void *arg),
			  void *arg)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char *copy, *save, *tok;
	int n = 0;

	if (!ifs || !globs)
		goto out;
	for (i = ifs; i->if_index; i++) {
		copy = strdup(globs);
		for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (!fnmatch(tok, i->if_name, 0)) {
				fn(i->if_index, i->if_name, arg);
				n++;
				break;
			}
		}
		free(copy);
	}
out:
	if (ifs)
		if_freenameindex(ifs);
	return n;
}
