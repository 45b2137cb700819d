/* Data-path tests: packets through the XDP and tc programs with
 * BPF_PROG_TEST_RUN, the exact output frame compared with the expected one,
 * every checksum recomputed, and the counters checked for the right reason.
 * Each case follows a packet walk of bpf/README.md. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>

#include "dptest.h"
#include "maps.h"
#include "test.h"

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
static char case_name[160];
static uint8_t out[PKT_BUF_LEN];
static uint32_t out_len;
static struct dpt_counters before, after;

static const char *pname(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "sctp";
}

static void begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_name, sizeof(case_name), fmt, ap);
	va_end(ap);
	dpt_reset();
	test_begin(case_name);
}

/* A first packet of a flow from src to dst, as it arrives on the uplink. */
static struct pkt_spec flow(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			    uint8_t proto)
{
	struct pkt_spec s = {
		.eth_src = pkt_mac(DPT_MAC_CLIENT), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(src), .dst = pkt_addr(dst), .proto = proto,
		.sport = sport, .dport = dport, .payload_len = 24,
		.tcp_flags = PKT_TCP_SYN, .tcp_seq = 1000, .sctp_vtag = 0x1234,
		.sctp_chunk = PKT_SCTP_DATA, .sctp_tsn = 7,
	};
	return s;
}

/* The conntrack key of the first packet of s. */
static struct xlb_ct_key ct_key(const struct pkt_spec *s)
{
	struct xlb_ct_key k = { .sport = htons(s->sport), .dport = htons(s->dport),
				.proto = s->proto, .family = s->src.family };

	memcpy(&k.saddr, s->src.b, 16);
	memcpy(&k.daddr, s->dst.b, 16);
	return k;
}

/* The reply of s (backend answering): a SYN-ACK for TCP. */
static struct pkt_spec reply(const struct pkt_spec *s)
{
	struct pkt_spec r = pkt_spec_reply(s);

	r.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	r.tcp_ack = s->tcp_seq + 1;
	return r;
}

static void set_addrs(struct pkt_spec *s, const char *src, uint16_t sport, const char *dst,
		      uint16_t dport)
{
	s->src = pkt_addr(src);
	s->dst = pkt_addr(dst);
	s->sport = sport;
	s->dport = dport;
}

/* The output must be exactly want, with valid checksums. */
static void expect_frame(const struct pkt_spec *want)
{
	uint8_t w[PKT_BUF_LEN];
	char why[200];
	int wl = pkt_build(want, w, sizeof(w));

	CHECK(wl > 0, "build expected: %s", pkt_build_error());
	CHECK(!pkt_compare(out, out_len, w, wl, why, sizeof(why)), "output differs: %s", why);
	CHECK(!pkt_verify_csums(out, out_len, why, sizeof(why)), "checksums: %s", why);
}

static int run(enum dpt_prog prog, const struct pkt_spec *in)
{
	int rc;

	dpt_counters(&before);
	rc = dpt_run_spec(prog, in, out, &out_len);
	dpt_counters(&after);
	return rc;
}

static int verdict_ret(enum dpt_prog prog, int xdp, int tc)
{
	return prog == DPT_XDP ? xdp : tc;
}

/* A translated packet: right return code, no drop or skip counted. */
static void expect_translated(enum dpt_prog prog, int rc, int want_rc, int verdict)
{
	CHECK(rc == want_rc, "%s returned %d, want %d", dpt_prog_name(prog), rc, want_rc);
	CHECK(dpt_drop_delta(&before, &after) == -1, "a drop was counted");
	CHECK(dpt_skip_delta(&before, &after) == -1, "a skip was counted");
	CHECK(dpt_verdict_delta(&before, &after, prog, verdict) == 1, "verdict %d not counted",
	      verdict);
}

static void expect_drop(enum dpt_prog prog, int rc, int reason)
{
	CHECK(rc == dpt_ret_drop(prog), "returned %d, want drop", rc);
	CHECK(dpt_drop_delta(&before, &after) == reason, "drop reason %d, want %s",
	      dpt_drop_delta(&before, &after), xlb_drop_names[reason]);
	CHECK(dpt_skip_delta(&before, &after) == -1, "a skip was counted");
}

static void expect_skip(enum dpt_prog prog, int rc, const struct pkt_spec *in, int reason)
{
	CHECK(rc == dpt_ret_pass(prog), "returned %d, want pass", rc);
	CHECK(dpt_skip_delta(&before, &after) == reason, "skip reason %d, want %s",
	      dpt_skip_delta(&before, &after), xlb_skip_names[reason]);
	CHECK(dpt_drop_delta(&before, &after) == -1, "a drop was counted");
	if (in)
		expect_frame(in);
}

static uint16_t out_sport(void)
{
	struct pkt_info info;

	if (pkt_parse(out, out_len, &info))
		return 0;
	return info.ip.sport;
}

/* What XDP_TX sends: the uplink's MAC to the next hop's. */
static void tx_macs(struct pkt_spec *s, const char *next_hop_mac)
{
	s->eth_src = pkt_mac(DPT_MAC_NODE);
	s->eth_dst = pkt_mac(next_hop_mac);
}

static uint32_t cip_service(int f, uint8_t proto, uint32_t flags, const struct dpt_be *be, int n)
{
	uint32_t id = dpt_service(f, flags, be, n);

	dpt_frontend(id, f, dpt_fams[f].cip, 80, proto, XLB_FE_CLUSTER_IP, 0);
	dpt_frontend(id, f, dpt_fams[f].cip, 0, 0, XLB_FE_VIP, 0);
	return id;
}

