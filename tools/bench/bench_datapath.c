/* make bench-datapath: nanoseconds per packet of xlb's XDP program under
 * BPF_PROG_TEST_RUN, next to a trivial program that swaps MACs and returns
 * XDP_TX. With `repeat` the kernel reruns the program on the frame the
 * previous run rewrote, so every row is built to stay on the path it names
 * and proves it with the data path's own counters and the conntrack size;
 * tools/bench/README.md explains how. Runs as root in a private network
 * namespace; no packet reaches any wire. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"

#define MEASUREMENTS 5
#define REPEAT_DEFAULT 1000000
#define REPEAT_MAX 2000000	/* keeps the ring's SNAT ports sparse, see RING */
#define CT_FILL (1U << 20)	/* conntrack entries present before every measurement */
#define CT_CHUNK 65536		/* entries per batch syscall */
#define RING 1024		/* new-flow ring: destinations, each a frontend */
#define BACKENDS_PER_SVC 3
#define NODEPORTS 2768		/* Kubernetes' default range 30000-32767 */
#define BENCH_PORT 80
#define POD_PORT 8080
#define SNAT_MIN 1024
#define SNAT_MAX 65535

/* Service and backend ids: population i of family f, then the bench's own. */
#define POP_SVC(f, i) (1 + 2 * (i) + (f))
#define POP_BE(svc, j) ((svc) * 4 + (j))
#define RING_SVC(f) (0x40000000U + (f))
#define RING_BE(f, k) (0x40000000U + (f) * RING + (k))
#define CYCLE_SVC(f, x) (0x41000000U + 2 * (f) + (x))
#define CYCLE_BE(f, x) (0x41000000U + 2 * (f) + (x))

/* Where everything lives, per family (DESIGN.md's address plan). */
struct plan {
	const char *name;
	uint8_t family;		/* XLB_FAM_* */
	const char *node;	/* the uplink's address: SNAT source */
	const char *client;	/* external client: the ring's first packet */
	const char *pod;	/* a pod on node2: the 2-cycle's client (no SNAT) */
	const char *svc;	/* population ClusterIPs start here */
	const char *be;		/* population backends start here */
	const char *ring;	/* ring destinations (remote pods), RING of them */
	const char *cycle;	/* the 2-cycle's two addresses (remote pods) */
	const char *ct_client;	/* conntrack filler: clients */
	const char *ct_be;	/* conntrack filler: backends */
};

static const struct plan plans[2] = {
	{
		.name = "IPv4", .family = XLB_FAM_V4, .node = "192.0.2.1",
		.client = "203.0.113.7", .pod = "198.18.2.10", .svc = "198.19.0.1",
		.be = "198.18.4.0", .ring = "198.18.200.0", .cycle = "198.18.210.1",
		.ct_client = "203.0.113.100", .ct_be = "198.18.3.0",
	},
	{
		.name = "IPv6", .family = XLB_FAM_V6, .node = "2001:db8:0:1::1",
		.client = "2001:db8:0:3::7", .pod = "2001:db8:1:2::10", .svc = "2001:db8:2::1",
		.be = "2001:db8:1:4::", .ring = "2001:db8:1:200::", .cycle = "2001:db8:1:210::1",
		.ct_client = "2001:db8:0:3::100", .ct_be = "2001:db8:1:3::",
	},
};

/* The node's uplink with node2 as the next hop to every pod: the ring and
 * the 2-cycle send to remote pods, so the FIB answers "out of the device
 * it came in on" and XDP translates and returns XDP_TX. */
static const char *const world_cmds[] = {
	"ip link set lo up",
	"ip link add xlb0 address 02:00:00:00:00:01 type veth peer name xlb0p",
	"ip link set xlb0 up",
	"ip link set xlb0p up",
	"ip addr add 192.0.2.1/24 dev xlb0",
	"ip -6 addr add 2001:db8:0:1::1/64 dev xlb0 nodad",
	"ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev xlb0 nud permanent",
	"ip -6 neigh add 2001:db8:0:1::2 lladdr 02:00:00:00:00:02 dev xlb0 nud permanent",
	"ip route add 198.18.0.0/16 via 192.0.2.2 dev xlb0",
	"ip -6 route add 2001:db8:1::/48 via 2001:db8:0:1::2 dev xlb0",
	"sysctl -qw net.ipv4.conf.all.forwarding=1",
	"sysctl -qw net.ipv6.conf.all.forwarding=1",
};

static const uint32_t service_counts[] = { 1, 1000, 10000, 100000 };
#define N_COUNTS (sizeof(service_counts) / sizeof(service_counts[0]))

/* PATH_FIB: a probe that only calls bpf_fib_lookup() as xlb's forward()
 * does and returns XDP_TX: what the one helper costs on its own.
 * PATH_CT: a probe that only inserts two entries under random keys into
 * xlb's conntrack map, in the state the new-flow rows meet it: the floor
 * under any new flow that records both directions in an LRU hash.
 * PATH_EST: established packets as they run, served from the per-CPU flow
 * cache; PATH_EST_CT: the same with the cache off (XLB_CFG_NO_FLOW_CACHE),
 * every packet a conntrack lookup; PATH_EST_TC: PATH_EST through the tc
 * program (bpf_redirect_neigh() instead of XDP_TX), as pod traffic takes. */
enum path { PATH_REF, PATH_FIB, PATH_CT, PATH_NEW, PATH_EST, PATH_EST_CT, PATH_EST_TC };
#define N_PATHS (PATH_EST_TC - PATH_NEW + 1)	/* the measured xlb paths */
static const char *const path_names[] = { "reference", "fib lookup", "ct insert x2",
					  "new flow", "established", "est. no fc", "est. tc" };

