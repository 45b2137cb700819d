/* Tests of the packet test library (selftests/lib/pkt.h, csum.h): build
 * every kind of packet, parse it back, check checksums against known-good
 * values and against 1-bit corruptions, and feed the parser and verifier
 * mutated frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csum.h"
#include "pkt.h"
#include "test.h"

#define FUZZ_ITERS 200000

static uint8_t buf[PKT_BUF_LEN];
static char why[256];
static char line[512];

static const struct pkt_mac mac_a = { { 0x02, 0, 0, 0, 0, 0x0a } };
static const struct pkt_mac mac_b = { { 0x02, 0, 0, 0, 0, 0x0b } };

/* Builds s into buf; on failure reports why and returns -1. */
static int build(const struct pkt_spec *s)
{
	int n = pkt_build(s, buf, sizeof(buf));

	CHECK(n > 0, "pkt_build: %d: %s", n, pkt_build_error());
	return n;
}

/* Parses buf and checks it parses and verifies. */
static int parse_ok(int len, struct pkt_info *in)
{
	int ok = CHECK(!pkt_parse(buf, len, in), "parse: %s", in->err);

	ok &= CHECK(!pkt_verify_csums(buf, len, why, sizeof(why)),
		    "verify: %s", why);
	return ok;
}

static void test_csum_vectors(void)
{
	static const uint8_t zeros[32], ones[32] = {
		[0 ... 31] = 0xff,
	};
	uint8_t inc[32];
	uint32_t crc;
	int i;

	test_begin("csum_known_vectors");
	for (i = 0; i < 32; i++)
		inc[i] = i;
	CHECK(crc32c(0, "123456789", 9) == 0xE3069283, "crc32c check value");
	/* RFC 3720 B.4 iSCSI test vectors */
	CHECK(crc32c(0, zeros, 32) == 0x8A9136AA, "crc32c zeros");
	CHECK(crc32c(0, ones, 32) == 0x62A8AB43, "crc32c ones");
	CHECK(crc32c(0, inc, 32) == 0x46DD794E, "crc32c incrementing");
	crc = crc32c(crc32c(0, "1234", 4), "56789", 5);
	CHECK(crc == 0xE3069283, "crc32c chained 0x%08x", crc);
	/* odd length: trailing byte counts as the high byte of a word */
	CHECK(csum_fold(csum_partial("\x01", 1, 0)) == 0xfeff, "odd byte");
	CHECK(csum_fold(0x1fffe) == 0x0000, "fold carries");
	test_end();
}

/* The textbook IPv4 header 4500 0073 0000 4000 4011 b861 c0a8 0001
 * c0a8 00c7 (checksum 0xb861), built by the library. */