/* pod -> ClusterIP, backend on node2: tc DNATs, keeps the pod source,
 * redirects to the next hop; the reply is passed up by XDP (the pod is local)
 * and reverse-translated by tc. */
static void test_pod_to_cip(int f, uint8_t proto)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in, want, rep;
	int rc;

	begin("pod_to_clusterip_remote_%s_v%d", pname(proto), a->family);
	cip_service(f, proto, 0, &be, 1);
	in = flow(a->pod, 40000, a->cip, 80, proto);
	rc = run(DPT_TC, &in);
	expect_translated(DPT_TC, rc, TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = in;
	set_addrs(&want, a->pod, 40000, a->remote_be, 8080);
	expect_frame(&want);
	CHECK(maps_count(&dpt_dp.maps, XLB_MAP_CONNTRACK) == 2, "want 2 conntrack entries, have %u",
	      maps_count(&dpt_dp.maps, XLB_MAP_CONNTRACK));
	test_end();

	test_begin(strcat(case_name, "_reply"));
	rep = reply(&want);
	rc = run(DPT_XDP, &rep);
	expect_skip(DPT_XDP, rc, &rep, XLB_SKIP_LOCAL_DELIVERY);
	rc = run(DPT_TC, &rep);
	expect_translated(DPT_TC, rc, TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = rep;
	set_addrs(&want, a->cip, 80, a->pod, 40000);
	expect_frame(&want);
	test_end();
}

/* external -> NodePort, ETP=Cluster, backend on node2: XDP DNATs and SNATs
 * to the node address with a port from the range, XDP_TX to node2; the reply
 * comes back to the node, is reverse-translated and XDP_TX'd to the client. */
static void test_nodeport_snat(int f, uint8_t proto)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in, want, rep;
	uint32_t id;
	uint16_t port;
	int rc;

	begin("external_to_nodeport_snat_%s_v%d", pname(proto), a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, NULL, 30080, proto, XLB_FE_NODE_PORT, 0);
	in = flow(a->client, 40000, a->node, 30080, proto);
	rc = run(DPT_XDP, &in);
	expect_translated(DPT_XDP, rc, XDP_TX, XLB_VERDICT_TX);
	port = out_sport();
	CHECK(port >= DPT_SNAT_MIN, "SNAT port %u outside the range", port);
	want = in;
	set_addrs(&want, a->node, port, a->remote_be, 8080);
	tx_macs(&want, DPT_MAC_NODE2);
	expect_frame(&want);
	test_end();

	test_begin(strcat(case_name, "_reply"));
	rep = reply(&want);
	rep.eth_src = pkt_mac(DPT_MAC_NODE2);
	rep.eth_dst = pkt_mac(DPT_MAC_NODE);
	rc = run(DPT_XDP, &rep);
	expect_translated(DPT_XDP, rc, XDP_TX, XLB_VERDICT_TX);
	want = rep;
	set_addrs(&want, a->node, 30080, a->client, 40000);
	tx_macs(&want, DPT_MAC_EXT);
	expect_frame(&want);
	test_end();
}

/* external -> LB IP, ETP=Local, local backend: XDP leaves it to tc (the
 * target is a local pod), tc DNATs without SNAT: the pod sees the client. */
static void test_lb_etp_local(int f, uint8_t proto)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be[] = { { a->pod_be, 8080, true }, { a->remote_be, 8080, false } };
	struct pkt_spec in, want;
	uint32_t id;
	int rc;

	begin("external_to_lb_etp_local_%s_v%d", pname(proto), a->family);
	id = dpt_service(f, XLB_SVC_ETP_LOCAL, be, 2);
	dpt_frontend(id, f, a->lbip, 80, proto, XLB_FE_LOAD_BALANCER, 0);
	in = flow(a->client, 40000, a->lbip, 80, proto);
	rc = run(DPT_XDP, &in);
	expect_skip(DPT_XDP, rc, &in, XLB_SKIP_LOCAL_DELIVERY);
	rc = run(DPT_TC, &in);
	expect_translated(DPT_TC, rc, TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = in;
	set_addrs(&want, a->client, 40000, a->pod_be, 8080);
	expect_frame(&want);
	test_end();
}

/* ETP=Local without a local endpoint: external traffic is dropped, a pod
 * still reaches the cluster set (short-circuit, no SNAT). */
