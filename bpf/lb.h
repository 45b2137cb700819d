/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The per-packet pipeline shared by the XDP and tc programs: parse, follow a
 * tracked flow, or decide a new one (frontend, policy, backend, SNAT), then
 * rewrite and forward. bpf/README.md walks through every case. */
#ifndef XLB_LB_H
#define XLB_LB_H

#include "parse.h"
#include "maps.h"
#include "counters.h"
#include "conntrack.h"
#include "lookup.h"
#include "nat.h"
#include "icmp.h"
#include "forward.h"
#include "flowcache.h"

/* Returned by the deciding functions: not a verdict, "forward to tuple t". */
#define XLB_FORWARD 0x100


/* Ports the first fragment carried, for the fragments that follow it. */
static __always_inline void frag_remember(const struct xlb_pkt *p)
{
	struct xlb_frag_key k = {};
	struct xlb_frag_ports v = { .sport = p->sport, .dport = p->dport };

	if (p->frag != XLB_FRAG_FIRST)
		return;
	k.saddr = p->saddr;
	k.daddr = p->daddr;
	k.id = p->frag_id;
	k.proto = p->proto;
	k.family = p->family;
	bpf_map_update_elem(&xlb_frags, &k, &v, BPF_ANY);
}

static __always_inline int frag_recall(struct xlb_pkt *p)
{
	struct xlb_frag_key k = {};
	struct xlb_frag_ports *v;

	k.saddr = p->saddr;
	k.daddr = p->daddr;
	k.id = p->frag_id;
	k.proto = p->proto;
	k.family = p->family;
	v = bpf_map_lookup_elem(&xlb_frags, &k);
	if (!v)
		return -1;
	p->sport = v->sport;
	p->dport = v->dport;
	return 0;
}

static __noinline int reject(XLB_CTX *ctx, struct xlb_pkt *p, __u32 reason)
{
	if (icmp_reject(ctx, p))
		return verdict_drop(XLB_DROP_REWRITE);
	count_in(&xlb_drops, reason);
	count_verdict(XLB_VERDICT_REJECT);
	return reflect(ctx);
}

/* Masquerade per SERVICES.md: hairpin always; ClusterIP traffic from
 * outside the pods (or all with --masquerade-all); external frontends with
 * ETP=Cluster for every source, and with ETP=Local for the node itself. */
static __always_inline int need_snat(const struct xlb_config *cfg, const struct xlb_frontend *fe,
				     const struct xlb_service *s, int cls,
				     const struct xlb_pkt *p, const struct xlb_backend *be)
{
	if (addr_eq(&be->addr, &p->saddr))
		return 1;
	if (fe->kind == XLB_FE_CLUSTER_IP)
		return (cfg->flags & XLB_CFG_MASQ_ALL) ||
		       ((cfg->flags & XLB_CFG_POD_DETECT) && cls != XLB_SRC_POD);
	if (!(s->flags & XLB_SVC_ETP_LOCAL))
		return 1;
	return cls == XLB_SRC_NODE;
}

/* A backend for the flow from the chosen set: the affine one if still valid,
 * else a slot of the table (random, or the flow hash for Maglev). */
static __always_inline struct xlb_backend *
choose_backend(const struct xlb_pkt *p, __u32 svc_id, struct xlb_service *s, __u8 set,
	       __u64 now, __u32 *id)
{
	struct xlb_affinity_key ak = { .svc_id = svc_id, .client = p->saddr };
	__u32 n = set == XLB_SET_LOCAL ? s->n_local : s->n_cluster;
	struct xlb_affinity *a, na = {};
	struct xlb_backend *be = NULL;
	struct xlb_service *cur;
	__u32 h;

	if (s->flags & XLB_SVC_AFFINITY) {
		a = bpf_map_lookup_elem(&xlb_affinity, &ak);
		if (a && now - a->last_used < s->affinity_timeout * NSEC_PER_SEC) {
			be = backend_get(a->backend_id);
			if (be && (set != XLB_SET_LOCAL || (be->flags & XLB_BE_LOCAL)))
				*id = a->backend_id;
			else
				be = NULL;
		}
	}
	if (!be) {
		h = (s->flags & XLB_SVC_MAGLEV) ? flow_hash(p) : bpf_get_prandom_u32();
		be = slot_backend(svc_id, s, set, h % n, id);
	}
	if (!be) {
		/* The agent swapped tables between our two lookups: once more
		 * with the new generation. */
		cur = bpf_map_lookup_elem(&xlb_services, &svc_id);
		if (!cur)
			return NULL;
		*s = *cur;
		n = set == XLB_SET_LOCAL ? s->n_local : s->n_cluster;
		if (!n)
			return NULL;
		h = (s->flags & XLB_SVC_MAGLEV) ? flow_hash(p) : bpf_get_prandom_u32();
		be = slot_backend(svc_id, s, set, h % n, id);
	}
	if (be && (s->flags & XLB_SVC_AFFINITY)) {
		na.backend_id = *id;
		na.last_used = now;
		bpf_map_update_elem(&xlb_affinity, &ak, &na, BPF_ANY);
	}
	return be;
}