static void test_ipv4_known_header(void)
{
	static const uint8_t want[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	struct pkt_spec s = {
		.src = pkt_addr("192.168.0.1"), .dst = pkt_addr("192.168.0.199"),
		.df = true, .proto = IPPROTO_UDP, .payload_len = 0x73 - 28,
	};
	int n;

	test_begin("ipv4_known_header_csum");
	n = pkt_build_l3(&s, buf, sizeof(buf));
	CHECK(n == 0x73, "length %d", n);
	CHECK(!memcmp(buf, want, sizeof(want)), "header bytes differ");
	test_end();
}

/* L4 checksums computed independently (Python, RFC 1071) for fixed
 * packets. */
static void test_l4_known_csums(void)
{
	struct pkt_spec udp = {
		.src = pkt_addr("192.0.2.1"), .dst = pkt_addr("192.0.2.2"),
		.proto = IPPROTO_UDP, .sport = 1, .dport = 2,
		.payload = "abcd", .payload_len = 4,
	};
	struct pkt_spec icmp6 = {
		.src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		.proto = IPPROTO_ICMPV6, .icmp_id = 0x1234, .icmp_seq = 1,
		.payload = "ping", .payload_len = 4,
	};
	struct pkt_spec tcp6 = {
		.src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		.proto = IPPROTO_TCP, .sport = 1000, .dport = 80, .tcp_seq = 1,
		.tcp_flags = PKT_TCP_SYN,
	};

	test_begin("l4_known_csums");
	pkt_build_l3(&udp, buf, sizeof(buf));
	CHECK(buf[26] == 0xb7 && buf[27] == 0x08, "udp4 csum %02x%02x",
	      buf[26], buf[27]);
	pkt_build_l3(&icmp6, buf, sizeof(buf));
	CHECK(buf[40] == 128 && buf[42] == 0x33 && buf[43] == 0x3e,
	      "icmp6 csum %02x%02x", buf[42], buf[43]);
	pkt_build_l3(&tcp6, buf, sizeof(buf));
	CHECK(buf[56] == 0x50 && buf[57] == 0x35, "tcp6 csum %02x%02x",
	      buf[56], buf[57]);
	test_end();
}

static void test_tcp4(void)
{
	struct pkt_spec s = {
		.eth_src = mac_a, .eth_dst = mac_b,
		.src = pkt_addr("203.0.113.7"), .dst = pkt_addr("198.19.0.10"),
		.ttl = 33, .ip_id = 0x4242, .df = true, .tos = 0x10,
		.proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
		.tcp_seq = 1000, .tcp_ack = 2000, .tcp_win = 512,
		.tcp_flags = PKT_TCP_PSH | PKT_TCP_ACK,
		.payload = "hello", .payload_len = 5,
	};
	struct pkt_info in;
	int n;

	test_begin("build_parse_tcp4");
	n = build(&s);
	CHECK(n == 14 + 20 + 20 + 5, "length %d", n);
	if (parse_ok(n, &in)) {
		CHECK(!memcmp(in.eth_src.b, mac_a.b, 6) &&
		      !memcmp(in.eth_dst.b, mac_b.b, 6), "macs");
		CHECK(in.eth_proto == 0x0800 && in.n_vlan == 0, "ethertype");
		CHECK(in.ip.family == 4, "family %d", in.ip.family);
		CHECK(pkt_addr_is(&in.ip.src, "203.0.113.7"), "src");
		CHECK(pkt_addr_is(&in.ip.dst, "198.19.0.10"), "dst");
		CHECK(in.ip.ttl == 33 && in.ip.ip_id == 0x4242 && in.ip.df &&
		      !in.ip.mf && !in.ip.is_frag && in.ip.tos == 0x10, "ip");
		CHECK(in.ip.proto == IPPROTO_TCP && in.ip.has_l4, "proto");
		CHECK(in.ip.sport == 40000 && in.ip.dport == 80, "ports");
		CHECK(in.ip.tcp_seq == 1000 && in.ip.tcp_ack == 2000 &&
		      in.ip.tcp_win == 512, "seq/ack/win");
		CHECK(in.ip.tcp_flags == (PKT_TCP_PSH | PKT_TCP_ACK), "flags");
		CHECK(in.ip.l3_off == 14 && in.ip.l4_off == 34, "offsets");
		CHECK(in.ip.payload_off == 54 && in.ip.payload_len == 5 &&
		      !memcmp(buf + 54, "hello", 5), "payload");
		CHECK(!in.has_inner, "no inner");
		pkt_info_str(&in, line, sizeof(line));
		CHECK(!strcmp(line, "v4 203.0.113.7:40000 > 198.19.0.10:80 tcp [PA] ttl 33 len 5"),
		      "str: %s", line);
	}
	test_end();
}

static void test_tcp6_opts(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("2001:db8:0:3::5"), .dst = pkt_addr("2001:db8:2::a"),
		.proto = IPPROTO_TCP, .sport = 1234, .dport = 443,
		.tcp_flags = PKT_TCP_SYN, .tcp_opts_len = 3,
		.tcp_opts = { 2, 4, 5 }, .flow_label = 0xabcde, .tos = 0xb8,
		.payload_len = 3,
	};
	struct pkt_info in;
	int n;

	test_begin("build_parse_tcp6_options");
	n = build(&s);
	CHECK(n == 14 + 40 + 24 + 3, "length %d", n);
	if (parse_ok(n, &in)) {
		CHECK(in.eth_proto == 0x86dd && in.ip.family == 6, "family");
		CHECK(pkt_addr_is(&in.ip.dst, "2001:db8:2::a") &&
		      pkt_addr_is(&in.ip.src, "2001:db8:0:3::5"), "addrs");
		CHECK(in.ip.ttl == 64, "default hop limit %u", in.ip.ttl);
		CHECK(in.ip.flow_label == 0xabcde && in.ip.tos == 0xb8,
		      "flow label / tclass");
		CHECK(in.ip.tcp_flags == PKT_TCP_SYN && in.ip.dport == 443,
		      "tcp");
		CHECK(buf[14 + 40 + 12] == 6 << 4, "data offset 6 words");
		CHECK(in.ip.payload_off == 14 + 40 + 24 &&
		      in.ip.payload_len == 3 && buf[in.ip.payload_off + 2] == 2,
		      "pattern payload");
	}
	test_end();
}

static void test_udp(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("198.18.1.2"), .dst = pkt_addr("198.19.0.53"),
		.proto = IPPROTO_UDP, .sport = 5353, .dport = 53,
		.payload_len = 20,
	};
	struct pkt_info in;
	int n;

	test_begin("build_parse_udp4_udp6");
	n = build(&s);
	if (parse_ok(n, &in))
		CHECK(in.ip.proto == IPPROTO_UDP && in.ip.sport == 5353 &&
		      in.ip.dport == 53 && in.ip.payload_len == 20 &&
		      in.ip.l4_len == 28, "udp4 fields");
	s.udp_no_csum = true;
	n = build(&s);
	CHECK(buf[14 + 20 + 6] == 0 && buf[14 + 20 + 7] == 0, "no csum");
	CHECK(!pkt_verify_csums(buf, n, why, sizeof(why)),
	      "v4 udp csum 0 is none: %s", why);
	s.udp_no_csum = false;
	s.src = pkt_addr("2001:db8:1::2");
	s.dst = pkt_addr("2001:db8:2::35");
	n = build(&s);
	if (parse_ok(n, &in))
		CHECK(in.ip.family == 6 && in.ip.dport == 53 &&
		      in.ip.payload_len == 20, "udp6 fields");
	buf[14 + 40 + 6] = buf[14 + 40 + 7] = 0;
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "udp"), "v6 udp csum 0 must fail: %s", why);
	test_end();
}

