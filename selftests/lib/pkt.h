/* Packet builder, parser, checksum verifier and fuzz mutator for xlb's
 * BPF_PROG_TEST_RUN tests. Pure C (no libbpf, no sockets).
 *
 * Typical use:
 *
 *	struct pkt_spec s = {
 *		.src = pkt_addr("203.0.113.7"), .dst = pkt_addr("198.19.0.10"),
 *		.proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
 *		.tcp_flags = PKT_TCP_SYN, .payload_len = 10,
 *	};
 *	uint8_t buf[PKT_BUF_LEN];
 *	int len = pkt_build(&s, buf, sizeof(buf));	// Ethernet frame
 *	... run the program, get out[]/out_len ...
 *	struct pkt_info in;
 *	CHECK(!pkt_parse(out, out_len, &in), "%s", in.err);
 *	CHECK(pkt_addr_is(&in.ip.dst, "10.0.0.2") && in.ip.dport == 8080, ...);
 *	CHECK(!pkt_verify_csums(out, out_len, why, sizeof(why)), "%s", why);
 *
 * Ports, ids and sequence numbers are host order everywhere in this API.
 * Functions never read or write outside [buf, buf + len/cap). */
#ifndef XLB_TEST_PKT_H
#define XLB_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>	/* IPPROTO_* */

#define PKT_BUF_LEN	4096	/* fits every packet pkt_random_spec() makes */
#define PKT_MAX_VLAN	2
#define PKT_MAX_EXT	4	/* IPv6 extension headers the builder emits */
#define PKT_MAX_PARSE_EXT 8	/* ... and the parser walks */
#define PKT_MAX_IPOPTS	40
#define PKT_MAX_TCPOPTS	40

/* An IP address: family 4 or 6 (0 = unset/invalid); an IPv4 address is in
 * b[0..3] (network order) and b[4..15] are zero, like union xlb_addr. */
struct pkt_addr {
	uint8_t family;
	uint8_t b[16];
};

struct pkt_mac {
	uint8_t b[6];
};

/* One 802.1Q/802.1ad tag. */
struct pkt_vlan {
	uint16_t tpid;	/* 0 = default: 0x8100, or 0x88a8 for the outer of two */
	uint16_t tci;	/* PCP << 13 | DEI << 12 | VLAN id */
};

/* TCP flags (tcp_flags), as on the wire. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20
#define PKT_TCP_ECE 0x40
#define PKT_TCP_CWR 0x80

/* SCTP chunk types (sctp_chunk). */
#define PKT_SCTP_DATA 0
#define PKT_SCTP_INIT 1

/* ICMP message kinds, the same name for both families so one test body can
 * run over IPv4 and IPv6. */
enum pkt_icmp_kind {
	PKT_ICMP_ECHO_REQUEST = 0,	/* v4 8/0, v6 128/0; icmp_id, icmp_seq */
	PKT_ICMP_ECHO_REPLY,		/* v4 0/0, v6 129/0 */
	PKT_ICMP_PORT_UNREACH,		/* v4 3/3, v6 1/4 */
	PKT_ICMP_FRAG_NEEDED,		/* v4 3/4, v6 Packet Too Big 2/0; icmp_mtu */
	PKT_ICMP_TIME_EXCEEDED,		/* v4 11/0, v6 3/0 */
	PKT_ICMP_RAW,			/* icmp_type/icmp_code as given */
};
#define PKT_ICMP_PKT_TOO_BIG PKT_ICMP_FRAG_NEEDED

/* An IPv6 extension header to emit (in spec.ext[], in order). */
struct pkt_ext {
	uint8_t type;		/* IPPROTO_HOPOPTS, IPPROTO_DSTOPTS,
				 * IPPROTO_ROUTING or IPPROTO_FRAGMENT */
	uint8_t len8;		/* Hdr Ext Len: the header is 8 * (len8 + 1)
				 * bytes; options are PadN; not for FRAGMENT */
	uint8_t rt_type;	/* ROUTING: routing type; segments left is 0,
				 * so checksums use the IPv6 destination */
	bool frag_more;		/* FRAGMENT: M flag */
	uint16_t frag_off;	/* FRAGMENT: offset in bytes, multiple of 8 */
	uint32_t frag_id;	/* FRAGMENT: identification */
};

