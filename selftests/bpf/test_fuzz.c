/* Randomized data-path test: a world with services of every kind over both
 * families and TCP/UDP/SCTP, then FUZZ_PACKETS packets (half random specs
 * aimed at the configured addresses and ports, some of them replies and ICMP
 * errors about translated flows; half mutations of those) through the XDP and
 * tc programs in turn. Every packet must satisfy the data path's invariants:
 * a valid return code that agrees with the counted verdict, exactly one
 * reason or translation counted, untouched bytes when passed, valid checksums
 * when rewritten. The seed is printed; XLB_FUZZ_SEED=<n> replays a run. */
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dptest.h"
#include "maglev.h"
#include "maps.h"
#include "test.h"

#define FUZZ_PACKETS 100000
#define FUZZ_DEFAULT_SEED 0x786c622d66757a7aULL
#define FUZZ_MAX_SECONDS 300	/* a hard stop, far above the usual run time */
#define FUZZ_MAX_FRAME 3000	/* stays below the XDP test-run limit */
#define CT_CLEAR_EVERY 10000	/* keep conntrack far from full */
#define MAX_REPORTS 5		/* violations printed in full per invariant */
#define MIN_TRANSLATED_PCT 5

enum inv {
	INV_RETURN_CODES,
	INV_COUNTERS,
	INV_UNTOUCHED,
	INV_CHECKSUMS,
	INV_TEST_RUN,
	INV_REWRITE,
	INV_N,
};

static const char *const inv_names[INV_N] = {
	"fuzz_return_codes",
	"fuzz_counters_exactly_one_reason",
	"fuzz_untouched_is_identical",
	"fuzz_rewritten_checksums_valid",
	"fuzz_no_test_run_error",
	"fuzz_valid_input_rewrite_ok",
};

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

/* Where the world's services live: index i of a family's ClusterIPs
 * (198.19.0.10+i / 2001:db8:2::10+i) and LB/external IPs
 * (198.51.100.10+i / 2001:db8:4::10+i). */
enum { CIP_PLAIN, CIP_ITP, CIP_AFFINITY, CIP_MAGLEV, CIP_EMPTY, N_CIP };
enum { LB_RANGES, LB_ETP, LB_ETP_NO_LOCAL, LB_EIP, LB_EIP_GATED, N_LB };

/* Service ports twice as often as the others. */
static const uint16_t port_pool[] = { 80, 80, 443, 30080, 30080, 30081, 30081, 30082, 30082,
				      30083, 30083, 30084, 30084, 8080, 53, 0, 65535 };
static struct pkt_addr addr_pool[64], src_pool[16];
static int n_addr, n_src;

/* Every frontend, so a share of the packets are well-formed new flows to
 * one of them (NodePorts at the node address). */
struct fe {
	struct pkt_addr addr;
	uint16_t port;
	uint8_t proto;
};

static struct fe fes[256];
static int n_fes;

struct stats {
	uint64_t verdicts[XLB_HOOK_MAX][XLB_VERDICT_MAX];
	uint64_t drops[XLB_DROP_MAX], skips[XLB_SKIP_MAX];
	uint64_t violations[INV_N], checked[INV_N];
	uint64_t packets, mutated, replies, translated, csum_bad_input, not_runnable;
};

static struct stats st;

static const char *fam_addr(int f, int base, int i)
{
	static char buf[16][64];
	static int next;
	char *b = buf[next++ % 16];

	if (f == 0)
		snprintf(b, 64, "%s.%d", base ? "198.51.100" : "198.19.0", 10 + i);
	else
		snprintf(b, 64, "%s::%x", base ? "2001:db8:4" : "2001:db8:2", 0x10 + i);
	return b;
}

static const char *cip(int f, int i)
{
	return fam_addr(f, 0, i);
}

static const char *lbip(int f, int i)
{
	return fam_addr(f, 1, i);
}

static void pool_add(struct pkt_addr *pool, int *n, const char *text)
{
	pool[(*n)++] = pkt_addr(text);
}

/* dpt_frontend, remembered in fes[]. */
static void frontend(uint32_t svc_id, int f, const char *addr, uint16_t port, uint8_t proto,
		     uint8_t kind, uint8_t flags)
{
	dpt_frontend(svc_id, f, addr, port, proto, kind, flags);
	fes[n_fes++] = (struct fe){ pkt_addr(addr ? addr : dpt_fams[f].node), port, proto };
}