/* Independent bitwise CRC32c, to cross-check the table version. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = ~0u;
	size_t i;
	int j;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78 : c >> 1;
	}
	return ~c;
}

static void test_sctp(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.9"), .dst = pkt_addr("198.51.100.1"),
		.proto = IPPROTO_SCTP, .sport = 5000, .dport = 3868,
		.sctp_vtag = 0xdeadbeef, .sctp_tsn = 7, .payload_len = 5,
	};
	uint8_t copy[PKT_BUF_LEN];
	struct pkt_info in;
	uint32_t want, have;
	int n, l4 = 14 + 20;

	test_begin("build_parse_sctp_data_init");
	n = build(&s);
	CHECK(n == l4 + 12 + 16 + 8, "DATA chunk padded to 4: %d", n);
	if (parse_ok(n, &in)) {
		CHECK(in.ip.sport == 5000 && in.ip.dport == 3868 &&
		      in.ip.sctp_vtag == 0xdeadbeef &&
		      in.ip.sctp_chunk == PKT_SCTP_DATA, "sctp fields");
		CHECK(in.ip.payload_off == (uint32_t)l4 + 28 &&
		      in.ip.payload_len == 5, "user data %u", in.ip.payload_len);
	}
	memcpy(copy, buf, n);
	memset(copy + l4 + 8, 0, 4);
	want = crc32c_bitwise(copy + l4, n - l4);
	have = buf[l4 + 8] | buf[l4 + 9] << 8 | buf[l4 + 10] << 16 |
	       (uint32_t)buf[l4 + 11] << 24;
	CHECK(have == want, "crc 0x%08x, bitwise 0x%08x", have, want);

	s.src = pkt_addr("2001:db8:0:3::9");
	s.dst = pkt_addr("2001:db8:4::1");
	s.sctp_chunk = PKT_SCTP_INIT;
	s.sctp_vtag = 0;
	s.payload_len = 0;
	n = build(&s);
	CHECK(n == 14 + 40 + 12 + 20, "INIT length %d", n);
	if (parse_ok(n, &in))
		CHECK(in.ip.sctp_chunk == PKT_SCTP_INIT && in.ip.sctp_vtag == 0 &&
		      in.ip.family == 6, "init fields");
	s.payload_len = 1;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL, "INIT + payload");
	test_end();
}

static void test_icmp_echo_and_reply(void)
{
	struct pkt_spec s = {
		.eth_src = mac_a, .eth_dst = mac_b,
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_ECHO_REQUEST,
		.icmp_id = 77, .icmp_seq = 3, .payload_len = 56,
	};
	struct pkt_spec r;
	struct pkt_info in;
	int n, fam;

	test_begin("icmp_echo_request_reply_v4_v6");
	for (fam = 4; fam <= 6; fam += 2) {
		if (fam == 6) {
			s.src = pkt_addr("2001:db8:0:3::1");
			s.dst = pkt_addr("2001:db8:2::1");
		}
		n = build(&s);
		if (parse_ok(n, &in)) {
			CHECK(in.ip.proto == (fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6),
			      "v%d proto %u", fam, in.ip.proto);
			CHECK(in.ip.icmp_type == (fam == 4 ? 8 : 128) &&
			      in.ip.icmp_code == 0 && in.ip.icmp_id == 77 &&
			      in.ip.icmp_seq == 3, "v%d echo request", fam);
			CHECK(in.ip.payload_len == 56, "payload");
		}
		r = pkt_spec_reply(&s);
		n = build(&r);
		if (parse_ok(n, &in)) {
			CHECK(in.ip.icmp_type == (fam == 4 ? 0 : 129) &&
			      in.ip.icmp_id == 77, "v%d echo reply", fam);
			CHECK(pkt_addr_eq(&in.ip.src, &s.dst) &&
			      pkt_addr_eq(&in.ip.dst, &s.src), "swapped addrs");
			CHECK(!memcmp(in.eth_src.b, mac_b.b, 6), "swapped macs");
		}
	}
	test_end();
}

static void test_reply_spec(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_TCP, .sport = 1111, .dport = 80,
		.tcp_flags = PKT_TCP_SYN,
	};
	struct pkt_spec r = pkt_spec_reply(&s);

	test_begin("spec_reply_swaps");
	CHECK(r.sport == 80 && r.dport == 1111, "ports");
	CHECK(pkt_addr_is(&r.src, "198.19.0.1") &&
	      pkt_addr_is(&r.dst, "203.0.113.1"), "addrs");
	CHECK(r.proto == IPPROTO_TCP && r.tcp_flags == PKT_TCP_SYN &&
	      r.icmp_kind == s.icmp_kind, "rest copied");
	test_end();
}

/* A port unreachable about a TCP packet: default embedding is IP header +
 * 8 bytes, and the inner ports and addresses parse. */
static void test_icmp4_port_unreach(void)
{
	struct pkt_spec orig = {
		.src = pkt_addr("10.0.0.2"), .dst = pkt_addr("198.19.0.10"),
		.proto = IPPROTO_TCP, .sport = 8080, .dport = 33000,
		.tcp_seq = 0x01020304, .tcp_flags = PKT_TCP_SYN,
		.ip_opts_len = 4, .ip_opts = { 1, 1, 1, 0 }, .payload_len = 100,
	};
	struct pkt_spec err = {
		.src = pkt_addr("192.0.2.1"), .dst = orig.src,
		.proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_PORT_UNREACH,
		.icmp_inner = &orig,
	};
	struct pkt_info in;
	int n;

	test_begin("icmp4_port_unreach_embeds_tcp");
	n = build(&err);
	CHECK(n == 14 + 20 + 8 + 24 + 8, "length %d", n);
	if (parse_ok(n, &in)) {
		CHECK(in.ip.icmp_type == 3 && in.ip.icmp_code == 3, "type");
		CHECK(in.has_inner && in.inner.family == 4, "inner");
		CHECK(pkt_addr_is(&in.inner.src, "10.0.0.2") &&
		      pkt_addr_is(&in.inner.dst, "198.19.0.10"), "inner addrs");
		CHECK(in.inner.proto == IPPROTO_TCP && in.inner.has_l4 &&
		      in.inner.sport == 8080 && in.inner.dport == 33000 &&
		      in.inner.tcp_seq == 0x01020304, "inner l4");
		CHECK(in.inner.ip_len == 20 + 4 + 20 + 100 &&
		      in.inner.ip_opts_len == 4, "inner ip_len %u",
		      in.inner.ip_len);
		CHECK(in.inner.l3_off == 14 + 28 && in.ip.payload_off == 42,
		      "inner offset");
		pkt_info_str(&in, line, sizeof(line));
		CHECK(strstr(line, "[inner: v4 10.0.0.2:8080 > 198.19.0.10:33000 tcp"),
		      "str: %s", line);
	}
	/* the embedded header checksum is checked on its own */
	buf[14 + 28 + 8] ^= 1;	/* inner TTL */
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "inner ipv4 header"), "inner csum: %s", why);
	CHECK(!pkt_fix_csums(buf, n) &&
	      !pkt_verify_csums(buf, n, why, sizeof(why)), "fixed: %s", why);
	test_end();
}

