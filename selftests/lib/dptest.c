#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "dptest.h"
#include "maps.h"

const struct dpt_fam dpt_fams[2] = {
	{
		.family = 4, .node = "192.0.2.1", .gw_node2 = "192.0.2.2",
		.gw_ext = "192.0.2.254", .client = "203.0.113.7", .client2 = "203.0.113.8",
		.pod = "198.18.1.7", .pod_be = "198.18.1.5", .remote_be = "198.18.2.10",
		.remote_be2 = "198.18.2.11", .cip = "198.19.0.10", .unalloc = "198.19.0.99",
		.lbip = "198.51.100.10", .eip = "198.51.100.20",
	},
	{
		.family = 6, .node = "2001:db8:0:1::1", .gw_node2 = "2001:db8:0:1::2",
		.gw_ext = "2001:db8:0:1::fe", .client = "2001:db8:0:3::7",
		.client2 = "2001:db8:0:3::8", .pod = "2001:db8:1:1::7",
		.pod_be = "2001:db8:1:1::5", .remote_be = "2001:db8:1:2::10",
		.remote_be2 = "2001:db8:1:2::11", .cip = "2001:db8:2::10",
		.unalloc = "2001:db8:2::99", .lbip = "2001:db8:4::10", .eip = "2001:db8:4::20",
	},
};

struct dp dpt_dp;
uint32_t dpt_be_ids[64];
static uint32_t next_svc = 1, next_be = 1;
static int uplink_ifindex;

/* Shell commands that build the namespace's links; run once. */
static const char *const world_cmds[] = {
	"ip link set lo up",
	"ip link add xlb0 address " DPT_MAC_NODE " type veth peer name xlb0p",
	"ip link add xlbpod type veth peer name xlbpodp",
	"ip link set xlb0 up", "ip link set xlb0p up",
	"ip link set xlbpod up", "ip link set xlbpodp up",
	"ip addr add 192.0.2.1/24 dev xlb0",
	"ip -6 addr add 2001:db8:0:1::1/64 dev xlb0 nodad",
	"ip neigh add 192.0.2.2 lladdr " DPT_MAC_NODE2 " dev xlb0 nud permanent",
	"ip neigh add 192.0.2.254 lladdr " DPT_MAC_EXT " dev xlb0 nud permanent",
	"ip -6 neigh add 2001:db8:0:1::2 lladdr " DPT_MAC_NODE2 " dev xlb0 nud permanent",
	"ip -6 neigh add 2001:db8:0:1::fe lladdr " DPT_MAC_EXT " dev xlb0 nud permanent",
	"ip route add 198.18.2.0/24 via 192.0.2.2 dev xlb0",
	"ip route add 203.0.113.0/24 via 192.0.2.254 dev xlb0",
	"ip -6 route add 2001:db8:1:2::/64 via 2001:db8:0:1::2 dev xlb0",
	"ip -6 route add 2001:db8:0:3::/64 via 2001:db8:0:1::fe dev xlb0",
	"ip route add 198.18.1.0/24 dev xlbpod",
	"ip -6 route add 2001:db8:1:1::/64 dev xlbpod",
	"ip neigh add 198.18.1.5 lladdr " DPT_MAC_POD " dev xlbpod nud permanent",
	"ip -6 neigh add 2001:db8:1:1::5 lladdr " DPT_MAC_POD " dev xlbpod nud permanent",
	"sysctl -qw net.ipv4.conf.all.forwarding=1",
	"sysctl -qw net.ipv6.conf.all.forwarding=1",
};

static void die(const char *what, const char *why)
{
	fprintf(stderr, "dptest: %s: %s\n", what, why);
	printf("FAIL: setup: %s\n", what);
	exit(1);
}

void dpt_init(void)
{
	struct dp_sizes sz = { .conntrack = 65536 };
	char err[512];

	/* The namespace and everything in it vanish with this process. */
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)", strerror(errno));
	for (size_t i = 0; i < sizeof(world_cmds) / sizeof(world_cmds[0]); i++)
		if (system(world_cmds[i]))
			die(world_cmds[i], "command failed");
	uplink_ifindex = if_nametoindex("xlb0");
	if (dp_load(&dpt_dp, NULL, &sz, err, sizeof(err)))
		die("load programs", err);
	dpt_reset();
}

static void parse_or_die(const char *text, union xlb_addr *a, uint8_t *fam)
{
	*fam = addr_parse(text, a);
	if (!*fam)
		die("bad address in test", text);
}