/* A service whose selection table is a Maglev table over bes. */
static uint32_t maglev_service(int f, const struct dpt_be *bes, int n)
{
	static uint32_t table[MAGLEV_BIG_TABLE];
	char name_buf[8][80];
	const char *names[8];
	uint32_t ids[8], m = maglev_table_size(n), id = dpt_service(f, XLB_SVC_MAGLEV, bes, n);

	for (int i = 0; i < n; i++) {
		snprintf(name_buf[i], sizeof(name_buf[i]), "%s:%u", bes[i].addr, bes[i].port);
		names[i] = name_buf[i];
		ids[i] = dpt_be_ids[i];
	}
	if (maglev_fill(names, ids, n, m, table)) {
		fprintf(stderr, "test_fuzz: maglev_fill(%d backends, %u slots) failed\n", n, m);
		exit(1);
	}
	dpt_publish(id, XLB_SVC_MAGLEV, table, m, NULL, 0);
	return id;
}

/* The services of one (family, protocol). */
static void world_proto(int f, uint8_t p)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be[] = { { a->remote_be, 8080, false }, { a->remote_be2, 8080, false },
			       { a->pod_be, 8080, true }, { a->remote_be, 8081, false } };
	uint32_t id;

	id = dpt_service(f, 0, be, 3);
	frontend(id, f, cip(f, CIP_PLAIN), 80, p, XLB_FE_CLUSTER_IP, 0);
	frontend(id, f, cip(f, CIP_PLAIN), 443, p, XLB_FE_CLUSTER_IP, 0);
	id = dpt_service(f, XLB_SVC_ITP_LOCAL, be, 2);
	frontend(id, f, cip(f, CIP_ITP), 80, p, XLB_FE_CLUSTER_IP, 0);
	id = dpt_service(f, XLB_SVC_AFFINITY, be, 4);
	frontend(id, f, cip(f, CIP_AFFINITY), 80, p, XLB_FE_CLUSTER_IP, 0);
	id = maglev_service(f, be, 4);
	frontend(id, f, cip(f, CIP_MAGLEV), 80, p, XLB_FE_CLUSTER_IP, 0);
	frontend(id, f, NULL, 30084, p, XLB_FE_NODE_PORT, 0);
	id = dpt_service(f, 0, NULL, 0);
	frontend(id, f, cip(f, CIP_EMPTY), 80, p, XLB_FE_CLUSTER_IP, 0);
	frontend(id, f, NULL, 30083, p, XLB_FE_NODE_PORT, 0);

	id = dpt_service(f, XLB_SVC_SOURCE_RANGES, be, 3);
	frontend(id, f, lbip(f, LB_RANGES), 80, p, XLB_FE_LOAD_BALANCER, 0);
	frontend(id, f, NULL, 30080, p, XLB_FE_NODE_PORT, 0);
	dpt_source_range(id, a->client, f ? 128 : 32);
	dpt_source_range(id, a->pod, f ? 64 : 24);
	id = dpt_service(f, XLB_SVC_ETP_LOCAL | XLB_SVC_AFFINITY, be, 3);
	frontend(id, f, lbip(f, LB_ETP), 80, p, XLB_FE_LOAD_BALANCER, 0);
	frontend(id, f, NULL, 30081, p, XLB_FE_NODE_PORT, 0);
	id = dpt_service(f, XLB_SVC_ETP_LOCAL, be, 2);
	frontend(id, f, lbip(f, LB_ETP_NO_LOCAL), 80, p, XLB_FE_LOAD_BALANCER, 0);
	frontend(id, f, NULL, 30082, p, XLB_FE_NODE_PORT, 0);
	id = dpt_service(f, 0, be, 2);
	frontend(id, f, lbip(f, LB_EIP), 80, p, XLB_FE_EXTERNAL_IP, 0);
	frontend(id, f, lbip(f, LB_EIP_GATED), 80, p, XLB_FE_EXTERNAL_IP, XLB_FE_GATED);
}

/* Services of every kind, their addresses in the pools the packets draw
 * from, and the sources that matter (pods, allowed and other clients). */
