/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One packet API over both contexts: the libraries below are written once
 * against these helpers; xdp.bpf.c defines XLB_XDP before including them. */
#ifndef XLB_CTX_H
#define XLB_CTX_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xlb_abi.h"

#ifndef TC_ACT_OK
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#endif

#ifdef XLB_XDP
#define XLB_CTX struct xdp_md
#define XLB_HOOK XLB_HOOK_XDP
#define XLB_RET_PASS XDP_PASS
#define XLB_RET_DROP XDP_DROP
#else
#define XLB_CTX struct __sk_buff
#define XLB_HOOK XLB_HOOK_TC
#define XLB_RET_PASS TC_ACT_OK
#define XLB_RET_DROP TC_ACT_SHOT
#endif

/* Headers are parsed within this many bytes of the frame start; it bounds
 * every offset for the verifier (and tc pulls this much into the linear part). */
#define XLB_HDR_MAX 512

static __always_inline void *ctx_data(XLB_CTX *ctx)
{
	return (void *)(long)ctx->data;
}

static __always_inline void *ctx_end(XLB_CTX *ctx)
{
	return (void *)(long)ctx->data_end;
}

/* A pointer to len bytes at off, or NULL when the frame is shorter. */
static __always_inline void *ctx_ptr(XLB_CTX *ctx, __u32 off, __u32 len)
{
	void *p;

	if (off > XLB_HDR_MAX)
		return NULL;
	p = ctx_data(ctx) + off;
	if (p + len > ctx_end(ctx))
		return NULL;
	return p;
}

/* Copy an IPv6 address between the packet and the stack or a map in two
 * 64-bit moves. The packet side is rarely 8-aligned: the verifier allows
 * that where the CPU does (x86-64, arm64), while clang, told the true
 * alignment, would move 32-bit halves and combine them. */
static __always_inline void addr6_copy(void *to, const void *from)
{
	((__u64 *)to)[0] = ((const __u64 *)from)[0];
	((__u64 *)to)[1] = ((const __u64 *)from)[1];
}

static __always_inline int ctx_load(XLB_CTX *ctx, __u32 off, void *to, __u32 len)
{
#ifdef XLB_XDP
	return bpf_xdp_load_bytes(ctx, off, to, len);
#else
	return bpf_skb_load_bytes(ctx, off, to, len);
#endif
}

static __always_inline int ctx_store(XLB_CTX *ctx, __u32 off, const void *from, __u32 len)
{
#ifdef XLB_XDP
	return bpf_xdp_store_bytes(ctx, off, (void *)from, len);
#else
	return bpf_skb_store_bytes(ctx, off, from, len, 0);
#endif
}

static __always_inline __u32 ctx_len(XLB_CTX *ctx)
{
#ifdef XLB_XDP
	return bpf_xdp_get_buff_len(ctx);
#else
	return ctx->len;
#endif
}

static __always_inline __u32 ctx_ifindex(XLB_CTX *ctx)
{
#ifdef XLB_XDP
	return ctx->ingress_ifindex;
#else
	/* Both loads unconditionally: a select between two ctx field
	 * addresses is not verifiable. */
	__u32 in = ctx->ingress_ifindex, dev = ctx->ifindex;

	return in ? in : dev;
#endif
}

/* Whether the frame holds at least len bytes. The linear part nearly always
 * does, and reading it costs no helper call (XDP's length is one). */
static __always_inline int ctx_holds(XLB_CTX *ctx, __u32 len)
{
	if (ctx_end(ctx) - ctx_data(ctx) >= len)
		return 1;
	return ctx_len(ctx) >= len;
}

/* Grow (delta > 0) or shrink (delta < 0) the frame at its start. */
static __always_inline int ctx_adjust_head(XLB_CTX *ctx, int delta)
{
#ifdef XLB_XDP
	return bpf_xdp_adjust_head(ctx, -delta);
#else
	if (delta < 0)
		return -1;
	return bpf_skb_change_head(ctx, delta, 0);
#endif
}

/* Cut the frame to len bytes. */
static __always_inline int ctx_set_len(XLB_CTX *ctx, __u32 len)
{
#ifdef XLB_XDP
	return bpf_xdp_adjust_tail(ctx, (int)len - (int)ctx_len(ctx));
#else
	return bpf_skb_change_tail(ctx, len, 0);
#endif
}

#endif
