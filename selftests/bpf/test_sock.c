/* Socket hooks for node-originated traffic: real TCP and UDP sockets in a
 * private network namespace and a private cgroup, with the hooks attached
 * to that cgroup. Checks the connection lands on the backend, the process
 * still sees the frontend, refusals, and that another namespace in the same
 * cgroup is left alone. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dptest.h"
#include "maps.h"
#include "test.h"

static char cgroup[256];
static const char *cg_root;

static void leave_cgroup(void)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_root);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", getpid());
		fclose(f);
	}
	rmdir(cgroup);
}

static int enter_cgroup(void)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char path[300];
	FILE *f;

	for (size_t i = 0; i < 2 && !cg_root; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", roots[i]);
		if (!access(path, W_OK))
			cg_root = roots[i];
	}
	if (!cg_root)
		return -1;
	snprintf(cgroup, sizeof(cgroup), "%s/xlb-test-sock-%d", cg_root, getpid());
	if (mkdir(cgroup, 0755))
		return -1;
	atexit(leave_cgroup);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", getpid());
	return fclose(f);
}

static socklen_t sockaddr_of(int fam, const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == 0) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s->sin_addr);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &s6->sin6_addr);
	return sizeof(*s6);
}

static int bound_socket(int fam, int type, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(fam, ip, port, &ss);
	int fd = socket(fam ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) ||
	    (type == SOCK_STREAM && listen(fd, 8))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* connect() with a 2 s bound; returns 0 or errno. */
static int try_connect(int fam, const char *ip, int port, int *out_fd)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(fam, ip, port, &ss);
	int fd = socket(fam ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = connect(fd, (struct sockaddr *)&ss, len) ? errno : 0;
	if (rc || !out_fd)
		close(fd);
	else
		*out_fd = fd;
	return rc;
}

static int same_addr(const struct sockaddr_storage *a, int fam, const char *ip, int port)
{
	struct sockaddr_storage want;
	socklen_t len = sockaddr_of(fam, ip, port, &want);

	return !memcmp(a, &want, len);
}

static void set_netns_cookie(void)
{
	struct xlb_config cfg;
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &cookie, &len);
	close(fd);
	maps_get_config(&dpt_dp.maps, &cfg);
	cfg.netns_cookie = cookie;
	maps_set_config(&dpt_dp.maps, &cfg);
}

static void setup_service(int f, uint32_t flags, int n_be)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_be be = { a->pod_be, 8080, true };
	uint32_t id;

	dpt_reset();
	set_netns_cookie();
	id = dpt_service(f, flags, &be, n_be);
	dpt_frontend(id, f, a->cip, 80, IPPROTO_TCP, XLB_FE_CLUSTER_IP, 0);
	dpt_frontend(id, f, a->cip, 80, IPPROTO_UDP, XLB_FE_CLUSTER_IP, 0);
	dpt_frontend(id, f, a->cip, 0, 0, XLB_FE_VIP, 0);
}

static void test_tcp(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int lfd, cfd = -1, afd, rc;
	char name[64];

	snprintf(name, sizeof(name), "node_tcp_to_clusterip_v%d", a->family);
	test_begin(name);
	setup_service(f, 0, 1);
	lfd = bound_socket(f, SOCK_STREAM, a->pod_be, 8080);
	CHECK(lfd >= 0, "listen on the backend: %s", strerror(errno));
	rc = try_connect(f, a->cip, 80, &cfd);
	CHECK(!rc, "connect to the ClusterIP: %s", strerror(rc));
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0, "the backend got no connection");
	CHECK(!getpeername(cfd, (struct sockaddr *)&peer, &len) && same_addr(&peer, f, a->cip, 80),
	      "getpeername does not show the ClusterIP");
	close(afd);
	close(cfd);
	close(lfd);
	test_end();
}

static void test_udp(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct sockaddr_storage to, from;
	socklen_t tl = sockaddr_of(f, a->cip, 80, &to), fl = sizeof(from);
	struct timeval tv = { .tv_sec = 2 };
	int bfd, cfd;
	char buf[16], name[64];

	snprintf(name, sizeof(name), "node_udp_to_clusterip_v%d", a->family);
	test_begin(name);
	setup_service(f, 0, 1);
	bfd = bound_socket(f, SOCK_DGRAM, a->pod_be, 8080);
	cfd = socket(f ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(bfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(sendto(cfd, "ping", 4, 0, (struct sockaddr *)&to, tl) == 4, "sendto: %s",
	      strerror(errno));
	CHECK(recvfrom(bfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) == 4,
	      "the backend got no datagram");
	CHECK(sendto(bfd, "pong", 4, 0, (struct sockaddr *)&from, fl) == 4, "reply: %s",
	      strerror(errno));
	fl = sizeof(from);
	CHECK(recvfrom(cfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) == 4,
	      "no reply");
	CHECK(same_addr(&from, f, a->cip, 80), "the reply does not come from the ClusterIP");
	close(bfd);
	close(cfd);
	test_end();
}

static void test_refused(int f)
{
	const struct dpt_fam *a = &dpt_fams[f];
	struct dpt_counters before, after;
	char name[64];
	int rc;

	snprintf(name, sizeof(name), "node_connect_refused_v%d", a->family);
	test_begin(name);
	setup_service(f, 0, 0);
	dpt_counters(&before);
	rc = try_connect(f, a->cip, 80, NULL);
	dpt_counters(&after);
	CHECK(rc == ECONNREFUSED, "no endpoints: %s, want connection refused", strerror(rc));
	CHECK(dpt_drop_delta(&before, &after) == XLB_DROP_NO_ENDPOINTS, "not counted");
	setup_service(f, 0, 1);
	rc = try_connect(f, a->cip, 81, NULL);
	CHECK(rc == ECONNREFUSED, "unknown port: %s, want connection refused", strerror(rc));
	test_end();
}

/* A process of the same cgroup in another network namespace. */
static void test_other_netns(void)
{
	struct dpt_counters before, after;
	int status = -1;
	pid_t pid;

	test_begin("socket_hooks_leave_other_netns_alone");
	setup_service(0, 0, 1);
	dpt_counters(&before);
	pid = fork();
	if (pid == 0) {
		int rc;

		if (unshare(CLONE_NEWNET) || system("ip link set lo up"))
			_exit(3);
		rc = try_connect(0, dpt_fams[0].cip, 80, NULL);
		_exit(rc == ENETUNREACH ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	dpt_counters(&after);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the other namespace's connect was not left alone (status %d)", status);
	CHECK(!memcmp(&before, &after, sizeof(before)), "counters moved for another namespace");
	test_end();
}

int main(void)
{
	char err[256];

	dpt_init();
	if (system("ip addr add 198.18.1.5/32 dev lo") ||
	    system("ip -6 addr add 2001:db8:1:1::5/128 dev lo nodad")) {
		printf("FAIL: setup: backend addresses\n");
		return 1;
	}
	if (enter_cgroup()) {
		test_skip("socket_hooks", "no writable cgroup v2 hierarchy");
		return 0;
	}
	if (dp_attach_cgroup(&dpt_dp, cgroup, err, sizeof(err))) {
		printf("FAIL: attach socket hooks: %s\n", err);
		return 1;
	}
	for (int f = 0; f < 2; f++) {
		test_tcp(f);
		test_udp(f);
		test_refused(f);
	}
	test_other_netns();
	dp_close(&dpt_dp);
	return test_exit_status();
}