static void setup_world(void)
{
	for (int f = 0; f < 2; f++) {
		const struct dpt_fam *a = &dpt_fams[f];

		for (size_t p = 0; p < sizeof(protos); p++)
			world_proto(f, protos[p]);
		/* frontend addresses twice as often as the others */
		for (int i = 0; i < N_CIP; i++) {
			dpt_frontend(1, f, cip(f, i), 0, 0, XLB_FE_VIP, 0);
			pool_add(addr_pool, &n_addr, cip(f, i));
			pool_add(addr_pool, &n_addr, cip(f, i));
		}
		for (int i = 0; i < N_LB; i++) {
			pool_add(addr_pool, &n_addr, lbip(f, i));
			pool_add(addr_pool, &n_addr, lbip(f, i));
		}
		pool_add(addr_pool, &n_addr, a->node);
		for (const char *const *s = (const char *const[]){ a->node, a->unalloc, a->pod,
				a->pod_be, a->remote_be, a->client, NULL }; *s; s++)
			pool_add(addr_pool, &n_addr, *s);
		for (const char *const *s = (const char *const[]){ a->pod, a->pod_be, a->client,
				a->client2, a->node, a->remote_be, NULL }; *s; s++)
			pool_add(src_pool, &n_src, *s);
	}
}

/* Clear conntrack, fragments and affinity (walk twice: deleting while
 * walking may skip keys) so the run never fills them. */
static int delete_key(const void *key, const void *value, void *arg)
{
	bpf_map_delete_elem(*(int *)arg, key);
	return 0;
}

static void clear_flows(void)
{
	static const enum xlb_map_id maps[] = { XLB_MAP_CONNTRACK, XLB_MAP_FRAGS,
						XLB_MAP_AFFINITY };

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
			maps_walk(&dpt_dp.maps, maps[i], delete_key, &dpt_dp.maps.fd[maps[i]]);
}

/* The last translated packet, parsed: replies and ICMP errors are made
 * about it so the reverse paths see traffic too. */
static struct pkt_info last_fwd;
static bool have_fwd;

static struct pkt_spec flow_of(const struct pkt_ip_info *ip)
{
	struct pkt_spec s = {
		.src = ip->src, .dst = ip->dst, .proto = ip->proto, .sport = ip->sport,
		.dport = ip->dport, .tcp_flags = PKT_TCP_ACK, .sctp_vtag = 1, .payload_len = 8,
	};
	return s;
}

/* A reply (backend to client) or an ICMP error about the last translated
 * packet; false when there is none to answer. */
static bool reply_spec(struct pkt_spec *s, uint64_t *rng)
{
	static struct pkt_spec inner;

	if (!have_fwd || !last_fwd.ip.has_l4 || last_fwd.ip.is_frag ||
	    (last_fwd.ip.proto != IPPROTO_TCP && last_fwd.ip.proto != IPPROTO_UDP &&
	     last_fwd.ip.proto != IPPROTO_SCTP))
		return false;
	inner = flow_of(&last_fwd.ip);
	if (pkt_rand(rng) % 3) {
		*s = pkt_spec_reply(&inner);
		s->tcp_flags = pkt_rand(rng) % 2 ? PKT_TCP_SYN | PKT_TCP_ACK : PKT_TCP_ACK;
	} else {
		*s = (struct pkt_spec){
			.src = pkt_rand(rng) % 2 ? inner.dst : pkt_addr(last_fwd.ip.family == 4 ?
				dpt_fams[0].gw_node2 : dpt_fams[1].gw_node2),
			.dst = inner.src, .proto = IPPROTO_ICMP, .icmp_inner = &inner,
			.icmp_kind = pkt_rand(rng) % 2 ? PKT_ICMP_PORT_UNREACH :
				     PKT_ICMP_FRAG_NEEDED,
			.icmp_mtu = 1400,
		};
	}
	s->eth_src = last_fwd.eth_dst;
	s->eth_dst = last_fwd.eth_src;
	return true;
}

/* A random source of the family: an interesting one (pods, clients
 * allowed and not by source ranges, the node) or a random one. */
static void random_src(struct pkt_spec *s, uint64_t *rng)
{
	struct pkt_addr src = src_pool[pkt_rand(rng) % n_src];

	if (src.family == s->dst.family)
		s->src = src;
}