static __always_inline int snat_port(const struct xlb_config *cfg, __u32 r)
{
	__u32 span = cfg->snat_port_max - cfg->snat_port_min + 1;

	return cfg->snat_port_min + (span ? r % span : 0);
}

/* The decision for a new flow, as conntrack records it. */
struct xlb_choice {
	struct xlb_backend be;
	__u32 svc_id;
	__u32 backend_id;
	__u64 now;
	int snat;
	struct xlb_ct_entry entry;	/* ct_create()'s staging, off the stack */
};

/* Per-CPU home of the rewrite target and the new-flow decision: the BPF
 * stack (512 bytes over all nested calls) cannot hold them. */
struct xlb_target {
	struct xlb_xlate x;
	struct xlb_inner in;
	struct xlb_choice c;
	struct xlb_service s;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_target);
} xlb_target_scratch SEC(".maps");

/* Insert both conntrack entries; with SNAT, pick a free source port by
 * trying random ones (the reply tuple must be unique). One key and one
 * entry, reused for both directions: the stack is small. */
static __noinline int ct_create(const struct xlb_config *cfg, const struct xlb_pkt *p,
				struct xlb_choice *c, struct xlb_tuple *t)
{
	struct xlb_ct_entry *e = &c->entry;
	struct xlb_ct_key k;
	int i, err = -1;

	t->saddr = p->saddr;
	t->sport = p->sport;
	t->daddr = c->be.addr;
	t->dport = c->be.port;
	if (c->snat)
		t->saddr = p->family == XLB_FAM_V4 ? cfg->snat_v4 : cfg->snat_v6;

	__builtin_memset(e, 0, sizeof(*e));
	e->nat_saddr = p->daddr;
	e->nat_daddr = p->saddr;
	e->nat_sport = p->dport;
	e->nat_dport = p->sport;
	e->flags = XLB_CT_REPLY | (c->snat ? XLB_CT_SNAT : 0);
	e->svc_id = c->svc_id;
	e->backend_id = c->backend_id;
	e->last_seen = c->now;
	__builtin_memset(&k, 0, sizeof(k));
	k.saddr = c->be.addr;
	k.daddr = t->saddr;
	k.sport = c->be.port;
	k.proto = p->proto;
	k.family = p->family;
	for (i = 0; i < 8; i++) {
		if (c->snat)
			t->sport = bpf_htons(snat_port(cfg, bpf_get_prandom_u32()));
		k.dport = t->sport;
		err = bpf_map_update_elem(&xlb_conntrack, &k, e,
					  c->snat ? BPF_NOEXIST : BPF_ANY);
		if (!err)
			break;
	}
	if (err)
		return -1;
	e->nat_saddr = t->saddr;
	e->nat_daddr = t->daddr;
	e->nat_sport = t->sport;
	e->nat_dport = t->dport;
	e->flags = c->snat ? XLB_CT_SNAT : 0;
	if (bpf_map_update_elem(&xlb_conntrack, &p->key, e, BPF_ANY)) {
		bpf_map_delete_elem(&xlb_conntrack, &k);	/* still the reply key */
		return -1;
	}
	return 0;
}

/* No frontend: a known ClusterIP on another port is REJECTed, an unallocated
 * address of the service CIDR is DROPped, anything else is not ours. */
static __always_inline int no_frontend(XLB_CTX *ctx, struct xlb_pkt *p)
{
	struct xlb_frontend *vip = frontend_get(&p->daddr, 0, 0, p->family);

	if (vip && vip->kind == XLB_FE_VIP)
		return reject(ctx, p, XLB_DROP_UNKNOWN_PORT);
	if (lpm_contains(&xlb_svc_cidrs, p->family, &p->daddr, p->family))
		return verdict_drop(XLB_DROP_UNALLOCATED);
	return verdict_skip(XLB_SKIP_NOT_SERVICE);
}

