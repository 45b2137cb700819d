#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "xdp.skel.h"
#include "tc.skel.h"
#include "sock.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *map_pin_name(const char *bpf_name)
{
	return strncmp(bpf_name, "xlb_", 4) ? bpf_name : bpf_name + 4;
}

/* Per-CPU scratch maps and caches and .rodata are private to one program
 * instance. */
static bool map_is_shared_state(const struct bpf_map *map)
{
	const char *name = bpf_map__name(map);

	return !bpf_map__is_internal(map) && !strstr(name, "_scratch") &&
	       !strstr(name, "_cache");
}

int dp_ensure_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	struct statfs st;

	if (strncmp(pin_dir, "/sys/fs/bpf", 11))
		return 0;
	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		snprintf(err, errlen, "mount bpffs at /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	fprintf(stderr, "xlb: mounted bpffs at /sys/fs/bpf (nothing was mounted there)\n");
	return 1;
}

/* CONFIG_HZ from the running kernel's config: $XLB_KERNEL_CONFIG when set,
 * else /boot/config-RELEASE, else /proc/config.gz (gzread reads plain and
 * gzip files alike); 0 when none says. */
static unsigned int kernel_hz(void)
{
	const char *env = getenv("XLB_KERNEL_CONFIG");
	char path[128], line[256];
	unsigned int hz = 0;
	struct utsname u;
	gzFile f;

	if (env) {
		f = gzopen(env, "r");
	} else {
		f = NULL;
		if (!uname(&u)) {
			snprintf(path, sizeof(path), "/boot/config-%s", u.release);
			f = gzopen(path, "r");
		}
		if (!f)
			f = gzopen("/proc/config.gz", "r");
	}
	if (!f)
		return 0;
	while (!hz && gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u", &hz) != 1)
			hz = 0;
	gzclose(f);
	return hz;
}

/* The data path's clock reads jiffies when HZ is known (bpf/conntrack.h). */
static __u32 ns_per_jiffy(void)
{
	static unsigned int hz = -1U;

	if (hz == -1U) {
		hz = kernel_hz();
		if (!hz)
			fprintf(stderr, "xlb: kernel HZ unknown (no kernel config found): "
				"the data path reads its clock through a helper call\n");
	}
	return hz ? 1000000000U / hz : 0;
}

static void apply_size(struct bpf_object *obj, const char *name, __u32 n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	if (map && n)
		bpf_map__set_max_entries(map, n);
}

/* Point every shared map at its pin file; an existing pin is adopted with
 * its own size, so a restart with other size flags keeps the state. */
static int setup_pins(struct dp *dp, struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map_info info;
	struct bpf_map *map;
	char path[PATH_MAX];
	__u32 len;
	int fd;

	bpf_object__for_each_map(map, obj) {
		if (!map_is_shared_state(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, map_pin_name(bpf_map__name(map)));
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				bpf_map__set_max_entries(map, info.max_entries);
			close(fd);
			dp->adopted = true;
		}
		if (bpf_map__set_pin_path(map, path)) {
			snprintf(err, errlen, "pin path %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* The tc object uses the xdp object's maps: one state for both programs. */
static int share_maps(struct bpf_object *from, struct bpf_object *to, char *err, size_t errlen)
{
	struct bpf_map *map, *src;

	bpf_object__for_each_map(map, to) {
		if (!map_is_shared_state(map))
			continue;
		src = bpf_object__find_map_by_name(from, bpf_map__name(map));
		if (!src || bpf_map__reuse_fd(map, bpf_map__fd(src))) {
			snprintf(err, errlen, "share map %s between programs: %s",
				 bpf_map__name(map), src ? strerror(errno) : "missing");
			return -EINVAL;
		}
	}
	return 0;
}

static int pin_prog(struct bpf_program *prog, const char *dir, const char *name,
		    char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);	/* a restart replaces the previous instance's pin */
	if (bpf_program__pin(prog, path)) {
		snprintf(err, errlen, "pin program %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int load_xdp_object(struct dp *dp, const struct dp_sizes *sz, char *err, size_t errlen)
{
	struct bpf_object *obj;
	int rc;

	dp->xdp = xlb_xdp__open();
	if (!dp->xdp) {
		snprintf(err, errlen, "open xdp object: %s", strerror(errno));
		return -errno;
	}
	obj = dp->xdp->obj;
	dp->xdp->rodata->xlb_ns_per_jiffy = ns_per_jiffy();
	apply_size(obj, "xlb_frontends", sz->frontends);
	apply_size(obj, "xlb_services", sz->services);
	apply_size(obj, "xlb_slots", sz->slots);
	apply_size(obj, "xlb_backends", sz->backends);
	apply_size(obj, "xlb_conntrack", sz->conntrack);
	apply_size(obj, "xlb_affinity", sz->affinity);
	if (dp->pin_dir[0]) {
		rc = setup_pins(dp, obj, err, errlen);
		if (rc)
			return rc;
	}
	rc = xlb_xdp__load(dp->xdp);
	if (rc) {
		snprintf(err, errlen, "load xdp program: %s%s", strerror(-rc),
			 dp->adopted ? " (pinned maps of another layout? run 'xlb cleanup')" : "");
		return rc;
	}
	return 0;
}

int dp_load(struct dp *dp, const char *pin_dir, const struct dp_sizes *sz,
	    char *err, size_t errlen)
{
	int rc;

	memset(dp, 0, sizeof(*dp));
	maps_init(&dp->maps);
	if (pin_dir) {
		snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", pin_dir);
		rc = dp_ensure_bpffs(pin_dir, err, errlen);
		if (rc < 0)
			return rc;
		if (mkdir(pin_dir, 0700) && errno != EEXIST) {
			snprintf(err, errlen, "create pin directory %s: %s", pin_dir, strerror(errno));
			return -errno;
		}
	}
	rc = load_xdp_object(dp, sz, err, errlen);
	if (rc)
		goto fail;
	dp->tc = xlb_tc__open();
	if (!dp->tc) {
		rc = -errno;
		snprintf(err, errlen, "open tc object: %s", strerror(errno));
		goto fail;
	}
	dp->tc->rodata->xlb_ns_per_jiffy = ns_per_jiffy();
	rc = share_maps(dp->xdp->obj, dp->tc->obj, err, errlen);
	if (rc)
		goto fail;
	rc = xlb_tc__load(dp->tc);
	if (rc) {
		snprintf(err, errlen, "load tc program: %s", strerror(-rc));
		goto fail;
	}
	dp->sock = xlb_sock__open();
	rc = dp->sock ? share_maps(dp->xdp->obj, dp->sock->obj, err, errlen) : -errno;
	if (!rc)
		rc = xlb_sock__load(dp->sock);
	if (rc) {
		snprintf(err, errlen, "load socket programs: %s", strerror(-rc));
		goto fail;
	}
	if (dp->pin_dir[0]) {
		rc = pin_prog(dp->xdp->progs.xlb_xdp, dp->pin_dir, "prog_xdp", err, errlen);
		if (!rc)
			rc = pin_prog(dp->tc->progs.xlb_tc, dp->pin_dir, "prog_tc", err, errlen);
		if (rc)
			goto fail;
	}
	rc = maps_from_object(&dp->maps, dp->xdp->obj, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	dp_close(dp);
	return rc;
}

void dp_close(struct dp *dp)
{
	/* A pinned link stays attached; an unpinned one (tests) detaches. */
	for (int i = 0; i < dp->n_links; i++)
		bpf_link__destroy(dp->links[i]);
	dp->n_links = 0;
	xlb_sock__destroy(dp->sock);
	dp->sock = NULL;
	maps_close(&dp->maps);
	xlb_tc__destroy(dp->tc);
	xlb_xdp__destroy(dp->xdp);
	dp->tc = NULL;
	dp->xdp = NULL;
}

int dp_xdp_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->xdp->progs.xlb_xdp);
}

int dp_tc_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->tc->progs.xlb_tc);
}

static const char *ifname_of(int ifindex, char *buf)
{
	return if_indextoname(ifindex, buf) ? buf : "?";
}

int dp_attach_xdp(struct dp *dp, int ifindex, enum xdp_mode mode, char *err, size_t errlen)
{
	__u32 flags = mode == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	char name[IF_NAMESIZE];
	int rc;

	if (mode == XDP_MODE_OFF)
		return 0;
	/* Replaces a previous instance in place: no gap in service. */
	rc = bpf_xdp_attach(ifindex, dp_xdp_fd(dp), flags, NULL);
	if (rc) {
		snprintf(err, errlen, "attach xdp (%s) to %s: %s%s",
			 mode == XDP_MODE_GENERIC ? "generic" : "native", ifname_of(ifindex, name),
			 strerror(-rc), mode == XDP_MODE_NATIVE ? " (try --xdp-mode generic)" : "");
		return rc;
	}
	return 0;
}

int dp_attach_tc(struct dp *dp, int ifindex, char *err, size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = XLB_TC_PRIO,
			    .prog_fd = dp_tc_fd(dp), .flags = BPF_TC_F_REPLACE);
	char name[IF_NAMESIZE];
	int rc;

	rc = bpf_tc_hook_create(&hook);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "create clsact on %s: %s", ifname_of(ifindex, name),
			 strerror(-rc));
		return rc;
	}
	rc = bpf_tc_attach(&hook, &opts);
	if (rc) {
		snprintf(err, errlen, "attach tc ingress to %s: %s", ifname_of(ifindex, name),
			 strerror(-rc));
		return rc;
	}
	return 0;
}

static const char *cgroup2_root(void)
{
	static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct statfs st;

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (!statfs(candidates[i], &st) && st.f_type == CGROUP2_SUPER_MAGIC)
			return candidates[i];
	return NULL;
}

/* Swap the program of a pinned link from a previous instance; false when
 * there is no such link. */
static bool update_pinned_link(const char *path, struct bpf_program *prog)
{
	struct bpf_link *link = bpf_link__open(path);
	bool ok;

	if (!link)
		return false;
	ok = !bpf_link__update_program(link, prog);
	bpf_link__destroy(link);
	return ok;
}

int dp_attach_cgroup(struct dp *dp, const char *cgroup, char *err, size_t errlen)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	char path[PATH_MAX];
	int fd, rc = 0;

	if (!cgroup)
		cgroup = cgroup2_root();
	if (!cgroup) {
		snprintf(err, errlen, "no cgroup v2 mount for the socket hooks");
		return -ENOENT;
	}
	fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		snprintf(err, errlen, "open cgroup %s: %s", cgroup, strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, dp->sock->obj) {
		snprintf(path, sizeof(path), "%s/link_%s", dp->pin_dir, bpf_program__name(prog));
		if (dp->pin_dir[0] && update_pinned_link(path, prog))
			continue;
		link = bpf_program__attach_cgroup(prog, fd);
		if (!link || dp->n_links == DP_MAX_LINKS) {
			rc = -errno;
			snprintf(err, errlen, "attach %s to cgroup %s: %s", bpf_program__name(prog),
				 cgroup, strerror(errno));
			bpf_link__destroy(link);
			break;
		}
		dp->links[dp->n_links++] = link;
		if (dp->pin_dir[0] && bpf_link__pin(link, path)) {
			rc = -errno;
			snprintf(err, errlen, "pin link %s: %s", path, strerror(errno));
			break;
		}
	}
	close(fd);
	return rc;
}