static void test_etp_local_no_local(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in, want;
	uint32_t id;
	int rc;

	begin("etp_local_no_local_endpoint_v%d", a->family);
	id = dpt_service(f, XLB_SVC_ETP_LOCAL, &be, 1);
	dpt_frontend(id, f, a->lbip, 80, IPPROTO_TCP, XLB_FE_LOAD_BALANCER, 0);
	in = flow(a->client, 40000, a->lbip, 80, IPPROTO_TCP);
	rc = run(DPT_XDP, &in);
	expect_drop(DPT_XDP, rc, XLB_DROP_POLICY_LOCAL);
	in = flow(a->pod, 40001, a->lbip, 80, IPPROTO_TCP);
	rc = run(DPT_TC, &in);
	expect_translated(DPT_TC, rc, TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = in;
	set_addrs(&want, a->pod, 40001, a->remote_be, 8080);
	expect_frame(&want);
	test_end();
}

/* The ICMP port unreachable the program built: from the frontend to the
 * client, quoting the offending packet, every checksum valid. */
static void expect_reject(const struct pkt_spec *in, const char *from)
{
	struct pkt_info info;
	char why[200];

	CHECK(!pkt_parse(out, out_len, &info), "reject does not parse: %s", info.err);
	CHECK(!pkt_verify_csums(out, out_len, why, sizeof(why)), "reject checksums: %s", why);
	CHECK(info.ip.proto == (in->src.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6),
	      "reject protocol %u", info.ip.proto);
	CHECK(info.ip.icmp_type == (in->src.family == 4 ? 3 : 1) &&
	      info.ip.icmp_code == (in->src.family == 4 ? 3 : 4),
	      "ICMP type %u code %u", info.ip.icmp_type, info.ip.icmp_code);
	CHECK(pkt_addr_is(&info.ip.src, from) && pkt_addr_eq(&info.ip.dst, &in->src),
	      "reject addresses wrong");
	CHECK(!memcmp(info.eth_dst.b, in->eth_src.b, 6) && !memcmp(info.eth_src.b, in->eth_dst.b, 6),
	      "reject MACs not swapped");
	CHECK(info.has_inner && pkt_addr_eq(&info.inner.src, &in->src) &&
	      pkt_addr_eq(&info.inner.dst, &in->dst) && info.inner.sport == in->sport &&
	      info.inner.dport == in->dport, "reject does not quote the packet");
}

/* No endpoints: REJECT with ICMP port unreachable, from either program. */
static void test_no_endpoints(int f, uint8_t proto, enum dpt_prog prog)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct pkt_spec in;
	int rc;

	begin("no_endpoints_reject_%s_v%d_%s", pname(proto), a->family, dpt_prog_name(prog));
	cip_service(f, proto, 0, NULL, 0);
	in = flow(a->client, 40000, a->cip, 80, proto);
	rc = run(prog, &in);
	CHECK(rc == verdict_ret(prog, XDP_TX, TC_ACT_REDIRECT), "returned %d", rc);
	CHECK(dpt_drop_delta(&before, &after) == XLB_DROP_NO_ENDPOINTS, "reason %d",
	      dpt_drop_delta(&before, &after));
	CHECK(dpt_verdict_delta(&before, &after, prog, XLB_VERDICT_REJECT) == 1, "not counted");
	expect_reject(&in, a->cip);
	test_end();
}

/* A known ClusterIP on a port no Service port defines: REJECT. */
static void test_unknown_port(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	int rc;

	begin("clusterip_unknown_port_reject_v%d", a->family);
	cip_service(f, IPPROTO_TCP, 0, &be, 1);
	in = flow(a->pod, 40000, a->cip, 81, IPPROTO_TCP);
	rc = run(DPT_TC, &in);
	CHECK(rc == TC_ACT_REDIRECT, "returned %d", rc);
	CHECK(dpt_drop_delta(&before, &after) == XLB_DROP_UNKNOWN_PORT, "reason %d",
	      dpt_drop_delta(&before, &after));
	expect_reject(&in, a->cip);
	/* the same port number on another protocol is another frontend */
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_UDP);
	rc = run(DPT_TC, &in);
	CHECK(dpt_drop_delta(&before, &after) == XLB_DROP_UNKNOWN_PORT, "udp/80 not rejected");
	test_end();
}

static void test_unallocated(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct pkt_spec in;

	begin("unallocated_service_cidr_drop_v%d", a->family);
	in = flow(a->pod, 40000, a->unalloc, 80, IPPROTO_TCP);
	expect_drop(DPT_TC, run(DPT_TC, &in), XLB_DROP_UNALLOCATED);
	test_end();
}

static void test_not_service(int f, enum dpt_prog prog)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct pkt_spec in;

	begin("not_a_service_passes_untouched_v%d_%s", a->family, dpt_prog_name(prog));
	in = flow(a->client, 40000, a->node, 22, IPPROTO_TCP);
	expect_skip(prog, run(prog, &in), &in, XLB_SKIP_NOT_SERVICE);
	test_end();
}

/* loadBalancerSourceRanges: an allowed source is served, another dropped;
 * the NodePort of the same service stays open to it. */
static void test_source_ranges(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	uint32_t id;

	begin("lb_source_ranges_v%d", a->family);
	id = dpt_service(f, XLB_SVC_SOURCE_RANGES, &be, 1);
	dpt_frontend(id, f, a->lbip, 80, IPPROTO_TCP, XLB_FE_LOAD_BALANCER, 0);
	dpt_frontend(id, f, NULL, 30080, IPPROTO_TCP, XLB_FE_NODE_PORT, 0);
	dpt_source_range(id, a->client, f ? 128 : 32);
	in = flow(a->client, 40000, a->lbip, 80, IPPROTO_TCP);
	expect_translated(DPT_XDP, run(DPT_XDP, &in), XDP_TX, XLB_VERDICT_TX);
	in = flow(a->client2, 40000, a->lbip, 80, IPPROTO_TCP);
	expect_drop(DPT_XDP, run(DPT_XDP, &in), XLB_DROP_SOURCE_RANGE);
	in = flow(a->client2, 40000, a->node, 30080, IPPROTO_TCP);
	expect_translated(DPT_XDP, run(DPT_XDP, &in), XDP_TX, XLB_VERDICT_TX);
	test_end();
}

