/* The loader: pin, adopt on a second load (state survives), two pin
 * directories side by side, attach XDP and tc, and cleanup. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "maps.h"
#include "test.h"

static char dir_a[128], dir_b[128];

static void remove_pins(void)
{
	char err[256];

	dp_cleanup(dir_a, err, sizeof(err));
	dp_cleanup(dir_b, err, sizeof(err));
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static void test_pin_and_adopt(void)
{
	struct xlb_ct_key k = { .sport = 7, .proto = 6, .family = 4 };
	struct xlb_ct_entry e = { .backend_id = 42 }, got;
	struct dp_sizes sz = { .conntrack = 4096 }, other = { .conntrack = 8192 };
	struct dp a1, a2, b;
	char err[256];
	__u32 id1;

	test_begin("loader_second_load_adopts_pinned_maps");
	CHECK(!dp_load(&a1, dir_a, &sz, err, sizeof(err)), "load: %s", err);
	CHECK(!a1.adopted, "a fresh directory reported as adopted");
	bpf_map_update_elem(a1.maps.fd[XLB_MAP_CONNTRACK], &k, &e, BPF_ANY);
	id1 = map_id(a1.maps.fd[XLB_MAP_CONNTRACK]);
	dp_close(&a1);
	/* other size flags: the pinned map (and its entries) wins */
	CHECK(!dp_load(&a2, dir_a, &other, err, sizeof(err)), "reload: %s", err);
	CHECK(a2.adopted, "the reload did not adopt");
	CHECK(map_id(a2.maps.fd[XLB_MAP_CONNTRACK]) == id1, "a new conntrack map was created");
	CHECK(!bpf_map_lookup_elem(a2.maps.fd[XLB_MAP_CONNTRACK], &k, &got) && got.backend_id == 42,
	      "the flow did not survive the reload");
	CHECK(maps_capacity(&a2.maps, XLB_MAP_CONNTRACK) == 4096, "capacity %u",
	      maps_capacity(&a2.maps, XLB_MAP_CONNTRACK));
	test_end();

	test_begin("loader_two_pin_directories_coexist");
	CHECK(!dp_load(&b, dir_b, &sz, err, sizeof(err)), "load b: %s", err);
	CHECK(!b.adopted && map_id(b.maps.fd[XLB_MAP_CONNTRACK]) != id1,
	      "the second directory shares maps with the first");
	CHECK(bpf_map_lookup_elem(b.maps.fd[XLB_MAP_CONNTRACK], &k, &got), "state leaked to b");
	dp_close(&b);
	dp_close(&a2);
	test_end();
}

static void test_attach_and_cleanup(void)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct dp dp;
	char err[256], path[256];
	struct stat st;
	int ifindex;

	test_begin("loader_attach_then_cleanup_detaches_and_unpins");
	if (system("ip link add xlbl0 type veth peer name xlbl1") || system("ip link set xlbl0 up") ||
	    system("ip link set xlbl1 up")) {
		CHECK(0, "veth set-up failed");
		test_end();
		return;
	}
	ifindex = if_nametoindex("xlbl0");
	CHECK(!dp_load(&dp, dir_a, &(struct dp_sizes){}, err, sizeof(err)), "load: %s", err);
	CHECK(!dp_attach_xdp(&dp, ifindex, XDP_MODE_NATIVE, err, sizeof(err)), "xdp: %s", err);
	CHECK(!dp_attach_tc(&dp, ifindex, err, sizeof(err)), "tc: %s", err);
	CHECK(!bpf_xdp_query(ifindex, 0, &q) && q.drv_prog_id, "no native XDP program");
	dp_close(&dp);	/* the agent exits: still attached */
	CHECK(!bpf_xdp_query(ifindex, 0, &q) && q.drv_prog_id, "XDP detached on close");
	CHECK(!dp_cleanup(dir_a, err, sizeof(err)), "cleanup: %s", err);
	CHECK(!bpf_xdp_query(ifindex, 0, &q) && !q.drv_prog_id, "XDP still attached");
	snprintf(path, sizeof(path), "%s/services", dir_a);
	CHECK(stat(path, &st) && stat(dir_a, &st), "pins remain after cleanup");
	test_end();
}

int main(void)
{
	if (unshare(CLONE_NEWNET) || system("ip link set lo up")) {
		printf("FAIL: setup: network namespace\n");
		return 1;
	}
	snprintf(dir_a, sizeof(dir_a), "/sys/fs/bpf/xlb-test-loader-%d-a", getpid());
	snprintf(dir_b, sizeof(dir_b), "/sys/fs/bpf/xlb-test-loader-%d-b", getpid());
	atexit(remove_pins);
	test_pin_and_adopt();
	test_attach_and_cleanup();
	return test_exit_status();
}
