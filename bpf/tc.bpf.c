// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc ingress on pod-facing devices (pod -> service, replies to pods, hairpin)
 * and on external devices (what XDP passed up for local delivery). */
#include "lb.h"

SEC("tc")
int xlb_tc(struct __sk_buff *skb)
{
	/* Headers must be in the linear part for direct access. */
	bpf_skb_pull_data(skb, skb->len < XLB_HDR_MAX + 64 ? skb->len : XLB_HDR_MAX + 64);
	return xlb_process(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
