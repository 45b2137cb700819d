#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "htab.h"
#include "maglev.h"
#include "sync.h"

/* One backend of a service port with its value, while a port is built and
 * applied. Programmed ports keep only the ids: the value of each is in
 * xlb_backends, read back when the port changes (a million backends would
 * otherwise be held twice). */
struct prog_be {
	union xlb_addr addr;
	__be16 port;
	__u8 family;
	__u8 local;
	__u32 id;
};

struct prog_fe {
	struct xlb_frontend_key k;
	struct xlb_frontend v;
};

/* One programmed service port in one block: this header, then its backend
 * ids, frontends, source ranges and port name (port_fes() and on find
 * them). The service entry and selection tables are not copied: they are
 * read back from xlb_services and xlb_slots when the port changes. */
struct prog_port {
	__u32 svc_id;
	__u8 proto;
	__u8 family;
	bool taken;	/* adopted: claimed; a Service's: matched by the apply */
	__u32 n_bes;
	__u32 n_fes;
	__u32 n_ranges;
	__u32 be_ids[];		/* distinct backends of both tables */
};

/* The programmed ports of one Service in one block: this header, its key,
 * then the ports back to back from ports_at (for_each_port). */
struct prog_svc {
	__u32 n_ports;
	__u32 ports_at;
	char key[];		/* "ns/name" */
};

/* A VIP marker, shared by the ClusterIP frontends of one address. */
struct vip {
	struct xlb_frontend_key k;	/* port and proto 0; first (fe_ops) */
	__u32 n;	/* references + 1 (1: present, adopted, not yet referenced) */
};

/* A pinned frontend and the adopted port it belongs to. */
struct adopted_fe {
	struct xlb_frontend_key k;	/* first (fe_ops) */
	struct prog_port *port;
};

struct sync {
	struct xlb_maps *maps;
	bool maglev;
	struct htab svcs;	/* struct prog_svc by key */
	struct htab adopted;	/* struct adopted_fe by key, unclaimed */
	struct adopted_fe *adopted_fes;	/* their storage */
	struct prog_port **adopted_all;	/* sorted by svc_id */
	size_t n_adopted;
	struct xlb_frontend_key *adopted_vips;	/* VIP markers found pinned */
	size_t n_adopted_vips;
	struct htab vips;	/* struct vip by key */
	__u32 next_svc, next_be;
	struct sync_stats st;
	struct xlb_lpm_key *node_prefixes[2];	/* last programmed pod, svc CIDRs */
	size_t n_node_prefixes[2];
	struct xlb_addr_key *node_addrs;
	__u32 *node_addr_flags;
	size_t n_node_addrs;
};

/* ---- blocks ------------------------------------------------------------- */

static struct prog_fe *port_fes(const struct prog_port *p)
{
	return (struct prog_fe *)(p->be_ids + p->n_bes);
}

static struct xlb_prefix *port_ranges(const struct prog_port *p)
{
	return (struct xlb_prefix *)(port_fes(p) + p->n_fes);
}

static char *port_name(const struct prog_port *p)
{
	return (char *)(port_ranges(p) + p->n_ranges);
}

#define ALIGN4(n) (((n) + 3) & ~(size_t)3)

/* Bytes of p, rounded up so the next port of a block stays aligned; every
 * port block is allocated that long. */
static size_t port_size(const struct prog_port *p)
{
	return ALIGN4((size_t)(port_name(p) + strlen(port_name(p)) + 1 - (const char *)p));
}

/* A port with room for its arrays (filled by the caller) and its name. */
static struct prog_port *port_new(size_t n_bes, size_t n_fes, size_t n_ranges, const char *name)
{
	size_t len = sizeof(struct prog_port) + n_bes * sizeof(__u32) +
		     n_fes * sizeof(struct prog_fe) + n_ranges * sizeof(struct xlb_prefix);
	struct prog_port *p = calloc(1, ALIGN4(len + strlen(name) + 1));

	if (!p)
		return NULL;
	p->n_bes = n_bes;
	p->n_fes = n_fes;
	p->n_ranges = n_ranges;
	strcpy(port_name(p), name);
	return p;
}

static struct prog_port *svc_ports(const struct prog_svc *ps)
{
	return (struct prog_port *)((char *)ps + ps->ports_at);
}

static struct prog_port *port_next(const struct prog_port *p)
{
	return (struct prog_port *)((char *)p + port_size(p));
}

#define for_each_port(ps, p, i) \
	for ((i) = 0, (p) = svc_ports(ps); (i) < (ps)->n_ports; (i)++, (p) = port_next(p))

/* One block for key and copies of ports[0..n). */
static struct prog_svc *svc_pack(const char *key, struct prog_port *const *ports, size_t n)
{
	size_t at = ALIGN4(offsetof(struct prog_svc, key) + strlen(key) + 1);
	size_t len = at;
	struct prog_svc *ps;
	char *dst;

	for (size_t i = 0; i < n; i++)
		len += port_size(ports[i]);
	ps = malloc(len);
	if (!ps)
		return NULL;
	ps->n_ports = n;
	ps->ports_at = at;
	strcpy(ps->key, key);
	dst = (char *)ps + at;
	for (size_t i = 0; i < n; i++) {
		memcpy(dst, ports[i], port_size(ports[i]));
		((struct prog_port *)dst)->taken = false;
		dst += port_size(ports[i]);
	}
	return ps;
}

static const void *svc_key(const void *obj)
{
	return ((const struct prog_svc *)obj)->key;
}

static const struct htab_ops svc_ops = { svc_key, htab_str_hash, htab_str_equal };