/* A new flow (or a packet of one) to a frontend, with random flags. */
static void service_spec(struct pkt_spec *s, uint64_t *rng)
{
	static const uint8_t flags[] = { PKT_TCP_SYN, PKT_TCP_SYN, PKT_TCP_ACK,
					 PKT_TCP_FIN | PKT_TCP_ACK, PKT_TCP_RST };
	const struct fe *fe = &fes[pkt_rand(rng) % n_fes];

	*s = (struct pkt_spec){
		.eth_src = pkt_mac(DPT_MAC_CLIENT), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(fe->addr.family == 4 ? dpt_fams[0].client : dpt_fams[1].client),
		.dst = fe->addr, .proto = fe->proto, .dport = fe->port,
		.sport = 1024 + pkt_rand(rng) % 64000, .tcp_flags = flags[pkt_rand(rng) % 5],
		.sctp_vtag = (uint32_t)pkt_rand(rng), .payload_len = pkt_rand(rng) % 100,
	};
	random_src(s, rng);
}

/* A fresh packet: a reply or a new flow to a frontend one time in four
 * each, else a random spec whose source is one of the interesting ones a
 * quarter of the time. */
static int random_frame(uint8_t *buf, uint64_t *rng)
{
	uint64_t kind = pkt_rand(rng) % 4;
	struct pkt_spec s;
	int len;

	if (kind == 0 && reply_spec(&s, rng)) {
		st.replies++;
	} else if (kind == 1) {
		service_spec(&s, rng);
	} else {
		pkt_random_spec(&s, rng, addr_pool, n_addr, port_pool,
				sizeof(port_pool) / sizeof(port_pool[0]));
		if (pkt_rand(rng) % 4 == 0)
			random_src(&s, rng);
	}
	len = pkt_build(&s, buf, FUZZ_MAX_FRAME);
	if (len < 0) {
		fprintf(stderr, "test_fuzz: build: %s\n", pkt_build_error());
		return 0;
	}
	return len;
}

struct run {
	enum dpt_prog prog;
	const uint8_t *in;
	int in_len;
	uint8_t out[PKT_BUF_LEN];
	uint32_t out_len;
	int rc;
	struct dpt_counters before, after;
	int verdict;	/* the one (hook, verdict) cell that rose, or -1 */
	int drop, skip;	/* dpt_drop_delta / dpt_skip_delta */
};

static void hex(const char *what, const uint8_t *b, size_t len)
{
	fprintf(stderr, "    %s (%zu bytes): ", what, len);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%02x", b[i]);
	fprintf(stderr, "\n");
}

/* Runs the input again on an empty conntrack: does the violation need the
 * flow state the run had built? */
static void rerun_standalone(const struct run *r)
{
	uint8_t out[PKT_BUF_LEN];
	uint32_t out_len;
	int rc;

	clear_flows();
	rc = dpt_run(r->prog, r->in, r->in_len, out, &out_len);
	fprintf(stderr, "    standalone on empty conntrack: rc %d, output %s\n", rc,
		out_len == r->out_len && !memcmp(out, r->out, out_len) ? "the same" : "differs");
}

static void violation(enum inv inv, uint64_t idx, const struct run *r, const char *fmt,
		      const char *why)
{
	struct pkt_info info;
	char line[256];

	if (st.violations[inv]++ >= MAX_REPORTS)
		return;
	fprintf(stderr, "  VIOLATION %s: packet %lu via %s: rc %d, verdict %d, drop %d, skip %d: ",
		inv_names[inv], (unsigned long)idx, dpt_prog_name(r->prog), r->rc, r->verdict,
		r->drop, r->skip);
	fprintf(stderr, fmt, why);
	fprintf(stderr, "\n");
	pkt_parse(r->in, r->in_len, &info);
	fprintf(stderr, "    input: %s%s%s\n", pkt_info_str(&info, line, sizeof(line)),
		info.err[0] ? " parse error: " : "", info.err);
	hex("input", r->in, r->in_len);
	hex("output", r->out, r->out_len);
	rerun_standalone(r);
}

/* The (hook, verdict) cell that rose by one while no other moved; -1 if not
 * exactly that, or if it is the other program's hook. */
static int verdict_of(const struct run *r)
{
	int found = -1, hook = r->prog == DPT_XDP ? XLB_HOOK_XDP : XLB_HOOK_TC;

	for (int i = 0; i < XLB_PACKETS_MAX; i++) {
		uint64_t d = r->after.packets[i] - r->before.packets[i];

		if (!d)
			continue;
		if (found != -1 || d != 1)
			return -1;
		found = i;
	}
	if (found < 0 || found / XLB_VERDICT_MAX != hook)
		return -1;
	return found % XLB_VERDICT_MAX;
}