struct result {
	enum path path;
	int fam;
	uint32_t services;
	uint32_t ns[MEASUREMENTS];	/* the kernel's duration per run */
	uint32_t ref_ns[MEASUREMENTS];	/* the reference's, measured just before */
	uint64_t runs;
	uint64_t tx;		/* xlb_packets[xdp][tx] increase */
	uint64_t other;		/* every other xlb_packets cell's increase */
	uint64_t drop_skip;	/* xlb_drops + xlb_skips increase */
	int64_t ct_delta;	/* conntrack entries after - before, summed */
	bool ret_ok;		/* every measurement returned the row's forward verdict */
	bool csum_ok;		/* every last frame had valid checksums */
	bool done;
};

struct counts {
	__u64 packets[XLB_PACKETS_MAX];
	__u64 drops[XLB_DROP_MAX];
	__u64 skips[XLB_SKIP_MAX];
};

static struct dp dp;
static int uplink;
static uint32_t repeat = REPEAT_DEFAULT;
static uint32_t max_services = 100000;
static int only_path = -1;	/* -p: one xlb path, e.g. to profile it */
static struct xlb_ct_key *fill_keys;
static struct xlb_ct_entry *fill_vals;
static struct result ref_result;
static int ref_fd;		/* the reference program, kept for every xlb row */
static uint8_t ref_pkt[PKT_BUF_LEN];
static uint32_t ref_len;
static struct result fib_results[2];
static struct result ct_result;
static struct result results[N_PATHS][2][N_COUNTS];	/* [path - PATH_NEW][fam][count] */

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench_datapath: %s: %s\n", what, why);
	exit(1);
}

static void die_errno(const char *what, int err)
{
	die(what, strerror(err < 0 ? -err : err));
}

/* base + i, counted in the address's last 32 bits. */
static union xlb_addr addr_at(const char *base, uint32_t i)
{
	union xlb_addr a;
	int fam = addr_parse(base, &a);

	if (!fam)
		die("bad address in the plan", base);
	if (fam == 4)
		a.v4 = htonl(ntohl(a.v4) + i);
	else
		a.v6[3] = htonl(ntohl(a.v6[3]) + i);
	return a;
}

static struct pkt_addr pkt_addr_of(const struct plan *pl, const union xlb_addr *a)
{
	struct pkt_addr p = { .family = pl->family };

	memcpy(p.b, a->b, sizeof(p.b));
	return p;
}

static void world_init(void)
{
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET)", strerror(errno));
	for (size_t i = 0; i < sizeof(world_cmds) / sizeof(world_cmds[0]); i++)
		if (system(world_cmds[i]))
			die(world_cmds[i], "command failed");
	uplink = if_nametoindex("xlb0");
	if (!uplink)
		die("if_nametoindex(xlb0)", strerror(errno));
}

/* Room for CT_FILL plus the two entries each new-flow run adds, with slack
 * so the LRU never has to evict. */
static __u32 ct_capacity(void)
{
	uint64_t need = (CT_FILL + 2ULL * repeat) * 5 / 4;
	__u32 cap = 1;

	while (cap < need)
		cap <<= 1;
	return cap;
}

static void dp_init(void)
{
	struct dp_sizes sz = {
		.frontends = 1U << 18, .services = 1U << 18, .slots = 1U << 21,
		.backends = 1U << 21, .conntrack = ct_capacity(),
	};
	char err[512];

	if (dp_load(&dp, NULL, &sz, err, sizeof(err)))
		die("load the data path", err);
}

static void set_prefix(enum xlb_map_id map, __u32 id, const char *text, __u8 len)
{
	union xlb_addr a = addr_at(text, 0);
	int err = maps_set_prefix(&dp.maps, map, id, &a, len);

	if (err)
		die_errno(text, err);
}

/* The agent's base state: SNAT to the node address over the widest port
 * range, pods known, default timeouts. */
static void base_config(void)
{
	struct xlb_config cfg = {
		.snat_v4 = addr_at(plans[0].node, 0), .snat_v6 = addr_at(plans[1].node, 0),
		.snat_port_min = SNAT_MIN, .snat_port_max = SNAT_MAX,
		.flags = XLB_CFG_POD_DETECT, .tcp_timeout = 86400, .tcp_syn_timeout = 60,
		.tcp_close_timeout = 10, .udp_timeout = 30,
	};
	int err = maps_set_config(&dp.maps, &cfg);

	if (err)
		die_errno("set config", err);
	set_prefix(XLB_MAP_POD_CIDRS, XLB_FAM_V4, "198.18.0.0", 16);
	set_prefix(XLB_MAP_POD_CIDRS, XLB_FAM_V6, "2001:db8:1::", 48);
	set_prefix(XLB_MAP_SVC_CIDRS, XLB_FAM_V4, "198.19.0.0", 16);
	set_prefix(XLB_MAP_SVC_CIDRS, XLB_FAM_V6, "2001:db8:2::", 112);
	for (int f = 0; f < 2; f++) {
		union xlb_addr a = addr_at(plans[f].node, 0);

		err = maps_set_local_addr(&dp.maps, &a, plans[f].family,
					  XLB_ADDR_NODE | XLB_ADDR_NODEPORT);
		if (err)
			die_errno("set node address", err);
	}
}

static struct xlb_frontend_key fe_key(const struct plan *pl, const union xlb_addr *a,
				      uint16_t port)
{
	struct xlb_frontend_key k = {
		.port = htons(port), .proto = IPPROTO_TCP, .family = pl->family,
	};

	if (a)
		k.addr = *a;
	return k;
}

/* a NULL: the NodePort entry (any NodePort address). */
static void set_frontend(const struct plan *pl, const union xlb_addr *a, uint16_t port,
			 uint8_t kind, uint32_t svc_id)
{
	struct xlb_frontend_key k = fe_key(pl, a, port);
	struct xlb_frontend v = { .svc_id = svc_id, .kind = kind };
	int err = maps_set_frontend(&dp.maps, &k, &v);

	if (err)
		die_errno("add frontend", err);
}