/* Objects that begin with their struct xlb_frontend_key. */
static const void *fe_key(const void *obj)
{
	return obj;
}

static uint64_t fe_hash(const void *key)
{
	return htab_hash_bytes(key, sizeof(struct xlb_frontend_key));
}

static bool fe_equal(const void *a, const void *b)
{
	return !memcmp(a, b, sizeof(struct xlb_frontend_key));
}

static const struct htab_ops fe_ops = { fe_key, fe_hash, fe_equal };

/* ---- small helpers ------------------------------------------------------ */

static int count_write(struct sync *s, int rc)
{
	s->st.map_writes++;
	if (rc)
		s->st.errors++;
	return rc;
}

struct sync *sync_new(struct xlb_maps *maps, bool maglev)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->maps = maps;
	s->maglev = maglev;
	htab_init(&s->svcs, &svc_ops);
	htab_init(&s->adopted, &fe_ops);
	htab_init(&s->vips, &fe_ops);
	s->next_svc = 1;
	s->next_be = 1;
	return s;
}

static void free_all(struct htab *t)
{
	void *obj;
	size_t i = 0;

	while ((obj = htab_next(t, &i)))
		free(obj);
	htab_free(t);
}

void sync_free(struct sync *s)
{
	if (!s)
		return;
	free_all(&s->svcs);
	for (size_t i = 0; i < s->n_adopted; i++)
		free(s->adopted_all[i]);
	free(s->adopted_all);
	free(s->adopted_vips);
	htab_free(&s->adopted);
	free(s->adopted_fes);
	free_all(&s->vips);
	free(s->node_prefixes[0]);
	free(s->node_prefixes[1]);
	free(s->node_addrs);
	free(s->node_addr_flags);
	free(s);
}

void sync_get_stats(const struct sync *s, struct sync_stats *out)
{
	const struct prog_svc *ps;
	const struct prog_port *p;
	size_t i = 0, j;

	*out = s->st;
	out->svc_ports = out->backends = 0;
	while ((ps = htab_next(&s->svcs, &i))) {
		out->svc_ports += ps->n_ports;
		for_each_port(ps, p, j)
			out->backends += p->n_bes;
	}
}

/* ---- adoption of pinned state ------------------------------------------- */

static int cmp_svc_id(const void *a, const void *b)
{
	__u32 x = (*(struct prog_port *const *)a)->svc_id;
	__u32 y = (*(struct prog_port *const *)b)->svc_id;

	return x < y ? -1 : x > y;
}

/* The adopted port's slot in adopted_all (sorted by svc_id), or NULL. */
static struct prog_port **adopted_port(struct sync *s, __u32 svc_id)
{
	struct prog_port key = { .svc_id = svc_id }, *kp = &key;

	if (!s->n_adopted)
		return NULL;
	return bsearch(&kp, s->adopted_all, s->n_adopted, sizeof(kp), cmp_svc_id);
}

/* Read a table generation back: the backend ids in slot order. */
static int read_table(struct sync *s, __u32 svc_id, const struct xlb_service *svc, __u8 set,
		      __u32 **tab, __u32 *n)
{
	struct xlb_slot_key k = { .svc_id = svc_id, .gen = svc->gen, .set = set };
	__u32 cnt = set == XLB_SET_LOCAL ? svc->n_local : svc->n_cluster;

	*n = 0;
	*tab = cnt ? calloc(cnt, sizeof(**tab)) : NULL;
	if (cnt && !*tab)
		return -ENOMEM;
	for (__u32 i = 0; i < cnt; i++) {
		k.index = i;
		if (bpf_map_lookup_elem(s->maps->fd[XLB_MAP_SLOTS], &k, &(*tab)[i]))
			return -ENOENT;
	}
	*n = cnt;
	return 0;
}

/* Each id of tab once (ids[] has room for all), if its backend exists. */
static void add_backends_once(struct sync *s, __u32 *ids, __u32 *n, const __u32 *tab, __u32 n_tab)
{
	struct xlb_backend b;

	for (__u32 i = 0; i < n_tab; i++) {
		__u32 j;

		for (j = 0; j < *n && ids[j] != tab[i]; j++)
			;
		if (j < *n || bpf_map_lookup_elem(s->maps->fd[XLB_MAP_BACKENDS], &tab[i], &b))
			continue;
		ids[(*n)++] = tab[i];
		if (tab[i] >= s->next_be)
			s->next_be = tab[i] + 1;
	}
}

/* A pinned service entry: an adopted port with the distinct backends of
 * both its tables. */
static int adopt_service(const void *key, const void *value, void *arg)
{
	__u32 svc_id = *(const __u32 *)key, *tab[2] = {}, n_tab[2] = {}, *ids = NULL, n = 0;
	struct prog_port *p = NULL, **grown = NULL;
	struct sync *s = arg;
	int err;

	err = read_table(s, svc_id, value, XLB_SET_CLUSTER, &tab[0], &n_tab[0]) ?:
	      read_table(s, svc_id, value, XLB_SET_LOCAL, &tab[1], &n_tab[1]);
	if (!err)
		ids = calloc(n_tab[0] + n_tab[1] + 1, sizeof(*ids));
	if (ids) {
		add_backends_once(s, ids, &n, tab[0], n_tab[0]);
		add_backends_once(s, ids, &n, tab[1], n_tab[1]);
		p = port_new(n, 0, 0, "");
	}
	if (p)
		grown = realloc(s->adopted_all, (s->n_adopted + 1) * sizeof(*grown));
	if (grown) {
		p->svc_id = svc_id;
		memcpy(p->be_ids, ids, n * sizeof(*ids));
		s->adopted_all = grown;
		s->adopted_all[s->n_adopted++] = p;
		if (svc_id >= s->next_svc)
			s->next_svc = svc_id + 1;
	} else {
		free(p);
		err = err ?: -ENOMEM;
	}
	free(ids);
	free(tab[0]);
	free(tab[1]);
	return err;
}