static int want_rc(enum dpt_prog prog, int verdict)
{
	bool xdp = prog == DPT_XDP;

	switch (verdict) {
	case XLB_VERDICT_PASS:
	case XLB_VERDICT_STACK:
		return xdp ? XDP_PASS : TC_ACT_OK;
	case XLB_VERDICT_DROP:
		return xdp ? XDP_DROP : TC_ACT_SHOT;
	case XLB_VERDICT_REJECT:
		return xdp ? XDP_TX : TC_ACT_REDIRECT;
	case XLB_VERDICT_TX:
		return xdp ? XDP_TX : -1;
	case XLB_VERDICT_REDIRECT:
		return xdp ? -1 : TC_ACT_REDIRECT;
	}
	return -1;
}

static bool rc_valid(enum dpt_prog prog, int rc)
{
	if (prog == DPT_XDP)
		return rc == XDP_PASS || rc == XDP_DROP || rc == XDP_TX;
	return rc == TC_ACT_OK || rc == TC_ACT_SHOT || rc == TC_ACT_REDIRECT;
}

static void check_return_code(uint64_t idx, const struct run *r)
{
	char why[64];

	st.checked[INV_RETURN_CODES]++;
	snprintf(why, sizeof(why), "verdict wants %d", want_rc(r->prog, r->verdict));
	if (!rc_valid(r->prog, r->rc))
		violation(INV_RETURN_CODES, idx, r, "%s", "not a valid return code");
	else if (r->verdict >= 0 && r->rc != want_rc(r->prog, r->verdict))
		violation(INV_RETURN_CODES, idx, r, "return code disagrees with the counted %s",
			  why);
}

/* Exactly one of: one drop reason (DROP/REJECT), one skip reason (PASS),
 * neither (a translation). */
static void check_counters(uint64_t idx, const struct run *r)
{
	bool ok;

	st.checked[INV_COUNTERS]++;
	switch (r->verdict) {
	case XLB_VERDICT_PASS:
		ok = r->skip >= 0 && r->drop == -1;
		break;
	case XLB_VERDICT_DROP:
	case XLB_VERDICT_REJECT:
		ok = r->drop >= 0 && r->skip == -1;
		break;
	case XLB_VERDICT_TX:
	case XLB_VERDICT_REDIRECT:
	case XLB_VERDICT_STACK:
		ok = r->drop == -1 && r->skip == -1;
		break;
	default:
		ok = false;
	}
	if (!ok)
		violation(INV_COUNTERS, idx, r, "%s",
			  r->verdict < 0 ? "not exactly one (hook, verdict) cell rose by one" :
			  "reasons do not match the verdict");
}

static bool output_changed(const struct run *r)
{
	return r->out_len != (uint32_t)r->in_len || memcmp(r->out, r->in, r->in_len);
}

static void check_output(uint64_t idx, const struct run *r, bool in_csums_ok)
{
	struct pkt_info info;
	char why[200];

	if (r->verdict == XLB_VERDICT_PASS) {
		st.checked[INV_UNTOUCHED]++;
		if (output_changed(r))
			violation(INV_UNTOUCHED, idx, r, "%s", "passed packet was modified");
		return;
	}
	/* A dropped packet goes nowhere; what it looked like does not matter. */
	if (r->verdict == XLB_VERDICT_DROP || r->verdict < 0 || !output_changed(r) ||
	    pkt_parse(r->out, r->out_len, &info))
		return;
	if (!in_csums_ok) {
		st.csum_bad_input++;
		return;
	}
	st.checked[INV_CHECKSUMS]++;
	if (pkt_verify_csums(r->out, r->out_len, why, sizeof(why)))
		violation(INV_CHECKSUMS, idx, r, "output checksums: %s", why);
}

/* The rewrite helpers only fail on packets they cannot handle: a
 * well-formed one with valid checksums must never end as rewrite_failed. */
static void check_rewrite(uint64_t idx, const struct run *r, bool in_csums_ok)
{
	if (!in_csums_ok)
		return;
	st.checked[INV_REWRITE]++;
	if (r->drop == XLB_DROP_REWRITE)
		violation(INV_REWRITE, idx, r, "%s", "well-formed packet dropped as rewrite_failed");
}