static int clear_map(const void *key, const void *value, void *arg)
{
	int fd = *(int *)arg;

	bpf_map_delete_elem(fd, key);
	return 0;
}

static void prefix(enum xlb_map_id map, uint32_t id, const char *text, uint8_t len)
{
	union xlb_addr a;
	uint8_t fam;

	parse_or_die(text, &a, &fam);
	maps_set_prefix(&dpt_dp.maps, map, id, &a, len);
}

void dpt_reset(void)
{
	struct xlb_config cfg = {
		.snat_port_min = DPT_SNAT_MIN,
		.snat_port_max = DPT_SNAT_MAX,
		.flags = XLB_CFG_POD_DETECT,
		.tcp_timeout = 86400,
		.tcp_syn_timeout = 60,
		.tcp_close_timeout = 10,
		.udp_timeout = 30,
	};
	union xlb_addr a;
	uint8_t fam;

	/* Walk-and-delete twice: deleting while walking may skip keys. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < XLB_MAP_N; i++) {
			if (i == XLB_MAP_CONFIG || i >= XLB_MAP_DROPS)
				continue;
			maps_walk(&dpt_dp.maps, i, clear_map, &dpt_dp.maps.fd[i]);
		}
	parse_or_die(dpt_fams[0].node, &cfg.snat_v4, &fam);
	parse_or_die(dpt_fams[1].node, &cfg.snat_v6, &fam);
	maps_set_config(&dpt_dp.maps, &cfg);
	maps_conntrack_changed(&dpt_dp.maps);	/* no flow cache serves an old test's flow */
	prefix(XLB_MAP_POD_CIDRS, XLB_FAM_V4, "198.18.0.0", 16);
	prefix(XLB_MAP_POD_CIDRS, XLB_FAM_V6, "2001:db8:1::", 48);
	prefix(XLB_MAP_SVC_CIDRS, XLB_FAM_V4, "198.19.0.0", 16);
	prefix(XLB_MAP_SVC_CIDRS, XLB_FAM_V6, "2001:db8:2::", 112);
	for (int f = 0; f < 2; f++) {
		parse_or_die(dpt_fams[f].node, &a, &fam);
		maps_set_local_addr(&dpt_dp.maps, &a, fam, XLB_ADDR_NODE | XLB_ADDR_NODEPORT);
	}
	next_svc = 1;
	next_be = 1;
}

void dpt_config_flags(uint32_t set, uint32_t clear)
{
	struct xlb_config cfg;

	maps_get_config(&dpt_dp.maps, &cfg);
	cfg.flags = (cfg.flags | set) & ~clear;
	maps_set_config(&dpt_dp.maps, &cfg);
}

void dpt_publish(uint32_t svc_id, uint32_t flags, const uint32_t *cluster, int nc,
		 const uint32_t *local, int nl)
{
	struct xlb_service tmpl = { .flags = flags, .affinity_timeout = 10800 };

	if (maps_publish_service(&dpt_dp.maps, svc_id, &tmpl, cluster, nc, local, nl))
		die("publish service", strerror(errno));
}

uint32_t dpt_service(int fam, uint32_t flags, const struct dpt_be *bes, int n)
{
	uint32_t local[64], nl = 0, svc_id = next_svc++;
	struct xlb_backend b;

	for (int i = 0; i < n && i < 64; i++) {
		memset(&b, 0, sizeof(b));
		parse_or_die(bes[i].addr, &b.addr, &b.family);
		b.port = htons(bes[i].port);
		b.flags = bes[i].local ? XLB_BE_LOCAL : 0;
		dpt_be_ids[i] = next_be++;
		if (maps_set_backend(&dpt_dp.maps, dpt_be_ids[i], &b))
			die("add backend", bes[i].addr);
		if (bes[i].local)
			local[nl++] = dpt_be_ids[i];
	}
	(void)fam;
	dpt_publish(svc_id, flags, dpt_be_ids, n, local, nl);
	return svc_id;
}

static struct xlb_frontend_key frontend_key(int fam, const char *addr, uint16_t port,
					    uint8_t proto)
{
	struct xlb_frontend_key k = { .port = htons(port), .proto = proto,
				      .family = dpt_fams[fam].family };
	uint8_t f;

	if (addr)
		parse_or_die(addr, &k.addr, &f);
	return k;
}