static int backend_of_output(const struct dpt_be *be, int n)
{
	struct pkt_info info;

	if (pkt_parse(out, out_len, &info))
		return -1;
	for (int i = 0; i < n; i++)
		if (pkt_addr_is(&info.ip.dst, be[i].addr))
			return i;
	return -1;
}

/* sessionAffinity ClientIP: one client sticks to one backend across new
 * connections; other clients still spread; an expired entry is replaced. */
static void test_affinity(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be[] = { { a->remote_be, 8080, false }, { a->remote_be2, 8080, false },
			       { a->remote_be, 8081, false }, { a->remote_be2, 8081, false } };
	struct xlb_affinity_key k = { .svc_id = 0 };
	struct xlb_affinity v;
	struct pkt_spec in;
	int first = -1, seen = 0, b;

	begin("session_affinity_clientip_v%d", a->family);
	k.svc_id = cip_service(f, IPPROTO_TCP, XLB_SVC_AFFINITY, be, 4);
	for (int i = 0; i < 20; i++) {
		in = flow(a->pod, 40000 + i, a->cip, 80, IPPROTO_TCP);
		run(DPT_TC, &in);
		b = backend_of_output(be, 4);
		if (first < 0)
			first = b;
		CHECK(b == first && b >= 0, "connection %d went to backend %d, not %d", i, b, first);
	}
	for (int i = 0; i < 40; i++) {
		char src[64];

		snprintf(src, sizeof(src), f ? "2001:db8:1:1::%x" : "198.18.1.%d", 100 + i);
		in = flow(src, 40000, a->cip, 80, IPPROTO_TCP);
		run(DPT_TC, &in);
		b = backend_of_output(be, 4);
		if (b >= 0)
			seen |= 1 << b;
	}
	CHECK(__builtin_popcount(seen) >= 2, "40 clients all landed on one backend");
	/* age the entry out: the next connection refreshes it */
	memcpy(&k.client, pkt_addr(a->pod).b, 16);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_AFFINITY], &k, &v), "no affinity entry");
	v.last_used = 1;
	bpf_map_update_elem(dpt_dp.maps.fd[XLB_MAP_AFFINITY], &k, &v, BPF_ANY);
	in = flow(a->pod, 41000, a->cip, 80, IPPROTO_TCP);
	run(DPT_TC, &in);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_AFFINITY], &k, &v) && v.last_used > 1,
	      "expired affinity not refreshed");
	test_end();
}

/* An established flow keeps its backend when the table changes; a new flow
 * uses the new table; a SYN reusing the tuple of a gone backend re-balances. */
static void test_ct_survives_swap(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be[] = { { a->remote_be, 8080, false }, { a->remote_be2, 8080, false } };
	uint32_t ids[2], id, other;
	struct pkt_spec in;
	int b, b2;

	begin("conntrack_keeps_backend_after_table_swap_v%d", a->family);
	id = cip_service(f, IPPROTO_TCP, 0, be, 2);
	memcpy(ids, dpt_be_ids, sizeof(ids));
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	run(DPT_TC, &in);
	b = backend_of_output(be, 2);
	CHECK(b >= 0, "no backend chosen");
	other = ids[!b];
	dpt_publish(id, 0, &other, 1, NULL, 0);
	in.tcp_flags = PKT_TCP_ACK;
	expect_translated(DPT_TC, run(DPT_TC, &in), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	CHECK(backend_of_output(be, 2) == b, "established flow moved to another backend");
	in = flow(a->pod, 40001, a->cip, 80, IPPROTO_TCP);
	run(DPT_TC, &in);
	CHECK(backend_of_output(be, 2) == !b, "new flow did not use the new table");
	test_end();

	test_begin(strcat(case_name, "_backend_gone"));
	maps_del_backend(&dpt_dp.maps, ids[b]);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	in.tcp_flags = PKT_TCP_ACK;
	run(DPT_TC, &in);
	CHECK(backend_of_output(be, 2) == b, "established packet re-balanced");
	in.tcp_flags = PKT_TCP_SYN;
	run(DPT_TC, &in);
	b2 = backend_of_output(be, 2);
	CHECK(b2 == !b, "SYN on the tuple of a gone backend went to %d", b2);
	test_end();
}

/* A closed connection's tuple reused by a new SYN is balanced afresh. */
static void test_tcp_close_reuse(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct xlb_ct_entry e;
	struct xlb_ct_key k;
	struct pkt_spec in;

	begin("tcp_fin_then_syn_reuses_tuple_v%d", a->family);
	cip_service(f, IPPROTO_TCP, 0, &be, 1);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	run(DPT_TC, &in);
	in.tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK;
	run(DPT_TC, &in);
	k = ct_key(&in);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k, &e) &&
	      e.state == XLB_CT_CLOSING, "FIN did not close the entry");
	in.tcp_flags = PKT_TCP_SYN;
	expect_translated(DPT_TC, run(DPT_TC, &in), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k, &e) &&
	      e.state == XLB_CT_NEW, "SYN did not start a new entry");
	test_end();
}

/* A TCP flow from a pod to the ClusterIP, established through prog, whose
 * frontend and forward conntrack entry are then removed behind the flow
 * cache's back: from here only the cache can translate its packets, and a
 * miss is visibly not translated. Returns the client's next packet (ACK);
 * *r is the backend's reply. */