static void test_icmp_frag_needed_too_big(void)
{
	struct pkt_spec orig = {
		.src = pkt_addr("198.18.0.5"), .dst = pkt_addr("203.0.113.50"),
		.proto = IPPROTO_UDP, .sport = 53, .dport = 4444,
		.df = true, .payload_len = 1400,
	};
	struct pkt_spec err = {
		.src = pkt_addr("192.0.2.254"), .dst = orig.src,
		.proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_FRAG_NEEDED,
		.icmp_mtu = 1400, .icmp_inner = &orig,
	};
	struct pkt_info in;
	int n;

	test_begin("icmp_frag_needed_and_packet_too_big");
	n = build(&err);
	if (parse_ok(n, &in)) {
		CHECK(in.ip.icmp_type == 3 && in.ip.icmp_code == 4 &&
		      in.ip.icmp_mtu == 1400, "v4 frag needed mtu %u",
		      in.ip.icmp_mtu);
		CHECK(in.inner.sport == 53 && in.inner.dport == 4444 &&
		      in.inner.df, "inner udp");
	}
	orig.src = pkt_addr("2001:db8:1::5");
	orig.dst = pkt_addr("2001:db8:0:3::50");
	err.src = pkt_addr("2001:db8:0:1::fe");
	err.dst = orig.src;
	n = build(&err);
	/* as much as fits in 1280 bytes */
	CHECK(n == 14 + 1280, "v6 length %d", n);
	if (parse_ok(n, &in)) {
		CHECK(in.ip.icmp_type == 2 && in.ip.icmp_code == 0 &&
		      in.ip.icmp_mtu == 1400, "v6 too big");
		CHECK(in.has_inner && in.inner.family == 6 &&
		      pkt_addr_is(&in.inner.dst, "2001:db8:0:3::50") &&
		      in.inner.dport == 4444, "inner v6");
	}
	err.icmp_inner_len = 40 + 8;
	n = build(&err);
	CHECK(n == 14 + 40 + 8 + 48, "explicit inner length: %d", n);
	test_end();
}

static void test_icmp6_time_exceeded(void)
{
	struct pkt_spec orig = {
		.src = pkt_addr("2001:db8:1::7"), .dst = pkt_addr("2001:db8:2::1"),
		.proto = IPPROTO_ICMPV6, .icmp_id = 9, .icmp_seq = 4,
		.ttl = 1, .payload_len = 8,
	};
	struct pkt_spec err = {
		.src = pkt_addr("2001:db8:0:1::1"), .dst = orig.src,
		.proto = IPPROTO_ICMPV6, .icmp_kind = PKT_ICMP_TIME_EXCEEDED,
		.icmp_inner = &orig, .n_vlan = 1, .vlan = { { .tci = 7 } },
	};
	struct pkt_info in;
	int n;

	test_begin("icmp6_time_exceeded_embeds_echo");
	n = build(&err);
	if (parse_ok(n, &in)) {
		CHECK(in.ip.icmp_type == 3 && in.n_vlan == 1 &&
		      in.vlan_id[0] == 7, "outer");
		CHECK(in.inner.proto == IPPROTO_ICMPV6 &&
		      in.inner.icmp_type == 128 && in.inner.icmp_id == 9 &&
		      in.inner.icmp_seq == 4 && in.inner.ttl == 1, "inner echo");
	}
	test_end();
}

static void test_vlan(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_UDP, .dport = 53,
		.n_vlan = 1, .vlan = { { .tci = 3 << 13 | 100 } },
	};
	struct pkt_info in;
	int n;

	test_begin("vlan_single_and_qinq");
	n = build(&s);
	CHECK(buf[12] == 0x81 && buf[13] == 0x00, "tpid");
	if (parse_ok(n, &in))
		CHECK(in.n_vlan == 1 && in.vlan_id[0] == 100 &&
		      in.vlan_tci[0] == (3 << 13 | 100) &&
		      in.vlan_tpid[0] == 0x8100 && in.ip.l3_off == 18 &&
		      in.ip.dport == 53, "single tag");
	s.n_vlan = 2;
	s.vlan[1].tci = 200;
	n = build(&s);
	if (parse_ok(n, &in))
		CHECK(in.n_vlan == 2 && in.vlan_tpid[0] == 0x88a8 &&
		      in.vlan_tpid[1] == 0x8100 && in.vlan_id[0] == 100 &&
		      in.vlan_id[1] == 200 && in.ip.l3_off == 22 &&
		      in.eth_proto == 0x0800, "qinq");
	s.vlan[0].tpid = 0x8100;
	n = build(&s);
	CHECK(!pkt_parse(buf, n, &in) && in.vlan_tpid[0] == 0x8100,
	      "explicit tpid");
	test_end();
}

