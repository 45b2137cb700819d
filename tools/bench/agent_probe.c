// SPDX-License-Identifier: GPL-2.0-only
/* agent_probe: when does each planned EndpointSlice change reach the maps?
 *
 *   agent_probe BPFFS PLAN T0_NS RATE TIMEOUT_S
 *
 * PLAN lines are "k svc clusterIP port new_ip new_port" (agent_bench.py
 * plan): change k gives the Service behind TCP clusterIP:port a new endpoint
 * new_ip:new_port and is written no earlier than T0_NS + k / RATE seconds
 * (CLOCK_REALTIME). A change counts as applied when the Service's current
 * cluster selection table (xlb_services -> xlb_slots of its generation ->
 * xlb_backends) names the new endpoint, i.e. when the data path would pick
 * it. Changes whose planned time has come are polled until seen, every
 * POLL_NS; stdout gets "k wall_ns" per change ("k -1": not seen before the
 * timeout). The first line, "ready", says every frontend was resolved. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <bpf/bpf.h>

#include "xlb_abi.h"

#define POLL_NS 100000L	/* between polling rounds; timer slack is set to 1 ns */
#define MAX_TABLE 4096

enum { M_FRONTENDS, M_SERVICES, M_SLOTS, M_BACKENDS, M_N };
static const char *const pins[M_N] = { "frontends", "services", "slots", "backends" };

struct change {
	__u32 svc_id;
	struct in_addr addr;
	__be16 port;
	int gen;	/* generation last searched without success; -1 none */
	int64_t seen_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_pins(const char *dir, int *fd)
{
	char path[4096];

	for (int i = 0; i < M_N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pins[i]);
		fd[i] = bpf_obj_get(path);
		if (fd[i] < 0) {
			fprintf(stderr, "agent_probe: open %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int resolve(const int *fd, const char *ip, unsigned int port, __u32 *svc_id)
{
	struct xlb_frontend_key k = { .port = htons(port), .proto = IPPROTO_TCP,
				      .family = XLB_FAM_V4 };
	struct xlb_frontend fe;

	if (inet_pton(AF_INET, ip, &k.addr.v4) != 1 ||
	    bpf_map_lookup_elem(fd[M_FRONTENDS], &k, &fe))
		return -1;
	*svc_id = fe.svc_id;
	return 0;
}

static int read_plan(const char *path, const int *fd, struct change **out, size_t *n)
{
	char cip[64], nip[64];
	unsigned int k, svc, port, nport;
	struct change *c = NULL, *grown;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "agent_probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*n = 0;
	while (fscanf(f, "%u %u %63s %u %63s %u", &k, &svc, cip, &port, nip, &nport) == 6) {
		if (k != *n) {
			fprintf(stderr, "agent_probe: %s: change %u out of order\n", path, k);
			goto fail;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(c, cap * sizeof(*c));
			if (!grown)
				goto fail;
			c = grown;
		}
		c[*n] = (struct change){ .port = htons(nport), .gen = -1, .seen_ns = -1 };
		if (inet_pton(AF_INET, nip, &c[*n].addr) != 1 ||
		    resolve(fd, cip, port, &c[*n].svc_id)) {
			fprintf(stderr, "agent_probe: change %u: no frontend %s:%u or bad address %s\n",
				k, cip, port, nip);
			goto fail;
		}
		(*n)++;
	}
	fclose(f);
	*out = c;
	return 0;
fail:
	fclose(f);
	free(c);
	return -1;
}

/* True once the Service's current cluster table names the change's endpoint.
 * A table replaced while it is read is read again at its new generation. */
static bool applied(const int *fd, struct change *c)
{
	struct xlb_slot_key sk = { .svc_id = c->svc_id, .set = XLB_SET_CLUSTER };
	struct xlb_service svc;
	struct xlb_backend be;
	__u32 bid;

	if (bpf_map_lookup_elem(fd[M_SERVICES], &c->svc_id, &svc) || svc.gen == c->gen)
		return false;
	sk.gen = svc.gen;
	for (sk.index = 0; sk.index < svc.n_cluster && sk.index < MAX_TABLE; sk.index++) {
		if (bpf_map_lookup_elem(fd[M_SLOTS], &sk, &bid) ||
		    bpf_map_lookup_elem(fd[M_BACKENDS], &bid, &be))
			return false;	/* being replaced: retry */
		if (be.family == XLB_FAM_V4 && be.addr.v4 == c->addr.s_addr && be.port == c->port)
			return true;
	}
	c->gen = svc.gen;
	return false;
}

int main(int argc, char **argv)
{
	struct timespec poll = { 0, POLL_NS };
	int64_t t0, deadline, step;
	size_t n, lo = 0, due = 0;
	struct change *c;
	int fd[M_N];
	double rate;

	if (argc != 6) {
		fprintf(stderr, "usage: agent_probe BPFFS PLAN T0_NS RATE TIMEOUT_S\n");
		return 2;
	}
	t0 = strtoll(argv[3], NULL, 10);
	rate = strtod(argv[4], NULL);
	if (rate <= 0 || open_pins(argv[1], fd) || read_plan(argv[2], fd, &c, &n))
		return 1;
	step = (int64_t)(1e9 / rate);
	deadline = t0 + (int64_t)n * step + (int64_t)(strtod(argv[5], NULL) * 1e9);
	prctl(PR_SET_TIMERSLACK, 1UL);
	printf("ready\n");
	fflush(stdout);
	while (lo < n && now_ns() < deadline) {
		int64_t now = now_ns();

		while (due < n && t0 + (int64_t)due * step <= now)
			due++;
		for (size_t k = lo; k < due; k++)
			if (c[k].seen_ns < 0 && applied(fd, &c[k]))
				c[k].seen_ns = now_ns();
		while (lo < due && c[lo].seen_ns >= 0)
			lo++;
		nanosleep(&poll, NULL);
	}
	for (size_t k = 0; k < n; k++)
		printf("%zu %lld\n", k, (long long)c[k].seen_ns);
	free(c);
	return 0;
}