static void set_backend(const struct plan *pl, uint32_t id, const union xlb_addr *a,
			uint16_t port)
{
	struct xlb_backend b = { .addr = *a, .port = htons(port), .family = pl->family };
	int err = maps_set_backend(&dp.maps, id, &b);

	if (err)
		die_errno("add backend", err);
}

static void publish(uint32_t svc_id, const uint32_t *ids, uint32_t n)
{
	struct xlb_service tmpl = { 0 };
	int err = maps_publish_service(&dp.maps, svc_id, &tmpl, ids, n, NULL, 0);

	if (err)
		die_errno("publish service", err);
}

/* Population service i: a ClusterIP frontend (and a NodePort one while the
 * NodePort range lasts) with BACKENDS_PER_SVC pod backends. */
static void add_service(int f, uint32_t i)
{
	const struct plan *pl = &plans[f];
	uint32_t svc_id = POP_SVC(f, i), ids[BACKENDS_PER_SVC];
	union xlb_addr a;

	for (int j = 0; j < BACKENDS_PER_SVC; j++) {
		ids[j] = POP_BE(svc_id, j);
		a = addr_at(pl->be, (i * BACKENDS_PER_SVC + j) % 50000);
		set_backend(pl, ids[j], &a, POD_PORT);
	}
	publish(svc_id, ids, BACKENDS_PER_SVC);
	/* The service CIDR has 64k addresses: past them, the next port. */
	a = addr_at(pl->svc, i % 65000);
	set_frontend(pl, &a, BENCH_PORT + i / 65000, XLB_FE_CLUSTER_IP, svc_id);
	if (i < NODEPORTS)
		set_frontend(pl, NULL, 30000 + i, XLB_FE_NODE_PORT, svc_id);
}

/* The new-flow ring: one service whose RING backends (remote pods, port 80)
 * are each also a frontend of that same service, so every translated packet
 * is again the first packet of a new service flow. */
static void add_ring(int f)
{
	const struct plan *pl = &plans[f];
	uint32_t ids[RING];
	union xlb_addr a;

	for (uint32_t k = 0; k < RING; k++) {
		ids[k] = RING_BE(f, k);
		a = addr_at(pl->ring, k);
		set_backend(pl, ids[k], &a, BENCH_PORT);
		set_frontend(pl, &a, BENCH_PORT, XLB_FE_CLUSTER_IP, RING_SVC(f));
	}
	publish(RING_SVC(f), ids, RING);
}

/* The 2-cycle: service x's frontend is cycle+x:CYCLE_PORT(x), its one
 * backend the other frontend, so a flow through x is translated onto a flow
 * through the other, changing both address and port. */
#define CYCLE_PORT(x) (BENCH_PORT + (x))

static void add_cycle(int f)
{
	const struct plan *pl = &plans[f];

	for (int x = 0; x < 2; x++) {
		union xlb_addr other = addr_at(pl->cycle, !x);
		uint32_t id = CYCLE_BE(f, x);

		set_backend(pl, id, &other, CYCLE_PORT(!x));
		publish(CYCLE_SVC(f, x), &id, 1);
	}
}

static void cycle_frontends(int f, bool on)
{
	const struct plan *pl = &plans[f];

	for (int x = 0; x < 2; x++) {
		union xlb_addr a = addr_at(pl->cycle, x);
		struct xlb_frontend_key k = fe_key(pl, &a, CYCLE_PORT(x));
		int err;

		if (on) {
			set_frontend(pl, &a, CYCLE_PORT(x), XLB_FE_CLUSTER_IP, CYCLE_SVC(f, x));
			continue;
		}
		err = maps_del_frontend(&dp.maps, &k);
		if (err)
			die_errno("delete 2-cycle frontend", err);
	}
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* bpf_ktime_get_ns()'s clock */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Filler flow n of a family: client -> ClusterIP masqueraded to a pod, as
 * the data path records it (forward and reply entry). Its tuples share no
 * address with the ring or the 2-cycle. */
static void filler_flow(const struct plan *pl, uint32_t n, __u64 now,
			struct xlb_ct_key *k, struct xlb_ct_entry *e)
{
	union xlb_addr client = addr_at(pl->ct_client, n % 100), svc = addr_at(pl->svc, n % 1000);
	union xlb_addr be = addr_at(pl->ct_be, n % 250), node = addr_at(pl->node, 0);
	__be16 cport = htons(1024 + n / 100), snat = htons(SNAT_MIN + n / 250);
	__be16 sport = htons(BENCH_PORT), bport = htons(POD_PORT);

	k[0] = (struct xlb_ct_key){ .saddr = client, .daddr = svc, .sport = cport,
				    .dport = sport, .proto = IPPROTO_TCP, .family = pl->family };
	e[0] = (struct xlb_ct_entry){ .nat_saddr = node, .nat_daddr = be, .nat_sport = snat,
				      .nat_dport = bport, .flags = XLB_CT_SNAT,
				      .state = XLB_CT_ESTABLISHED, .svc_id = 1, .backend_id = 1,
				      .last_seen = now };
	k[1] = (struct xlb_ct_key){ .saddr = be, .daddr = node, .sport = bport, .dport = snat,
				    .proto = IPPROTO_TCP, .family = pl->family };
	e[1] = (struct xlb_ct_entry){ .nat_saddr = svc, .nat_daddr = client, .nat_sport = sport,
				      .nat_dport = cport, .flags = XLB_CT_REPLY | XLB_CT_SNAT,
				      .state = XLB_CT_ESTABLISHED, .svc_id = 1, .backend_id = 1,
				      .last_seen = now };
}

/* CT_FILL entries: CT_FILL / 2 flows, the families alternating. */
static void ct_fill_prepare(void)
{
	__u64 now = now_ns();

	fill_keys = calloc(CT_FILL, sizeof(*fill_keys));
	fill_vals = calloc(CT_FILL, sizeof(*fill_vals));
	if (!fill_keys || !fill_vals)
		die("conntrack filler", "out of memory");
	for (uint32_t i = 0; i < CT_FILL / 2; i++)
		filler_flow(&plans[i & 1], i >> 1, now, &fill_keys[2 * i], &fill_vals[2 * i]);
}

/* Read (or read and delete) the whole conntrack map in batches; returns the
 * number of entries. */
static uint64_t ct_batch_walk(bool delete)
{
	static struct xlb_ct_key keys[CT_CHUNK];
	static struct xlb_ct_entry vals[CT_CHUNK];
	int fd = dp.maps.fd[XLB_MAP_CONNTRACK], err;
	__u32 in = 0, out = 0, count;
	uint64_t total = 0;
	bool first = true;

	for (;;) {
		count = CT_CHUNK;
		if (delete)
			err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys,
							      vals, &count, NULL);
		else
			err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals,
						   &count, NULL);
		total += count;
		if (err && errno == ENOENT)
			return total;
		if (err)
			die_errno("walk conntrack", errno);
		in = out;
		first = false;
	}
}