static void test_ipv4_options(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_TCP, .dport = 80, .ip_opts_len = 40,
	};
	struct pkt_info in;
	int n;

	test_begin("ipv4_options_max");
	memset(s.ip_opts, 1, sizeof(s.ip_opts));
	n = build(&s);
	CHECK(buf[14] == 0x4f, "IHL 15: 0x%02x", buf[14]);
	if (parse_ok(n, &in))
		CHECK(in.ip.ip_opts_len == 40 && in.ip.l4_off == 14 + 60 &&
		      in.ip.dport == 80, "parsed");
	s.ip_opts_len = 41;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL &&
	      strstr(pkt_build_error(), "ip_opts_len"), "41 bytes: %s",
	      pkt_build_error());
	test_end();
}

static void test_ipv4_fragments(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_UDP, .sport = 1, .dport = 53, .ip_id = 99,
		.mf = true, .payload_len = 64,
	};
	struct pkt_info in;
	int n;

	test_begin("ipv4_first_and_later_fragments");
	n = build(&s);
	if (parse_ok(n, &in))
		CHECK(in.ip.is_frag && in.ip.mf && in.ip.frag_off == 0 &&
		      in.ip.has_l4 && in.ip.dport == 53 && in.ip.frag_id == 99,
		      "first fragment");
	s.mf = false;
	s.frag_off = 72;
	n = build(&s);
	CHECK(n == 14 + 20 + 64, "no UDP header: %d", n);
	if (parse_ok(n, &in))
		CHECK(in.ip.is_frag && !in.ip.mf && in.ip.frag_off == 72 &&
		      !in.ip.has_l4 && in.ip.dport == 0 &&
		      in.ip.payload_off == 34 && in.ip.payload_len == 64,
		      "later fragment");
	s.frag_off = 7;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL, "offset 7");
	test_end();
}

static void test_ipv6_ext_headers(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("2001:db8:0:3::1"), .dst = pkt_addr("2001:db8:2::1"),
		.proto = IPPROTO_TCP, .sport = 5, .dport = 80,
		.tcp_flags = PKT_TCP_SYN, .n_ext = 4, .ext = {
			{ .type = IPPROTO_HOPOPTS },
			{ .type = IPPROTO_DSTOPTS, .len8 = 1 },
			{ .type = IPPROTO_ROUTING, .len8 = 2, .rt_type = 4 },
			{ .type = IPPROTO_FRAGMENT, .frag_more = true,
			  .frag_id = 0x12345678 },
		},
	};
	struct pkt_info in;
	int n;

	test_begin("ipv6_extension_header_chain");
	n = build(&s);
	CHECK(n == 14 + 40 + 8 + 16 + 24 + 8 + 20, "length %d", n);
	CHECK(buf[14 + 6] == IPPROTO_HOPOPTS, "first next header");
	if (parse_ok(n, &in)) {
		CHECK(in.ip.n_ext == 4 && in.ip.ext_types[0] == IPPROTO_HOPOPTS &&
		      in.ip.ext_types[1] == IPPROTO_DSTOPTS &&
		      in.ip.ext_types[2] == IPPROTO_ROUTING &&
		      in.ip.ext_types[3] == IPPROTO_FRAGMENT, "chain");
		CHECK(in.ip.proto == IPPROTO_TCP && in.ip.has_l4 &&
		      in.ip.dport == 80 && in.ip.l4_off == 14 + 40 + 56,
		      "tcp after chain");
		CHECK(in.ip.is_frag && in.ip.mf && in.ip.frag_id == 0x12345678,
		      "frag");
	}
	s.ext[3].frag_off = 1024;
	s.ext[3].frag_more = false;
	n = build(&s);
	if (parse_ok(n, &in))
		CHECK(in.ip.frag_off == 1024 && !in.ip.has_l4 && !in.ip.mf &&
		      in.ip.proto == IPPROTO_TCP, "later v6 fragment");
	test_end();
}

static void test_ttl(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_UDP,
	};
	struct pkt_info in;

	test_begin("ttl_default_zero_explicit");
	pkt_parse(buf, build(&s), &in);
	CHECK(in.ip.ttl == 64, "default %u", in.ip.ttl);
	s.ttl = PKT_TTL_ZERO;
	pkt_parse(buf, build(&s), &in);
	CHECK(in.ip.ttl == 0, "zero %u", in.ip.ttl);
	s.ttl = 1;
	pkt_parse(buf, build(&s), &in);
	CHECK(in.ip.ttl == 1, "one %u", in.ip.ttl);
	s.ttl = 256;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL, "256");
	test_end();
}

static void test_other_proto_and_padding(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_GRE, .payload_len = 4,
	};
	struct pkt_info in;
	int n;

	test_begin("unknown_proto_and_ethernet_padding");
	n = build(&s);
	memset(buf + n, 0xee, 60 - n);	/* pad to the Ethernet minimum */
	if (parse_ok(60, &in)) {
		CHECK(in.ip.proto == IPPROTO_GRE && !in.ip.has_l4 &&
		      in.ip.payload_off == 34 && in.ip.payload_len == 4 &&
		      in.ip.ip_len == 24, "gre");
		pkt_info_str(&in, line, sizeof(line));
		CHECK(!strcmp(line, "v4 203.0.113.1 > 198.19.0.1 proto 47 ttl 64 len 4"),
		      "str: %s", line);
	}
	s.proto = IPPROTO_UDP;
	n = build(&s);
	memset(buf + n, 0xee, 60 - n);
	if (parse_ok(60, &in))
		CHECK(in.ip.payload_len == 4, "udp padded");
	buf[12] = 0x08;
	buf[13] = 0x06;	/* ARP */
	CHECK(!pkt_parse(buf, 60, &in) && in.ip.family == 0 &&
	      in.eth_proto == 0x0806, "non-IP parses");
	CHECK(!pkt_verify_csums(buf, 60, why, sizeof(why)), "non-IP verifies");
	test_end();
}