static struct pkt_spec cached_flow(int f, enum dpt_prog prog, struct pkt_spec *r)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	struct xlb_ct_key k;

	cip_service(f, IPPROTO_TCP, 0, &be, 1);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	run(prog, &in);		/* SYN: new flow */
	*r = reply(&in);
	set_addrs(r, a->remote_be, 8080, a->pod, 40000);
	run(prog, r);		/* SYN-ACK: the flow is established */
	in.tcp_flags = PKT_TCP_ACK;
	run(prog, &in);		/* conntrack serves and fills the cache */
	dpt_frontend_del(f, a->cip, 80, IPPROTO_TCP);
	dpt_frontend_del(f, a->cip, 0, 0);
	k = ct_key(&in);
	CHECK(!bpf_map_delete_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k),
	      "no forward conntrack entry");
	return in;
}

/* Established packets are served from the per-CPU flow cache once
 * conntrack has filled it, exactly as conntrack would translate them; a
 * userspace deletion is seen at once (ct_gen), and FIN goes to conntrack. */
static void test_flow_cache(int f, enum dpt_prog prog)
{
	const struct dpt_fam *a = &dpt_fams[f];
	int tx = prog == DPT_XDP ? XDP_TX : TC_ACT_REDIRECT;
	int verdict = prog == DPT_XDP ? XLB_VERDICT_TX : XLB_VERDICT_REDIRECT;
	struct pkt_spec in, want, r;
	struct xlb_ct_entry e;
	struct xlb_ct_key rk;

	begin("flow_cache_serves_established_%s_v%d", dpt_prog_name(prog), a->family);
	in = cached_flow(f, prog, &r);
	want = in;
	set_addrs(&want, a->pod, 40000, a->remote_be, 8080);
	if (prog == DPT_XDP)
		tx_macs(&want, DPT_MAC_NODE2);
	expect_translated(prog, run(prog, &in), tx, verdict);
	if (prog == DPT_XDP)
		expect_frame(&want);
	test_end();

	snprintf(case_name, sizeof(case_name), "flow_cache_drops_deleted_flows_%s_v%d",
		 dpt_prog_name(prog), a->family);
	test_begin(case_name);
	CHECK(!maps_conntrack_changed(&dpt_dp.maps), "bump ct_gen");
	expect_drop(prog, run(prog, &in), XLB_DROP_UNALLOCATED);
	test_end();

	snprintf(case_name, sizeof(case_name), "flow_cache_leaves_fin_to_conntrack_%s_v%d",
		 dpt_prog_name(prog), a->family);
	test_begin(case_name);
	r.tcp_flags = PKT_TCP_ACK;
	run(prog, &r);		/* the reply direction is cached too */
	r.tcp_flags = PKT_TCP_FIN | PKT_TCP_ACK;
	run(prog, &r);
	rk = ct_key(&r);
	CHECK(!bpf_map_lookup_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &rk, &e),
	      "no reply conntrack entry");
	CHECK(e.state == XLB_CT_CLOSING, "FIN did not reach the conntrack entry (state %d)",
	      e.state);
	test_end();
}

/* tc keeps the FIB's answer in the flow's cache slot: with the route to
 * the backend gone, a cached packet is still redirected (a FIB lookup would
 * find no route and leave it to the stack), for at most the slot's second. */
static void test_flow_cache_keeps_hop_tc(int f)
{
	static const char *const route[2][2] = {
		{ "ip route del 198.18.2.0/24", "ip route add 198.18.2.0/24 via 192.0.2.2 dev xlb0" },
		{ "ip -6 route del 2001:db8:1:2::/64",
		  "ip -6 route add 2001:db8:1:2::/64 via 2001:db8:0:1::2 dev xlb0" },
	};
	struct pkt_spec in, r;
	int rc;

	begin("flow_cache_keeps_next_hop_tc_v%d", dpt_fams[f].family);
	in = cached_flow(f, DPT_TC, &r);
	CHECK(!system(route[f][0]), "%s failed", route[f][0]);
	rc = run(DPT_TC, &in);
	CHECK(!system(route[f][1]), "%s failed", route[f][1]);
	expect_translated(DPT_TC, rc, TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	test_end();
}

/* A cached slot is trusted for one second (XLB_FC_TTL) only: then the
 * packet goes to conntrack again. Waiting is the point here. */
static void test_flow_cache_expiry(void)
{
	struct timespec ttl = { .tv_sec = 1, .tv_nsec = 100000000 };
	struct pkt_spec in, r;

	begin("flow_cache_slot_expires_after_a_second_xdp_v4");
	in = cached_flow(0, DPT_XDP, &r);
	expect_translated(DPT_XDP, run(DPT_XDP, &in), XDP_TX, XLB_VERDICT_TX);
	nanosleep(&ttl, NULL);
	expect_drop(DPT_XDP, run(DPT_XDP, &in), XLB_DROP_UNALLOCATED);
	test_end();
}

/* Hairpin: a backend reaching itself through its Service is SNATed to the
 * node so its reply comes back through us. */
static void test_hairpin(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->pod_be, 8080, true };
	struct pkt_spec in, want;
	uint16_t port;

	begin("hairpin_snat_v%d", a->family);
	cip_service(f, IPPROTO_TCP, 0, &be, 1);
	in = flow(a->pod_be, 40000, a->cip, 80, IPPROTO_TCP);
	expect_translated(DPT_TC, run(DPT_TC, &in), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	port = out_sport();
	want = in;
	set_addrs(&want, a->node, port, a->pod_be, 8080);
	expect_frame(&want);
	CHECK(port >= DPT_SNAT_MIN, "hairpin not masqueraded (port %u)", port);
	test_end();
}

/* ClusterIP traffic from a non-pod source is masqueraded; a pod's is not
 * unless --masquerade-all. */
static void test_cip_masquerade(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	struct pkt_info info;

	begin("clusterip_masquerade_rules_v%d", a->family);
	cip_service(f, IPPROTO_UDP, 0, &be, 1);
	in = flow(a->client, 40000, a->cip, 80, IPPROTO_UDP);
	run(DPT_TC, &in);
	CHECK(!pkt_parse(out, out_len, &info) && pkt_addr_is(&info.ip.src, a->node),
	      "external source to ClusterIP not masqueraded");
	dpt_config_flags(XLB_CFG_MASQ_ALL, 0);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_UDP);
	run(DPT_TC, &in);
	CHECK(!pkt_parse(out, out_len, &info) && pkt_addr_is(&info.ip.src, a->node),
	      "--masquerade-all did not masquerade a pod");
	dpt_config_flags(0, XLB_CFG_MASQ_ALL | XLB_CFG_POD_DETECT);
	in = flow(a->client2, 40000, a->cip, 80, IPPROTO_UDP);
	run(DPT_TC, &in);
	CHECK(!pkt_parse(out, out_len, &info) && pkt_addr_is(&info.ip.src, a->client2),
	      "without --cluster-cidr ClusterIP traffic must not be masqueraded");
	test_end();
}