/* Grow the adopted port *pp by one item at the end of the array ending at
 * byte offset at (adoption adds frontends, then ranges). */
static int port_insert(struct prog_port **pp, size_t at, const void *item, size_t size)
{
	size_t len = (const char *)port_name(*pp) + strlen(port_name(*pp)) + 1 -
		     (const char *)*pp;
	struct prog_port *p = realloc(*pp, ALIGN4(len + size));

	if (!p)
		return -ENOMEM;
	memmove((char *)p + at + size, (char *)p + at, len - at);
	memcpy((char *)p + at, item, size);
	*pp = p;
	return 0;
}

/* A VIP marker as present, with no reference yet. */
static struct vip *vip_new(struct sync *s, const struct xlb_frontend_key *k)
{
	struct vip *v = malloc(sizeof(*v)), *old;

	if (!v)
		return NULL;
	v->k = *k;
	v->n = 1;
	if (htab_put(&s->vips, v, (void **)&old)) {
		free(v);
		return NULL;
	}
	free(old);
	return v;
}

static int adopt_vip(struct sync *s, const struct xlb_frontend_key *k)
{
	struct xlb_frontend_key *vips = realloc(s->adopted_vips,
					      (s->n_adopted_vips + 1) * sizeof(*vips));

	if (!vips)
		return -ENOMEM;
	s->adopted_vips = vips;
	vips[s->n_adopted_vips++] = *k;
	return vip_new(s, k) ? 0 : -ENOMEM;
}

static int adopt_frontend(const void *key, const void *value, void *arg)
{
	const struct xlb_frontend_key *k = key;
	const struct xlb_frontend *v = value;
	struct prog_fe fe = { .k = *k, .v = *v };
	struct sync *s = arg;
	struct prog_port **pp;
	int err;

	if (v->kind == XLB_FE_VIP)
		return adopt_vip(s, k);
	pp = adopted_port(s, v->svc_id);
	if (!pp)
		return 0;	/* dangling: removed by garbage collection */
	err = port_insert(pp, (char *)port_ranges(*pp) - (char *)*pp, &fe, sizeof(fe));
	if (!err)
		(*pp)->n_fes++;
	return err;
}

static int adopt_range(const void *key, const void *value, void *arg)
{
	const struct xlb_lpm_key *k = key;
	struct sync *s = arg;
	struct prog_port **pp = adopted_port(s, k->id);
	struct xlb_prefix r = { .len = k->prefixlen - 32 };
	int err;

	if (!pp)
		return 0;
	memcpy(r.ip.bytes, &k->addr, 16);
	err = port_insert(pp, port_name(*pp) - (char *)*pp, &r, sizeof(r));
	if (!err)
		(*pp)->n_ranges++;
	return err;
}

struct key_list {
	void **keys;
	size_t *n;
	size_t size;
};

static int adopt_key(const void *key, const void *value, void *arg)
{
	struct key_list *l = arg;
	void *grown = realloc(*l->keys, (*l->n + 1) * l->size);

	if (!grown)
		return -ENOMEM;
	*l->keys = grown;
	memcpy((char *)grown + (*l->n)++ * l->size, key, l->size);
	return 0;
}

/* The node-wide keys already programmed, so the first apply removes the
 * ones that left while no agent ran. */
static int adopt_node(struct sync *s)
{
	struct key_list pod = { (void **)&s->node_prefixes[0], &s->n_node_prefixes[0],
				sizeof(struct xlb_lpm_key) };
	struct key_list svc = { (void **)&s->node_prefixes[1], &s->n_node_prefixes[1],
				sizeof(struct xlb_lpm_key) };
	struct key_list addrs = { (void **)&s->node_addrs, &s->n_node_addrs,
				  sizeof(struct xlb_addr_key) };

	return maps_walk(s->maps, XLB_MAP_POD_CIDRS, adopt_key, &pod) ?:
	       maps_walk(s->maps, XLB_MAP_SVC_CIDRS, adopt_key, &svc) ?:
	       maps_walk(s->maps, XLB_MAP_LOCAL_ADDRS, adopt_key, &addrs);
}

/* Once the adopted ports no longer move: index them by frontend; their
 * protocol and family (also of their ranges) come from the frontends. */
static int index_adopted(struct sync *s)
{
	struct adopted_fe *af, *old;
	size_t n = 0;

	for (size_t i = 0; i < s->n_adopted; i++)
		n += s->adopted_all[i]->n_fes;
	af = s->adopted_fes = n ? calloc(n, sizeof(*af)) : NULL;
	if (n && !af)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_adopted; i++) {
		struct prog_port *p = s->adopted_all[i];
		struct prog_fe *fes = port_fes(p);

		for (__u32 j = 0; j < p->n_ranges && p->n_fes; j++)
			port_ranges(p)[j].ip.family = fes[0].k.family;
		if (p->n_fes) {
			p->proto = fes[0].k.proto;
			p->family = fes[0].k.family;
		}
		for (__u32 j = 0; j < p->n_fes; j++, af++) {
			af->k = fes[j].k;
			af->port = p;
			if (htab_put(&s->adopted, af, (void **)&old))
				return -ENOMEM;
		}
	}
	return 0;
}