static void tally(const struct run *r)
{
	int hook = r->prog == DPT_XDP ? XLB_HOOK_XDP : XLB_HOOK_TC;

	st.packets++;
	if (r->verdict >= 0)
		st.verdicts[hook][r->verdict]++;
	if (r->drop >= 0)
		st.drops[r->drop]++;
	if (r->skip >= 0)
		st.skips[r->skip]++;
	if (r->verdict == XLB_VERDICT_TX || r->verdict == XLB_VERDICT_REDIRECT ||
	    r->verdict == XLB_VERDICT_STACK)
		st.translated++;
}

/* BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, and for
 * tc IPv4/IPv6 frames whose IP header is incomplete: such a frame cannot be
 * run (though it could reach tc on a real device). */
static bool runnable(enum dpt_prog prog, const uint8_t *in, int len)
{
	int type = len >= 14 ? in[12] << 8 | in[13] : 0;

	if (len < 14)
		return false;
	if (prog == DPT_XDP)
		return true;
	return !(type == 0x0800 && len < 14 + 20) && !(type == 0x86dd && len < 14 + 40);
}

/* Runs one frame and checks it; false when the frame cannot be run. */
static bool run_one(uint64_t idx, enum dpt_prog prog, const uint8_t *in, int len)
{
	static struct run r;
	bool in_ok = !pkt_verify_csums(in, len, NULL, 0);

	if (!runnable(prog, in, len)) {
		st.not_runnable++;
		return false;
	}

	r.prog = prog;
	r.in = in;
	r.in_len = len;
	dpt_counters(&r.before);
	r.rc = dpt_run(prog, in, len, r.out, &r.out_len);
	dpt_counters(&r.after);
	st.checked[INV_TEST_RUN]++;
	if (r.rc == -1000) {
		r.verdict = r.drop = r.skip = -1;
		violation(INV_TEST_RUN, idx, &r, "%s", "BPF_PROG_TEST_RUN failed");
		return true;
	}
	r.verdict = verdict_of(&r);
	r.drop = dpt_drop_delta(&r.before, &r.after);
	r.skip = dpt_skip_delta(&r.before, &r.after);
	check_return_code(idx, &r);
	check_counters(idx, &r);
	check_output(idx, &r, in_ok);
	check_rewrite(idx, &r, in_ok);
	tally(&r);
	if ((r.verdict == XLB_VERDICT_TX || r.verdict == XLB_VERDICT_REDIRECT) &&
	    !pkt_parse(r.out, r.out_len, &last_fwd))
		have_fwd = true;
	return true;
}

static void print_stats(double secs)
{
	fprintf(stderr, "test_fuzz: %lu packets (%lu mutated, %lu replies/ICMP errors) in %.1f s;"
		" %lu more frames too short for a test run\n", (unsigned long)st.packets,
		(unsigned long)st.mutated, (unsigned long)st.replies, secs,
		(unsigned long)st.not_runnable);
	for (int h = 0; h < XLB_HOOK_MAX; h++)
		for (int v = 0; v < XLB_VERDICT_MAX; v++)
			fprintf(stderr, "  %-4s %-9s %lu\n", xlb_hook_names[h], xlb_verdict_names[v],
				(unsigned long)st.verdicts[h][v]);
	for (int i = 0; i < XLB_DROP_MAX; i++)
		fprintf(stderr, "  drop %-22s %lu\n", xlb_drop_names[i], (unsigned long)st.drops[i]);
	for (int i = 0; i < XLB_SKIP_MAX; i++)
		fprintf(stderr, "  skip %-22s %lu\n", xlb_skip_names[i], (unsigned long)st.skips[i]);
	fprintf(stderr, "  rewritten outputs of inputs with bad checksums (not checked): %lu\n",
		(unsigned long)st.csum_bad_input);
	for (int i = 0; i < INV_N; i++)
		fprintf(stderr, "  %-34s checked %lu, violated %lu\n", inv_names[i],
			(unsigned long)st.checked[i], (unsigned long)st.violations[i]);
}

/* Found by this fuzzer: an IPv6 packet whose headers before L4 exceed the
 * 128 bytes the REJECT quotes (bpf/icmp.h XLB_QUOTE6_MAX) is dropped as
 * rewrite_failed instead of answered with port unreachable. Here: a client
 * to the plain ClusterIP on a port it does not define, with one 88-byte
 * destination options header. */
