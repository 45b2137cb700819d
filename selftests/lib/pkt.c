/* Packet builder, parser, checksum verifier and fuzz mutator; see pkt.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "csum.h"
#include "pkt.h"

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define IPV6_MIN_MTU 1280

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static size_t round4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* ---- addresses --------------------------------------------------------- */

struct pkt_addr pkt_addr(const char *text)
{
	struct pkt_addr a = { 0 };

	if (!text)
		return a;
	if (inet_pton(AF_INET, text, a.b) == 1)
		a.family = 4;
	else if (inet_pton(AF_INET6, text, a.b) == 1)
		a.family = 6;
	else
		memset(a.b, 0, sizeof(a.b));
	return a;
}

struct pkt_addr pkt_addr4(uint32_t host_order)
{
	struct pkt_addr a = { .family = 4 };

	put32(a.b, host_order);
	return a;
}

bool pkt_addr_eq(const struct pkt_addr *a, const struct pkt_addr *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, sizeof(a->b));
}

bool pkt_addr_is(const struct pkt_addr *a, const char *text)
{
	struct pkt_addr b = pkt_addr(text);

	return b.family && pkt_addr_eq(a, &b);
}

const char *pkt_addr_str(const struct pkt_addr *a, char *buf, size_t len)
{
	int af = a->family == 4 ? AF_INET : AF_INET6;

	if ((a->family != 4 && a->family != 6) ||
	    !inet_ntop(af, a->b, buf, (socklen_t)len))
		snprintf(buf, len, "-");
	return buf;
}

struct pkt_mac pkt_mac(const char *text)
{
	struct pkt_mac m = { 0 };
	unsigned int v[6];
	char tail;
	int i;

	if (!text || sscanf(text, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2],
			    &v[3], &v[4], &v[5], &tail) != 6)
		return m;
	for (i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return (struct pkt_mac){ 0 };
		m.b[i] = v[i];
	}
	return m;
}

/* ---- ICMP type tables -------------------------------------------------- */

struct icmp_tc {
	uint8_t t4, c4, t6, c6;
};

static const struct icmp_tc icmp_kinds[] = {
	[PKT_ICMP_ECHO_REQUEST] = { 8, 0, 128, 0 },
	[PKT_ICMP_ECHO_REPLY] = { 0, 0, 129, 0 },
	[PKT_ICMP_PORT_UNREACH] = { 3, 3, 1, 4 },
	[PKT_ICMP_FRAG_NEEDED] = { 3, 4, 2, 0 },
	[PKT_ICMP_TIME_EXCEEDED] = { 11, 0, 3, 0 },
};