int sync_adopt(struct sync *s, char *err, size_t errlen)
{
	int rc = maps_walk(s->maps, XLB_MAP_SERVICES, adopt_service, s);

	if (!rc && s->n_adopted)
		qsort(s->adopted_all, s->n_adopted, sizeof(*s->adopted_all), cmp_svc_id);
	if (!rc)
		rc = maps_walk(s->maps, XLB_MAP_FRONTENDS, adopt_frontend, s);
	if (!rc)
		rc = maps_walk(s->maps, XLB_MAP_SRC_RANGES, adopt_range, s);
	if (!rc)
		rc = adopt_node(s);
	if (!rc)
		rc = index_adopted(s);
	if (rc)
		snprintf(err, errlen, "adopt pinned state: %s", strerror(-rc));
	return rc;
}

/* ---- building the desired programmed form ------------------------------- */

static void fe_from_model(const struct model_frontend *mf, __u8 family, __u32 svc_id,
			  struct prog_fe *out)
{
	memset(out, 0, sizeof(*out));
	if (mf->kind != XLB_FE_NODE_PORT)
		memcpy(&out->k.addr, mf->addr.bytes, 16);
	out->k.port = htons(mf->port);
	out->k.proto = mf->proto;
	out->k.family = family;
	out->v.svc_id = svc_id;
	out->v.kind = mf->kind;
	out->v.flags = mf->gated ? XLB_FE_GATED : 0;
}

/* The adopted port one of dp's frontends names, claimed for dp (it stays
 * in adopted_all until the garbage collection). */
static struct prog_port *claim_adopted(struct sync *s, const struct model_svc_port *dp)
{
	struct adopted_fe *af;
	struct prog_port *p;
	struct prog_fe fe;

	for (size_t i = 0; i < dp->n_fes; i++) {
		fe_from_model(&dp->fes[i], dp->family, 0, &fe);
		af = htab_get(&s->adopted, &fe.k);
		p = af ? af->port : NULL;
		if (p && !p->taken) {
			p->taken = true;
			return p;
		}
	}
	return NULL;
}

/* The backends of a built port with their values (see struct prog_be). */
struct be_list {
	struct prog_be *v;
	size_t n;
};

/* op's backends with their values, read back from xlb_backends; an id
 * that cannot be read is left out (its endpoint gets a new id). */
static int load_backends(struct sync *s, const struct prog_port *op, struct be_list *out)
{
	struct xlb_backend b;

	out->n = 0;
	out->v = op && op->n_bes ? calloc(op->n_bes, sizeof(*out->v)) : NULL;
	if (op && op->n_bes && !out->v)
		return -ENOMEM;
	for (size_t i = 0; op && i < op->n_bes; i++) {
		if (bpf_map_lookup_elem(s->maps->fd[XLB_MAP_BACKENDS], &op->be_ids[i], &b))
			continue;
		out->v[out->n++] = (struct prog_be){ .addr = b.addr, .port = b.port,
						     .family = b.family,
						     .local = !!(b.flags & XLB_BE_LOCAL),
						     .id = op->be_ids[i] };
	}
	return 0;
}

static int find_be(const struct be_list *l, const struct prog_be *want)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].family == want->family && l->v[i].port == want->port &&
		    l->v[i].local == want->local &&
		    !memcmp(&l->v[i].addr, &want->addr, sizeof(want->addr)))
			return (int)i;
	return -1;
}

static struct prog_be be_of(const struct model_endpoint *ep)
{
	struct prog_be b = { .port = htons(ep->port), .family = ep->ip.family,
			     .local = ep->is_local };

	memcpy(&b.addr, ep->ip.bytes, 16);
	return b;
}

/* Ids of eps in order, or their Maglev table. A Maglev table keeps its size
 * (old_m) while that is big enough: a new size would move every flow. */
static int build_table(struct sync *s, const struct be_list *bes,
		       const struct model_endpoint *eps, size_t n, __u32 old_m,
		       __u32 **tab, __u32 *n_tab)
{
	char (*names)[64] = NULL;
	const char **namep = NULL;
	__u32 *ids, m;
	int rc = -ENOMEM;

	*tab = NULL;
	*n_tab = 0;
	if (!n)
		return 0;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct prog_be b = be_of(&eps[i]);

		ids[i] = bes->v[find_be(bes, &b)].id;
	}
	if (!s->maglev) {
		*tab = ids;
		*n_tab = n;
		return 0;
	}
	m = maglev_table_size(n);
	if (old_m > m && maglev_is_prime(old_m))
		m = old_m;
	names = calloc(n, sizeof(*names));
	namep = calloc(n, sizeof(*namep));
	*tab = calloc(m, sizeof(**tab));
	if (names && namep && *tab) {
		for (size_t i = 0; i < n; i++) {
			inet_ntop(eps[i].ip.family == XLB_FAM_V4 ? AF_INET : AF_INET6, eps[i].ip.bytes,
				  names[i], 48);
			snprintf(names[i] + strlen(names[i]), 16, ":%u", eps[i].port);
			namep[i] = names[i];
		}
		rc = maglev_fill(namep, ids, n, m, *tab);
		*n_tab = m;
	}
	free(names);
	free(namep);
	free(ids);
	return rc;
}

/* Each distinct endpoint once, with op's id for it when op had it. */
static void add_endpoints(struct sync *s, struct be_list *bes, const struct be_list *old,
			  const struct model_endpoint *eps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prog_be b = be_of(&eps[i]);
		int j;

		if (find_be(bes, &b) >= 0)
			continue;
		j = find_be(old, &b);
		b.id = j >= 0 ? old->v[j].id : s->next_be++;
		bes->v[bes->n++] = b;
	}
}