/* Decide a new flow: a final verdict, or XLB_FORWARD with t filled in. */
static __noinline int new_flow(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_config *cfg,
			       __u64 now, struct xlb_target *tg)
{
	struct xlb_frontend *fe = frontend_find(p);
	struct xlb_service *s = &tg->s, *sp;
	struct xlb_choice *c = &tg->c;
	struct xlb_backend *be;
	int cls, local;
	__u32 svc_id;

	if (!fe || fe->kind == XLB_FE_VIP)
		return no_frontend(ctx, p);
	if (fe->flags & XLB_FE_GATED)
		return verdict_skip(XLB_SKIP_EXTERNAL_IP_GATED);
	svc_id = fe->svc_id;
	sp = bpf_map_lookup_elem(&xlb_services, &svc_id);
	if (!sp)
		return verdict_drop(XLB_DROP_NO_BACKEND);
	*s = *sp;
	c->now = now;
	if (fe->kind == XLB_FE_LOAD_BALANCER && (s->flags & XLB_SVC_SOURCE_RANGES) &&
	    !lpm_contains(&xlb_src_ranges, svc_id, &p->saddr, p->family))
		return verdict_drop(XLB_DROP_SOURCE_RANGE);
	cls = src_class(cfg, p);
	if (fe->kind == XLB_FE_CLUSTER_IP)
		local = s->flags & XLB_SVC_ITP_LOCAL;
	else
		local = (s->flags & XLB_SVC_ETP_LOCAL) && cls == XLB_SRC_EXTERNAL;
	if (!(local ? s->n_local : s->n_cluster)) {
		if (!s->n_cluster)
			return reject(ctx, p, XLB_DROP_NO_ENDPOINTS);
		return verdict_drop(XLB_DROP_POLICY_LOCAL);
	}
	be = choose_backend(p, svc_id, s, local ? XLB_SET_LOCAL : XLB_SET_CLUSTER, now,
			    &c->backend_id);
	if (!be)
		return verdict_drop(XLB_DROP_NO_BACKEND);
	c->be = *be;
	c->svc_id = svc_id;
	c->snat = need_snat(cfg, fe, s, cls, p, be);
	if (ct_create(cfg, p, c, &tg->x.t))
		return verdict_drop(XLB_DROP_CT_FULL);
	xlate_diff(p, &tg->x);
	frag_remember(p);
	return XLB_FORWARD;
}

static __always_inline int icmp_is_error(const struct xlb_pkt *p)
{
	if (p->family == XLB_FAM_V4)
		return p->icmp_type == 3 || p->icmp_type == 11;	/* unreachable, time exceeded */
	return p->icmp_type >= 1 && p->icmp_type <= 3;	/* unreachable, too big, time exceeded */
}

/* Read the flow an ICMP error quotes (IPv6: without extension headers).
 * The quote ends where the error's IP packet does: bytes after that are
 * frame padding (a short error on a minimum-size Ethernet frame), and
 * neither the error's checksum nor its sender's intent covers them. */
static __always_inline int icmp_quoted_flow(XLB_CTX *ctx, const struct xlb_pkt *p,
					    struct xlb_inner *in)
{
	struct ipv6hdr ih6;
	struct iphdr ih;
	__be16 ports[2];

	in->l3_off = p->l4_off + 8;
	if (p->family == XLB_FAM_V4) {
		if (ctx_load(ctx, in->l3_off, &ih, sizeof(ih)) || ih.ihl < 5)
			return -1;
		in->proto = ih.protocol;
		in->l4_off = in->l3_off + ih.ihl * 4;
		in->from.saddr.v4 = ih.saddr;
		in->from.daddr.v4 = ih.daddr;
	} else {
		if (ctx_load(ctx, in->l3_off, &ih6, sizeof(ih6)))
			return -1;
		in->proto = ih6.nexthdr;
		in->l4_off = in->l3_off + sizeof(ih6);
		__builtin_memcpy(&in->from.saddr, &ih6.saddr, 16);
		__builtin_memcpy(&in->from.daddr, &ih6.daddr, 16);
	}
	if (in->proto != XLB_IPPROTO_TCP && in->proto != XLB_IPPROTO_UDP &&
	    in->proto != XLB_IPPROTO_SCTP)
		return -1;
	if (in->l4_off + 4 > p->l3_off + p->l3_len || in->l4_off > XLB_HDR_MAX ||
	    ctx_load(ctx, in->l4_off, ports, 4))
		return -1;
	in->from.sport = ports[0];
	in->from.dport = ports[1];
	return 0;
}

/* An ICMP error about a translated flow quotes the packet as the sender of
 * the error saw it; the reverse of that quote is a conntrack key of ours.
 * The entry says what the quote must become, and the error then goes to the
 * quote's new source (its outer source follows when it was the quoted peer). */
static __noinline int icmp_error_translate(XLB_CTX *ctx, struct xlb_pkt *p, struct xlb_xlate *x,
					   struct xlb_inner *in)
{
	struct xlb_tuple *t = &x->t;
	struct xlb_ct_key k = {};
	struct xlb_ct_entry *e;