static bool icmp_is_error(int family, uint8_t type)
{
	if (family == 6)
		return type < 128;
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool icmp_is_echo(int family, uint8_t type)
{
	if (family == 6)
		return type == 128 || type == 129;
	return type == 0 || type == 8;
}

static bool icmp_is_too_big(int family, uint8_t type, uint8_t code)
{
	return family == 6 ? type == 2 : type == 3 && code == 4;
}

static uint8_t icmp_proto(int family)
{
	return family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
}

static bool is_ext_hdr(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	       nh == IPPROTO_FRAGMENT || nh == IPPROTO_DSTOPTS;
}

static uint64_t pseudo_sum(const struct pkt_addr *src,
			   const struct pkt_addr *dst, uint8_t proto,
			   uint32_t len)
{
	if (src->family == 4)
		return csum_pseudo4(src->b, dst->b, proto, len);
	return csum_pseudo6(src->b, dst->b, proto, len);
}

/* The checksum of region [0, len) with the 16-bit field at off (even)
 * counted as zero, starting from sum. */
static uint16_t csum_skip(const uint8_t *p, size_t len, size_t off,
			  uint64_t sum)
{
	sum = csum_partial(p, off, sum);
	sum = csum_partial(p + off + 2, len - off - 2, sum);
	return csum_fold(sum);
}

/* SCTP CRC32c over [0, len) with the checksum field (bytes 8..11) as zero. */
static uint32_t sctp_crc(const uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t crc;

	crc = crc32c(0, p, 8);
	crc = crc32c(crc, zero, 4);
	return crc32c(crc, p + 12, len - 12);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ---- builder ----------------------------------------------------------- */

static __thread char build_err[160];

static int build_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(build_err, sizeof(build_err), fmt, ap);
	va_end(ap);
	return err;
}

const char *pkt_build_error(void)
{
	return build_err;
}

static int spec_ttl(const struct pkt_spec *s)
{
	if (s->ttl == 0)
		return 64;
	if (s->ttl == PKT_TTL_ZERO)
		return 0;
	if (s->ttl < 0 || s->ttl > 255)
		return build_fail(-EINVAL, "ttl %d out of range", s->ttl);
	return s->ttl;
}

static uint8_t spec_proto(const struct pkt_spec *s)
{
	if (s->proto == IPPROTO_ICMP && s->src.family == 6)
		return IPPROTO_ICMPV6;
	return s->proto;
}

/* True when the packet carries no L4 header: a non-first fragment. */
static bool spec_later_frag(const struct pkt_spec *s)
{
	int i;

	if (s->src.family == 4)
		return s->frag_off != 0;
	for (i = 0; i < s->n_ext && i < PKT_MAX_EXT; i++)
		if (s->ext[i].type == IPPROTO_FRAGMENT && s->ext[i].frag_off)
			return true;
	return false;
}

static int ext_len(const struct pkt_ext *e)
{
	if (e->type == IPPROTO_FRAGMENT)
		return e->frag_off % 8 ? build_fail(-EINVAL,
			"fragment header offset %u not a multiple of 8",
			e->frag_off) : 8;
	if (e->type == IPPROTO_HOPOPTS || e->type == IPPROTO_DSTOPTS ||
	    e->type == IPPROTO_ROUTING)
		return 8 * (e->len8 + 1);
	return build_fail(-EINVAL, "extension header type %u unsupported",
			  e->type);
}

/* Length of the IP header plus IPv4 options or IPv6 extension headers. */
static int ip_hdr_len(const struct pkt_spec *s)
{
	int i, n, len = 40;

	if (s->src.family == 4) {
		if (s->ip_opts_len > PKT_MAX_IPOPTS)
			return build_fail(-EINVAL, "ip_opts_len %u > %d",
					  s->ip_opts_len, PKT_MAX_IPOPTS);
		if (s->frag_off % 8)
			return build_fail(-EINVAL,
				"frag_off %u not a multiple of 8", s->frag_off);
		return 20 + (int)round4(s->ip_opts_len);
	}
	if (s->n_ext > PKT_MAX_EXT)
		return build_fail(-EINVAL, "n_ext %u > %d", s->n_ext,
				  PKT_MAX_EXT);
	for (i = 0; i < s->n_ext; i++) {
		n = ext_len(&s->ext[i]);
		if (n < 0)
			return n;
		len += n;
	}
	return len;
}

static void put_payload(const struct pkt_spec *s, uint8_t *p)
{
	size_t i;

	if (s->payload) {
		memcpy(p, s->payload, s->payload_len);
		return;
	}
	for (i = 0; i < s->payload_len; i++)
		p[i] = (uint8_t)i;
}

static int build_ip(const struct pkt_spec *s, uint8_t *buf, size_t cap,
		    bool inner);

/* Embeds the inner packet of an ICMP error at p; returns bytes used. */
static int put_icmp_inner(const struct pkt_spec *s, uint8_t *p, size_t cap,
			  int outer_hlen)
{
	const struct pkt_spec *in = s->icmp_inner;
	size_t want;
	int n;

	if (!in)
		return 0;
	if (in->src.family != s->src.family)
		return build_fail(-EINVAL, "icmp_inner is IPv%d inside IPv%d",
				  in->src.family, s->src.family);
	n = build_ip(in, p, cap, true);
	if (n < 0)
		return n;
	want = s->icmp_inner_len;
	if (!want && s->src.family == 4)
		want = (p[0] & 0xf) * 4 + 8;
	else if (!want && outer_hlen + 8 < IPV6_MIN_MTU)
		want = IPV6_MIN_MTU - outer_hlen - 8;
	return want < (size_t)n ? (int)want : n;
}

/* Writes the ICMP(v6) message at p (checksum left zero); returns length. */
static int put_icmp(const struct pkt_spec *s, uint8_t *p, size_t cap,
		    int outer_hlen)
{
	int fam = s->src.family, n;
	uint8_t type, code;
	uint32_t rest = 0;

	if (s->icmp_kind == PKT_ICMP_RAW) {
		type = s->icmp_type;
		code = s->icmp_code;
	} else if ((unsigned int)s->icmp_kind < PKT_ICMP_RAW) {
		type = fam == 4 ? icmp_kinds[s->icmp_kind].t4 :
				  icmp_kinds[s->icmp_kind].t6;
		code = fam == 4 ? icmp_kinds[s->icmp_kind].c4 :
				  icmp_kinds[s->icmp_kind].c6;
	} else {
		return build_fail(-EINVAL, "icmp_kind %d unknown",
				  s->icmp_kind);
	}
	if (icmp_is_echo(fam, type))
		rest = (uint32_t)s->icmp_id << 16 | s->icmp_seq;
	else if (icmp_is_too_big(fam, type, code))
		rest = fam == 4 ? (s->icmp_mtu & 0xffff) : s->icmp_mtu;
	if (cap < 8)
		return build_fail(-ENOSPC, "no room for the ICMP header");
	p[0] = type;
	p[1] = code;
	put16(p + 2, 0);
	put32(p + 4, rest);
	n = put_icmp_inner(s, p + 8, cap - 8, outer_hlen);
	if (n < 0)
		return n;
	if (cap - 8 - n < s->payload_len)
		return build_fail(-ENOSPC, "no room for the ICMP payload");
	put_payload(s, p + 8 + n);
	return 8 + n + (int)s->payload_len;
}

/* Writes the SCTP packet at p (CRC left zero); returns its length. */
static int put_sctp(const struct pkt_spec *s, uint8_t *p, size_t cap)
{
	size_t len;

	if (s->sctp_chunk == PKT_SCTP_INIT && s->payload_len)
		return build_fail(-EINVAL, "SCTP INIT carries no payload");
	if (s->sctp_chunk != PKT_SCTP_INIT && s->sctp_chunk != PKT_SCTP_DATA)
		return build_fail(-EINVAL, "sctp_chunk %u unsupported",
				  s->sctp_chunk);
	len = s->sctp_chunk == PKT_SCTP_INIT ? 12 + 20 :
		12 + round4(16 + s->payload_len);
	if (len > cap)
		return build_fail(-ENOSPC, "no room for the SCTP packet");
	memset(p, 0, len);
	put16(p, s->sport);
	put16(p + 2, s->dport);
	put32(p + 4, s->sctp_vtag);
	p[12] = s->sctp_chunk;
	if (s->sctp_chunk == PKT_SCTP_INIT) {
		put16(p + 14, 20);
		put32(p + 16, s->sctp_init_tag ? s->sctp_init_tag : 1);
		put32(p + 20, 65535);	/* a_rwnd */
		put16(p + 24, 10);	/* outbound streams */
		put16(p + 26, 10);	/* inbound streams */
		put32(p + 28, s->sctp_tsn);
		return (int)len;
	}
	p[13] = 0x03;	/* B and E: an unfragmented user message */
	put16(p + 14, (uint16_t)(16 + s->payload_len));
	put32(p + 16, s->sctp_tsn);
	put_payload(s, p + 28);
	return (int)len;
}

/* Writes the L4 header and payload at p (checksums zero); returns length. */
static int put_l4(const struct pkt_spec *s, uint8_t proto, uint8_t *p,
		  size_t cap, int hlen)
{
	size_t hdr;

	if (proto == IPPROTO_SCTP && !spec_later_frag(s))
		return put_sctp(s, p, cap);
	if (proto == icmp_proto(s->src.family) && !spec_later_frag(s))
		return put_icmp(s, p, cap, hlen);
	if (spec_later_frag(s))
		hdr = 0;
	else if (proto == IPPROTO_TCP)
		hdr = 20 + round4(s->tcp_opts_len);
	else if (proto == IPPROTO_UDP)
		hdr = 8;
	else
		hdr = 0;
	if (s->tcp_opts_len > PKT_MAX_TCPOPTS)
		return build_fail(-EINVAL, "tcp_opts_len %u > %d",
				  s->tcp_opts_len, PKT_MAX_TCPOPTS);
	if (hdr > cap || cap - hdr < s->payload_len)
		return build_fail(-ENOSPC, "no room for %zu payload bytes",
				  s->payload_len);
	memset(p, 0, hdr);
	if (hdr && proto == IPPROTO_TCP) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put32(p + 4, s->tcp_seq);
		put32(p + 8, s->tcp_ack);
		p[12] = (uint8_t)(hdr / 4) << 4;
		p[13] = s->tcp_flags;
		put16(p + 14, s->tcp_win ? s->tcp_win : 65535);
		memcpy(p + 20, s->tcp_opts, s->tcp_opts_len);
	} else if (hdr) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, (uint16_t)(8 + s->payload_len));
	}
	put_payload(s, p + hdr);
	return (int)(hdr + s->payload_len);
}

/* Fills in the L4 checksum of the packet at l4 (l4len bytes). */
static void set_l4_csum(const struct pkt_spec *s, uint8_t proto, uint8_t *l4,
			size_t l4len)
{
	uint64_t ph = pseudo_sum(&s->src, &s->dst, proto, (uint32_t)l4len);
	uint16_t c;

	switch (proto) {
	case IPPROTO_TCP:
		put16(l4 + 16, csum_skip(l4, l4len, 16, ph));
		break;
	case IPPROTO_UDP:
		c = csum_skip(l4, l4len, 6, ph);
		put16(l4 + 6, s->udp_no_csum ? 0 : c ? c : 0xffff);
		break;
	case IPPROTO_ICMP:
		put16(l4 + 2, csum_skip(l4, l4len, 2, 0));
		break;
	case IPPROTO_ICMPV6:
		put16(l4 + 2, csum_skip(l4, l4len, 2, ph));
		break;
	case IPPROTO_SCTP:
		put_le32(l4 + 8, sctp_crc(l4, l4len));
		break;
	}
}

static void put_ipv4(const struct pkt_spec *s, uint8_t *p, int hlen,
		     size_t tot, uint8_t proto, int ttl)
{
	uint16_t frag = (uint16_t)(s->frag_off / 8);

	if (s->df)
		frag |= 0x4000;
	if (s->mf)
		frag |= 0x2000;
	memset(p, 0, hlen);
	p[0] = 0x40 | hlen / 4;
	p[1] = s->tos;
	put16(p + 2, (uint16_t)tot);
	put16(p + 4, s->ip_id);
	put16(p + 6, frag);
	p[8] = ttl;
	p[9] = proto;
	memcpy(p + 12, s->src.b, 4);
	memcpy(p + 16, s->dst.b, 4);
	memcpy(p + 20, s->ip_opts, s->ip_opts_len);
	put16(p + 10, csum_skip(p, hlen, 10, 0));
}