/* The frontends of dp into fes (room for dp->n_fes), NodePorts once per
 * family (they share one entry); returns their number. */
static size_t build_frontends(const struct model_svc_port *dp, __u32 svc_id, struct prog_fe *fes)
{
	size_t n = 0;

	for (size_t i = 0; i < dp->n_fes; i++) {
		struct prog_fe fe;
		size_t j;

		fe_from_model(&dp->fes[i], dp->family, svc_id, &fe);
		for (j = 0; j < n && memcmp(&fes[j].k, &fe.k, sizeof(fe.k)); j++)
			;
		if (j == n)
			fes[n++] = fe;
	}
	return n;
}

/* A port being applied: its new block and what programming it takes
 * beyond that. */
struct port_build {
	struct prog_port *np;
	struct xlb_service svc;	/* flags and affinity timeout */
	struct xlb_service cur;	/* op's entry as programmed, if have_cur */
	bool have_cur;
	struct be_list bes;	/* np's backends with their values */
	__u32 *ctab, *ltab;
	__u32 n_ctab, n_ltab;
};

static void build_free(struct port_build *b)
{
	free(b->np);
	free(b->bes.v);
	free(b->ctab);
	free(b->ltab);
	memset(b, 0, sizeof(*b));
}

/* The block of the new port: dp's backends, frontends, ranges and name. */
static struct prog_port *new_port(const struct model_svc_port *dp, __u32 svc_id,
				  const struct be_list *bes)
{
	struct prog_fe *fes = dp->n_fes ? calloc(dp->n_fes, sizeof(*fes)) : NULL;
	size_t n_fes = fes ? build_frontends(dp, svc_id, fes) : 0;
	struct prog_port *np = NULL;

	if (!dp->n_fes || fes)
		np = port_new(bes->n, n_fes, dp->n_source_ranges, dp->port_name);
	if (np) {
		np->svc_id = svc_id;
		np->proto = dp->proto;
		np->family = dp->family;
		for (size_t i = 0; i < bes->n; i++)
			np->be_ids[i] = bes->v[i].id;
		if (n_fes)
			memcpy(port_fes(np), fes, n_fes * sizeof(*fes));
		if (dp->n_source_ranges)
			memcpy(port_ranges(np), dp->source_ranges,
			       dp->n_source_ranges * sizeof(*dp->source_ranges));
	}
	free(fes);
	return np;
}

/* The new version of op for dp into b, reusing op's svc_id and backend
 * ids. */
static int build_port(struct sync *s, const struct model_svc_port *dp,
		      const struct prog_port *op, struct port_build *b)
{
	struct be_list old = {};
	size_t max = dp->n_cluster + dp->n_local;
	int rc = -ENOMEM;

	memset(b, 0, sizeof(*b));
	b->have_cur = op && !maps_get_service(s->maps, op->svc_id, &b->cur);
	b->bes.v = max ? calloc(max, sizeof(*b->bes.v)) : NULL;
	if ((max && !b->bes.v) || load_backends(s, op, &old))
		goto out;
	b->svc.flags = dp->flags | (s->maglev ? XLB_SVC_MAGLEV : 0);
	b->svc.affinity_timeout = dp->affinity_timeout;
	add_endpoints(s, &b->bes, &old, dp->cluster, dp->n_cluster);
	add_endpoints(s, &b->bes, &old, dp->local, dp->n_local);
	b->np = new_port(dp, op ? op->svc_id : s->next_svc++, &b->bes);
	if (b->np &&
	    !build_table(s, &b->bes, dp->cluster, dp->n_cluster, b->cur.n_cluster, &b->ctab,
			 &b->n_ctab) &&
	    !build_table(s, &b->bes, dp->local, dp->n_local, b->cur.n_local, &b->ltab, &b->n_ltab))
		rc = 0;
out:
	free(old.v);
	if (rc)
		build_free(b);
	return rc;
}

/* ---- applying ----------------------------------------------------------- */

static bool has_be(const struct prog_port *p, __u32 id)
{
	for (size_t i = 0; p && i < p->n_bes; i++)
		if (p->be_ids[i] == id)
			return true;
	return false;
}

static bool has_fe(const struct prog_port *p, const struct prog_fe *fe, bool same_value)
{
	const struct prog_fe *fes = p ? port_fes(p) : NULL;

	for (size_t i = 0; p && i < p->n_fes; i++)
		if (!memcmp(&fes[i].k, &fe->k, sizeof(fe->k)))
			return !same_value || !memcmp(&fes[i].v, &fe->v, sizeof(fe->v));
	return false;
}

static bool has_range(const struct prog_port *p, const struct xlb_prefix *r)
{
	const struct xlb_prefix *ranges = p ? port_ranges(p) : NULL;

	for (size_t i = 0; p && i < p->n_ranges; i++)
		if (ranges[i].len == r->len &&
		    !memcmp(ranges[i].ip.bytes, r->ip.bytes, sizeof(r->ip.bytes)))
			return true;
	return false;
}

/* Whether generation cur->gen of set holds exactly tab[0..n). */
static bool same_table(struct sync *s, __u32 svc_id, const struct xlb_service *cur, __u8 set,
		       const __u32 *tab, __u32 n)
{
	struct xlb_slot_key k = { .svc_id = svc_id, .gen = cur->gen, .set = set };
	__u32 id;

	for (k.index = 0; k.index < n; k.index++)
		if (bpf_map_lookup_elem(s->maps->fd[XLB_MAP_SLOTS], &k, &id) || id != tab[k.index])
			return false;
	return true;
}