static uint64_t ct_count(void)
{
	return ct_batch_walk(false);
}

/* Back to exactly the CT_FILL filler entries. */
static void ct_reset(void)
{
	__u32 count = CT_FILL;

	ct_batch_walk(true);
	if (maps_conntrack_changed(&dp.maps))
		die("reset conntrack", "cannot bump ct_gen");
	if (bpf_map_update_batch(dp.maps.fd[XLB_MAP_CONNTRACK], fill_keys, fill_vals, &count,
				 NULL))
		die_errno("fill conntrack", errno);
	if (count != CT_FILL)
		die("fill conntrack", "short batch");
}

static void read_counts(struct counts *c)
{
	if (maps_read_counters(&dp.maps, XLB_MAP_PACKETS, c->packets, XLB_PACKETS_MAX) ||
	    maps_read_counters(&dp.maps, XLB_MAP_DROPS, c->drops, XLB_DROP_MAX) ||
	    maps_read_counters(&dp.maps, XLB_MAP_SKIPS, c->skips, XLB_SKIP_MAX))
		die("read counters", "failed");
}

static bool tc_row(const struct result *r)
{
	return r->path == PATH_EST_TC;
}

/* Add after - before to r's verdict tallies; "tx" is the row's forward
 * verdict: XDP_TX, or tc's redirect. */
static void tally(struct result *r, const struct counts *b, const struct counts *a)
{
	int tx = tc_row(r) ? XLB_PACKETS_INDEX(XLB_HOOK_TC, XLB_VERDICT_REDIRECT) :
			     XLB_PACKETS_INDEX(XLB_HOOK_XDP, XLB_VERDICT_TX);

	for (int i = 0; i < XLB_PACKETS_MAX; i++) {
		if (i == tx)
			r->tx += a->packets[i] - b->packets[i];
		else
			r->other += a->packets[i] - b->packets[i];
	}
	for (int i = 0; i < XLB_DROP_MAX; i++)
		r->drop_skip += a->drops[i] - b->drops[i];
	for (int i = 0; i < XLB_SKIP_MAX; i++)
		r->drop_skip += a->skips[i] - b->skips[i];
}

/* One BPF_PROG_TEST_RUN of n runs of an XDP or (tc) a tc program on a
 * frame arriving on the uplink; the last frame lands in out. */
static int test_run(int fd, bool tc, const uint8_t *pkt, uint32_t len, uint32_t n, uint32_t *ns,
		    uint8_t *out, uint32_t *out_len)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = uplink };
	struct __sk_buff skb = { .ifindex = uplink };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = PKT_BUF_LEN,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n);

	if (tc) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}

	if (bpf_prog_test_run_opts(fd, &o))
		die_errno("BPF_PROG_TEST_RUN", errno);
	*ns = o.duration;
	*out_len = o.data_size_out;
	return o.retval;
}

/* Measurement m of row r. Before each measurement of an xlb row or the
 * conntrack probe the reference runs as many times, so the ratio compares
 * runs a moment apart, not with a reference taken minutes earlier on a
 * machine whose load drifts; those rows also get their counters and the
 * conntrack size read around the run. */
static void measure(struct result *r, int m, int fd, const uint8_t *pkt, uint32_t len)
{
	bool xlb = r->path >= PATH_CT;
	uint8_t out[PKT_BUF_LEN];
	struct counts b, a;
	uint64_t ct0 = 0;
	uint32_t out_len;
	int ret;

	if (xlb) {
		if (test_run(ref_fd, false, ref_pkt, ref_len, repeat, &r->ref_ns[m], out,
			     &out_len) != XDP_TX)
			die("reference", "did not return XDP_TX");
		read_counts(&b);
		ct0 = ct_count();
	}
	ret = test_run(fd, tc_row(r), pkt, len, repeat, &r->ns[m], out, &out_len);
	if (xlb) {
		read_counts(&a);
		r->ct_delta += (int64_t)ct_count() - (int64_t)ct0;
		tally(r, &b, &a);
	}
	r->runs += repeat;
	r->ret_ok &= ret == (tc_row(r) ? TC_ACT_REDIRECT : XDP_TX);
	r->csum_ok &= !pkt_verify_csums(out, out_len, NULL, 0);
}

static uint32_t build(const struct pkt_spec *s, uint8_t *buf)
{
	int len = pkt_build(s, buf, PKT_BUF_LEN);

	if (len < 0)
		die("build packet", pkt_build_error());
	return len;
}

