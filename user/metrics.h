/* Prometheus metrics: a small thread-safe registry rendered in the text
 * exposition format (version 0.0.4), plus the metric set xlb exposes (the
 * kube-proxy names users already graph and xlb's own xlb_* metrics).
 *
 * Functions returning int return 0 or a negative errno; they never abort on
 * bad input (unknown label count, negative counter increment, invalid UTF-8
 * label value, ...). */
#ifndef XLB_METRICS_H
#define XLB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
	/* Set like a gauge, exposed as "untyped": for a gauge whose inherited
	 * name ends in _total, which promtool's lint rejects when typed. */
	METRIC_UNTYPED,
};

struct metrics;	/* a registry */
struct metric;	/* one metric family (name, help, type, label names) */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *reg);

/* Declares a family. labels: comma-separated label names ("hook,verdict"),
 * NULL or "" for none. buckets: a histogram's finite, strictly increasing
 * upper bounds ("+Inf" is implied); NULL/0 for other types. Returns NULL
 * with errno set (EINVAL bad name/labels/buckets, EEXIST, ENOMEM). */
struct metric *metrics_register(struct metrics *reg, enum metric_type type,
				const char *name, const char *help,
				const char *labels, const double *buckets,
				size_t nbuckets);
struct metric *metrics_find(struct metrics *reg, const char *name);

/* Label values are passed as an array with one value per label name, in
 * declaration order; METRIC_LV("a", "b") expands to that array and its
 * length, METRIC_LV() to an empty one. */
#define METRIC_LV(...)                                                        \
	((const char *const[]){ NULL, ##__VA_ARGS__ }) + 1,                   \
		(sizeof((const char *const[]){ NULL, ##__VA_ARGS__ }) /       \
			 sizeof(const char *) -                               \
		 1)

/* Counter, gauge, untyped: add v (a counter refuses v < 0). */
int metric_add(struct metric *m, const char *const *values, size_t nvalues,
	       double v);
/* Gauge, untyped, and counter: set to v. A counter may be set only by a
 * collector mirroring an external monotonic source (BPF counters). */
int metric_set(struct metric *m, const char *const *values, size_t nvalues,
	       double v);
/* Histogram: record one observation. */
int metric_observe(struct metric *m, const char *const *values,
		   size_t nvalues, double v);
/* Drops every labelled series of the family (unlabelled ones go to 0), for
 * gauges recomputed from scratch, e.g. per-map occupancy. */
void metric_clear(struct metric *m);
/* Current value of a series (a histogram's observation count); NAN when the
 * series does not exist. For tests and diagnostics. */
double metric_value(struct metric *m, const char *const *values,
		    size_t nvalues);

/* Collectors run at the start of every render, outside the registry lock,
 * so they may call the setters above (e.g. to sum per-CPU BPF counters). */
typedef void (*metrics_collector_fn)(struct metrics *reg, void *arg);
int metrics_add_collector(struct metrics *reg, metrics_collector_fn fn,
			  void *arg);

/* Runs the collectors and returns the exposition text (malloc'd, NUL
 * terminated, *len without the NUL), or NULL with errno ENOMEM. */
char *metrics_render(struct metrics *reg, size_t *len);

/* Fills out[0..n) with start * factor^i; returns n. */
size_t metrics_exponential_buckets(double *out, double start, double factor,
				   size_t n);

/* ---- the metrics xlb exposes ------------------------------------------ */

/* IP families, as a bit mask: one agent sync may cover both. Rendered as
 * kube-proxy's ip_family label values "IPv4" / "IPv6". */
enum ip_family_mask {
	IPF_V4 = 1U << 0,
	IPF_V6 = 1U << 1,
	IPF_ALL = IPF_V4 | IPF_V6,
};
const char *ip_family_name(unsigned family_bit);

enum change_kind { CHANGE_SERVICE, CHANGE_ENDPOINT };
enum traffic_policy { POLICY_INTERNAL, POLICY_EXTERNAL };

/* Every family xlb exposes, declared with HELP text; the agent's collector
 * sets the data-path families (drops, skips, packets, map_*) at scrape
 * time, the helpers below set the rest. The pointers stay valid until
 * xlb_metrics_free(). */
struct xlb_metrics {
	struct metrics *reg;
	/* kube-proxy's, same names and labels */
	struct metric *sync_duration;		/* histogram {ip_family} */
	struct metric *sync_last;		/* gauge {ip_family} */
	struct metric *sync_last_queued;	/* gauge {ip_family} */
	struct metric *netprog_duration;	/* histogram {ip_family} */
	struct metric *endpoint_changes_total;	/* counter */
	struct metric *endpoint_changes_pending;	/* gauge */
	struct metric *service_changes_total;	/* counter */
	struct metric *service_changes_pending;	/* gauge */
	struct metric *no_local_endpoints;	/* untyped {ip_family,traffic_policy} */
	struct metric *healthz_total;		/* counter {code} */
	struct metric *livez_total;		/* counter {code} */
	/* xlb's own */
	struct metric *external_ips_skipped;		/* gauge */
	struct metric *external_ip_services_skipped;	/* gauge */
	struct metric *objects_rejected;	/* counter {kind,reason} */
	struct metric *drops;			/* counter {reason} */
	struct metric *skips;			/* counter {reason} */
	struct metric *packets;			/* counter {hook,verdict} */
	struct metric *map_entries;		/* gauge {map} */
	struct metric *map_max_entries;		/* gauge {map} */
};

struct xlb_metrics *xlb_metrics_new(void);
void xlb_metrics_free(struct xlb_metrics *xm);

/* A sync of the given families finished at wall-clock time now (seconds
 * since the epoch) after duration_s seconds. */
void xlb_metrics_sync_done(struct xlb_metrics *xm, unsigned families,
			   double duration_s, double now);
/* A change needing a sync of these families was queued at time now. */
void xlb_metrics_sync_queued(struct xlb_metrics *xm, unsigned families,
			     double now);
/* One EndpointSlice change reached the data path latency_s seconds after
 * its endpoints.kubernetes.io/last-change-trigger-time; negative latencies
 * (clock skew) are not recorded. */
void xlb_metrics_network_programming(struct xlb_metrics *xm,
				     unsigned families, double latency_s);
/* n new changes of a kind were seen; pending are still waiting for a sync. */
void xlb_metrics_changes(struct xlb_metrics *xm, enum change_kind kind,
			 unsigned n, unsigned pending);
/* Services of one family with a Local policy of that kind and no local
 * endpoint, recounted by every sync. */
void xlb_metrics_no_local_endpoints(struct xlb_metrics *xm,
				    unsigned family_bit,
				    enum traffic_policy policy,
				    unsigned services);
void xlb_metrics_external_ips_skipped(struct xlb_metrics *xm, unsigned ips,
				      unsigned services);
void xlb_metrics_object_rejected(struct xlb_metrics *xm, const char *kind,
				 const char *reason);
/* Counts one /healthz (livez false) or /livez answer with its HTTP code. */
void xlb_metrics_health_answer(struct xlb_metrics *xm, bool livez, int code);

#endif