/* The node itself to a NodePort with ETP=Local: cluster set, masqueraded. */
static void test_node_source(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	struct pkt_info info;
	uint32_t id;

	begin("node_to_nodeport_etp_local_v%d", a->family);
	id = dpt_service(f, XLB_SVC_ETP_LOCAL, &be, 1);
	dpt_frontend(id, f, NULL, 30080, IPPROTO_TCP, XLB_FE_NODE_PORT, 0);
	in = flow(a->node, 40000, a->node, 30080, IPPROTO_TCP);
	expect_translated(DPT_TC, run(DPT_TC, &in), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	CHECK(!pkt_parse(out, out_len, &info) && pkt_addr_is(&info.ip.dst, a->remote_be) &&
	      info.ip.sport >= DPT_SNAT_MIN, "node source not served from the cluster set with SNAT");
	test_end();
}

static void test_itp_local(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;

	begin("itp_local_no_local_endpoint_drop_v%d", a->family);
	cip_service(f, IPPROTO_TCP, XLB_SVC_ITP_LOCAL, &be, 1);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	expect_drop(DPT_TC, run(DPT_TC, &in), XLB_DROP_POLICY_LOCAL);
	test_end();
}

/* externalIPs with the gate off are counted and left alone; on, served. */
static void test_external_ip(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in;
	uint32_t id;

	begin("external_ip_gated_v%d", a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, a->eip, 80, IPPROTO_TCP, XLB_FE_EXTERNAL_IP, XLB_FE_GATED);
	in = flow(a->client, 40000, a->eip, 80, IPPROTO_TCP);
	expect_skip(DPT_XDP, run(DPT_XDP, &in), &in, XLB_SKIP_EXTERNAL_IP_GATED);
	test_end();

	begin("external_ip_allowed_v%d", a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, a->eip, 80, IPPROTO_TCP, XLB_FE_EXTERNAL_IP, 0);
	expect_translated(DPT_XDP, run(DPT_XDP, &in), XDP_TX, XLB_VERDICT_TX);
	test_end();
}

/* ICMP errors about a translated flow go back translated: a router's
 * "fragmentation needed" and the backend's own port unreachable. */
static void test_icmp_error(int f, int from_backend)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in, fwd, err, want_inner, want;
	uint32_t id;
	uint16_t port;

	begin("icmp_error_translated_%s_v%d", from_backend ? "from_backend" : "from_router",
	      a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, NULL, 30080, IPPROTO_UDP, XLB_FE_NODE_PORT, 0);
	in = flow(a->client, 40000, a->node, 30080, IPPROTO_UDP);
	run(DPT_XDP, &in);
	port = out_sport();
	fwd = in;
	set_addrs(&fwd, a->node, port, a->remote_be, 8080);
	err = (struct pkt_spec){
		.eth_src = pkt_mac(DPT_MAC_NODE2), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(from_backend ? a->remote_be : a->gw_node2),
		.dst = pkt_addr(a->node), .proto = IPPROTO_ICMP,
		.icmp_kind = from_backend ? PKT_ICMP_PORT_UNREACH : PKT_ICMP_FRAG_NEEDED,
		.icmp_mtu = 1400, .icmp_inner = &fwd,
	};
	expect_translated(DPT_XDP, run(DPT_XDP, &err), XDP_TX, XLB_VERDICT_TX);
	want_inner = in;
	want = err;
	want.icmp_inner = &want_inner;
	want.dst = pkt_addr(a->client);
	if (from_backend)
		want.src = pkt_addr(a->node);
	tx_macs(&want, DPT_MAC_EXT);
	expect_frame(&want);
	test_end();
}

/* An ICMP error whose IP packet ends inside the quoted ports, the rest of
 * the frame being padding (as a short error on a minimum-size Ethernet
 * frame), quotes no flow: both programs pass it untouched instead of
 * reading the ports from the padding and translating it. Found by
 * test_fuzz: the ICMP checksum then summed changes outside the packet. */