#define PKT_TTL_ZERO (-1)	/* spec.ttl value for a literal TTL of 0 */

/* What to build. Zero means "default" where noted, so designated
 * initializers only name what a test cares about. */
struct pkt_spec {
	/* Ethernet: used as given (all-zero MACs stay zero). */
	struct pkt_mac eth_src, eth_dst;
	uint8_t n_vlan;			/* 0..PKT_MAX_VLAN tags */
	struct pkt_vlan vlan[PKT_MAX_VLAN];	/* outermost first */

	/* IP: src and dst must have the same family, which selects v4/v6. */
	struct pkt_addr src, dst;
	int ttl;		/* TTL / hop limit: 0 = 64, PKT_TTL_ZERO = 0 */
	uint8_t tos;		/* IPv4 TOS / IPv6 traffic class */
	uint32_t flow_label;	/* IPv6 only, 20 bits */
	uint16_t ip_id;		/* IPv4 only */
	bool df, mf;		/* IPv4 only */
	uint16_t frag_off;	/* IPv4 only: bytes, multiple of 8 */
	uint8_t ip_opts_len;	/* IPv4 only: 0..40, zero-padded to 4 */
	uint8_t ip_opts[PKT_MAX_IPOPTS];
	uint8_t n_ext;		/* IPv6 only: 0..PKT_MAX_EXT */
	struct pkt_ext ext[PKT_MAX_EXT];

	/* L4. proto is the IP protocol number. IPPROTO_ICMP on IPv6 means
	 * ICMPv6. Any protocol other than TCP, UDP, SCTP and ICMP(v6) gets
	 * just the payload after the IP headers. A fragment with a non-zero
	 * offset (IPv4 frag_off or an IPv6 fragment header's) carries just
	 * the payload too; a first fragment gets its L4 checksum computed as
	 * if the payload were the whole datagram. */
	uint8_t proto;
	uint16_t sport, dport;		/* TCP, UDP, SCTP */
	uint32_t tcp_seq, tcp_ack;
	uint8_t tcp_flags;		/* PKT_TCP_* */
	uint16_t tcp_win;		/* 0 = 65535 */
	uint8_t tcp_opts_len;		/* 0..40, zero-padded to 4 */
	uint8_t tcp_opts[PKT_MAX_TCPOPTS];
	bool udp_no_csum;		/* send checksum 0: "none" on IPv4,
					 * invalid on IPv6 */
	uint8_t sctp_chunk;		/* PKT_SCTP_DATA (payload = user data)
					 * or PKT_SCTP_INIT (payload must be
					 * empty) */
	uint32_t sctp_vtag;		/* verification tag, as given */
	uint32_t sctp_tsn;		/* DATA TSN / INIT initial TSN */
	uint32_t sctp_init_tag;		/* INIT initiate tag; 0 = 1 */
	enum pkt_icmp_kind icmp_kind;
	uint8_t icmp_type, icmp_code;	/* with PKT_ICMP_RAW */
	uint16_t icmp_id, icmp_seq;	/* echo request/reply */
	uint32_t icmp_mtu;		/* frag needed (16 bits) / too big */
	/* ICMP errors: the packet the error is about, built at L3 (its
	 * Ethernet fields are ignored; it may not have an inner itself;
	 * same family as the outer), and how many of its bytes to embed:
	 * 0 = default, for IPv4 its IP header + 8 bytes (RFC 792), for IPv6
	 * as much as keeps the IPv6 packet within 1280 bytes (RFC 4443);
	 * never more than it has. The ICMP body is the embedded bytes
	 * followed by the payload (normally empty for errors). */
	const struct pkt_spec *icmp_inner;
	uint16_t icmp_inner_len;

	/* Payload; payload == NULL with payload_len > 0 fills byte i with
	 * (uint8_t)i. */
	const void *payload;
	size_t payload_len;
};

/* Parsed IP + L4 headers; also used for the packet inside an ICMP error.
 * Offsets are from the start of the buffer given to pkt_parse(). */
