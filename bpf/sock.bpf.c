// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cgroup socket hooks: node-originated traffic to a Service is sent to the
 * backend directly (connect/sendmsg rewrite the destination; recvmsg and
 * getpeername show the frontend back), so no packet of it needs NAT and the
 * backend sees the node's own address, as kube-proxy's masquerade gives.
 * A cgroup hook sees every process of the cgroup whatever its network
 * namespace: it acts only in the node's own (xlb_config.netns_cookie). */
#include "lookup.h"
#include "counters.h"

#define XLB_EPERM 1
#define XLB_ECONNREFUSED 111

static __always_inline struct xlb_config *node_config(void *ctx)
{
	__u32 zero = 0;
	struct xlb_config *cfg = bpf_map_lookup_elem(&xlb_config, &zero);

	if (!cfg || cfg->netns_cookie != bpf_get_netns_cookie(ctx))
		return NULL;
	return cfg;
}

static __always_inline void read_dst(struct bpf_sock_addr *ctx, __u8 family, union xlb_addr *a)
{
	__builtin_memset(a, 0, sizeof(*a));
	if (family == XLB_FAM_V4) {
		a->v4 = ctx->user_ip4;
		return;
	}
	a->v6[0] = ctx->user_ip6[0];
	a->v6[1] = ctx->user_ip6[1];
	a->v6[2] = ctx->user_ip6[2];
	a->v6[3] = ctx->user_ip6[3];
}

static __always_inline void write_dst(struct bpf_sock_addr *ctx, __u8 family,
				      const union xlb_addr *a, __be16 port)
{
	if (family == XLB_FAM_V4) {
		ctx->user_ip4 = a->v4;
	} else {
		ctx->user_ip6[0] = a->v6[0];
		ctx->user_ip6[1] = a->v6[1];
		ctx->user_ip6[2] = a->v6[2];
		ctx->user_ip6[3] = a->v6[3];
	}
	ctx->user_port = port;
}

/* Fail the call: REJECT is "connection refused"; a DROP verdict cannot
 * time out a connect() from here, so it fails with EPERM. */
static __always_inline int sock_refuse(__u32 reason, int err)
{
	bpf_set_retval(-err);
	count_in(&xlb_drops, reason);
	count_in(&xlb_packets, XLB_PACKETS_INDEX(XLB_HOOK_SOCK, err == XLB_ECONNREFUSED ?
					 XLB_VERDICT_REJECT : XLB_VERDICT_DROP));
	return 0;
}

static __always_inline int sock_skip(__u32 reason)
{
	count_in(&xlb_skips, reason);
	count_in(&xlb_packets, XLB_PACKETS_INDEX(XLB_HOOK_SOCK, XLB_VERDICT_PASS));
	return 1;
}

/* The frontend for a node process: exact match, or a NodePort on one of the
 * node's NodePort addresses (never loopback, which is not one). */
static __always_inline struct xlb_frontend *sock_frontend(const union xlb_addr *dst, __be16 port,
							  __u8 proto, __u8 family)
{
	union xlb_addr any = {};
	struct xlb_frontend *fe = frontend_get(dst, port, proto, family);

	if (fe || !(local_addr_flags(dst, family) & XLB_ADDR_NODEPORT))
		return fe;
	return frontend_get(&any, port, proto, family);
}

static __always_inline int sock_translate(struct bpf_sock_addr *ctx, __u8 family)
{
	struct xlb_sock_key rk = { .cookie = bpf_get_socket_cookie(ctx), .family = family };
	struct xlb_frontend *fe;
	struct xlb_service *svc;
	struct xlb_backend *be;
	struct xlb_sock_rev rev = {};
	union xlb_addr dst;
	__u8 proto = ctx->protocol, set;
	__be16 port = ctx->user_port;
	__u32 svc_id, bid, n;

	if (!node_config(ctx))
		return 1;
	if (proto != XLB_IPPROTO_TCP && proto != XLB_IPPROTO_UDP)
		return sock_skip(XLB_SKIP_UNSUPPORTED_PROTO);
	read_dst(ctx, family, &dst);
	fe = sock_frontend(&dst, port, proto, family);
	if (!fe || fe->kind == XLB_FE_VIP) {
		fe = frontend_get(&dst, 0, 0, family);
		if (fe && fe->kind == XLB_FE_VIP)
			return sock_refuse(XLB_DROP_UNKNOWN_PORT, XLB_ECONNREFUSED);
		if (lpm_contains(&xlb_svc_cidrs, family, &dst, family))
			return sock_refuse(XLB_DROP_UNALLOCATED, XLB_EPERM);
		return sock_skip(XLB_SKIP_NOT_SERVICE);
	}
	if (fe->flags & XLB_FE_GATED)
		return sock_skip(XLB_SKIP_EXTERNAL_IP_GATED);
	svc_id = fe->svc_id;
	svc = bpf_map_lookup_elem(&xlb_services, &svc_id);
	if (!svc)
		return sock_refuse(XLB_DROP_NO_BACKEND, XLB_EPERM);
	/* The node is never "external": ETP=Local still gives it the cluster set. */
	set = fe->kind == XLB_FE_CLUSTER_IP && (svc->flags & XLB_SVC_ITP_LOCAL) ?
		      XLB_SET_LOCAL : XLB_SET_CLUSTER;
	n = set == XLB_SET_LOCAL ? svc->n_local : svc->n_cluster;
	if (!n)
		return svc->n_cluster ? sock_refuse(XLB_DROP_POLICY_LOCAL, XLB_EPERM) :
					sock_refuse(XLB_DROP_NO_ENDPOINTS, XLB_ECONNREFUSED);
	be = slot_backend(svc_id, svc, set, bpf_get_prandom_u32() % n, &bid);
	if (!be)
		return sock_refuse(XLB_DROP_NO_BACKEND, XLB_EPERM);
	rk.addr = be->addr;
	rk.port = be->port;
	rev.addr = dst;
	rev.port = port;
	bpf_map_update_elem(&xlb_sock_rev, &rk, &rev, BPF_ANY);
	write_dst(ctx, family, &be->addr, be->port);
	count_in(&xlb_packets, XLB_PACKETS_INDEX(XLB_HOOK_SOCK, XLB_VERDICT_STACK));
	return 1;
}

/* recvmsg/getpeername: show the frontend the process asked for. */
static __always_inline int sock_reverse(struct bpf_sock_addr *ctx, __u8 family)
{
	struct xlb_sock_key rk = { .cookie = bpf_get_socket_cookie(ctx), .family = family,
				   .port = ctx->user_port };
	struct xlb_sock_rev *rev;

	if (!node_config(ctx))
		return 1;
	read_dst(ctx, family, &rk.addr);
	rev = bpf_map_lookup_elem(&xlb_sock_rev, &rk);
	if (rev)
		write_dst(ctx, family, &rev->addr, rev->port);
	return 1;
}

SEC("cgroup/connect4")
int xlb_connect4(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XLB_FAM_V4);
}

SEC("cgroup/connect6")
int xlb_connect6(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XLB_FAM_V6);
}

SEC("cgroup/sendmsg4")
int xlb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XLB_FAM_V4);
}

SEC("cgroup/sendmsg6")
int xlb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_translate(ctx, XLB_FAM_V6);
}

SEC("cgroup/recvmsg4")
int xlb_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, XLB_FAM_V4);
}

SEC("cgroup/recvmsg6")
int xlb_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, XLB_FAM_V6);
}

SEC("cgroup/getpeername4")
int xlb_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, XLB_FAM_V4);
}

SEC("cgroup/getpeername6")
int xlb_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_reverse(ctx, XLB_FAM_V6);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
