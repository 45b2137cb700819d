// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP on the node's external devices: north-south service traffic and the
 * replies of translated flows. See bpf/README.md. */
#define XLB_XDP
#include "lb.h"

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	return xlb_process(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