struct pkt_ip_info {
	uint8_t family;		/* 4 or 6; 0 = not IP */
	struct pkt_addr src, dst;
	uint8_t ttl;		/* TTL / hop limit */
	uint8_t tos;		/* TOS / traffic class */
	uint32_t flow_label;	/* IPv6 */
	uint16_t ip_id;		/* IPv4 */
	uint32_t ip_len;	/* IPv4 total length; IPv6 40 + payload length */
	uint8_t ip_opts_len;	/* IPv4 header length - 20 */
	bool df, mf;		/* IPv4 flags; mf also from an IPv6 frag hdr */
	bool is_frag;		/* MF set, offset != 0, or IPv6 fragment hdr */
	uint16_t frag_off;	/* bytes */
	uint32_t frag_id;	/* IPv6 fragment header id; IPv4: ip_id */
	uint8_t n_ext;		/* IPv6 extension headers, in order */
	uint8_t ext_types[PKT_MAX_PARSE_EXT];
	uint8_t proto;		/* upper-layer protocol (after ext headers) */
	/* L4: has_l4 says the fields below were read. Outer packet: the
	 * whole L4 header was present (false for non-first fragments and
	 * unknown protocols). Inner packet: at least its first 8 L4 bytes
	 * were embedded (ports, TCP seq, SCTP vtag, ICMP type/code/id/seq);
	 * the rest is filled only when embedded too. */
	bool has_l4;
	uint16_t sport, dport;	/* TCP, UDP, SCTP */
	uint8_t tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	uint16_t tcp_win;
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id, icmp_seq;	/* echo request/reply */
	uint32_t icmp_mtu;	/* v4 frag needed / v6 packet too big */
	uint32_t sctp_vtag;
	uint8_t sctp_chunk;	/* first chunk's type */
	uint32_t l3_off, l4_off;
	uint32_t l4_len;	/* L4 bytes as checksummed (UDP: its length) */
	uint32_t payload_off, payload_len; /* TCP/UDP data, SCTP DATA user
				 * data (other chunks: all chunks), ICMP
				 * body after 8 bytes (errors: the embedded
				 * packet), else the bytes after the IP hdrs;
				 * inner: what is embedded after its L4 hdr */
};

struct pkt_info {
	struct pkt_mac eth_src, eth_dst;
	uint8_t n_vlan;
	uint16_t vlan_tpid[PKT_MAX_VLAN];	/* outermost first */
	uint16_t vlan_tci[PKT_MAX_VLAN];
	uint16_t vlan_id[PKT_MAX_VLAN];		/* tci & 0xfff */
	uint16_t eth_proto;	/* EtherType after the tags */
	struct pkt_ip_info ip;
	bool has_inner;		/* ICMP(v6) error: inner is what it embeds */
	struct pkt_ip_info inner;
	char err[128];		/* why pkt_parse() failed; "" on success */
};

/* Addresses. pkt_addr() parses IPv4 or IPv6 text; on bad text it returns
 * family 0, which pkt_build() rejects. */
struct pkt_addr pkt_addr(const char *text);
struct pkt_addr pkt_addr4(uint32_t host_order);
bool pkt_addr_eq(const struct pkt_addr *a, const struct pkt_addr *b);
/* True when a equals the address text names. */
bool pkt_addr_is(const struct pkt_addr *a, const char *text);
/* Writes the text form into buf (INET6_ADDRSTRLEN is enough); returns buf.
 * Family 0 gives "-". */
const char *pkt_addr_str(const struct pkt_addr *a, char *buf, size_t len);
/* "02:00:00:00:00:01" -> MAC; bad text gives all zeros. */
struct pkt_mac pkt_mac(const char *text);

/* Builds the Ethernet frame s describes into buf. Returns its length, or
 * -EINVAL for an inconsistent spec or -ENOSPC when cap is too small;
 * pkt_build_error() then says why. */
int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap);
/* The same without the Ethernet header: the IP packet alone. */
int pkt_build_l3(const struct pkt_spec *s, uint8_t *buf, size_t cap);
/* Why the last failed pkt_build*() call of this thread failed. */
const char *pkt_build_error(void);

/* The spec of the reply to s: MACs, addresses and ports swapped, echo
 * request turned into echo reply; everything else copied (adjust TCP flags
 * and sequence numbers yourself). */