static void test_icmp_error_short_quote(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	/* ICMP header, quoted IP header, the quoted source port only. */
	uint16_t ip_len = f == 0 ? 20 + 8 + 20 + 2 : 8 + 40 + 2;
	struct pkt_spec in, fwd, err;
	uint8_t frame[PKT_BUF_LEN];
	uint32_t id;
	int len, rc;

	begin("icmp_error_short_quote_passed_v%d", a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, NULL, 30080, IPPROTO_UDP, XLB_FE_NODE_PORT, 0);
	in = flow(a->client, 40000, a->node, 30080, IPPROTO_UDP);
	run(DPT_XDP, &in);
	fwd = in;
	set_addrs(&fwd, a->node, out_sport(), a->remote_be, 8080);
	err = (struct pkt_spec){
		.eth_src = pkt_mac(DPT_MAC_NODE2), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(a->gw_node2), .dst = pkt_addr(a->node), .proto = IPPROTO_ICMP,
		.icmp_kind = PKT_ICMP_FRAG_NEEDED, .icmp_mtu = 1400, .icmp_inner = &fwd,
	};
	len = pkt_build(&err, frame, sizeof(frame));
	CHECK(len > 0, "build: %s", pkt_build_error());
	/* The length field: IPv4 total length at +2, IPv6 payload length at +4. */
	frame[14 + (f == 0 ? 2 : 4)] = ip_len >> 8;
	frame[15 + (f == 0 ? 2 : 4)] = ip_len & 0xff;
	CHECK(!pkt_fix_csums(frame, len), "the shortened error does not parse");
	for (int p = DPT_XDP; p <= DPT_TC; p++) {
		dpt_counters(&before);
		rc = dpt_run(p, frame, len, out, &out_len);
		dpt_counters(&after);
		expect_skip(p, rc, NULL, XLB_SKIP_NOT_SERVICE);
		CHECK(out_len == (uint32_t)len && !memcmp(out, frame, len),
		      "%s changed the frame", dpt_prog_name(p));
	}
	test_end();
}

/* Fragments: the first is balanced, later ones follow it by IP id; an
 * unknown later fragment is counted and passed. */
static void test_fragments(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec first, later, want;

	begin("fragments_follow_first_v%d", a->family);
	cip_service(f, IPPROTO_UDP, 0, &be, 1);
	first = flow(a->pod, 40000, a->cip, 80, IPPROTO_UDP);
	later = first;
	if (f == 0) {
		first.mf = true;
		first.ip_id = 77;
		later.ip_id = 77;
		later.frag_off = 32;
	} else {
		first.n_ext = 1;
		first.ext[0] = (struct pkt_ext){ .type = IPPROTO_FRAGMENT, .frag_more = true,
						 .frag_id = 77 };
		later.n_ext = 1;
		later.ext[0] = (struct pkt_ext){ .type = IPPROTO_FRAGMENT, .frag_off = 32,
						 .frag_id = 77 };
	}
	expect_translated(DPT_TC, run(DPT_TC, &first), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = first;
	set_addrs(&want, a->pod, 40000, a->remote_be, 8080);
	expect_frame(&want);
	expect_translated(DPT_TC, run(DPT_TC, &later), TC_ACT_REDIRECT, XLB_VERDICT_REDIRECT);
	want = later;
	want.dst = pkt_addr(a->remote_be);
	expect_frame(&want);
	if (f == 0)
		later.ip_id = 78;
	else
		later.ext[0].frag_id = 78;
	expect_skip(DPT_TC, run(DPT_TC, &later), &later, XLB_SKIP_FRAGMENT);
	test_end();
}

/* 802.1Q tags, IPv4 options and IPv6 extension headers are kept intact. */
static void test_headers(int f, int vlan)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->remote_be, 8080, false };
	struct pkt_spec in, want;
	uint32_t id;

	begin("%s_v%d", vlan ? "vlan_tag_kept" : (f ? "ipv6_ext_headers" : "ipv4_options"),
	      a->family);
	id = dpt_service(f, 0, &be, 1);
	dpt_frontend(id, f, NULL, 30080, IPPROTO_TCP, XLB_FE_NODE_PORT, 0);
	in = flow(a->client, 40000, a->node, 30080, IPPROTO_TCP);
	if (vlan) {
		in.n_vlan = 1;
		in.vlan[0].tci = 42;
	} else if (f == 0) {
		in.ip_opts_len = 8;
		in.ip_opts[0] = 1;	/* NOPs then end of list */
		in.ip_opts[1] = 1;
	} else {
		in.n_ext = 2;
		in.ext[0] = (struct pkt_ext){ .type = IPPROTO_HOPOPTS };
		in.ext[1] = (struct pkt_ext){ .type = IPPROTO_DSTOPTS, .len8 = 1 };
	}
	expect_translated(DPT_XDP, run(DPT_XDP, &in), XDP_TX, XLB_VERDICT_TX);
	want = in;
	set_addrs(&want, a->node, out_sport(), a->remote_be, 8080);
	tx_macs(&want, DPT_MAC_NODE2);
	expect_frame(&want);
	test_end();
}

/* Maglev: the slot comes from the flow hash, so one flow always maps to
 * the same backend even with its conntrack entry gone. */