/* A TCP segment from src to dst:80 arriving on the uplink. */
static uint32_t flow_packet(const struct plan *pl, const union xlb_addr *src,
			    const union xlb_addr *dst, uint8_t flags, uint8_t *buf)
{
	struct pkt_spec s = {
		.eth_src = pkt_mac("02:00:00:00:03:07"), .eth_dst = pkt_mac("02:00:00:00:00:01"),
		.src = pkt_addr_of(pl, src), .dst = pkt_addr_of(pl, dst),
		.proto = IPPROTO_TCP, .sport = 40000, .dport = BENCH_PORT,
		.tcp_flags = flags, .tcp_seq = 1000, .tcp_ack = flags & PKT_TCP_ACK ? 2000 : 0,
		.payload_len = 10,
	};

	return build(&s, buf);
}

static void result_init(struct result *r, enum path path, int fam, uint32_t services)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->fam = fam;
	r->services = services;
	r->ret_ok = true;
	r->csum_ok = true;
	r->done = true;
}

/* New flows: a SYN from the client to ring destination 0. Each run misses
 * conntrack, picks a random ring backend, masquerades to a random free
 * source port and so leaves a packet whose tuple was never seen (its
 * reverse is the reply entry just inserted with BPF_NOEXIST). */
static void bench_new_flow(struct result *r, int f)
{
	const struct plan *pl = &plans[f];
	union xlb_addr src = addr_at(pl->client, 0), dst = addr_at(pl->ring, 0);
	uint8_t pkt[PKT_BUF_LEN];
	uint32_t len = flow_packet(pl, &src, &dst, PKT_TCP_SYN, pkt);

	for (int m = 0; m < MEASUREMENTS; m++) {
		ct_reset();
		measure(r, m, dp_xdp_fd(&dp), pkt, len);
	}
}

static void set_flow_cache(bool on)
{
	struct xlb_config cfg;
	int err = maps_get_config(&dp.maps, &cfg);

	if (!err) {
		cfg.flags &= ~XLB_CFG_NO_FLOW_CACHE;
		cfg.flags |= on ? 0 : XLB_CFG_NO_FLOW_CACHE;
		err = maps_set_config(&dp.maps, &cfg);
	}
	if (err)
		die_errno("set config", err);
}

/* Established: two warm-up runs let the data path itself create the flows
 * pod -> cycle+0 (translated to cycle+1) and pod -> cycle+1 (translated to
 * cycle+0). Then the 2-cycle's frontends go: from here only a flow cache or
 * conntrack hit can translate, a miss would be counted as a skip. */
static void bench_established(struct result *r, int f)
{
	const struct plan *pl = &plans[f];
	union xlb_addr src = addr_at(pl->pod, 0), dst = addr_at(pl->cycle, 0);
	uint8_t pkt[PKT_BUF_LEN], out[PKT_BUF_LEN];
	uint32_t len = flow_packet(pl, &src, &dst, PKT_TCP_ACK, pkt), ns, out_len;
	struct counts b, a;
	struct result warm;
	uint64_t ct0;

	ct_reset();
	cycle_frontends(f, true);
	result_init(&warm, PATH_EST, f, 0);
	read_counts(&b);
	ct0 = ct_count();
	test_run(dp_xdp_fd(&dp), false, pkt, len, 2, &ns, out, &out_len);
	read_counts(&a);
	tally(&warm, &b, &a);
	if (warm.tx != 2 || ct_count() != ct0 + 4)
		die("2-cycle warm-up", "the data path did not create both flows");
	cycle_frontends(f, false);
	set_flow_cache(r->path != PATH_EST_CT);
	for (int m = 0; m < MEASUREMENTS; m++)
		measure(r, m, tc_row(r) ? dp_tc_fd(&dp) : dp_xdp_fd(&dp), pkt, len);
	set_flow_cache(true);
}

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX(sz, d, s, o) INSN(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, s, o) INSN(BPF_STX | BPF_MEM | (sz), d, s, o, 0)

/* Load one of the benchmark's own XDP programs, built from instructions. */
static int load_insns(const char *name, const struct bpf_insn *prog, int n)
{
	static char log[4096];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log));
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", prog, n, &o);

	if (fd < 0)
		die(name, log[0] ? log : strerror(errno));
	return fd;
}

/* The reference: bounds check, swap the Ethernet addresses, XDP_TX. */
static int load_reference(void)
{
	static const struct bpf_insn prog[] = {
		LDX(BPF_W, BPF_REG_2, BPF_REG_1, offsetof(struct xdp_md, data)),
		LDX(BPF_W, BPF_REG_3, BPF_REG_1, offsetof(struct xdp_md, data_end)),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, 12),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_DROP),
		INSN(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 9, 0),
		LDX(BPF_W, BPF_REG_4, BPF_REG_2, 0),
		LDX(BPF_H, BPF_REG_5, BPF_REG_2, 4),
		LDX(BPF_W, BPF_REG_0, BPF_REG_2, 6),
		LDX(BPF_H, BPF_REG_3, BPF_REG_2, 10),
		STX(BPF_W, BPF_REG_2, BPF_REG_0, 0),
		STX(BPF_H, BPF_REG_2, BPF_REG_3, 4),
		STX(BPF_W, BPF_REG_2, BPF_REG_4, 6),
		STX(BPF_H, BPF_REG_2, BPF_REG_5, 10),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_TX),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};

	return load_insns("xdp_tx_ref", prog, sizeof(prog) / sizeof(prog[0]));
}

#define ST(sz, d, o, i) INSN(BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_K(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define FIB_OFF(field) (-64 + (int)offsetof(struct bpf_fib_lookup, field))

