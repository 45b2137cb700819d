#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "maglev.h"
#include "strmap.h"
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

/* One programmed service port; key NULL while adopted and unclaimed.
 * Arrays are exactly as long as their count, NULL when empty. */
struct prog_port {
	char *key;
	__u32 svc_id;
	__u8 proto;
	struct xlb_service svc;
	__u32 *be_ids;		/* distinct backends of ctab and ltab */
	size_t n_bes;
	__u32 *ctab, n_ctab;
	__u32 *ltab, n_ltab;
	struct prog_fe *fes;
	size_t n_fes;
	struct xlb_prefix *ranges;
	size_t n_ranges;
};

struct prog_svc {
	size_t n;
	struct prog_port *ports[];
};

struct sync {
	struct xlb_maps *maps;
	bool maglev;
	struct strmap svcs;	/* "ns/name" -> struct prog_svc */
	struct strmap adopted;	/* frontend key -> unclaimed adopted prog_port */
	struct prog_port **adopted_all;
	size_t n_adopted;
	struct xlb_frontend_key *adopted_vips;	/* VIP markers found pinned */
	size_t n_adopted_vips;
	struct strmap vips;	/* VIP marker key -> 1 + its reference count */
	__u32 next_svc, next_be;
	struct sync_stats st;
	struct xlb_lpm_key *node_prefixes[2];	/* last programmed pod, svc CIDRs */
	size_t n_node_prefixes[2];
	struct xlb_addr_key *node_addrs;
	__u32 *node_addr_flags;
	size_t n_node_addrs;
};

/* ---- small helpers ------------------------------------------------------ */

static void key_str(const void *key, size_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = key;

	for (size_t i = 0; i < len; i++) {
		buf[2 * i] = hex[b[i] >> 4];
		buf[2 * i + 1] = hex[b[i] & 15];
	}
	buf[2 * len] = 0;
}

#define FE_STRLEN (2 * sizeof(struct xlb_frontend_key) + 1)

static void fe_str(const struct xlb_frontend_key *k, char *buf)
{
	key_str(k, sizeof(*k), buf);
}

static int count_write(struct sync *s, int rc)
{
	s->st.map_writes++;
	if (rc)
		s->st.errors++;
	return rc;
}

static void port_free(struct prog_port *p)
{
	if (!p)
		return;
	free(p->key);
	free(p->be_ids);
	free(p->ctab);
	free(p->ltab);
	free(p->fes);
	free(p->ranges);
	free(p);
}

static void svc_free(struct prog_svc *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		port_free(ps->ports[i]);
	free(ps);
}

struct sync *sync_new(struct xlb_maps *maps, bool maglev)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->maps = maps;
	s->maglev = maglev;
	strmap_init(&s->svcs);
	strmap_init(&s->adopted);
	strmap_init(&s->vips);
	s->next_svc = 1;
	s->next_be = 1;
	return s;
}

void sync_free(struct sync *s)
{
	struct strmap_entry *e;
	size_t i = 0;

	if (!s)
		return;
	while (strmap_next(&s->svcs, &i, &e))
		svc_free(e->value);
	strmap_free(&s->svcs);
	for (i = 0; i < s->n_adopted; i++)
		if (s->adopted_all[i] && !s->adopted_all[i]->key)
			port_free(s->adopted_all[i]);
	free(s->adopted_all);
	free(s->adopted_vips);
	strmap_free(&s->adopted);
	strmap_free(&s->vips);
	free(s->node_prefixes[0]);
	free(s->node_prefixes[1]);
	free(s->node_addrs);
	free(s->node_addr_flags);
	free(s);
}

void sync_get_stats(const struct sync *s, struct sync_stats *out)
{
	struct strmap_entry *e;
	size_t i = 0;

	*out = s->st;
	out->svc_ports = out->backends = 0;
	while (strmap_next(&s->svcs, &i, &e)) {
		const struct prog_svc *ps = e->value;

		out->svc_ports += ps->n;
		for (size_t j = 0; j < ps->n; j++)
			out->backends += ps->ports[j]->n_bes;
	}
}

/* ---- adoption of pinned state ------------------------------------------- */