/* Whether the programmed entry and tables already are b's. */
static bool same_tables(struct sync *s, const struct port_build *b)
{
	const struct xlb_service *cur = &b->cur;

	return b->have_cur && cur->flags == b->svc.flags &&
	       cur->affinity_timeout == b->svc.affinity_timeout &&
	       cur->n_cluster == b->n_ctab && cur->n_local == b->n_ltab &&
	       same_table(s, b->np->svc_id, cur, XLB_SET_CLUSTER, b->ctab, b->n_ctab) &&
	       same_table(s, b->np->svc_id, cur, XLB_SET_LOCAL, b->ltab, b->n_ltab);
}

static int set_backend(struct sync *s, const struct prog_be *b)
{
	struct xlb_backend v = { .addr = b->addr, .port = b->port, .family = b->family,
				 .flags = b->local ? XLB_BE_LOCAL : 0 };

	return count_write(s, maps_set_backend(s->maps, b->id, &v));
}

static void range_key(const struct xlb_prefix *r, union xlb_addr *a)
{
	memcpy(a, r->ip.bytes, 16);
}

/* VIP markers are shared by the ClusterIP frontends of one address: count
 * the references (see struct vip). */
static void vip_ref(struct sync *s, const struct prog_fe *fe, int delta)
{
	struct prog_fe vip = { .k = fe->k, .v = { .svc_id = fe->v.svc_id, .kind = XLB_FE_VIP } };
	struct vip *v;

	if (fe->v.kind != XLB_FE_CLUSTER_IP)
		return;
	vip.k.port = 0;
	vip.k.proto = 0;
	v = htab_get(&s->vips, &vip.k);
	if (delta < 0 && (!v || v->n <= 2)) {
		free(htab_del(&s->vips, &vip.k));
		count_write(s, maps_del_frontend(s->maps, &vip.k));
		return;
	}
	if (delta > 0 && !v) {
		count_write(s, maps_set_frontend(s->maps, &vip.k, &vip.v));
		v = vip_new(s, &vip.k);
		if (!v) {
			s->st.errors++;
			return;
		}
	}
	v->n += delta;
}

/* Another service may have claimed the same frontend since: the map entry
 * names its owner (no copy of the owners is kept). */
static bool owns_fe(struct sync *s, const struct prog_fe *fe)
{
	struct xlb_frontend v;

	return !bpf_map_lookup_elem(s->maps->fd[XLB_MAP_FRONTENDS], &fe->k, &v) &&
	       v.svc_id == fe->v.svc_id;
}

static void del_fe(struct sync *s, const struct prog_fe *fe)
{
	vip_ref(s, fe, -1);
	if (!owns_fe(s, fe))
		return;
	htab_del(&s->adopted, &fe->k);
	count_write(s, maps_del_frontend(s->maps, &fe->k));
}

static void put_fe(struct sync *s, const struct prog_fe *fe, bool new_ref)
{
	if (new_ref)
		vip_ref(s, fe, 1);
	count_write(s, maps_set_frontend(s->maps, &fe->k, &fe->v));
}

/* Removal of what op has and np (NULL: nothing) does not; UDP backends that
 * leave get their flows flushed so clients move on. */
static void remove_stale(struct sync *s, const struct prog_port *op, const struct prog_port *np,
			 __u32 **flush, size_t *n_flush)
{
	const struct prog_fe *fes = port_fes(op);
	const struct xlb_prefix *ranges = port_ranges(op);
	union xlb_addr a;

	for (size_t i = 0; i < op->n_fes; i++)
		if (!has_fe(np, &fes[i], false))
			del_fe(s, &fes[i]);
	if (!np)
		count_write(s, maps_del_service(s->maps, op->svc_id));
	for (size_t i = 0; i < op->n_ranges; i++) {
		if (has_range(np, &ranges[i]))
			continue;
		range_key(&ranges[i], &a);
		count_write(s, maps_del_prefix(s->maps, XLB_MAP_SRC_RANGES, op->svc_id, &a,
					       ranges[i].len));
	}
	for (size_t i = 0; i < op->n_bes; i++) {
		__u32 *grown;

		if (has_be(np, op->be_ids[i]))
			continue;
		count_write(s, maps_del_backend(s->maps, op->be_ids[i]));
		if (op->proto != IPPROTO_UDP)
			continue;
		grown = realloc(*flush, (*n_flush + 1) * sizeof(*grown));
		if (!grown)
			continue;
		*flush = grown;
		(*flush)[(*n_flush)++] = op->be_ids[i];
	}
}

/* Add phase: backends, tables, ranges, frontends. A failure before the
 * tables switch leaves op fully in charge (new backends are removed). */
static int program_port(struct sync *s, const struct port_build *b, const struct prog_port *op,
			const char *what, char *err, size_t errlen)
{
	const struct prog_port *np = b->np;
	const struct xlb_prefix *ranges = port_ranges(np);
	const struct prog_fe *fes = port_fes(np);
	union xlb_addr a;
	size_t i;
	int rc = 0;

	for (i = 0; i < b->bes.n && !rc; i++)
		if (!has_be(op, b->bes.v[i].id))
			rc = set_backend(s, &b->bes.v[i]);
	if (!rc && !same_tables(s, b))
		rc = count_write(s, maps_publish_service(s->maps, np->svc_id, &b->svc, b->ctab,
							 b->n_ctab, b->ltab, b->n_ltab));
	if (rc) {
		snprintf(err, errlen, "%s: program backends and tables: %s", what, strerror(-rc));
		while (i--)
			if (!has_be(op, b->bes.v[i].id))
				count_write(s, maps_del_backend(s->maps, b->bes.v[i].id));
		return rc;
	}
	for (i = 0; i < np->n_ranges; i++) {
		if (has_range(op, &ranges[i]))
			continue;
		range_key(&ranges[i], &a);
		if (count_write(s, maps_set_prefix(s->maps, XLB_MAP_SRC_RANGES, np->svc_id, &a,
						   ranges[i].len)))
			snprintf(err, errlen, "%s: source range: map full", what);
	}
	for (i = 0; i < np->n_fes; i++)
		if (!has_fe(op, &fes[i], true))
			put_fe(s, &fes[i], !has_fe(op, &fes[i], false));
	return 0;
}