static void test_maglev_hash(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be[] = { { a->remote_be, 8080, false }, { a->remote_be2, 8080, false } };
	uint32_t id, table[7];
	struct pkt_spec in;
	int first = -1, seen = 0, b;

	begin("maglev_flow_hash_stable_v%d", a->family);
	id = cip_service(f, IPPROTO_TCP, XLB_SVC_MAGLEV, be, 2);
	for (int i = 0; i < 7; i++)
		table[i] = dpt_be_ids[i % 2];
	dpt_publish(id, XLB_SVC_MAGLEV, table, 7, NULL, 0);
	in = flow(a->pod, 40000, a->cip, 80, IPPROTO_TCP);
	for (int i = 0; i < 10; i++) {
		struct xlb_ct_key k = ct_key(&in);

		run(DPT_TC, &in);
		b = backend_of_output(be, 2);
		if (first < 0)
			first = b;
		CHECK(b == first, "run %d: backend %d, first %d", i, b, first);
		bpf_map_delete_elem(dpt_dp.maps.fd[XLB_MAP_CONNTRACK], &k);
	}
	for (int i = 0; i < 32; i++) {
		in.sport = 41000 + i;
		run(DPT_TC, &in);
		b = backend_of_output(be, 2);
		if (b >= 0)
			seen |= 1 << b;
	}
	CHECK(seen == 3, "32 flows did not reach both backends");
	test_end();
}

/* Truncated and inconsistent packets are dropped as malformed; what is
 * not IP or not a protocol we balance is passed and counted. */
static void test_malformed(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct pkt_spec in = flow(a->client, 40000, a->cip, 80, IPPROTO_TCP);
	uint8_t buf[PKT_BUF_LEN];
	int len, l3 = 14, rc;

	begin("truncated_tcp_header_dropped_v%d", a->family);
	len = pkt_build(&in, buf, sizeof(buf));
	len = l3 + (f ? 40 : 20) + 10;
	if (f == 0)
		buf[l3 + 3] = len - l3;	/* total length matches the frame */
	else
		buf[l3 + 5] = 10;	/* payload length */
	if (f == 0) {
		buf[l3 + 10] = buf[l3 + 11] = 0;
		pkt_fix_csums(buf, len);
	}
	dpt_counters(&before);
	rc = dpt_run(DPT_XDP, buf, len, out, &out_len);
	dpt_counters(&after);
	expect_drop(DPT_XDP, rc, XLB_DROP_MALFORMED);
	test_end();

	begin("ip_length_beyond_frame_dropped_v%d", a->family);
	len = pkt_build(&in, buf, sizeof(buf));
	buf[l3 + (f ? 4 : 2)] = 0x7f;	/* length far past the frame */
	dpt_counters(&before);
	rc = dpt_run(DPT_TC, buf, len, out, &out_len);
	dpt_counters(&after);
	expect_drop(DPT_TC, rc, XLB_DROP_MALFORMED);
	test_end();

	begin("unsupported_l4_passed_v%d", a->family);
	in = flow(a->client, 40000, a->cip, 80, f ? 50 : 47);	/* ESP / GRE */
	expect_skip(DPT_XDP, run(DPT_XDP, &in), &in, XLB_SKIP_UNSUPPORTED_PROTO);
	test_end();
}

static void test_non_ip(void)
{
	uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 3, 7, 0x08, 0x06 };
	int rc;

	begin("non_ip_frame_passed");
	dpt_counters(&before);
	rc = dpt_run(DPT_XDP, arp, sizeof(arp), out, &out_len);
	dpt_counters(&after);
	CHECK(rc == XDP_PASS && dpt_skip_delta(&before, &after) == XLB_SKIP_UNSUPPORTED_PROTO,
	      "ARP: rc %d skip %d", rc, dpt_skip_delta(&before, &after));
	CHECK(out_len == sizeof(arp) && !memcmp(out, arp, sizeof(arp)), "ARP frame changed");
	test_end();
}

int main(void)
{
	dpt_init();
	for (int f = 0; f < 2; f++) {
		for (size_t p = 0; p < sizeof(protos); p++) {
			test_pod_to_cip(f, protos[p]);
			test_nodeport_snat(f, protos[p]);
			test_lb_etp_local(f, protos[p]);
		}
		for (int p = 0; p < 2; p++) {
			test_no_endpoints(f, protos[p], DPT_XDP);
			test_no_endpoints(f, protos[p], DPT_TC);
		}
		test_etp_local_no_local(f);
		test_unknown_port(f);
		test_unallocated(f);
		test_not_service(f, DPT_XDP);
		test_not_service(f, DPT_TC);
		test_source_ranges(f);
		test_affinity(f);
		test_ct_survives_swap(f);
		test_tcp_close_reuse(f);
		test_flow_cache(f, DPT_XDP);
		test_flow_cache(f, DPT_TC);
		test_flow_cache_keeps_hop_tc(f);
		test_hairpin(f);
		test_cip_masquerade(f);
		test_node_source(f);
		test_itp_local(f);
		test_external_ip(f);
		test_icmp_error(f, 0);
		test_icmp_error(f, 1);
		test_icmp_error_short_quote(f);
		test_fragments(f);
		test_headers(f, 0);
		test_headers(f, 1);
		test_maglev_hash(f);
		test_malformed(f);
	}
	test_non_ip();
	test_flow_cache_expiry();
	return test_exit_status();
}
