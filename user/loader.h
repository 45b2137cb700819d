/* Load, pin, adopt, attach and detach xlb's BPF programs. */
#ifndef XLB_LOADER_H
#define XLB_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "maps.h"

#define XLB_DEFAULT_BPFFS "/sys/fs/bpf/xlb"
/* Our tc filter's identity on clsact ingress ("xl"). */
#define XLB_TC_HANDLE 0x786c
#define XLB_TC_PRIO 0x786c

enum xdp_mode {
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
	XDP_MODE_OFF,
};

/* max_entries of the sizable maps; 0 keeps the compiled-in default. */
struct dp_sizes {
	__u32 frontends;
	__u32 services;
	__u32 slots;
	__u32 backends;
	__u32 conntrack;
	__u32 affinity;
};

struct xlb_xdp;
struct xlb_tc;
struct xlb_sock;
struct bpf_link;

#define DP_MAX_LINKS 8

struct dp {
	struct xlb_xdp *xdp;
	struct xlb_tc *tc;
	struct xlb_sock *sock;
	struct bpf_link *links[DP_MAX_LINKS];	/* cgroup attachments */
	int n_links;
	struct xlb_maps maps;
	bool adopted;		/* the maps were already pinned: state kept */
	char pin_dir[512];	/* empty: nothing pinned (tests) */
};

/* Load both programs sharing one set of maps. With pin_dir, maps pinned
 * there are adopted (their size wins) and the rest are pinned, with the
 * programs. The bpffs is mounted at /sys/fs/bpf first when it is not. */
int dp_load(struct dp *dp, const char *pin_dir, const struct dp_sizes *sz,
	    char *err, size_t errlen);
void dp_close(struct dp *dp);
int dp_xdp_fd(const struct dp *dp);
int dp_tc_fd(const struct dp *dp);

int dp_attach_xdp(struct dp *dp, int ifindex, enum xdp_mode mode, char *err, size_t errlen);
int dp_attach_tc(struct dp *dp, int ifindex, char *err, size_t errlen);

/* Attach the socket hooks (node-originated traffic) to a cgroup v2
 * directory; NULL finds the cgroup v2 root. With a pin directory the links
 * are pinned (they outlive the agent) and a restart swaps the programs in. */
int dp_attach_cgroup(struct dp *dp, const char *cgroup, char *err, size_t errlen);

/* Detach the programs pinned in pin_dir from every device of this network
 * namespace and remove the pin directory. */
int dp_cleanup(const char *pin_dir, char *err, size_t errlen);

/* Mount bpffs at /sys/fs/bpf when nothing is mounted there; 1 if mounted. */
int dp_ensure_bpffs(const char *pin_dir, char *err, size_t errlen);

#endif