/* Flips every bit of [from, to) one at a time; each must fail verification
 * (1-bit errors are always caught by ones-complement sums and CRC32c). */
static int flips_fail(int n, int from, int to)
{
	int i, bit, bad = 0;

	for (i = from; i < to; i++)
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= 1 << bit;
			if (!pkt_verify_csums(buf, n, why, sizeof(why)))
				bad++;
			buf[i] ^= 1 << bit;
		}
	return bad;
}

static void test_corruption_detected(void)
{
	struct pkt_spec inner = {
		.src = pkt_addr("10.0.0.2"), .dst = pkt_addr("198.19.0.10"),
		.proto = IPPROTO_UDP, .sport = 7, .dport = 8,
		.payload_len = 30,
	};
	struct pkt_spec specs[] = {
		{ .src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		  .proto = IPPROTO_TCP, .payload_len = 9 },
		{ .src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		  .proto = IPPROTO_UDP, .payload_len = 9, .ip_opts_len = 8 },
		{ .src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		  .proto = IPPROTO_SCTP, .payload_len = 9 },
		{ .src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		  .proto = IPPROTO_ICMP, .payload_len = 9 },
		{ .src = pkt_addr("192.0.2.1"), .dst = pkt_addr("10.0.0.2"),
		  .proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_PORT_UNREACH,
		  .icmp_inner = &inner, .icmp_inner_len = 58 },
		{ .src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		  .proto = IPPROTO_TCP, .payload_len = 9 },
		{ .src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		  .proto = IPPROTO_UDP, .payload_len = 9 },
		{ .src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		  .proto = IPPROTO_ICMPV6, .payload_len = 9 },
		{ .src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		  .proto = IPPROTO_SCTP, .sctp_chunk = PKT_SCTP_INIT },
	};
	struct pkt_info in;
	size_t k;
	int n, bad;

	test_begin("one_bit_corruption_fails_verify");
	for (k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		n = build(&specs[k]);
		if (!parse_ok(n, &in))
			continue;
		/* Ethernet is not checksummed: flips there pass */
		buf[0] ^= 1;
		CHECK(!pkt_verify_csums(buf, n, why, sizeof(why)),
		      "spec %zu: mac flip: %s", k, why);
		buf[0] ^= 1;
		if (in.ip.family == 4)	/* all of the IPv4 header */
			bad = flips_fail(n, 14, in.ip.l4_off);
		else if (in.ip.proto != IPPROTO_SCTP)	/* pseudo-header */
			bad = flips_fail(n, 14 + 8, 14 + 40);
		else	/* SCTP's CRC covers no pseudo-header */
			bad = 0;
		CHECK(!bad, "spec %zu: %d IP header flips pass", k, bad);
		bad = flips_fail(n, in.ip.l4_off, n);
		CHECK(!bad, "spec %zu: %d L4 flips pass", k, bad);
	}
	test_end();
}

static void test_verify_reasons(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("198.19.0.1"),
		.proto = IPPROTO_TCP, .payload_len = 9,
	};
	int n;

	test_begin("verify_names_the_header");
	n = build(&s);
	buf[14 + 10] ^= 0x80;
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "ipv4 header checksum"), "%s", why);
	buf[14 + 10] ^= 0x80;
	buf[n - 1] ^= 1;
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "tcp checksum"), "%s", why);
	CHECK(pkt_verify_csums(buf, n, NULL, 0), "why may be NULL");
	buf[14] = 0x44;
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "parse: ipv4: header length 16"), "%s", why);
	test_end();
}

static void test_fix_csums(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("2001:db8::1"), .dst = pkt_addr("2001:db8::2"),
		.proto = IPPROTO_SCTP, .payload_len = 20,
	};
	int n;

	test_begin("fix_csums_after_edit");
	n = build(&s);
	buf[n - 1] = 0x55;
	CHECK(pkt_verify_csums(buf, n, why, sizeof(why)) &&
	      strstr(why, "sctp crc32c"), "edited: %s", why);
	CHECK(!pkt_fix_csums(buf, n), "fix");
	CHECK(!pkt_verify_csums(buf, n, why, sizeof(why)), "fixed: %s", why);
	CHECK(pkt_fix_csums(buf, 20) == -1, "unparsable");
	test_end();
}

static void test_parse_truncations(void)
{
	struct pkt_spec inner = {
		.src = pkt_addr("10.0.0.2"), .dst = pkt_addr("198.19.0.10"),
		.proto = IPPROTO_TCP,
	};
	struct pkt_spec s = {
		.src = pkt_addr("192.0.2.1"), .dst = pkt_addr("10.0.0.2"),
		.proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_PORT_UNREACH,
		.icmp_inner = &inner, .n_vlan = 2,
	};
	struct pkt_info in;
	int n, len, fails = 0;

	test_begin("parse_rejects_every_truncation");
	n = build(&s);
	for (len = 0; len < n; len++)
		if (!pkt_parse(buf, len, &in) || !in.err[0])
			fails++;
	CHECK(!fails, "%d truncations parsed", fails);
	CHECK(!pkt_parse(buf, n, &in) && !in.err[0], "full frame");
	pkt_parse(buf, 30, &in);
	CHECK(strstr(in.err, "ipv4"), "err: %s", in.err);
	test_end();
}