static void put_ext(const struct pkt_ext *e, uint8_t *p, uint8_t next)
{
	int len = e->type == IPPROTO_FRAGMENT ? 8 : 8 * (e->len8 + 1);

	memset(p, 0, len);
	p[0] = next;
	if (e->type == IPPROTO_FRAGMENT) {
		put16(p + 2, e->frag_off | (e->frag_more ? 1 : 0));
		put32(p + 4, e->frag_id);
		return;
	}
	p[1] = e->len8;
	if (e->type == IPPROTO_ROUTING) {
		p[2] = e->rt_type;
		return;
	}
	p[2] = 1;	/* PadN covering the whole option area */
	p[3] = (uint8_t)(len - 4);
}

static void put_ipv6(const struct pkt_spec *s, uint8_t *p, size_t plen,
		     uint8_t proto, int ttl)
{
	uint8_t *e = p + 40;
	int i;

	p[0] = 0x60 | s->tos >> 4;
	p[1] = (uint8_t)(s->tos << 4) | ((s->flow_label >> 16) & 0xf);
	put16(p + 2, (uint16_t)s->flow_label);
	put16(p + 4, (uint16_t)plen);
	p[6] = s->n_ext ? s->ext[0].type : proto;
	p[7] = ttl;
	memcpy(p + 8, s->src.b, 16);
	memcpy(p + 24, s->dst.b, 16);
	for (i = 0; i < s->n_ext; i++) {
		put_ext(&s->ext[i], e,
			i + 1 < s->n_ext ? s->ext[i + 1].type : proto);
		e += s->ext[i].type == IPPROTO_FRAGMENT ? 8 :
			8 * (s->ext[i].len8 + 1);
	}
}

static int build_ip(const struct pkt_spec *s, uint8_t *buf, size_t cap,
		    bool inner)
{
	int fam = s->src.family, hlen, l4len, ttl;
	uint8_t proto = spec_proto(s);
	size_t tot;

	if (fam != 4 && fam != 6)
		return build_fail(-EINVAL, "%ssrc address unset or invalid",
				  inner ? "icmp_inner: " : "");
	if (s->dst.family != fam)
		return build_fail(-EINVAL, "src is IPv%d but dst family is %d",
				  fam, s->dst.family);
	if (inner && s->icmp_inner)
		return build_fail(-EINVAL, "icmp_inner may not nest");
	if (s->payload_len > 0xffff)
		return build_fail(-EINVAL, "payload_len %zu > 65535",
				  s->payload_len);
	ttl = spec_ttl(s);
	if (ttl < 0)
		return ttl;
	hlen = ip_hdr_len(s);
	if (hlen < 0)
		return hlen;
	if ((size_t)hlen > cap)
		return build_fail(-ENOSPC, "no room for the IP header");
	l4len = put_l4(s, proto, buf + hlen, cap - hlen, hlen);
	if (l4len < 0)
		return l4len;
	tot = (size_t)hlen + l4len;
	if (tot > 0xffff + (fam == 6 ? 40 : 0))
		return build_fail(-EINVAL, "IP packet of %zu bytes too long",
				  tot);
	if (fam == 4)
		put_ipv4(s, buf, hlen, tot, proto, ttl);
	else
		put_ipv6(s, buf, tot - 40, proto, ttl);
	if (!spec_later_frag(s))
		set_l4_csum(s, proto, buf + hlen, l4len);
	return (int)tot;
}

int pkt_build_l3(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	build_err[0] = 0;
	return build_ip(s, buf, cap, false);
}

int pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t hlen = ETH_HLEN + 4 * (size_t)s->n_vlan;
	uint8_t *p = buf + 12;
	uint16_t tpid;
	int i, n;

	build_err[0] = 0;
	if (s->n_vlan > PKT_MAX_VLAN)
		return build_fail(-EINVAL, "n_vlan %u > %d", s->n_vlan,
				  PKT_MAX_VLAN);
	if (cap < hlen)
		return build_fail(-ENOSPC, "no room for the Ethernet header");
	memcpy(buf, s->eth_dst.b, 6);
	memcpy(buf + 6, s->eth_src.b, 6);
	for (i = 0; i < s->n_vlan; i++, p += 4) {
		tpid = s->vlan[i].tpid;
		if (!tpid)
			tpid = s->n_vlan == 2 && i == 0 ? ETH_P_8021AD :
							  ETH_P_8021Q;
		put16(p, tpid);
		put16(p + 2, s->vlan[i].tci);
	}
	put16(p, s->src.family == 6 ? ETH_P_IPV6 : ETH_P_IPV4);
	n = build_ip(s, buf + hlen, cap - hlen, false);
	return n < 0 ? n : (int)hlen + n;
}

struct pkt_spec pkt_spec_reply(const struct pkt_spec *s)
{
	struct pkt_spec r = *s;

	r.eth_src = s->eth_dst;
	r.eth_dst = s->eth_src;
	r.src = s->dst;
	r.dst = s->src;
	r.sport = s->dport;
	r.dport = s->sport;
	if ((s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6) &&
	    s->icmp_kind == PKT_ICMP_ECHO_REQUEST)
		r.icmp_kind = PKT_ICMP_ECHO_REPLY;
	return r;
}

/* ---- parser ------------------------------------------------------------ */