struct pkt_spec pkt_spec_reply(const struct pkt_spec *s);

/* Parses an Ethernet frame (up to 2 VLAN tags) into out. Returns 0 when the
 * frame is well formed: every header complete and every length field
 * consistent (IPv4 total length / IPv6 payload length may be shorter than
 * the frame, e.g. Ethernet padding; UDP length may be shorter than the IP
 * payload). Returns -1 otherwise, with out->err saying where it stopped and
 * out filled as far as parsing got. A non-IP frame parses with
 * ip.family 0. An ICMP error's embedded packet is parsed into out->inner
 * (has_inner); it may be truncated, but its IP header must be complete. */
int pkt_parse(const uint8_t *buf, size_t len, struct pkt_info *out);

/* One line for test messages, e.g.
 * "v4 203.0.113.7:40000 > 198.19.0.10:80 tcp [S] ttl 64 len 10". */
const char *pkt_info_str(const struct pkt_info *info, char *buf, size_t len);

/* Recomputes every checksum from scratch: IPv4 header, TCP and UDP with the
 * pseudo-header (IPv4 UDP checksum 0 means none; IPv6 UDP 0 is invalid),
 * ICMP, ICMPv6 with the pseudo-header, SCTP CRC32c, and the IPv4 header
 * checksum embedded in an ICMP error (when its header is complete). L4
 * checksums of fragments are not checked (they cover the whole datagram).
 * Returns 0 when all are valid; -1 when one is wrong or the frame does not
 * parse, with why naming the header, e.g. "tcp checksum 0x1234, expected
 * 0x1235". why may be NULL. */
int pkt_verify_csums(const uint8_t *buf, size_t len, char *why, size_t whylen);
/* Rewrites every checksum pkt_verify_csums() checks so that it passes
 * (an IPv4 UDP checksum of 0 is left alone). Use after editing a field to
 * get a packet that is odd but correctly checksummed. Returns 0, or -1 when
 * the frame does not parse (then nothing is written). */
int pkt_fix_csums(uint8_t *buf, size_t len);

/* Compares a frame a program produced with the expected one (e.g. built
 * from the spec of the translated packet). Returns 0 when byte-identical;
 * else -1 with why naming the first differing header field of the
 * expected frame, checksum fields only when nothing else differs, e.g. "byte 30 (ipv4 dst): 0x0a, expected 0xc6",
 * "byte 36 (tcp dport): ...", "byte 62 (inner udp sport): ...", or
 * "length 74, expected 78". why may be NULL. */
int pkt_compare(const uint8_t *got, size_t got_len, const uint8_t *want,
		size_t want_len, char *why, size_t whylen);

/* Deterministic pseudo-random numbers (splitmix64); *rng is the state:
 * seed it with any value. */
uint64_t pkt_rand(uint64_t *rng);

/* Applies 1-4 random mutations to the frame in buf (len bytes, cap bytes
 * of room): bit flips, interesting byte/word values at header offsets (IP
 * version/IHL, lengths, flags, protocol, ports, TCP data offset, ICMP
 * type, the embedded packet's header...), truncation, extension with
 * random bytes, insertion/removal of bytes mid-frame, swaps of header
 * fields. One time in three the checksums are then fixed (when the result
 * still parses), so the mutation reaches past checksum checks. Returns the
 * new length (<= cap). */
size_t pkt_mutate(uint8_t *buf, size_t len, size_t cap, uint64_t *rng);

/* Fills s with a random valid spec over every feature: both families,
 * TCP/UDP/SCTP/ICMP/other protocols, VLAN tags, IPv4 options and
 * fragments, IPv6 extension headers and fragments, ICMP errors with a
 * random embedded packet. Destinations come from addr_pool three times in
 * four and destination ports from port_pool three times in four (either
 * pool may be empty; n_addr/n_ports 0), so many packets hit configured
 * services. An ICMP error's icmp_inner points at storage of this thread
 * that the next call overwrites. The result builds into PKT_BUF_LEN. */
void pkt_random_spec(struct pkt_spec *s, uint64_t *rng,
		     const struct pkt_addr *addr_pool, int n_addr,
		     const uint16_t *port_pool, int n_ports);

#endif