static struct prog_port *adopted_port(struct sync *s, __u32 svc_id)
{
	for (size_t i = 0; i < s->n_adopted; i++)
		if (s->adopted_all[i]->svc_id == svc_id)
			return s->adopted_all[i];
	return NULL;
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

static int add_backend_once(struct sync *s, struct prog_port *p, __u32 id)
{
	struct xlb_backend b;
	__u32 *grown;

	for (size_t i = 0; i < p->n_bes; i++)
		if (p->be_ids[i] == id)
			return 0;
	if (bpf_map_lookup_elem(s->maps->fd[XLB_MAP_BACKENDS], &id, &b))
		return 0;
	grown = realloc(p->be_ids, (p->n_bes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->be_ids = grown;
	p->be_ids[p->n_bes++] = id;
	if (id >= s->next_be)
		s->next_be = id + 1;
	return 0;
}

static int adopt_service(const void *key, const void *value, void *arg)
{
	struct sync *s = arg;
	__u32 svc_id = *(const __u32 *)key;
	struct prog_port *p = calloc(1, sizeof(*p)), **grown;
	int err = -ENOMEM;

	if (!p)
		return err;
	p->svc_id = svc_id;
	p->svc = *(const struct xlb_service *)value;
	err = read_table(s, svc_id, &p->svc, XLB_SET_CLUSTER, &p->ctab, &p->n_ctab);
	if (!err)
		err = read_table(s, svc_id, &p->svc, XLB_SET_LOCAL, &p->ltab, &p->n_ltab);
	for (__u32 i = 0; !err && i < p->n_ctab; i++)
		err = add_backend_once(s, p, p->ctab[i]);
	for (__u32 i = 0; !err && i < p->n_ltab; i++)
		err = add_backend_once(s, p, p->ltab[i]);
	grown = err ? NULL : realloc(s->adopted_all, (s->n_adopted + 1) * sizeof(*grown));
	if (!grown) {
		port_free(p);
		return err ? err : -ENOMEM;
	}
	s->adopted_all = grown;
	s->adopted_all[s->n_adopted++] = p;
	if (svc_id >= s->next_svc)
		s->next_svc = svc_id + 1;
	return 0;
}

static int adopt_frontend(const void *key, const void *value, void *arg)
{
	const struct xlb_frontend_key *k = key;
	const struct xlb_frontend *v = value;
	struct sync *s = arg;
	struct prog_port *p;
	struct prog_fe *grown;
	char ks[FE_STRLEN];

	fe_str(k, ks);
	if (v->kind == XLB_FE_VIP) {
		struct xlb_frontend_key *vips = realloc(s->adopted_vips,
						      (s->n_adopted_vips + 1) * sizeof(*vips));

		if (!vips)
			return -ENOMEM;
		s->adopted_vips = vips;
		vips[s->n_adopted_vips++] = *k;
		return strmap_put(&s->vips, ks, (void *)(uintptr_t)1);
	}
	p = adopted_port(s, v->svc_id);
	if (!p)
		return 0;	/* dangling: removed by garbage collection */
	grown = realloc(p->fes, (p->n_fes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->fes = grown;
	p->fes[p->n_fes++] = (struct prog_fe){ .k = *k, .v = *v };
	return strmap_put(&s->adopted, ks, p);
}

static int adopt_range(const void *key, const void *value, void *arg)
{
	const struct xlb_lpm_key *k = key;
	struct sync *s = arg;
	struct prog_port *p = adopted_port(s, k->id);
	struct xlb_prefix *grown;

	if (!p)
		return 0;
	grown = realloc(p->ranges, (p->n_ranges + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	p->ranges = grown;
	memset(&p->ranges[p->n_ranges], 0, sizeof(*grown));
	memcpy(p->ranges[p->n_ranges].ip.bytes, &k->addr, 16);
	p->ranges[p->n_ranges].len = k->prefixlen - 32;
	p->n_ranges++;
	return 0;
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

int sync_adopt(struct sync *s, char *err, size_t errlen)
{
	int rc = maps_walk(s->maps, XLB_MAP_SERVICES, adopt_service, s);

	if (!rc)
		rc = maps_walk(s->maps, XLB_MAP_FRONTENDS, adopt_frontend, s);
	if (!rc)
		rc = maps_walk(s->maps, XLB_MAP_SRC_RANGES, adopt_range, s);
	if (!rc)
		rc = adopt_node(s);
	if (rc) {
		snprintf(err, errlen, "adopt pinned state: %s", strerror(-rc));
		return rc;
	}
	/* Families of adopted ranges come from their port's frontends. */
	for (size_t i = 0; i < s->n_adopted; i++) {
		struct prog_port *p = s->adopted_all[i];

		for (size_t j = 0; j < p->n_ranges && p->n_fes; j++)
			p->ranges[j].ip.family = p->fes[0].k.family;
		if (p->n_fes)
			p->proto = p->fes[0].k.proto;
	}
	return 0;
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

/* The adopted port one of dp's frontends names, claimed for dp. */
static struct prog_port *claim_adopted(struct sync *s, const struct model_svc_port *dp)
{
	struct prog_port *p;
	struct prog_fe fe;
	char ks[FE_STRLEN];

	for (size_t i = 0; i < dp->n_fes; i++) {
		fe_from_model(&dp->fes[i], dp->family, 0, &fe);
		fe_str(&fe.k, ks);
		p = strmap_get(&s->adopted, ks);
		if (!p || p->key)
			continue;
		p->key = strdup(dp->key);
		if (!p->key)
			return NULL;
		return p;
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

static void *dup_array(const void *src, size_t n, size_t size)
{
	void *p = n ? malloc(n * size) : NULL;

	if (p)
		memcpy(p, src, n * size);
	return p;
}

/* The frontends of dp, NodePorts once per family (they share one entry). */
static int build_frontends(const struct model_svc_port *dp, struct prog_port *np)
{
	np->fes = dp->n_fes ? calloc(dp->n_fes, sizeof(*np->fes)) : NULL;
	if (dp->n_fes && !np->fes)
		return -ENOMEM;
	for (size_t i = 0; i < dp->n_fes; i++) {
		struct prog_fe fe;
		size_t j;

		fe_from_model(&dp->fes[i], dp->family, np->svc_id, &fe);
		for (j = 0; j < np->n_fes && memcmp(&np->fes[j].k, &fe.k, sizeof(fe.k)); j++)
			;
		if (j == np->n_fes)
			np->fes[np->n_fes++] = fe;
	}
	return 0;
}

/* np for dp, reusing op's svc_id and backend ids; bes gets np's backends
 * with their values, for program_port. */
static struct prog_port *build_port(struct sync *s, const struct model_svc_port *dp,
				    const struct prog_port *op, struct be_list *bes)
{
	struct prog_port *np = calloc(1, sizeof(*np));
	struct be_list old = {};
	size_t max = dp->n_cluster + dp->n_local;

	bes->n = 0;
	bes->v = max ? calloc(max, sizeof(*bes->v)) : NULL;
	if (!np || (max && !bes->v) || load_backends(s, op, &old))
		goto fail;
	np->key = strdup(dp->key);
	np->svc_id = op ? op->svc_id : s->next_svc++;
	np->proto = dp->proto;
	np->svc.flags = dp->flags | (s->maglev ? XLB_SVC_MAGLEV : 0);
	np->svc.affinity_timeout = dp->affinity_timeout;
	add_endpoints(s, bes, &old, dp->cluster, dp->n_cluster);
	add_endpoints(s, bes, &old, dp->local, dp->n_local);
	np->n_bes = bes->n;
	np->be_ids = bes->n ? calloc(bes->n, sizeof(*np->be_ids)) : NULL;
	for (size_t i = 0; np->be_ids && i < bes->n; i++)
		np->be_ids[i] = bes->v[i].id;
	np->ranges = dup_array(dp->source_ranges, dp->n_source_ranges, sizeof(*np->ranges));
	np->n_ranges = dp->n_source_ranges;
	if (!np->key || (bes->n && !np->be_ids) || (np->n_ranges && !np->ranges) ||
	    build_table(s, bes, dp->cluster, dp->n_cluster, op && s->maglev ? op->n_ctab : 0,
			&np->ctab, &np->n_ctab) ||
	    build_table(s, bes, dp->local, dp->n_local, op && s->maglev ? op->n_ltab : 0,
			&np->ltab, &np->n_ltab) ||
	    build_frontends(dp, np))
		goto fail;
	free(old.v);
	return np;
fail:
	free(old.v);
	free(bes->v);
	bes->v = NULL;
	port_free(np);
	return NULL;
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
	for (size_t i = 0; p && i < p->n_fes; i++)
		if (!memcmp(&p->fes[i].k, &fe->k, sizeof(fe->k)))
			return !same_value || !memcmp(&p->fes[i].v, &fe->v, sizeof(fe->v));
	return false;
}

static bool has_range(const struct prog_port *p, const struct xlb_prefix *r)
{
	for (size_t i = 0; p && i < p->n_ranges; i++)
		if (p->ranges[i].len == r->len &&
		    !memcmp(p->ranges[i].ip.bytes, r->ip.bytes, sizeof(r->ip.bytes)))
			return true;
	return false;
}

static bool same_tables(const struct prog_port *a, const struct prog_port *b)
{
	return a->svc.flags == b->svc.flags &&
	       a->svc.affinity_timeout == b->svc.affinity_timeout &&
	       a->n_ctab == b->n_ctab && a->n_ltab == b->n_ltab &&
	       (!a->n_ctab || !memcmp(a->ctab, b->ctab, a->n_ctab * sizeof(*a->ctab))) &&
	       (!a->n_ltab || !memcmp(a->ltab, b->ltab, a->n_ltab * sizeof(*a->ltab)));
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

/* VIP markers are shared by the ClusterIP frontends of one address; the
 * map holds references + 1 (1: present, adopted, not yet referenced). */
static void vip_ref(struct sync *s, const struct prog_fe *fe, int delta)
{
	struct prog_fe vip = { .k = fe->k, .v = { .svc_id = fe->v.svc_id, .kind = XLB_FE_VIP } };
	char ks[FE_STRLEN];
	uintptr_t n;

	if (fe->v.kind != XLB_FE_CLUSTER_IP)
		return;
	vip.k.port = 0;
	vip.k.proto = 0;
	fe_str(&vip.k, ks);
	n = (uintptr_t)strmap_get(&s->vips, ks);
	if (delta > 0 && !n) {
		count_write(s, maps_set_frontend(s->maps, &vip.k, &vip.v));
		n = 1;
	}
	if (delta < 0 && n <= 2) {
		strmap_del(&s->vips, ks);
		count_write(s, maps_del_frontend(s->maps, &vip.k));
		return;
	}
	if (strmap_put(&s->vips, ks, (void *)(n + delta)))
		s->st.errors++;
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
	char ks[FE_STRLEN];

	vip_ref(s, fe, -1);
	if (!owns_fe(s, fe))
		return;
	fe_str(&fe->k, ks);
	strmap_del(&s->adopted, ks);
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
	union xlb_addr a;

	for (size_t i = 0; i < op->n_fes; i++)
		if (!has_fe(np, &op->fes[i], false))
			del_fe(s, &op->fes[i]);
	if (!np)
		count_write(s, maps_del_service(s->maps, op->svc_id));
	for (size_t i = 0; i < op->n_ranges; i++) {
		if (has_range(np, &op->ranges[i]))
			continue;
		range_key(&op->ranges[i], &a);
		count_write(s, maps_del_prefix(s->maps, XLB_MAP_SRC_RANGES, op->svc_id, &a,
					       op->ranges[i].len));
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
static int program_port(struct sync *s, struct prog_port *np, const struct prog_port *op,
			const struct be_list *bes, char *err, size_t errlen)
{
	union xlb_addr a;
	size_t i;
	int rc = 0;

	for (i = 0; i < bes->n && !rc; i++)
		if (!has_be(op, bes->v[i].id))
			rc = set_backend(s, &bes->v[i]);
	if (!rc && (!op || !same_tables(op, np)))
		rc = count_write(s, maps_publish_service(s->maps, np->svc_id, &np->svc, np->ctab,
							 np->n_ctab, np->ltab, np->n_ltab));
	if (rc) {
		snprintf(err, errlen, "%s: program backends and tables: %s", np->key,
			 strerror(-rc));
		while (i--)
			if (!has_be(op, bes->v[i].id))
				count_write(s, maps_del_backend(s->maps, bes->v[i].id));
		return rc;
	}
	for (i = 0; i < np->n_ranges; i++) {
		if (has_range(op, &np->ranges[i]))
			continue;
		range_key(&np->ranges[i], &a);
		if (count_write(s, maps_set_prefix(s->maps, XLB_MAP_SRC_RANGES, np->svc_id, &a,
						   np->ranges[i].len)))
			snprintf(err, errlen, "%s: source range: map full", np->key);
	}
	for (i = 0; i < np->n_fes; i++)
		if (!has_fe(op, &np->fes[i], true))
			put_fe(s, &np->fes[i], !has_fe(op, &np->fes[i], false));
	return 0;
}

static struct prog_port *take_port(struct prog_svc *ps, const char *key)
{
	for (size_t i = 0; ps && i < ps->n; i++) {
		struct prog_port *p = ps->ports[i];

		if (p && !strcmp(p->key, key)) {
			ps->ports[i] = NULL;
			return p;
		}
	}
	return NULL;
}

static void forget_adopted(struct sync *s, struct prog_port *p)
{
	for (size_t i = 0; i < s->n_adopted; i++)
		if (s->adopted_all[i] == p)
			s->adopted_all[i] = NULL;
}

int sync_apply_service(struct sync *s, const char *svc_key, const struct model_state *desired,
		       char *err, size_t errlen)
{
	struct prog_svc *old = strmap_get(&s->svcs, svc_key), *ns;
	__u32 *flush = NULL;
	size_t n_flush = 0;
	int rc = 0, prc;

	ns = calloc(1, sizeof(*ns) + desired->n_ports * sizeof(ns->ports[0]));
	if (!ns) {
		snprintf(err, errlen, "%s: out of memory", svc_key);
		return -ENOMEM;
	}
	for (size_t i = 0; i < desired->n_ports; i++) {
		const struct model_svc_port *dp = &desired->ports[i];
		struct prog_port *op = take_port(old, dp->key), *np;
		struct be_list bes;

		if (!op && (op = claim_adopted(s, dp))) {
			forget_adopted(s, op);
			/* As if op had been programmed here: its frontends
			 * hold their VIP markers, released if they leave. */
			for (size_t j = 0; j < op->n_fes; j++)
				vip_ref(s, &op->fes[j], 1);
		}
		np = build_port(s, dp, op, &bes);
		prc = np ? program_port(s, np, op, &bes, err, errlen) : -ENOMEM;
		free(bes.v);
		if (prc) {
			if (!np)
				snprintf(err, errlen, "%s: out of memory", dp->key);
			rc = prc;
			port_free(np);
			if (op)
				ns->ports[ns->n++] = op;	/* the old version stays */
			continue;
		}
		if (op)
			remove_stale(s, op, np, &flush, &n_flush);
		port_free(op);
		ns->ports[ns->n++] = np;
	}
	for (size_t i = 0; old && i < old->n; i++) {
		if (!old->ports[i])
			continue;
		remove_stale(s, old->ports[i], NULL, &flush, &n_flush);
		port_free(old->ports[i]);
		old->ports[i] = NULL;
	}
	if (n_flush) {
		int n = maps_flush_backend_flows(s->maps, flush, n_flush);

		if (n > 0)
			s->st.udp_flows_flushed += n;
	}
	free(flush);
	svc_free(strmap_del(&s->svcs, svc_key));
	if (ns->n && strmap_put(&s->svcs, svc_key, ns)) {
		svc_free(ns);
		return -ENOMEM;
	}
	if (!ns->n)
		svc_free(ns);
	return rc;
}

int sync_collect_garbage(struct sync *s)
{
	__u32 *flush = NULL;
	size_t n_flush = 0;

	for (size_t i = 0; i < s->n_adopted; i++) {
		struct prog_port *p = s->adopted_all[i];

		if (!p || p->key)
			continue;
		remove_stale(s, p, NULL, &flush, &n_flush);
		port_free(p);
		s->adopted_all[i] = NULL;
	}
	/* VIP markers nobody referenced since the adoption. */
	for (size_t i = 0; i < s->n_adopted_vips; i++) {
		char ks[FE_STRLEN];

		fe_str(&s->adopted_vips[i], ks);
		if ((uintptr_t)strmap_get(&s->vips, ks) != 1)
			continue;
		count_write(s, maps_del_frontend(s->maps, &s->adopted_vips[i]));
		strmap_del(&s->vips, ks);
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
	strmap_free(&s->adopted);
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