/* The port of ps standing for dp, marked as matched; NULL if none. */
static struct prog_port *take_port(const struct prog_svc *ps, const struct model_svc_port *dp)
{
	struct prog_port *p;
	size_t i;

	if (!ps)
		return NULL;
	for_each_port(ps, p, i) {
		if (!p->taken && p->proto == dp->proto && p->family == dp->family &&
		    !strcmp(port_name(p), dp->port_name)) {
			p->taken = true;
			return p;
		}
	}
	return NULL;
}

/* One sync_apply_service in progress. */
struct apply {
	struct prog_svc *old;
	struct prog_port **keep;	/* the ports of the new version */
	size_t n_keep;
	struct prog_port **built;	/* new blocks among them, freed once packed */
	size_t n_built;
	struct prog_port **claimed;	/* adopted ports this Service took over */
	size_t n_claimed;
	__u32 *flush;			/* UDP backends removed */
	size_t n_flush;
	char *err;
	size_t errlen;
};

static int apply_port(struct sync *s, struct apply *a, const struct model_svc_port *dp)
{
	struct prog_port *op = take_port(a->old, dp);
	struct port_build b;
	int rc;

	if (!op && (op = claim_adopted(s, dp))) {
		/* As if op had been programmed here: its frontends hold
		 * their VIP markers, released if they leave. */
		for (size_t j = 0; j < op->n_fes; j++)
			vip_ref(s, &port_fes(op)[j], 1);
		a->claimed[a->n_claimed++] = op;
	}
	rc = build_port(s, dp, op, &b);
	if (rc)
		snprintf(a->err, a->errlen, "%s: out of memory", dp->key);
	else
		rc = program_port(s, &b, op, dp->key, a->err, a->errlen);
	if (rc) {
		build_free(&b);
		if (op)
			a->keep[a->n_keep++] = op;	/* the old version stays */
		return rc;
	}
	if (op)
		remove_stale(s, op, b.np, &a->flush, &a->n_flush);
	a->keep[a->n_keep++] = a->built[a->n_built++] = b.np;
	b.np = NULL;
	build_free(&b);
	return 0;
}

/* Once its Service's record holds what it became, a claimed adopted port
 * shrinks to the header the garbage collection reads (svc_id, taken): a
 * restarted agent need not hold every adopted port beside its new record
 * until the first sync ends. */
static void release_adopted(struct sync *s, struct prog_port *op)
{
	struct prog_port **slot = adopted_port(s, op->svc_id), *stub;
	struct adopted_fe *af;

	if (!slot || *slot != op)
		return;
	stub = port_new(0, 0, 0, "");
	if (!stub)
		return;		/* the whole block stays until then: no harm */
	for (__u32 j = 0; j < op->n_fes; j++) {
		af = htab_get(&s->adopted, &port_fes(op)[j].k);
		if (af && af->port == op)
			htab_del(&s->adopted, &af->k);
	}
	stub->svc_id = op->svc_id;
	stub->taken = true;
	*slot = stub;
	free(op);
}

/* Make the Service's record the ports kept (none: no record). */
static int replace_svc(struct sync *s, const char *svc_key, struct apply *a)
{
	struct prog_svc *ns = NULL, *prev = NULL;
	int rc = 0;

	if (a->n_keep) {
		ns = svc_pack(svc_key, a->keep, a->n_keep);
		if (!ns || htab_put(&s->svcs, ns, (void **)&prev)) {
			free(ns);
			ns = NULL;
			rc = -ENOMEM;
		}
	}
	if (!ns)
		prev = htab_del(&s->svcs, svc_key);
	free(prev);
	for (size_t i = 0; i < a->n_built; i++)
		free(a->built[i]);
	return rc;
}

int sync_apply_service(struct sync *s, const char *svc_key, const struct model_state *desired,
		       char *err, size_t errlen)
{
	struct apply a = { .old = htab_get(&s->svcs, svc_key), .err = err, .errlen = errlen };
	struct prog_port *p;
	size_t i;
	int rc = 0, prc;

	a.keep = calloc(3 * desired->n_ports + 1, sizeof(*a.keep));
	if (!a.keep) {
		snprintf(err, errlen, "%s: out of memory", svc_key);
		return -ENOMEM;
	}
	a.built = a.keep + desired->n_ports;
	a.claimed = a.built + desired->n_ports;
	for (i = 0; i < desired->n_ports; i++) {
		prc = apply_port(s, &a, &desired->ports[i]);
		if (prc)
			rc = prc;
	}
	if (a.old)
		for_each_port(a.old, p, i)
			if (!p->taken)
				remove_stale(s, p, NULL, &a.flush, &a.n_flush);
	if (a.n_flush) {
		int n = maps_flush_backend_flows(s->maps, a.flush, a.n_flush);

		if (n > 0)
			s->st.udp_flows_flushed += n;
	}
	free(a.flush);
	prc = replace_svc(s, svc_key, &a);
	if (!prc)
		for (i = 0; i < a.n_claimed; i++)
			release_adopted(s, a.claimed[i]);
	free(a.keep);
	if (prc) {
		snprintf(err, errlen, "%s: out of memory", svc_key);
		return prc;
	}
	return rc;
}