static void test_addr_helpers(void)
{
	struct pkt_addr a = pkt_addr("198.19.0.10"), b;
	struct pkt_mac m = pkt_mac("02:00:0a:ff:00:01");
	char s[64];

	test_begin("addr_and_mac_helpers");
	CHECK(a.family == 4 && a.b[0] == 198 && a.b[3] == 10 && !a.b[4],
	      "v4 layout");
	b = pkt_addr4(0xc613000a);
	CHECK(pkt_addr_eq(&a, &b), "pkt_addr4");
	CHECK(!strcmp(pkt_addr_str(&a, s, sizeof(s)), "198.19.0.10"), "%s", s);
	b = pkt_addr("2001:db8:2::1");
	CHECK(b.family == 6 && b.b[15] == 1, "v6");
	CHECK(!strcmp(pkt_addr_str(&b, s, sizeof(s)), "2001:db8:2::1"), "%s",
	      s);
	CHECK(!pkt_addr_is(&b, "2001:db8:2::2") && pkt_addr_is(&b, "2001:db8:2::1"),
	      "addr_is");
	CHECK(pkt_addr("300.1.1.1").family == 0 && pkt_addr(NULL).family == 0,
	      "invalid");
	CHECK(m.b[2] == 0x0a && m.b[3] == 0xff && m.b[5] == 1, "mac");
	m = pkt_mac("02:00:0a:ff:00");
	CHECK(!m.b[0], "short mac");
	test_end();
}

static void test_build_errors(void)
{
	struct pkt_spec s = {
		.src = pkt_addr("203.0.113.1"), .dst = pkt_addr("2001:db8::1"),
		.proto = IPPROTO_TCP, .payload_len = 10,
	};
	int n, cap, bad = 0;

	test_begin("build_errors");
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL &&
	      strstr(pkt_build_error(), "family"), "mixed: %s",
	      pkt_build_error());
	s.dst = pkt_addr("bogus");
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL, "bad dst");
	s.dst = pkt_addr("198.19.0.1");
	s.n_vlan = 3;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL, "3 vlans");
	s.n_vlan = 0;
	s.icmp_inner = &s;
	s.proto = IPPROTO_ICMP;
	CHECK(pkt_build(&s, buf, sizeof(buf)) == -EINVAL &&
	      strstr(pkt_build_error(), "nest"), "nested: %s",
	      pkt_build_error());
	s.icmp_inner = NULL;
	n = pkt_build(&s, buf, sizeof(buf));
	for (cap = 0; cap < n; cap++)
		if (pkt_build(&s, buf, cap) != -ENOSPC)
			bad++;
	CHECK(!bad, "%d short caps did not fail with ENOSPC", bad);
	test_end();
}

/* Every random spec builds, parses back to itself and verifies; equal seeds
 * give equal packets; the pools are hit. */
static void test_random_specs(void)
{
	static const uint16_t ports[] = { 80, 443, 53 };
	struct pkt_addr pool[3];
	struct pkt_spec s;
	struct pkt_info in;
	uint64_t rng = 42, rng2 = 42;
	uint8_t again[PKT_BUF_LEN];
	int i, n, bad = 0, hits = 0, inner = 0, frags = 0, v6 = 0, errs = 0;

	test_begin("random_specs_roundtrip");
	pool[0] = pkt_addr("198.19.0.10");
	pool[1] = pkt_addr("2001:db8:2::10");
	pool[2] = pkt_addr("198.51.100.7");
	for (i = 0; i < 20000; i++) {
		pkt_random_spec(&s, &rng, pool, 3, ports, 3);
		n = pkt_build(&s, buf, sizeof(buf));
		if (n < 0) {
			if (errs++ < 3)
				fprintf(stderr, "  build %d: %s\n", i,
					pkt_build_error());
			continue;
		}
		if (pkt_parse(buf, n, &in) ||
		    pkt_verify_csums(buf, n, why, sizeof(why))) {
			if (bad++ < 3)
				fprintf(stderr, "  packet %d: %s / %s\n", i,
					in.err, why);
			continue;
		}
		if (!pkt_addr_eq(&in.ip.dst, &s.dst) ||
		    !pkt_addr_eq(&in.ip.src, &s.src) ||
		    (in.ip.has_l4 && in.ip.proto == IPPROTO_TCP &&
		     in.ip.dport != s.dport) || in.n_vlan != s.n_vlan)
			bad++;
		hits += pkt_addr_eq(&in.ip.dst, &pool[0]) ||
			pkt_addr_eq(&in.ip.dst, &pool[1]) ||
			pkt_addr_eq(&in.ip.dst, &pool[2]);
		inner += in.has_inner;
		frags += in.ip.is_frag;
		v6 += in.ip.family == 6;
	}
	CHECK(!errs && !bad, "%d build errors, %d bad packets", errs, bad);
	CHECK(hits > 20000 / 2, "pool hits %d", hits);
	CHECK(inner > 100 && frags > 100 && v6 > 5000, "coverage: %d inner, %d frags, %d v6",
	      inner, frags, v6);
	for (i = 0; i < 1000; i++) {	/* empty pools */
		pkt_random_spec(&s, &rng, NULL, 0, NULL, 0);
		errs += pkt_build(&s, buf, sizeof(buf)) < 0;
	}
	CHECK(!errs, "%d build errors without pools", errs);
	rng = rng2 = 7;
	pkt_random_spec(&s, &rng, pool, 3, ports, 3);
	n = pkt_build(&s, buf, sizeof(buf));
	pkt_random_spec(&s, &rng2, pool, 3, ports, 3);
	CHECK(pkt_build(&s, again, sizeof(again)) == n &&
	      !memcmp(buf, again, n), "deterministic");
	test_end();
}