	if (!icmp_is_error(p) || p->frag != XLB_FRAG_NONE || icmp_quoted_flow(ctx, p, in))
		return verdict_skip(XLB_SKIP_NOT_SERVICE);
	k.saddr = in->from.daddr;
	k.daddr = in->from.saddr;
	k.sport = in->from.dport;
	k.dport = in->from.sport;
	k.proto = in->proto;
	k.family = p->family;
	e = bpf_map_lookup_elem(&xlb_conntrack, &k);
	if (!e)
		return verdict_skip(XLB_SKIP_NOT_SERVICE);
	in->to.saddr = e->nat_daddr;
	in->to.daddr = e->nat_saddr;
	in->to.sport = e->nat_dport;
	in->to.dport = e->nat_sport;
	t->daddr = in->to.saddr;
	t->saddr = p->saddr;
	if (addr_eq(&p->saddr, &in->from.daddr))
		t->saddr = in->to.daddr;
	t->sport = 0;
	t->dport = 0;
	xlate_diff(p, x);	/* the outer addresses' (no ports) */
	return XLB_FORWARD;
}

/* A tracked entry serves this packet unless it has aged out, or a new TCP
 * connection reuses the tuple of a closing flow or of a backend now gone. */
static __always_inline int ct_usable(const struct xlb_config *cfg, const struct xlb_ct_entry *e,
				     const struct xlb_pkt *p, __u64 now)
{
	if (!ct_alive(cfg, e, p->proto, now))
		return 0;
	if (!tcp_syn(p) || (e->flags & XLB_CT_REPLY))
		return 1;
	return e->state != XLB_CT_CLOSING && backend_get(e->backend_id);
}

/* Follow the packet's tracked flow, or decide a new one. On XLB_FORWARD,
 * *x is the rewrite (tg->x, or a cached copy) and keep says where the flow
 * keeps its next hop (nothing for a new flow). */
static __always_inline int track(XLB_CTX *ctx, struct xlb_pkt *p, const struct xlb_config *cfg,
				 const struct xlb_xlate **x, struct xlb_keep *keep)
{
	struct xlb_fc_slot *slot = NULL;
	struct xlb_target *tg;
	struct xlb_ct_entry *e;
	__u32 zero = 0;
	__u64 now;

	if (p->frag == XLB_FRAG_LATER && frag_recall(p))
		return verdict_skip(XLB_SKIP_FRAGMENT);
	now = p->now = xlb_now();
	if (fc_eligible(cfg, p)) {
		slot = fc_slot(&p->key);
		if (fc_hit(slot, &p->key, cfg, now)) {
			*x = &slot->x;
			keep->nh = &slot->nh;
			keep->hop = &slot->hop;
			return XLB_FORWARD;
		}
	}
	tg = bpf_map_lookup_elem(&xlb_target_scratch, &zero);
	if (!tg)
		return verdict_skip(XLB_SKIP_NOT_SERVICE);
	*x = &tg->x;
	e = bpf_map_lookup_elem(&xlb_conntrack, &p->key);
	if (e && ct_usable(cfg, e, p, now)) {
		ct_touch(e, p, now);
		tg->x.t.saddr = e->nat_saddr;
		tg->x.t.daddr = e->nat_daddr;
		tg->x.t.sport = e->nat_sport;
		tg->x.t.dport = e->nat_dport;
		xlate_diff(p, &tg->x);
		frag_remember(p);
		if (fc_fill(slot, &p->key, &tg->x, e, cfg, now))
			keep->hop = &slot->hop;
		keep->nh = &e->nh;
		return XLB_FORWARD;
	}
	if (p->frag == XLB_FRAG_LATER)
		return verdict_skip(XLB_SKIP_FRAGMENT);
	return new_flow(ctx, p, cfg, now, tg);
}

static __always_inline int xlb_process(XLB_CTX *ctx)
{
	struct xlb_keep keep = {};
	const struct xlb_xlate *x;
	struct xlb_inner *in = NULL;
	struct xlb_pkt p = {};
	struct xlb_target *tg;
	struct xlb_config *cfg;
	__u32 zero = 0;
	int res;

	res = parse_packet(ctx, &p);
	if (res == XLB_PARSE_UNSUPPORTED)
		return verdict_skip(XLB_SKIP_UNSUPPORTED_PROTO);
	if (res)
		return verdict_drop(XLB_DROP_MALFORMED);
	cfg = bpf_map_lookup_elem(&xlb_config, &zero);
	if (!cfg)
		return verdict_skip(XLB_SKIP_NOT_SERVICE);
	if (p.proto == XLB_IPPROTO_ICMP || p.proto == XLB_IPPROTO_ICMPV6) {
		tg = bpf_map_lookup_elem(&xlb_target_scratch, &zero);
		if (!tg)
			return verdict_skip(XLB_SKIP_NOT_SERVICE);
		x = &tg->x;
		in = &tg->in;
		res = icmp_error_translate(ctx, &p, &tg->x, in);
	} else {
		res = track(ctx, &p, cfg, &x, &keep);
	}
	if (res != XLB_FORWARD)
		return res;
	return forward(ctx, &p, x, in, &keep);
}

#endif