/* The FIB probe: the lookup forward() makes for a translated packet of
 * family f (ingress device, TCP, src -> dst), XDP_TX when it succeeds. */
static int load_fib_probe(int f, const union xlb_addr *src, const union xlb_addr *dst)
{
	struct bpf_insn prog[64];
	int n = 0, words = plans[f].family == XLB_FAM_V4 ? 1 : 4;

	prog[n++] = MOV_X(BPF_REG_6, BPF_REG_1);
	prog[n++] = MOV_K(BPF_REG_0, 0);
	for (int off = -64; off < 0; off += 8)
		prog[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_0, off);
	prog[n++] = LDX(BPF_W, BPF_REG_2, BPF_REG_6, offsetof(struct xdp_md, ingress_ifindex));
	prog[n++] = STX(BPF_W, BPF_REG_10, BPF_REG_2, FIB_OFF(ifindex));
	prog[n++] = ST(BPF_B, BPF_REG_10, FIB_OFF(family), words == 1 ? AF_INET : AF_INET6);
	prog[n++] = ST(BPF_B, BPF_REG_10, FIB_OFF(l4_protocol), IPPROTO_TCP);
	prog[n++] = ST(BPF_H, BPF_REG_10, FIB_OFF(tot_len), 64);
	for (int w = 0; w < words; w++) {
		prog[n++] = ST(BPF_W, BPF_REG_10, FIB_OFF(ipv6_src) + 4 * w, (int32_t)src->v6[w]);
		prog[n++] = ST(BPF_W, BPF_REG_10, FIB_OFF(ipv6_dst) + 4 * w, (int32_t)dst->v6[w]);
	}
	prog[n++] = MOV_X(BPF_REG_1, BPF_REG_6);
	prog[n++] = MOV_X(BPF_REG_2, BPF_REG_10);
	prog[n++] = ADD_K(BPF_REG_2, -64);
	prog[n++] = MOV_K(BPF_REG_3, 64);
	prog[n++] = MOV_K(BPF_REG_4, 0);
	prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_fib_lookup);
	prog[n++] = MOV_X(BPF_REG_1, BPF_REG_0);
	prog[n++] = MOV_K(BPF_REG_0, XDP_TX);
	prog[n++] = INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 1, BPF_FIB_LKUP_RET_SUCCESS);
	prog[n++] = MOV_K(BPF_REG_0, XDP_DROP);
	prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return load_insns("xdp_fib_probe", prog, n);
}

/* The FIB probe on the established row's translated tuple. */
static void bench_fib(int f)
{
	const struct plan *pl = &plans[f];
	union xlb_addr src = addr_at(pl->pod, 0), dst = addr_at(pl->cycle, 1);
	uint8_t pkt[PKT_BUF_LEN];
	uint32_t len = flow_packet(pl, &src, &dst, PKT_TCP_ACK, pkt);
	int fd = load_fib_probe(f, &src, &dst);

	result_init(&fib_results[f], PATH_FIB, f, 0);
	for (int m = 0; m < MEASUREMENTS; m++)
		measure(&fib_results[f], m, fd, pkt, len);
	close(fd);
}

#define CT_KEY_OFF (-(int)sizeof(struct xlb_ct_key))
#define CT_VAL_OFF (CT_KEY_OFF - (int)sizeof(struct xlb_ct_entry))
#define CT_KEY(field) (CT_KEY_OFF + (int)offsetof(struct xlb_ct_key, field))

/* The conntrack probe: two bpf_map_update_elem() calls on xlb_conntrack,
 * each under a key whose addresses are fresh random words (a collision with
 * the 2^20 present entries is a 1-in-2^44 event), then XDP_TX. */
static int load_ct_probe(void)
{
	int map = dp.maps.fd[XLB_MAP_CONNTRACK], n = 0;
	struct bpf_insn prog[64];

	_Static_assert(sizeof(struct xlb_ct_key) % 8 == 0 && sizeof(struct xlb_ct_entry) % 8 == 0,
		       "the probe zeroes key and value in 8-byte words");
	prog[n++] = MOV_K(BPF_REG_0, 0);
	for (int off = CT_VAL_OFF; off < 0; off += 8)
		prog[n++] = STX(BPF_DW, BPF_REG_10, BPF_REG_0, off);
	prog[n++] = ST(BPF_B, BPF_REG_10, CT_KEY(proto), IPPROTO_TCP);
	prog[n++] = ST(BPF_B, BPF_REG_10, CT_KEY(family), XLB_FAM_V4);
	for (int i = 0; i < 2; i++) {
		prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32);
		prog[n++] = STX(BPF_W, BPF_REG_10, BPF_REG_0, CT_KEY(saddr));
		prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32);
		prog[n++] = STX(BPF_W, BPF_REG_10, BPF_REG_0, CT_KEY(daddr));
		prog[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map);
		prog[n++] = INSN(0, 0, 0, 0, 0);
		prog[n++] = MOV_X(BPF_REG_2, BPF_REG_10);
		prog[n++] = ADD_K(BPF_REG_2, CT_KEY_OFF);
		prog[n++] = MOV_X(BPF_REG_3, BPF_REG_10);
		prog[n++] = ADD_K(BPF_REG_3, CT_VAL_OFF);
		prog[n++] = MOV_K(BPF_REG_4, BPF_ANY);
		prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem);
	}
	prog[n++] = MOV_K(BPF_REG_0, XDP_TX);
	prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return load_insns("xdp_ct_probe", prog, n);
}