static int parse_fail(struct pkt_info *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->err, sizeof(out->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads the L4 fields from the first avail bytes at p; fields beyond avail
 * read as zero (an ICMP error may embed only 8 bytes). */
static void read_l4_fields(const uint8_t *p, size_t avail,
			   struct pkt_ip_info *ip)
{
	uint8_t h[20] = { 0 };

	memcpy(h, p, avail < sizeof(h) ? avail : sizeof(h));
	switch (ip->proto) {
	case IPPROTO_TCP:
		ip->tcp_seq = get32(h + 4);
		ip->tcp_ack = get32(h + 8);
		ip->tcp_flags = h[13];
		ip->tcp_win = get16(h + 14);
		/* fall through */
	case IPPROTO_UDP:
		ip->sport = get16(h);
		ip->dport = get16(h + 2);
		break;
	case IPPROTO_SCTP:
		ip->sport = get16(h);
		ip->dport = get16(h + 2);
		ip->sctp_vtag = get32(h + 4);
		ip->sctp_chunk = h[12];
		break;
	default:	/* ICMP(v6); the caller checked the family */
		ip->icmp_type = h[0];
		ip->icmp_code = h[1];
		if (icmp_is_echo(ip->family, h[0])) {
			ip->icmp_id = get16(h + 4);
			ip->icmp_seq = get16(h + 6);
		} else if (icmp_is_too_big(ip->family, h[0], h[1])) {
			ip->icmp_mtu = ip->family == 4 ? get16(h + 6) :
							 get32(h + 4);
		}
		break;
	}
}

static bool known_l4(const struct pkt_ip_info *ip)
{
	return ip->proto == IPPROTO_TCP || ip->proto == IPPROTO_UDP ||
	       ip->proto == IPPROTO_SCTP || ip->proto == icmp_proto(ip->family);
}

/* Parses the IPv4 header at off; shrinks *end to the total length and
 * stores the L4 offset in *l4. */
static int parse_ipv4(const uint8_t *b, size_t off, size_t *end, size_t *l4,
		      struct pkt_ip_info *ip, const char *who,
		      struct pkt_info *out)
{
	const uint8_t *h = b + off;
	size_t avail = *end - off, hlen, tot;
	uint16_t frag;

	if (avail < 20)
		return parse_fail(out, "%sipv4: %zu bytes, header needs 20",
				  who, avail);
	hlen = (h[0] & 0xf) * 4u;
	tot = get16(h + 2);
	if (hlen < 20)
		return parse_fail(out, "%sipv4: header length %zu < 20", who,
				  hlen);
	if (hlen > avail)
		return parse_fail(out, "%sipv4: header length %zu > %zu bytes",
				  who, hlen, avail);
	if (tot < hlen)
		return parse_fail(out, "%sipv4: total length %zu < header length %zu",
				  who, tot, hlen);
	/* An embedded packet is cut short by design; an outer one not. */
	if (tot > avail && !*who)
		return parse_fail(out, "ipv4: total length %zu > %zu bytes",
				  tot, avail);
	if (tot < avail)
		*end = off + tot;
	frag = get16(h + 6);
	ip->tos = h[1];
	ip->ip_len = (uint32_t)tot;
	ip->ip_id = get16(h + 4);
	ip->frag_id = ip->ip_id;
	ip->df = frag & 0x4000;
	ip->mf = frag & 0x2000;
	ip->frag_off = (uint16_t)((frag & 0x1fff) * 8);
	ip->is_frag = ip->mf || ip->frag_off;
	ip->ttl = h[8];
	ip->proto = h[9];
	ip->ip_opts_len = (uint8_t)(hlen - 20);
	ip->src = pkt_addr4(get32(h + 12));
	ip->dst = pkt_addr4(get32(h + 16));
	*l4 = off + hlen;
	return 0;
}

/* Walks the IPv6 extension headers from *pos, leaving the upper-layer
 * protocol in ip->proto and its offset in *pos. */
static int parse_ipv6_ext(const uint8_t *b, size_t *pos, size_t end,
			  uint8_t nh, struct pkt_ip_info *ip, const char *who,
			  struct pkt_info *out)
{
	size_t hl;
	uint16_t frag;

	while (is_ext_hdr(nh)) {
		if (ip->n_ext == PKT_MAX_PARSE_EXT)
			return parse_fail(out, "%sipv6: more than %d extension headers",
					  who, PKT_MAX_PARSE_EXT);
		if (end - *pos < 8)
			return parse_fail(out, "%sipv6: extension header %u truncated",
					  who, nh);
		hl = nh == IPPROTO_FRAGMENT ? 8 : (b[*pos + 1] + 1) * 8u;
		if (hl > end - *pos)
			return parse_fail(out, "%sipv6: extension header %u of %zu bytes, %zu left",
					  who, nh, hl, end - *pos);
		if (nh == IPPROTO_FRAGMENT) {
			frag = get16(b + *pos + 2);
			ip->is_frag = true;
			ip->frag_off = frag & 0xfff8;
			ip->mf = frag & 1;
			ip->frag_id = get32(b + *pos + 4);
		}
		ip->ext_types[ip->n_ext++] = nh;
		nh = b[*pos];
		*pos += hl;
	}
	ip->proto = nh;
	return 0;
}

static int parse_ipv6(const uint8_t *b, size_t off, size_t *end, size_t *l4,
		      struct pkt_ip_info *ip, const char *who,
		      struct pkt_info *out)
{
	const uint8_t *h = b + off;
	size_t avail = *end - off, plen;
	uint32_t w0;

	if (avail < 40)
		return parse_fail(out, "%sipv6: %zu bytes, header needs 40",
				  who, avail);
	plen = get16(h + 4);
	if (plen > avail - 40 && !*who)
		return parse_fail(out, "ipv6: payload length %zu > %zu bytes",
				  plen, avail - 40);
	if (plen < avail - 40)
		*end = off + 40 + plen;
	w0 = get32(h);
	ip->tos = (uint8_t)(w0 >> 20);
	ip->flow_label = w0 & 0xfffff;
	ip->ip_len = (uint32_t)(40 + plen);
	ip->ttl = h[7];
	memcpy(ip->src.b, h + 8, 16);
	memcpy(ip->dst.b, h + 24, 16);
	ip->src.family = ip->dst.family = 6;
	*l4 = off + 40;
	return parse_ipv6_ext(b, l4, *end, h[6], ip, who, out);
}

/* Parses the outer L4 header strictly; an ICMP error's embedded packet
 * goes to out->inner. */
static int parse_l4(const uint8_t *b, size_t off, size_t end,
		    struct pkt_info *out);

/* The L4 header length of an embedded packet, as far as it was embedded. */
static size_t inner_l4_hdr_len(const uint8_t *p, size_t avail, uint8_t proto)
{
	size_t len = 8;

	if (proto == IPPROTO_TCP)
		len = avail > 12 && p[12] >> 4 > 5 ? (p[12] >> 4) * 4u : 20;
	else if (proto == IPPROTO_SCTP)
		len = 12;
	return len < avail ? len : avail;
}

/* Parses the IP packet of the given family at [off, end). */
static int parse_ip(const uint8_t *b, size_t off, size_t end, int family,
		    struct pkt_ip_info *ip, struct pkt_info *out)
{
	const char *who = ip == &out->inner ? "inner " : "";
	size_t l4 = 0, avail, hdr;
	int version = b[off] >> 4, ret;

	ip->l3_off = (uint32_t)off;
	if (version != family)
		return parse_fail(out, "%sip: version %d where IPv%d expected",
				  who, version, family);
	ip->family = family;
	ret = family == 4 ? parse_ipv4(b, off, &end, &l4, ip, who, out) :
			    parse_ipv6(b, off, &end, &l4, ip, who, out);
	if (ret)
		return ret;
	if (!*who)
		return parse_l4(b, l4, end, out);
	avail = end - l4;
	ip->l4_off = ip->payload_off = (uint32_t)l4;
	ip->l4_len = ip->payload_len = (uint32_t)avail;
	if (ip->frag_off || !known_l4(ip) || avail < 8)
		return 0;
	read_l4_fields(b + l4, avail, ip);
	ip->has_l4 = true;
	hdr = inner_l4_hdr_len(b + l4, avail, ip->proto);
	ip->payload_off = (uint32_t)(l4 + hdr);
	ip->payload_len = (uint32_t)(avail - hdr);
	return 0;
}

/* Checks the fixed part of the L4 header at off; returns its length
 * (what precedes the payload) or -1. */
static int l4_hdr_len(const uint8_t *b, size_t off, size_t avail,
		      struct pkt_ip_info *ip, struct pkt_info *out)
{
	size_t len, clen;

	switch (ip->proto) {
	case IPPROTO_TCP:
		if (avail < 20)
			return parse_fail(out, "tcp: %zu bytes, header needs 20",
					  avail);
		len = (b[off + 12] >> 4) * 4u;
		if (len < 20 || len > avail)
			return parse_fail(out, "tcp: data offset %zu, %zu bytes",
					  len, avail);
		return (int)len;
	case IPPROTO_UDP:
		if (avail < 8)
			return parse_fail(out, "udp: %zu bytes, header needs 8",
					  avail);
		len = get16(b + off + 4);
		if (len < 8 || len > avail)
			return parse_fail(out, "udp: length %zu, %zu bytes",
					  len, avail);
		ip->l4_len = (uint32_t)len;
		return 8;
	case IPPROTO_SCTP:
		if (avail < 16)
			return parse_fail(out, "sctp: %zu bytes, common header and a chunk need 16",
					  avail);
		clen = get16(b + off + 14);
		if (clen < 4 || clen > avail - 12 ||
		    (b[off + 12] == PKT_SCTP_DATA && clen < 16))
			return parse_fail(out, "sctp: chunk type %u length %zu, %zu bytes",
					  b[off + 12], clen, avail - 12);
		if (b[off + 12] != PKT_SCTP_DATA)
			return 12;
		ip->l4_len = (uint32_t)(28 + clen - 16);
		return 28;
	default:
		if (avail < 8)
			return parse_fail(out, "icmp: %zu bytes, header needs 8",
					  avail);
		return 8;
	}
}

static int parse_l4(const uint8_t *b, size_t off, size_t end,
		    struct pkt_info *out)
{
	struct pkt_ip_info *ip = &out->ip;
	size_t avail = end - off;
	int hlen, inner_family;

	ip->l4_off = ip->payload_off = (uint32_t)off;
	ip->l4_len = ip->payload_len = (uint32_t)avail;
	if (ip->frag_off || !known_l4(ip))
		return 0;
	hlen = l4_hdr_len(b, off, avail, ip, out);
	if (hlen < 0)
		return -1;
	read_l4_fields(b + off, avail, ip);
	ip->has_l4 = true;
	ip->payload_off = (uint32_t)(off + hlen);
	ip->payload_len = ip->l4_len - hlen;
	/* SCTP DATA: l4_len stopped at the user data; checksums cover all. */
	if (ip->proto == IPPROTO_SCTP)
		ip->l4_len = (uint32_t)avail;
	if (ip->proto != icmp_proto(ip->family) ||
	    !icmp_is_error(ip->family, ip->icmp_type))
		return 0;
	inner_family = ip->family;
	if (avail == 8)
		return parse_fail(out, "icmp: error without embedded packet");
	out->has_inner = true;
	return parse_ip(b, off + 8, end, inner_family, &out->inner, out);
}

int pkt_parse(const uint8_t *buf, size_t len, struct pkt_info *out)
{
	size_t off = 12;
	uint16_t type;

	memset(out, 0, sizeof(*out));
	if (len < ETH_HLEN)
		return parse_fail(out, "ethernet: %zu bytes, header needs 14",
				  len);
	memcpy(out->eth_dst.b, buf, 6);
	memcpy(out->eth_src.b, buf + 6, 6);
	type = get16(buf + off);
	while (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		if (out->n_vlan == PKT_MAX_VLAN)
			return parse_fail(out, "vlan: more than %d tags",
					  PKT_MAX_VLAN);
		if (len - off < 6)
			return parse_fail(out, "vlan: tag truncated");
		out->vlan_tpid[out->n_vlan] = type;
		out->vlan_tci[out->n_vlan] = get16(buf + off + 2);
		out->vlan_id[out->n_vlan] = get16(buf + off + 2) & 0xfff;
		out->n_vlan++;
		off += 4;
		type = get16(buf + off);
	}
	out->eth_proto = type;
	off += 2;
	if (type != ETH_P_IPV4 && type != ETH_P_IPV6)
		return 0;
	if (off == len)
		return parse_fail(out, "ethernet: no IP header");
	return parse_ip(buf, off, len, type == ETH_P_IPV4 ? 4 : 6, &out->ip,
			out);
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmp6";
	default:
		return "proto";
	}
}

/* Appends the description of ip at buf + *pos. */
static void ip_info_str(const struct pkt_ip_info *ip, char *buf, size_t len,
			size_t *pos)
{
	static const char flag_chars[] = "FSRPAUEC";
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], flags[9];
	bool ports = ip->has_l4 && (ip->proto == IPPROTO_TCP ||
				    ip->proto == IPPROTO_UDP ||
				    ip->proto == IPPROTO_SCTP);
	int i, n = 0;

	pkt_addr_str(&ip->src, s, sizeof(s));
	pkt_addr_str(&ip->dst, d, sizeof(d));
	for (i = 0; i < 8; i++)
		if (ip->tcp_flags & 1 << i)
			flags[n++] = flag_chars[i];
	flags[n] = 0;
	if (ports)
		*pos += snprintf(buf + *pos, len - *pos, "v%d %s:%u > %s:%u %s",
				 ip->family, s, ip->sport, d, ip->dport,
				 proto_name(ip->proto));
	else if (strcmp(proto_name(ip->proto), "proto"))
		*pos += snprintf(buf + *pos, len - *pos, "v%d %s > %s %s",
				 ip->family, s, d, proto_name(ip->proto));
	else
		*pos += snprintf(buf + *pos, len - *pos, "v%d %s > %s proto %u",
				 ip->family, s, d, ip->proto);
	if (*pos >= len)
		return;
	if (ip->has_l4 && ip->proto == IPPROTO_TCP)
		*pos += snprintf(buf + *pos, len - *pos, " [%s]", flags);
	else if (ip->has_l4 && !ports)
		*pos += snprintf(buf + *pos, len - *pos, " type %u code %u id %u",
				 ip->icmp_type, ip->icmp_code, ip->icmp_id);
	if (*pos >= len)
		return;
	*pos += snprintf(buf + *pos, len - *pos, " ttl %u%s len %u", ip->ttl,
			 ip->is_frag ? " frag" : "", ip->payload_len);
}