/* The parser, verifier and formatter on mutated frames: no crash, no read
 * outside the buffer (run under ASan by hand), bounded time. */
static void test_fuzz(void)
{
	static const uint16_t ports[] = { 80, 53, 3868 };
	struct pkt_addr pool[2];
	struct pkt_spec s;
	struct pkt_info in;
	uint64_t rng = 1;
	uint8_t *exact;
	size_t len;
	int i, n, parsed = 0, verified = 0, fixed_bad = 0;
	clock_t start = clock();

	test_begin("fuzz_parse_verify_mutated");
	pool[0] = pkt_addr("198.19.0.10");
	pool[1] = pkt_addr("2001:db8:2::10");
	for (i = 0; i < FUZZ_ITERS; i++) {
		pkt_random_spec(&s, &rng, pool, 2, ports, 3);
		n = pkt_build(&s, buf, sizeof(buf));
		if (n < 0)
			continue;
		len = pkt_mutate(buf, n, sizeof(buf), &rng);
		/* an exact-size copy, so ASan sees any read past the end */
		exact = malloc(len);
		if (!CHECK(exact || !len, "malloc"))
			break;
		memcpy(exact, buf, len);
		parsed += !pkt_parse(exact, len, &in);
		verified += !pkt_verify_csums(exact, len, why, sizeof(why));
		pkt_info_str(&in, line, sizeof(line));
		/* whatever parses verifies once fixed */
		if (i % 4 == 0 && !pkt_fix_csums(exact, len))
			fixed_bad += !!pkt_verify_csums(exact, len, why,
							 sizeof(why));
		free(exact);
	}
	fprintf(stderr, "  %d mutated frames: %d parse, %d verify, %.1fs\n",
		FUZZ_ITERS, parsed, verified,
		(double)(clock() - start) / CLOCKS_PER_SEC);
	/* the mutator must produce both broken and acceptable frames */
	CHECK(parsed > FUZZ_ITERS / 10 && parsed < FUZZ_ITERS * 9 / 10,
	      "parsed %d", parsed);
	CHECK(verified > FUZZ_ITERS / 20 && verified < parsed,
	      "verified %d", verified);
	CHECK(!fixed_bad, "%d fixed frames fail verification", fixed_bad);
	test_end();
}

/* A DNAT-style rewrite: pkt_compare names the rewritten field, not the
 * checksum in front of it. */
static void test_compare(void)
{
	struct pkt_spec want = {
		.src = pkt_addr("203.0.113.7"), .dst = pkt_addr("10.0.0.2"),
		.proto = IPPROTO_TCP, .sport = 40000, .dport = 8080,
		.payload_len = 4,
	};
	struct pkt_spec got = want, inner = want;
	struct pkt_spec err = {
		.src = pkt_addr("192.0.2.1"), .dst = want.src,
		.proto = IPPROTO_ICMP, .icmp_kind = PKT_ICMP_PORT_UNREACH,
		.icmp_inner = &inner,
	};
	uint8_t exp[PKT_BUF_LEN];
	int n, m;

	test_begin("compare_names_first_field");
	n = pkt_build(&want, exp, sizeof(exp));
	CHECK(!pkt_compare(exp, n, exp, n, why, sizeof(why)), "identical");
	got.dst = pkt_addr("198.19.0.10");
	m = build(&got);
	CHECK(pkt_compare(buf, m, exp, n, why, sizeof(why)) &&
	      strstr(why, "byte 30 (ipv4 dst): 0xc6, expected 0x0a"), "%s",
	      why);
	got = want;
	got.dport = 80;
	m = build(&got);
	CHECK(pkt_compare(buf, m, exp, n, why, sizeof(why)) &&
	      strstr(why, "(tcp dport)"), "%s", why);
	got = want;
	got.payload_len = 5;
	m = build(&got);
	CHECK(pkt_compare(buf, m, exp, n, why, sizeof(why)) &&
	      strstr(why, "length 59, expected 58; byte 17 (ipv4 total length)"),
	      "%s", why);
	n = pkt_build(&err, exp, sizeof(exp));
	inner.sport = 1;
	m = build(&err);
	CHECK(pkt_compare(buf, m, exp, n, why, sizeof(why)) &&
	      strstr(why, "(inner tcp sport)"), "%s", why);
	memcpy(buf, exp, n);
	buf[14 + 20 + 2] ^= 1;
	CHECK(pkt_compare(buf, n, exp, n, why, sizeof(why)) &&
	      strstr(why, "(icmp checksum)"), "only a checksum: %s", why);
	test_end();
}

int main(void)
{
	test_csum_vectors();
	test_ipv4_known_header();
	test_l4_known_csums();
	test_tcp4();
	test_tcp6_opts();
	test_udp();
	test_sctp();
	test_icmp_echo_and_reply();
	test_reply_spec();
	test_icmp4_port_unreach();
	test_icmp_frag_needed_too_big();
	test_icmp6_time_exceeded();
	test_vlan();
	test_ipv4_options();
	test_ipv4_fragments();
	test_ipv6_ext_headers();
	test_ttl();
	test_other_proto_and_padding();
	test_corruption_detected();
	test_verify_reasons();
	test_fix_csums();
	test_parse_truncations();
	test_addr_helpers();
	test_build_errors();
	test_random_specs();
	test_compare();
	test_fuzz();
	return test_exit_status();
}