/* The conntrack probe on the new-flow rows' packet and conntrack state. */
static void bench_ct(void)
{
	const struct plan *pl = &plans[0];
	union xlb_addr src = addr_at(pl->client, 0), dst = addr_at(pl->ring, 0);
	uint8_t pkt[PKT_BUF_LEN];
	uint32_t len = flow_packet(pl, &src, &dst, PKT_TCP_SYN, pkt);
	int fd = load_ct_probe();

	result_init(&ct_result, PATH_CT, 0, 0);
	for (int m = 0; m < MEASUREMENTS; m++) {
		ct_reset();
		measure(&ct_result, m, fd, pkt, len);
	}
	close(fd);
}

static void bench_reference(void)
{
	union xlb_addr src = addr_at(plans[0].client, 0), dst = addr_at(plans[0].ring, 0);

	ref_len = flow_packet(&plans[0], &src, &dst, PKT_TCP_SYN, ref_pkt);
	ref_fd = load_reference();
	result_init(&ref_result, PATH_REF, 0, 0);
	for (int m = 0; m < MEASUREMENTS; m++)
		measure(&ref_result, m, ref_fd, ref_pkt, ref_len);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void sorted(const uint32_t *ns, uint32_t *s)
{
	memcpy(s, ns, MEASUREMENTS * sizeof(*s));
	qsort(s, MEASUREMENTS, sizeof(*s), cmp_u32);
}

/* Median, minimum and maximum of the measurements. */
static void spread(const struct result *r, uint32_t *med, uint32_t *lo, uint32_t *hi)
{
	uint32_t s[MEASUREMENTS];

	sorted(r->ns, s);
	*med = s[MEASUREMENTS / 2];
	*lo = s[0];
	*hi = s[MEASUREMENTS - 1];
}

static double median_of(const uint32_t *ns)
{
	uint32_t s[MEASUREMENTS];

	sorted(ns, s);
	return s[MEASUREMENTS / 2];
}

static double median(const struct result *r)
{
	return median_of(r->ns);
}

/* An xlb row against the reference runs interleaved with it; the others
 * against the reference row. */
static double ratio(const struct result *r)
{
	if (r->path >= PATH_CT)
		return median(r) / median_of(r->ref_ns);
	return median(r) / median(&ref_result);
}

/* Every run took the row's path: all XDP_TX, nothing else counted, and the
 * conntrack map grew by exactly two entries per run (new flow) or not at
 * all (established). */
static bool on_path(const struct result *r)
{
	int64_t want = r->path <= PATH_NEW ? 2 * (int64_t)r->runs : 0;

	if (!r->ret_ok || !r->csum_ok)
		return false;
	if (r->path < PATH_CT)
		return true;
	if (r->path == PATH_CT)	/* xlb's program does not run: no counters */
		return r->ct_delta == want;
	return r->tx == r->runs && !r->other && !r->drop_skip && r->ct_delta == want;
}

static void print_row(const struct result *r, const struct result *one)
{
	uint32_t med, lo, hi;
	char svcs[16] = "-", vs1[16] = "-", ct[16] = "-", tx[16] = "-", other[16] = "-";
	char ref[16] = "-";

	spread(r, &med, &lo, &hi);
	if (r->path >= PATH_CT)
		snprintf(ref, sizeof(ref), "%.0f", median_of(r->ref_ns));
	if (r->path == PATH_CT)
		snprintf(ct, sizeof(ct), "%+.3f", (double)r->ct_delta / r->runs);
	if (r->path >= PATH_NEW) {
		snprintf(svcs, sizeof(svcs), "%u", r->services);
		snprintf(tx, sizeof(tx), "%.3f", (double)r->tx / r->runs);
		snprintf(other, sizeof(other), "%llu",
			 (unsigned long long)(r->other + r->drop_skip));
		snprintf(ct, sizeof(ct), "%+.3f", (double)r->ct_delta / r->runs);
	}
	if (one && one->done)
		snprintf(vs1, sizeof(vs1), "%+.1f%%", 100.0 * (med / median(one) - 1));
	printf("%-12s %-4s %8s %7u %9u-%-5u %5s %6.2f %8s %6s %6s %7s  %s\n",
	       path_names[r->path], r->path == PATH_REF ? "-" : plans[r->fam].name, svcs, med,
	       lo, hi, ref, ratio(r), vs1, tx, other, ct, on_path(r) ? "yes" : "NO");
}

/* Read before leaving the initial namespace: only it has this sysctl. */
static int read_jit_enable(void)
{
	FILE *jit = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int on = -1;

	if (!jit)
		return -1;
	if (fscanf(jit, "%d", &on) != 1)
		on = -1;
	fclose(jit);
	return on;
}

static void print_header(int jit_on)
{
	struct utsname u;

	uname(&u);
	printf("xlb XDP data path, BPF_PROG_TEST_RUN: kernel %s, bpf_jit_enable=%d, CPU %d\n",
	       u.release, jit_on, sched_getcpu());
	printf("%d measurements of %u runs per row (ns/pkt: median, min-max); conntrack %u "
	       "entries before each measurement (max_entries %u)\n",
	       MEASUREMENTS, repeat, CT_FILL, maps_capacity(&dp.maps, XLB_MAP_CONNTRACK));
	printf("services: N per family, each a ClusterIP (+ NodePort for the first %d) "
	       "with %d backends, plus the bench's own ring and 2-cycle\n\n",
	       NODEPORTS, BACKENDS_PER_SVC);
}

#define LINE 64
#define CHASE_STEPS 10000000

/* What one cache miss costs here: nanoseconds per dependent load at random
 * in a region of the size of the conntrack map's bucket array (16 bytes per
 * bucket, one bucket per entry of max_entries), walking one random cycle
 * through all its cache lines (Sattolo's shuffle). A new flow's conntrack
 * lookup must touch one such bucket before it knows the flow is new. */
static double cold_load_ns(size_t bytes)
{
	size_t n = bytes / LINE, *next = malloc(n * sizeof(*next)), at = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	uint8_t *region = aligned_alloc(LINE, n * LINE);
	__u64 t0;

	if (!next || !region)
		die("cold load probe", "out of memory");
	for (size_t i = 0; i < n; i++)
		next[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = pkt_rand(&rng) % i, t = next[i];

		next[i] = next[j];
		next[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		*(size_t *)(region + i * LINE) = next[i] * LINE;
	free(next);
	t0 = now_ns();
	for (int i = 0; i < CHASE_STEPS; i++)
		at = *(volatile size_t *)(region + at);
	t0 = now_ns() - t0;
	free(region);
	return (double)t0 / CHASE_STEPS;
}

/* The brief's targets, reported, not asserted. */
static void print_targets(void)
{
	static const double limit[] = { [PATH_NEW] = 4, [PATH_EST] = 2 };

	size_t buckets = (size_t)maps_capacity(&dp.maps, XLB_MAP_CONNTRACK) * 16;
	double miss = cold_load_ns(buckets);

	printf("\none cache miss: a dependent load at random in %zu MiB (the conntrack "
	       "buckets) costs %.0f ns, %.1fx the reference\n", buckets >> 20, miss,
	       miss / median(&ref_result));
	printf("\ntargets (reported, not asserted):\n");
	for (int p = PATH_NEW; p <= PATH_EST; p++)
		for (int f = 0; f < 2; f++) {
			const struct result *one = &results[p - PATH_NEW][f][0];
			const struct result *big = &results[p - PATH_NEW][f][N_COUNTS - 1];
			double worst = 0, x;

			if (!one->done)
				continue;
			for (size_t c = 0; c < N_COUNTS; c++) {
				if (!results[p - PATH_NEW][f][c].done)
					continue;
				x = ratio(&results[p - PATH_NEW][f][c]);
				worst = x > worst ? x : worst;
			}
			printf("  %-12s %s: worst %.2fx ref (target <= %.0fx): %s", path_names[p],
			       plans[f].name, worst, limit[p], worst <= limit[p] ? "met" : "MISSED");
			if (big->done && big != one) {
				x = median(big) / median(one) - 1;
				printf("; %u vs 1 service %+.1f%% (target within 10%%): %s",
				       big->services, 100 * x, x <= 0.10 ? "met" : "MISSED");
			}
			printf("\n");
		}
}

static void print_table(void)
{
	printf("%-12s %-4s %8s %7s %15s %5s %6s %8s %6s %6s %7s  %s\n", "path", "fam",
	       "services", "ns/pkt", "min-max", "ref", "x ref", "vs 1svc", "TX/run", "other",
	       "ct/run", "on path");
	print_row(&ref_result, NULL);
	for (int f = 0; f < 2; f++)
		print_row(&fib_results[f], NULL);
	if (ct_result.done)
		print_row(&ct_result, NULL);
	for (int p = PATH_NEW; p <= PATH_EST_TC; p++)
		for (int f = 0; f < 2; f++)
			for (size_t c = 0; c < N_COUNTS; c++)
				if (results[p - PATH_NEW][f][c].done)
					print_row(&results[p - PATH_NEW][f][c],
						  &results[p - PATH_NEW][f][0]);
	print_targets();
}

/* Keep every measurement on one CPU: the last one. */
static void pin_cpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(n > 0 ? n - 1 : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity", strerror(errno));
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-r REPEAT (1000..%d, default %d)] [-n MAX_SERVICES] "
		"[-p new|established|established-no-fc|established-tc]\n", argv0, REPEAT_MAX, REPEAT_DEFAULT);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "r:n:p:")) != -1) {
		if (opt == 'r')
			repeat = strtoul(optarg, NULL, 10);
		else if (opt == 'n')
			max_services = strtoul(optarg, NULL, 10);
		else if (opt == 'p' && !strcmp(optarg, "new"))
			only_path = PATH_NEW;
		else if (opt == 'p' && !strcmp(optarg, "established"))
			only_path = PATH_EST;
		else if (opt == 'p' && !strcmp(optarg, "established-no-fc"))
			only_path = PATH_EST_CT;
		else if (opt == 'p' && !strcmp(optarg, "established-tc"))
			only_path = PATH_EST_TC;
		else
			usage(argv[0]);
	}
	if (repeat < 1000 || repeat > REPEAT_MAX || optind != argc)
		usage(argv[0]);
}