const char *pkt_info_str(const struct pkt_info *info, char *buf, size_t len)
{
	size_t pos = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	if (!info->ip.family) {
		snprintf(buf, len, "ethertype 0x%04x", info->eth_proto);
		return buf;
	}
	ip_info_str(&info->ip, buf, len, &pos);
	if (info->has_inner && pos < len) {
		pos += snprintf(buf + pos, len - pos, " [inner: ");
		if (pos < len)
			ip_info_str(&info->inner, buf, len, &pos);
		if (pos < len)
			snprintf(buf + pos, len - pos, "]");
	}
	return buf;
}

/* ---- checksum verification and repair ---------------------------------- */

/* Checks (fix false) or rewrites (fix true) the 16-bit checksum field at
 * field whose correct value is want. Ones-complement arithmetic has two
 * zeros, so a stored 0xffff equals a computed 0 and vice versa. */
static int csum_site(uint8_t *field, uint16_t want, bool fix, const char *name,
		     char *why, size_t whylen)
{
	uint16_t have = get16(field);

	if (fix) {
		put16(field, want);
		return 0;
	}
	if (have % 0xffff == want % 0xffff)
		return 0;
	if (why)
		snprintf(why, whylen, "%s checksum 0x%04x, expected 0x%04x",
			 name, have, want);
	return -1;
}

static int ipv4_hdr_csum(uint8_t *b, const struct pkt_ip_info *ip, bool fix,
			 const char *name, char *why, size_t whylen)
{
	uint8_t *h = b + ip->l3_off;

	return csum_site(h + 10, csum_skip(h, 20 + ip->ip_opts_len, 10, 0),
			 fix, name, why, whylen);
}

static int l4_csum(uint8_t *b, const struct pkt_ip_info *ip, bool fix,
		   char *why, size_t whylen)
{
	uint8_t *p = b + ip->l4_off;
	size_t len = ip->l4_len;
	uint64_t ph = pseudo_sum(&ip->src, &ip->dst, ip->proto,
				 (uint32_t)len);
	uint32_t crc;

	switch (ip->proto) {
	case IPPROTO_TCP:
		return csum_site(p + 16, csum_skip(p, len, 16, ph), fix, "tcp",
				 why, whylen);
	case IPPROTO_UDP:
		if (ip->family == 4 && !get16(p + 6))
			return 0;	/* no checksum */
		if (!get16(p + 6) && !fix) {
			if (why)
				snprintf(why, whylen, "udp checksum 0 over IPv6");
			return -1;
		}
		return csum_site(p + 6, csum_skip(p, len, 6, ph) ?: 0xffff, fix,
				 "udp", why, whylen);
	case IPPROTO_ICMP:
		return csum_site(p + 2, csum_skip(p, len, 2, 0), fix, "icmp",
				 why, whylen);
	case IPPROTO_ICMPV6:
		return csum_site(p + 2, csum_skip(p, len, 2, ph), fix, "icmp6",
				 why, whylen);
	default:	/* SCTP; parse_l4 marks nothing else has_l4 */
		crc = sctp_crc(p, len);
		if (fix)
			put_le32(p + 8, crc);
		else if (get_le32(p + 8) != crc) {
			if (why)
				snprintf(why, whylen, "sctp crc32c 0x%08x, expected 0x%08x",
					 get_le32(p + 8), crc);
			return -1;
		}
		return 0;
	}
}

/* Verifies or fixes every checksum of the frame; b is written only when
 * fix is true. Inner headers go first: the ICMP checksum covers them. */