static void test_repro_reject_long_ext(void)
{
	struct pkt_spec s = {
		.eth_src = pkt_mac(DPT_MAC_CLIENT), .eth_dst = pkt_mac(DPT_MAC_NODE),
		.src = pkt_addr(dpt_fams[1].client), .dst = pkt_addr(cip(1, CIP_PLAIN)),
		.proto = IPPROTO_TCP, .sport = 40000, .dport = 81, .tcp_flags = PKT_TCP_SYN,
		.tcp_seq = 1000, .n_ext = 1,
		.ext[0] = { .type = IPPROTO_DSTOPTS, .len8 = 10 },
	};
	static uint8_t in[PKT_BUF_LEN];
	static struct run r;

	test_begin("fuzz_repro_v6_reject_long_ext_header");
	r.in = in;
	r.in_len = pkt_build(&s, in, sizeof(in));
	for (int p = DPT_XDP; p <= DPT_TC; p++) {
		r.prog = p;
		dpt_counters(&r.before);
		r.rc = dpt_run(p, in, r.in_len, r.out, &r.out_len);
		dpt_counters(&r.after);
		r.verdict = verdict_of(&r);
		r.drop = dpt_drop_delta(&r.before, &r.after);
		if (CHECK(r.verdict == XLB_VERDICT_REJECT && r.drop == XLB_DROP_UNKNOWN_PORT,
			  "%s: verdict %d, drop reason %d; want reject, unknown_port",
			  dpt_prog_name(p), r.verdict, r.drop))
			continue;
		fprintf(stderr, "    world: ClusterIP %s serves ports 80 and 443 (test_fuzz.c "
			"world_proto); packet via %s\n", cip(1, CIP_PLAIN), dpt_prog_name(p));
		hex("input", in, r.in_len);
	}
	test_end();
}

static uint64_t seed_from_env(void)
{
	const char *s = getenv("XLB_FUZZ_SEED");
	char *end;
	uint64_t v;

	if (!s || !*s)
		return FUZZ_DEFAULT_SEED;
	v = strtoull(s, &end, 0);
	if (*end) {
		fprintf(stderr, "test_fuzz: XLB_FUZZ_SEED=%s is not a number\n", s);
		exit(2);
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Packet pairs: a fresh frame, then a mutation of it; the program
 * alternates pair by pair, so each sees both kinds. */
static bool fuzz(uint64_t seed)
{
	static uint8_t fresh[PKT_BUF_LEN], mut[PKT_BUF_LEN];
	uint64_t rng = seed, pair = 0;
	double start = now_s();
	enum dpt_prog prog;
	int len;

	while (st.packets < FUZZ_PACKETS && now_s() - start < FUZZ_MAX_SECONDS) {
		if (pair % (CT_CLEAR_EVERY / 2) == 0)
			clear_flows();
		prog = pair++ % 2 ? DPT_TC : DPT_XDP;
		len = random_frame(fresh, &rng);
		if (!len || !run_one(st.packets, prog, fresh, len))
			continue;
		memcpy(mut, fresh, len);
		len = pkt_mutate(mut, len, FUZZ_MAX_FRAME, &rng);
		st.mutated += run_one(st.packets, prog, mut, len);
	}
	print_stats(now_s() - start);
	return st.packets >= FUZZ_PACKETS;
}

int main(void)
{
	uint64_t seed = seed_from_env();
	bool complete;

	printf("test_fuzz: seed 0x%lx (replay with XLB_FUZZ_SEED=0x%lx)\n", (unsigned long)seed,
	       (unsigned long)seed);
	fflush(stdout);
	dpt_init();
	setup_world();
	complete = fuzz(seed);
	test_begin("fuzz_ran_all_packets");
	CHECK(complete, "stopped after %lu of %d packets (time limit %d s)",
	      (unsigned long)st.packets, FUZZ_PACKETS, FUZZ_MAX_SECONDS);
	test_end();
	for (int i = 0; i < INV_N; i++) {
		test_begin(inv_names[i]);
		CHECK(!st.violations[i], "%lu of %lu packets violate it (seed 0x%lx)",
		      (unsigned long)st.violations[i], (unsigned long)st.checked[i],
		      (unsigned long)seed);
		test_end();
	}
	clear_flows();
	test_repro_reject_long_ext();
	test_begin("fuzz_translated_some");
	CHECK(st.translated * 100 > st.packets * MIN_TRANSLATED_PCT,
	      "only %lu of %lu packets translated", (unsigned long)st.translated,
	      (unsigned long)st.packets);
	test_end();
	return test_exit_status();
}