int main(int argc, char **argv)
{
	uint32_t populated = 0;
	int jit_on;

	parse_args(argc, argv);
	jit_on = read_jit_enable();
	setvbuf(stdout, NULL, _IOLBF, 0);
	pin_cpu();
	world_init();
	dp_init();
	base_config();
	for (int f = 0; f < 2; f++) {
		add_ring(f);
		add_cycle(f);
	}
	ct_fill_prepare();
	print_header(jit_on);
	bench_reference();
	for (int f = 0; f < 2; f++)
		bench_fib(f);
	if (only_path < 0 || only_path == PATH_NEW)
		bench_ct();
	for (size_t c = 0; c < N_COUNTS && service_counts[c] <= max_services; c++) {
		fprintf(stderr, "programming %u services per family...\n", service_counts[c]);
		for (; populated < service_counts[c]; populated++)
			for (int f = 0; f < 2; f++)
				add_service(f, populated);
		for (int f = 0; f < 2; f++) {
			fprintf(stderr, "measuring %s, %u services\n", plans[f].name, populated);
			for (int p = PATH_NEW; p <= PATH_EST_TC; p++) {
				struct result *r = &results[p - PATH_NEW][f][c];

				if (only_path >= 0 && only_path != p)
					continue;
				result_init(r, p, f, populated);
				if (p == PATH_NEW)
					bench_new_flow(r, f);
				else
					bench_established(r, f);
			}
		}
	}
	print_table();
	return 0;
}