void dpt_frontend(uint32_t svc_id, int fam, const char *addr, uint16_t port, uint8_t proto,
		  uint8_t kind, uint8_t flags)
{
	struct xlb_frontend_key k = frontend_key(fam, addr, port, proto);
	struct xlb_frontend v = { .svc_id = svc_id, .kind = kind, .flags = flags };

	if (maps_set_frontend(&dpt_dp.maps, &k, &v))
		die("add frontend", addr ? addr : "nodeport");
}

void dpt_frontend_del(int fam, const char *addr, uint16_t port, uint8_t proto)
{
	struct xlb_frontend_key k = frontend_key(fam, addr, port, proto);

	if (maps_del_frontend(&dpt_dp.maps, &k))
		die("delete frontend", addr ? addr : "nodeport");
}

void dpt_source_range(uint32_t svc_id, const char *addr, uint8_t len)
{
	prefix(XLB_MAP_SRC_RANGES, svc_id, addr, len);
}

int dpt_run(enum dpt_prog prog, const uint8_t *in, int in_len, uint8_t *out, uint32_t *out_len)
{
	struct xdp_md xctx = { .data_end = in_len, .ingress_ifindex = uplink_ifindex };
	struct __sk_buff sctx = { .ifindex = uplink_ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = in_len,
		    .data_out = out, .data_size_out = PKT_BUF_LEN, .repeat = 1);
	int fd = prog == DPT_XDP ? dp_xdp_fd(&dpt_dp) : dp_tc_fd(&dpt_dp);

	if (prog == DPT_XDP) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	}
	if (bpf_prog_test_run_opts(fd, &o)) {
		fprintf(stderr, "dptest: test run (%s, %d bytes): %s\n", dpt_prog_name(prog),
			in_len, strerror(errno));
		*out_len = 0;
		return -1000;
	}
	*out_len = o.data_size_out;
	return o.retval;
}

int dpt_run_spec(enum dpt_prog prog, const struct pkt_spec *s, uint8_t *out, uint32_t *out_len)
{
	uint8_t in[PKT_BUF_LEN];
	int len = pkt_build(s, in, sizeof(in));

	if (len < 0) {
		fprintf(stderr, "dptest: build packet: %s\n", pkt_build_error());
		return -1000;
	}
	return dpt_run(prog, in, len, out, out_len);
}

void dpt_counters(struct dpt_counters *c)
{
	memset(c, 0, sizeof(*c));
	maps_read_counters(&dpt_dp.maps, XLB_MAP_DROPS, c->drops, XLB_DROP_MAX);
	maps_read_counters(&dpt_dp.maps, XLB_MAP_SKIPS, c->skips, XLB_SKIP_MAX);
	maps_read_counters(&dpt_dp.maps, XLB_MAP_PACKETS, c->packets, XLB_PACKETS_MAX);
}

static int single_delta(const __u64 *b, const __u64 *a, int n)
{
	int found = -1;

	for (int i = 0; i < n; i++) {
		if (a[i] == b[i])
			continue;
		if (found != -1 || a[i] - b[i] != 1)
			return -2;
		found = i;
	}
	return found;
}

int dpt_drop_delta(const struct dpt_counters *before, const struct dpt_counters *after)
{
	return single_delta(before->drops, after->drops, XLB_DROP_MAX);
}

int dpt_skip_delta(const struct dpt_counters *before, const struct dpt_counters *after)
{
	return single_delta(before->skips, after->skips, XLB_SKIP_MAX);
}

uint64_t dpt_verdict_delta(const struct dpt_counters *before, const struct dpt_counters *after,
			   enum dpt_prog prog, int verdict)
{
	int hook = prog == DPT_XDP ? XLB_HOOK_XDP : XLB_HOOK_TC;
	int i = XLB_PACKETS_INDEX(hook, verdict);

	return after->packets[i] - before->packets[i];
}

const char *dpt_prog_name(enum dpt_prog prog)
{
	return prog == DPT_XDP ? "xdp" : "tc";
}

int dpt_ifindex_uplink(void)
{
	return uplink_ifindex;
}

int dpt_ret_pass(enum dpt_prog prog)
{
	return prog == DPT_XDP ? XDP_PASS : TC_ACT_OK;
}

int dpt_ret_drop(enum dpt_prog prog)
{
	return prog == DPT_XDP ? XDP_DROP : TC_ACT_SHOT;
}
