// Package metrics holds restored's Prometheus metrics: one registry per
// process, served at /metrics. Labels are bounded: operation names are
// client-chosen, so only plain names are kept and past a limit they count
// as "other"; tenants appear as Azure tenant ids, which an MSP has dozens
// or hundreds of, not millions.
package metrics

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the process's registry and instruments. A nil *Metrics
// records nothing, so code paths (and tests) may run without one.
type Metrics struct {
	registry *prometheus.Registry

	operations   *prometheus.CounterVec
	opDuration   *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	graph        *prometheus.CounterVec
	graphWait    *prometheus.CounterVec
	graphPauses  *prometheus.CounterVec
	subscription prometheus.Gauge
	// subEvents counts subscription responses by how they were made:
	// executed for the subscriber, or shared from another's execution.
	subExecuted, subShared prometheus.Counter
	// pageHits and pageMisses count the backup-item page cache's answers.
	pageHits, pageMisses prometheus.Counter

	mu    sync.Mutex
	names map[string]bool // operation names seen (bounded)
}

// New returns a registry with the Go and process collectors and restored's
// own instruments.
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry(), names: map[string]bool{}}
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_graphql_operations_total", Help: "GraphQL operations by name, type (query, mutation, subscription) and result (ok, error).",
	}, []string{"operation", "type", "result"})
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "restored_graphql_operation_duration_seconds", Help: "Time to answer a GraphQL query or mutation.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
	}, []string{"operation", "type"})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_jobs_total", Help: "Finished jobs (operation runs) by type and outcome.",
	}, []string{"type", "outcome"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "restored_job_duration_seconds", Help: "Time from a job's start to its end.",
		Buckets: prometheus.ExponentialBuckets(0.05, 3, 12),
	}, []string{"type"})
	m.graph = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_graph_requests_total", Help: "Microsoft Graph request attempts by method and HTTP status (0: no answer); 429s are Graph's throttling.",
	}, []string{"method", "status"})
	m.graphWait = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_graph_throttle_wait_seconds_total", Help: "Time spent waiting for the shared per-tenant rate limiter, by tenant.",
	}, []string{"tenant"})
	m.graphPauses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_graph_throttle_pauses_total", Help: "Times a tenant's limiter was paused by a 429's Retry-After, by tenant.",
	}, []string{"tenant"})
	m.subscription = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "restored_live_subscriptions", Help: "GraphQL subscriptions open in this process.",
	})
	subEvents := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_subscription_responses_total", Help: "Subscription events sent, by how their response was made: executed for the subscriber, or shared from the execution of another subscriber asking the same (fanout).",
	}, []string{"response"})
	m.subExecuted, m.subShared = subEvents.WithLabelValues("executed"), subEvents.WithLabelValues("shared")
	pages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "restored_page_cache_requests_total", Help: "Requests for a page of a backup set's items the page cache could answer, by result: hit (answered from memory at the set's current version) or miss (executed, then kept).",
	}, []string{"result"})
	m.pageHits, m.pageMisses = pages.WithLabelValues("hit"), pages.WithLabelValues("miss")
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.operations, m.opDuration, m.jobs, m.jobDuration, m.graph, m.graphWait, m.graphPauses, m.subscription, subEvents, pages)
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// QueueDepth exports the job queues' depth, read at each scrape by depth
// (queue → pending+scheduled+retry tasks).
func (m *Metrics) QueueDepth(depth func() (map[string]int, error)) {
	m.registry.MustRegister(&queueCollector{depth: depth, desc: prometheus.NewDesc(
		"restored_queue_tasks", "Tasks waiting in each job queue (pending, scheduled and retrying).", []string{"queue"}, nil)})
}

type queueCollector struct {
	depth func() (map[string]int, error)
	desc  *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	d, err := c.depth()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for q, n := range d {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), q)
	}
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// maxNames bounds the distinct operation names kept as labels.
const maxNames = 500

// operationLabel keeps plain, known names; others are "anonymous" or "other".
func (m *Metrics) operationLabel(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !plainName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.names[name] {
		if len(m.names) >= maxNames {
			return "other"
		}
		m.names[name] = true
	}
	return name
}

// Operation records an answered GraphQL operation.
func (m *Metrics) Operation(name, typ string, failed bool, took time.Duration) {
	if m == nil {
		return
	}
	name = m.operationLabel(name)
	result := "ok"
	if failed {
		result = "error"
	}
	m.operations.WithLabelValues(name, typ, result).Inc()
	if typ != "subscription" && took > 0 {
		m.opDuration.WithLabelValues(name, typ).Observe(took.Seconds())
	}
}

// Job records a finished job.
func (m *Metrics) Job(typ, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(typ, outcome).Inc()
	if took > 0 {
		m.jobDuration.WithLabelValues(typ).Observe(took.Seconds())
	}
}

// GraphRequest records one attempt at a Microsoft Graph request.
func (m *Metrics) GraphRequest(method string, status int) {
	if m == nil {
		return
	}
	m.graph.WithLabelValues(method, strconv.Itoa(status)).Inc()
}

// ThrottleWait records time spent waiting for a tenant's rate limiter.
func (m *Metrics) ThrottleWait(tenant string, d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.graphWait.WithLabelValues(tenant).Add(d.Seconds())
}

// ThrottlePause records a 429 pausing a tenant's limiter.
func (m *Metrics) ThrottlePause(tenant string) {
	if m == nil {
		return
	}
	m.graphPauses.WithLabelValues(tenant).Inc()
}

// Subscriptions adds delta to the open subscriptions.
func (m *Metrics) Subscriptions(delta int) {
	if m == nil {
		return
	}
	m.subscription.Add(float64(delta))
}

// SubscriptionResponse counts one subscription event's response, shared
// or executed.
func (m *Metrics) SubscriptionResponse(shared bool) {
	if m == nil {
		return
	}
	if shared {
		m.subShared.Inc()
	} else {
		m.subExecuted.Inc()
	}
}

// PageCache counts one answer of the backup-item page cache.
func (m *Metrics) PageCache(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.pageHits.Inc()
	} else {
		m.pageMisses.Inc()
	}
}

type requestCounterKey struct{}

// WithRequestCounter returns ctx counting the Microsoft Graph requests sent
// with it (CountRequest): a job's cost, shown on its operation run.
func WithRequestCounter(ctx context.Context) (context.Context, *atomic.Int64) {
	n := &atomic.Int64{}
	return context.WithValue(ctx, requestCounterKey{}, n), n
}

// CountRequest counts one request against ctx's counter, if any.
func CountRequest(ctx context.Context) {
	if n, ok := ctx.Value(requestCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