int sync_collect_garbage(struct sync *s)
{
	__u32 *flush = NULL;
	size_t n_flush = 0;

	for (size_t i = 0; i < s->n_adopted; i++) {
		struct prog_port *p = s->adopted_all[i];

		if (!p->taken)
			remove_stale(s, p, NULL, &flush, &n_flush);
		free(p);
	}
	/* VIP markers nobody referenced since the adoption. */
	for (size_t i = 0; i < s->n_adopted_vips; i++) {
		struct vip *v = htab_get(&s->vips, &s->adopted_vips[i]);

		if (!v || v->n != 1)
			continue;
		count_write(s, maps_del_frontend(s->maps, &s->adopted_vips[i]));
		free(htab_del(&s->vips, &v->k));
	}
	free(s->adopted_vips);
	s->adopted_vips = NULL;
	s->n_adopted_vips = 0;
	if (n_flush)
		maps_flush_backend_flows(s->maps, flush, n_flush);
	free(flush);
	free(s->adopted_all);
	s->adopted_all = NULL;
	s->n_adopted = 0;
	htab_free(&s->adopted);
	free(s->adopted_fes);
	s->adopted_fes = NULL;
	return 0;
}

/* ---- the node-wide part ------------------------------------------------- */

static struct xlb_lpm_key *lpm_keys(const struct xlb_prefix *p, size_t n)
{
	struct xlb_lpm_key *k = calloc(n + 1, sizeof(*k));

	for (size_t i = 0; k && i < n; i++) {
		k[i].prefixlen = 32 + p[i].len;
		k[i].id = p[i].ip.family;
		memcpy(&k[i].addr, p[i].ip.bytes, 16);
	}
	return k;
}

static bool has_key(const void *keys, size_t n, size_t size, const void *k)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp((const char *)keys + i * size, k, size))
			return true;
	return false;
}

/* Replace the programmed entries of one map by keys[0..n): write all, then
 * delete the ones that left. */
static int replace_keys(struct sync *s, int fd, void **old, size_t *n_old, void *keys,
			const void *values, size_t vsize, size_t n, size_t ksize)
{
	static const __u8 one = 1;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		rc |= count_write(s, bpf_map_update_elem(fd, (char *)keys + i * ksize,
							 values ? (const char *)values + i * vsize :
								  (const void *)&one,
							 BPF_ANY) ? -errno : 0);
	for (size_t i = 0; i < *n_old; i++) {
		const void *k = (const char *)*old + i * ksize;

		if (!has_key(keys, n, ksize, k))
			count_write(s, bpf_map_delete_elem(fd, k) ? -errno : 0);
	}
	free(*old);
	*old = keys;
	*n_old = n;
	return rc;
}

static void add_addr(struct xlb_addr_key *keys, __u32 *flags, size_t *n, const struct xlb_ip *ip,
		     __u32 flag)
{
	struct xlb_addr_key k = { .family = ip->family };

	memcpy(&k.addr, ip->bytes, 16);
	for (size_t i = 0; i < *n; i++)
		if (!memcmp(&keys[i], &k, sizeof(k))) {
			flags[i] |= flag;
			return;
		}
	keys[*n] = k;
	flags[(*n)++] = flag;
}

int sync_apply_node(struct sync *s, const struct sync_node *node, char *err, size_t errlen)
{
	size_t cap = node->n_node_addrs + node->n_nodeport_addrs + 1, n = 0;
	struct xlb_addr_key *addrs = calloc(cap, sizeof(*addrs));
	__u32 *flags = calloc(cap, sizeof(*flags));
	struct xlb_lpm_key *pod = lpm_keys(node->pod_cidrs, node->n_pod_cidrs);
	struct xlb_lpm_key *svc = lpm_keys(node->svc_cidrs, node->n_svc_cidrs);
	int rc;

	if (!addrs || !flags || !pod || !svc) {
		free(addrs);
		free(flags);
		free(pod);
		free(svc);
		snprintf(err, errlen, "node state: out of memory");
		return -ENOMEM;
	}
	rc = count_write(s, maps_set_config(s->maps, &node->cfg));
	rc |= replace_keys(s, s->maps->fd[XLB_MAP_POD_CIDRS], (void **)&s->node_prefixes[0],
			   &s->n_node_prefixes[0], pod, NULL, 0, node->n_pod_cidrs, sizeof(*pod));
	rc |= replace_keys(s, s->maps->fd[XLB_MAP_SVC_CIDRS], (void **)&s->node_prefixes[1],
			   &s->n_node_prefixes[1], svc, NULL, 0, node->n_svc_cidrs, sizeof(*svc));
	for (size_t i = 0; i < node->n_node_addrs; i++)
		add_addr(addrs, flags, &n, &node->node_addrs[i], XLB_ADDR_NODE);
	for (size_t i = 0; i < node->n_nodeport_addrs; i++)
		add_addr(addrs, flags, &n, &node->nodeport_addrs[i], XLB_ADDR_NODEPORT);
	free(s->node_addr_flags);
	s->node_addr_flags = flags;
	rc |= replace_keys(s, s->maps->fd[XLB_MAP_LOCAL_ADDRS], (void **)&s->node_addrs,
			   &s->n_node_addrs, addrs, flags, sizeof(*flags), n, sizeof(*addrs));
	if (rc)
		snprintf(err, errlen, "node state: some map writes failed");
	return rc ? -EIO : 0;
}