static __u32 pinned_prog_id(const char *dir, const char *name)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static void detach_dev(int ifindex, __u32 xdp_id, __u32 tc_id)
{
	DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, q);
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XLB_TC_HANDLE, .priority = XLB_TC_PRIO);

	if (xdp_id && !bpf_xdp_query(ifindex, 0, &q)) {
		if (q.drv_prog_id == xdp_id)
			bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (q.skb_prog_id == xdp_id)
			bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	}
	if (tc_id && !bpf_tc_query(&hook, &opts) && opts.prog_id == tc_id) {
		opts.prog_id = 0;
		opts.prog_fd = 0;
		opts.flags = 0;
		bpf_tc_detach(&hook, &opts);
	}
}

/* Queries of devices without our hooks fail by design: keep libbpf quiet. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int dp_cleanup(const char *pin_dir, char *err, size_t errlen)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);

	__u32 xdp_id = pinned_prog_id(pin_dir, "prog_xdp");
	__u32 tc_id = pinned_prog_id(pin_dir, "prog_tc");
	struct if_nameindex *ifs = if_nameindex(), *i;
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	for (i = ifs; i && i->if_index; i++)
		detach_dev(i->if_index, xdp_id, tc_id);
	if (ifs)
		if_freenameindex(ifs);
	libbpf_set_print(old);
	d = opendir(pin_dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "open pin directory %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	if (rmdir(pin_dir)) {
		snprintf(err, errlen, "remove pin directory %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	return 0;
}