static int walk_csums(uint8_t *b, size_t len, bool fix, char *why,
		      size_t whylen)
{
	struct pkt_info info;
	const struct pkt_ip_info *in = &info.inner;

	if (pkt_parse(b, len, &info)) {
		if (why)
			snprintf(why, whylen, "parse: %s", info.err);
		return -1;
	}
	if (info.has_inner && in->family == 4 &&
	    ipv4_hdr_csum(b, in, fix, "inner ipv4 header", why, whylen))
		return -1;
	if (info.ip.family == 4 &&
	    ipv4_hdr_csum(b, &info.ip, fix, "ipv4 header", why, whylen))
		return -1;
	if (info.ip.has_l4 && !info.ip.is_frag &&
	    l4_csum(b, &info.ip, fix, why, whylen))
		return -1;
	return 0;
}

int pkt_verify_csums(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = 0;
	/* With fix false walk_csums() only reads. */
	return walk_csums((uint8_t *)buf, len, false, why, whylen);
}

int pkt_fix_csums(uint8_t *buf, size_t len)
{
	return walk_csums(buf, len, true, NULL, 0);
}

/* ---- randomness and mutation ------------------------------------------- */

uint64_t pkt_rand(uint64_t *rng)
{
	uint64_t z = (*rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A number in [0, n); 0 when n is 0. */
static uint32_t rnd(uint64_t *rng, uint32_t n)
{
	return n ? (uint32_t)(pkt_rand(rng) % n) : 0;
}

static bool one_in(uint64_t *rng, uint32_t n)
{
	return rnd(rng, n) == 0;
}

#define MAX_HDR_OFFS 48

static void add_offs(uint32_t *offs, size_t *n, uint32_t base,
		     const uint8_t *rel, size_t nrel, size_t len)
{
	size_t i;

	for (i = 0; i < nrel && *n < MAX_HDR_OFFS; i++)
		if (base + rel[i] < len)
			offs[(*n)++] = base + rel[i];
}

/* Offsets of the interesting header fields the frame has (as far as it
 * parses): EtherType, IP version/IHL, lengths, flags, protocol, ports, TCP
 * data offset and flags, ICMP type, and the same in an embedded packet. */
static size_t header_offsets(const uint8_t *buf, size_t len, uint32_t *offs)
{
	static const uint8_t eth[] = { 12, 13, 16, 17 };
	static const uint8_t v4[] = { 0, 1, 2, 3, 6, 7, 8, 9, 20, 21 };
	static const uint8_t v6[] = { 0, 4, 5, 6, 7, 40, 41, 42 };
	static const uint8_t l4[] = { 0, 1, 2, 3, 4, 5, 12, 13, 14, 15 };
	const struct pkt_ip_info *ips[2];
	struct pkt_info info;
	size_t n = 0;
	int i;

	pkt_parse(buf, len, &info);
	ips[0] = &info.ip;
	ips[1] = &info.inner;
	add_offs(offs, &n, 0, eth, sizeof(eth), len);
	for (i = 0; i < 2; i++) {
		if (!ips[i]->l3_off)
			continue;
		if (ips[i]->family == 6)
			add_offs(offs, &n, ips[i]->l3_off, v6, sizeof(v6), len);
		else
			add_offs(offs, &n, ips[i]->l3_off, v4, sizeof(v4), len);
		if (ips[i]->l4_off)
			add_offs(offs, &n, ips[i]->l4_off, l4, sizeof(l4), len);
	}
	return n;
}

static const uint8_t interesting8[] = {
	0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x0f, 0x11, 0x2c, 0x3a,
	0x40, 0x45, 0x46, 0x4f, 0x60, 0x7f, 0x80, 0x84, 0xfe, 0xff,
};

static const uint16_t interesting16[] = {
	0x0000, 0x0001, 0x0007, 0x0008, 0x0014, 0x001c, 0x0028, 0x0800,
	0x86dd, 0x8100, 0x88a8, 0x05dc, 0x7fff, 0x8000, 0xfff8, 0xffff,
};

/* A header field offset, or any offset when the frame has none known. */
static uint32_t pick_off(const uint32_t *offs, size_t n, size_t len,
			 uint64_t *rng)
{
	if (n && !one_in(rng, 5))
		return offs[rnd(rng, (uint32_t)n)];
	return rnd(rng, (uint32_t)len);
}

/* Like pick_off() for a 16-bit field; len >= 2. */
static uint32_t word_off(const uint32_t *offs, size_t n, size_t len,
			 uint64_t *rng)
{
	uint32_t off = pick_off(offs, n, len, rng);

	return off + 1 < len ? off : off - 1;
}

static void mutate_word(uint8_t *buf, uint32_t off, uint64_t *rng)
{
	uint16_t v = get16(buf + off);

	if (one_in(rng, 2))
		v = interesting16[rnd(rng, sizeof(interesting16) / 2)];
	else	/* off by a little: length fields one past or short */
		v += (uint16_t)(rnd(rng, 17) - 8);
	put16(buf + off, v);
}

/* Applies one mutation; returns the new length. */
static size_t mutate_once(uint8_t *buf, size_t len, size_t cap,
			  uint64_t *rng)
{
	uint32_t offs[MAX_HDR_OFFS], a, b;
	size_t n = header_offsets(buf, len, offs), k, i;
	uint16_t t;

	switch (rnd(rng, 8)) {
	case 0:	/* flip a bit */
		if (len)
			buf[rnd(rng, (uint32_t)len)] ^= 1 << rnd(rng, 8);
		return len;
	case 1:	/* interesting byte at a header field */
		if (len)
			buf[pick_off(offs, n, len, rng)] =
				interesting8[rnd(rng, sizeof(interesting8))];
		return len;
	case 2:	/* interesting or nudged 16-bit value: lengths, ports */
		if (len >= 2)
			mutate_word(buf, word_off(offs, n, len, rng), rng);
		return len;
	case 3:	/* truncate, mostly by a little */
		k = one_in(rng, 2) ? rnd(rng, 16) : rnd(rng, (uint32_t)len + 1);
		return k < len ? len - k : 0;
	case 4:	/* extend with random bytes */
		k = 1 + rnd(rng, 64);
		for (i = 0; i < k && len < cap; i++)
			buf[len++] = (uint8_t)pkt_rand(rng);
		return len;
	case 5:	/* insert random bytes mid-frame, shifting headers */
		k = 1 + rnd(rng, 8);
		if (len + k > cap)
			return len;
		a = rnd(rng, (uint32_t)len + 1);
		memmove(buf + a + k, buf + a, len - a);
		for (i = 0; i < k; i++)
			buf[a + i] = (uint8_t)pkt_rand(rng);
		return len + k;
	case 6:	/* remove bytes mid-frame */
		if (!len)
			return len;
		a = rnd(rng, (uint32_t)len);
		k = 1 + rnd(rng, 8);
		k = k < len - a ? k : len - a;
		memmove(buf + a, buf + a + k, len - a - k);
		return len - k;
	default:	/* swap two 16-bit header fields, e.g. two lengths */
		if (len < 2)
			return len;
		a = word_off(offs, n, len, rng);
		b = word_off(offs, n, len, rng);
		t = get16(buf + a);
		put16(buf + a, get16(buf + b));
		put16(buf + b, t);
		return len;
	}
}

size_t pkt_mutate(uint8_t *buf, size_t len, size_t cap, uint64_t *rng)
{
	int i, n = 1 + (int)rnd(rng, 4);

	if (len > cap)
		len = cap;
	for (i = 0; i < n; i++)
		len = mutate_once(buf, len, cap, rng);
	if (one_in(rng, 3))
		pkt_fix_csums(buf, len);
	return len;
}

/* ---- random specs ------------------------------------------------------ */

/* An external client address: 203.0.113.0/24 or 2001:db8:0:3::/64. */
static struct pkt_addr random_client(uint64_t *rng, int family)
{
	struct pkt_addr a;

	if (family == 4)
		return pkt_addr4(0xcb007100 | rnd(rng, 256));
	a = pkt_addr("2001:db8:0:3::");
	put32(a.b + 12, (uint32_t)pkt_rand(rng));
	return a;
}

/* A pool address of the family (any when family is 0), or family 0. */
static struct pkt_addr pool_addr(uint64_t *rng, const struct pkt_addr *pool,
				 int n, int family)
{
	int i, start = (int)rnd(rng, n > 0 ? (uint32_t)n : 0);

	for (i = 0; i < n; i++) {
		const struct pkt_addr *a = &pool[(start + i) % n];

		if ((a->family == 4 || a->family == 6) &&
		    (!family || a->family == family))
			return *a;
	}
	return (struct pkt_addr){ 0 };
}

static void random_addrs(struct pkt_spec *s, uint64_t *rng, int family,
			 const struct pkt_addr *pool, int n)
{
	s->dst.family = 0;
	if (!one_in(rng, 4))
		s->dst = pool_addr(rng, pool, n, family);
	if (!s->dst.family)
		s->dst = random_client(rng, family ? family :
					    one_in(rng, 2) ? 4 : 6);
	s->src.family = 0;
	if (one_in(rng, 8))
		s->src = pool_addr(rng, pool, n, s->dst.family);
	if (!s->src.family)
		s->src = random_client(rng, s->dst.family);
}

static void random_ipv4(struct pkt_spec *s, uint64_t *rng)
{
	int i;

	s->ip_id = (uint16_t)pkt_rand(rng);
	s->df = one_in(rng, 2);
	if (one_in(rng, 8)) {
		s->ip_opts_len = (uint8_t)(4 * (1 + rnd(rng, 10)));
		for (i = 0; i < s->ip_opts_len; i++)
			s->ip_opts[i] = 1;	/* NOP */
		if (one_in(rng, 2)) {	/* Record Route, then EOL */
			s->ip_opts[0] = 7;
			s->ip_opts[1] = s->ip_opts_len - 1;
			s->ip_opts[2] = 4;
			memset(s->ip_opts + 3, 0, s->ip_opts_len - 3);
		}
	}
	if (!one_in(rng, 10))
		return;
	s->df = false;
	switch (rnd(rng, 3)) {
	case 0:	/* first */
		s->mf = true;
		break;
	case 1:	/* middle */
		s->mf = true;
		s->frag_off = (uint16_t)(8 * (1 + rnd(rng, 200)));
		break;
	default:	/* last */
		s->frag_off = (uint16_t)(8 * (1 + rnd(rng, 200)));
		break;
	}
}

static void random_ipv6(struct pkt_spec *s, uint64_t *rng)
{
	static const uint8_t types[] = { IPPROTO_DSTOPTS, IPPROTO_ROUTING };
	struct pkt_ext *e;
	int i, n = one_in(rng, 5) ? 1 + (int)rnd(rng, 3) : 0;

	s->flow_label = rnd(rng, 1 << 20);
	for (i = 0; i < n; i++) {
		e = &s->ext[s->n_ext++];
		/* hop-by-hop may only come first (RFC 8200 4.1) */
		e->type = i == 0 && one_in(rng, 2) ? IPPROTO_HOPOPTS :
			  types[rnd(rng, 2)];
		e->len8 = (uint8_t)rnd(rng, 4);
		e->rt_type = (uint8_t)rnd(rng, 5);
	}
	if (!one_in(rng, 10))
		return;
	e = &s->ext[s->n_ext++];
	e->type = IPPROTO_FRAGMENT;
	e->frag_id = (uint32_t)pkt_rand(rng);
	e->frag_more = !one_in(rng, 3);
	if (!e->frag_more || one_in(rng, 2))
		e->frag_off = (uint16_t)(8 * (1 + rnd(rng, 200)));
}

static const uint8_t tcp_flag_sets[] = {
	PKT_TCP_SYN, PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_ACK,
	PKT_TCP_PSH | PKT_TCP_ACK, PKT_TCP_FIN | PKT_TCP_ACK, PKT_TCP_RST,
	PKT_TCP_RST | PKT_TCP_ACK,
};

static __thread struct pkt_spec random_inner;

static void random_ip(struct pkt_spec *s, uint64_t *rng, int family,
		      const struct pkt_addr *addr_pool, int n_addr,
		      const uint16_t *port_pool, int n_ports, bool inner);

static void random_icmp(struct pkt_spec *s, uint64_t *rng,
			const struct pkt_addr *addr_pool, int n_addr,
			const uint16_t *port_pool, int n_ports, bool inner)
{
	static const enum pkt_icmp_kind errors[] = {
		PKT_ICMP_PORT_UNREACH, PKT_ICMP_FRAG_NEEDED,
		PKT_ICMP_TIME_EXCEEDED,
	};

	s->icmp_id = (uint16_t)pkt_rand(rng);
	s->icmp_seq = (uint16_t)rnd(rng, 100);
	if (inner || one_in(rng, 2)) {
		s->icmp_kind = one_in(rng, 2) ? PKT_ICMP_ECHO_REQUEST :
						PKT_ICMP_ECHO_REPLY;
		return;
	}
	s->icmp_kind = errors[rnd(rng, 3)];
	s->icmp_mtu = 1280 + rnd(rng, 221);
	s->payload_len = 0;
	/* The error is about a packet the destination sent earlier. */
	random_ip(&random_inner, rng, s->src.family, addr_pool, n_addr,
		  port_pool, n_ports, true);
	if (!one_in(rng, 4))
		s->dst = random_inner.src;
	s->icmp_inner = &random_inner;
}

static void random_l4(struct pkt_spec *s, uint64_t *rng,
		      const struct pkt_addr *addr_pool, int n_addr,
		      const uint16_t *port_pool, int n_ports, bool inner)
{
	uint32_t r = rnd(rng, 20);

	s->sport = (uint16_t)(32768 + rnd(rng, 28232));
	s->dport = (uint16_t)(1 + rnd(rng, 65535));
	if (n_ports && !one_in(rng, 4))
		s->dport = port_pool[rnd(rng, (uint32_t)n_ports)];
	s->payload_len = one_in(rng, 10) ? rnd(rng, 1201) : rnd(rng, 65);
	if (r < 7) {
		s->proto = IPPROTO_TCP;
		s->tcp_seq = (uint32_t)pkt_rand(rng);
		s->tcp_ack = (uint32_t)pkt_rand(rng);
		s->tcp_flags = one_in(rng, 10) ? (uint8_t)pkt_rand(rng) :
			tcp_flag_sets[rnd(rng, sizeof(tcp_flag_sets))];
		if (s->tcp_flags & PKT_TCP_SYN && one_in(rng, 2)) {
			s->tcp_opts_len = 4;	/* MSS 1460 */
			memcpy(s->tcp_opts, "\x02\x04\x05\xb4", 4);
		}
	} else if (r < 13) {
		s->proto = IPPROTO_UDP;
		s->udp_no_csum = s->src.family == 4 && one_in(rng, 8);
	} else if (r < 15) {
		s->proto = IPPROTO_SCTP;
		s->sctp_tsn = (uint32_t)pkt_rand(rng);
		s->sctp_vtag = (uint32_t)pkt_rand(rng);
		if (one_in(rng, 3)) {
			s->sctp_chunk = PKT_SCTP_INIT;
			s->sctp_vtag = 0;
			s->sctp_init_tag = (uint32_t)pkt_rand(rng) | 1;
			s->payload_len = 0;
		}
	} else if (r < 19) {
		s->proto = IPPROTO_ICMP;
		random_icmp(s, rng, addr_pool, n_addr, port_pool, n_ports,
			    inner);
	} else {
		s->proto = one_in(rng, 2) ? IPPROTO_GRE : (uint8_t)pkt_rand(rng);
		/* keep the L4 meaning of the byte from leaking in */
		if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP ||
		    s->proto == IPPROTO_SCTP || s->proto == IPPROTO_ICMP ||
		    s->proto == IPPROTO_ICMPV6 || is_ext_hdr(s->proto))
			s->proto = IPPROTO_GRE;
	}
}

static void random_ip(struct pkt_spec *s, uint64_t *rng, int family,
		      const struct pkt_addr *addr_pool, int n_addr,
		      const uint16_t *port_pool, int n_ports, bool inner)
{
	static const int ttls[] = { 64, 64, 64, 1, PKT_TTL_ZERO, 255, 128 };

	memset(s, 0, sizeof(*s));
	random_addrs(s, rng, family, addr_pool, n_addr);
	s->ttl = ttls[rnd(rng, sizeof(ttls) / sizeof(ttls[0]))];
	s->tos = one_in(rng, 4) ? (uint8_t)pkt_rand(rng) : 0;
	if (s->src.family == 4)
		random_ipv4(s, rng);
	else
		random_ipv6(s, rng);
	random_l4(s, rng, addr_pool, n_addr, port_pool, n_ports, inner);
}

void pkt_random_spec(struct pkt_spec *s, uint64_t *rng,
		     const struct pkt_addr *addr_pool, int n_addr,
		     const uint16_t *port_pool, int n_ports)
{
	int i;

	random_ip(s, rng, 0, addr_pool, n_addr, port_pool, n_ports, false);
	s->eth_src = (struct pkt_mac){ { 0x02, 0, 0, 0, 0, 1 } };
	s->eth_dst = (struct pkt_mac){ { 0x02, 0, 0, 0, 0, 2 } };
	s->eth_src.b[5] = (uint8_t)pkt_rand(rng);
	s->n_vlan = one_in(rng, 5) ? 1 : one_in(rng, 10) ? 2 : 0;
	for (i = 0; i < s->n_vlan; i++)
		s->vlan[i].tci = (uint16_t)(1 + rnd(rng, 4094)) |
				 (uint16_t)(rnd(rng, 8) << 13);
}

/* ---- comparison -------------------------------------------------------- */

struct field {
	uint8_t off, len;
	const char *name;
};

static const struct field v4_fields[] = {
	{ 0, 1, "version/ihl" }, { 1, 1, "tos" }, { 2, 2, "total length" },
	{ 4, 2, "id" }, { 6, 2, "flags/frag offset" }, { 8, 1, "ttl" },
	{ 9, 1, "protocol" }, { 10, 2, "header checksum" }, { 12, 4, "src" },
	{ 16, 4, "dst" }, { 20, 40, "options" }, { 0, 0, NULL },
};

static const struct field v6_fields[] = {
	{ 0, 4, "version/class/flow" }, { 4, 2, "payload length" },
	{ 6, 1, "next header" }, { 7, 1, "hop limit" }, { 8, 16, "src" },
	{ 24, 16, "dst" }, { 0, 0, NULL },
};

static const struct field tcp_fields[] = {
	{ 0, 2, "sport" }, { 2, 2, "dport" }, { 4, 4, "seq" }, { 8, 4, "ack" },
	{ 12, 1, "data offset" }, { 13, 1, "flags" }, { 14, 2, "window" },
	{ 16, 2, "checksum" }, { 18, 2, "urgent" }, { 20, 40, "options" },
	{ 0, 0, NULL },
};

static const struct field udp_fields[] = {
	{ 0, 2, "sport" }, { 2, 2, "dport" }, { 4, 2, "length" },
	{ 6, 2, "checksum" }, { 0, 0, NULL },
};

static const struct field sctp_fields[] = {
	{ 0, 2, "sport" }, { 2, 2, "dport" }, { 4, 4, "vtag" },
	{ 8, 4, "crc32c" }, { 12, 255, "chunk header" }, { 0, 0, NULL },
};

static const struct field icmp_fields[] = {
	{ 0, 1, "type" }, { 1, 1, "code" }, { 2, 2, "checksum" },
	{ 4, 4, "id/seq/mtu" }, { 0, 0, NULL },
};

static const char *field_in(const struct field *f, size_t rel)
{
	for (; f->name; f++)
		if (rel >= f->off && rel < (size_t)f->off + f->len)
			return f->name;
	return "?";
}

/* Names the header field of ip at offset off, e.g. "ipv4 dst". */
static void ip_field_name(const struct pkt_ip_info *ip, const char *who,
			  size_t off, char *buf, size_t len)
{
	const struct field *f = NULL;
	const char *l4 = proto_name(ip->proto);
	size_t rel;

	if (off < ip->l4_off) {
		rel = off - ip->l3_off;
		if (ip->family == 6 && rel >= 40)
			snprintf(buf, len, "%sipv6 extension headers", who);
		else
			snprintf(buf, len, "%sipv%d %s", who, ip->family,
				 field_in(ip->family == 4 ? v4_fields :
					  v6_fields, rel));
		return;
	}
	if (ip->has_l4 && off < ip->payload_off) {
		switch (ip->proto) {
		case IPPROTO_TCP:
			f = tcp_fields;
			break;
		case IPPROTO_UDP:
			f = udp_fields;
			break;
		case IPPROTO_SCTP:
			f = sctp_fields;
			break;
		default:
			f = icmp_fields;
			break;
		}
		snprintf(buf, len, "%s%s %s", who, l4,
			 field_in(f, off - ip->l4_off));
		return;
	}
	snprintf(buf, len, "%s%s payload", who, l4);
}

static void field_name(const struct pkt_info *in, size_t off, char *buf,
		       size_t len)
{
	if (off < 6)
		snprintf(buf, len, "ethernet dst");
	else if (off < 12)
		snprintf(buf, len, "ethernet src");
	else if (!in->ip.family || off < in->ip.l3_off)
		snprintf(buf, len, "vlan tags/ethertype");
	else if (in->has_inner && off >= in->inner.l3_off)
		ip_field_name(&in->inner, "inner ", off, buf, len);
	else
		ip_field_name(&in->ip, "", off, buf, len);
}

static bool is_csum_field(const char *name)
{
	return strstr(name, "checksum") || strstr(name, "crc32c");
}

int pkt_compare(const uint8_t *got, size_t got_len, const uint8_t *want,
		size_t want_len, char *why, size_t whylen)
{
	size_t i, n = got_len < want_len ? got_len : want_len, pos = 0;
	size_t first = n;
	struct pkt_info in;
	char name[64];

	if (got_len == want_len && !memcmp(got, want, n))
		return 0;
	if (!why || !whylen)
		return -1;
	pkt_parse(want, want_len, &in);
	/* Report the first differing field that is not a checksum: a
	 * rewritten address changes the checksum in front of it too. */
	for (i = 0; i < n; i++) {
		if (got[i] == want[i])
			continue;
		field_name(&in, i, name, sizeof(name));
		if (!is_csum_field(name))
			break;
		if (first == n)
			first = i;
	}
	if (i == n && first < n) {
		i = first;
		field_name(&in, i, name, sizeof(name));
	}
	why[0] = 0;
	if (got_len != want_len)
		pos = snprintf(why, whylen, "length %zu, expected %zu%s",
			       got_len, want_len, i < n ? "; " : "");
	if (i < n && pos < whylen)
		snprintf(why + pos, whylen - pos,
			 "byte %zu (%s): 0x%02x, expected 0x%02x", i, name,
			 got[i], want[i]);
	return -1;
}
