package dnsfilter

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a query as the queries metric labels them.
const (
	outcomeAllowed  = "allowed"
	outcomeBlocked  = "blocked"
	outcomeRefused  = "refused"
	outcomeServfail = "servfail"
	outcomeFormerr  = "formerr"
	outcomeNotimp   = "notimp"
)

// metrics are the filter's Prometheus metrics. Labels are never users or
// names: platform ids, outcomes and reason codes only.
type metrics struct {
	queries          *prometheus.CounterVec
	decision         prometheus.Histogram
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	upstreamSeconds  prometheus.Histogram
	upstreamFailures prometheus.Counter
	malformed        prometheus.Counter
	rateLimited      prometheus.Counter
	cacheEntries     prometheus.GaugeFunc

	mu      sync.RWMutex
	counter map[queryLabels]prometheus.Counter // resolved label sets
}

type queryLabels struct{ platform, outcome, reason string }

// modeDNS is the mode label of every query, smgate.mode of its records.
const modeDNS = "dns"

func newMetrics(entries func() float64) *metrics {
	return &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smgate_dns_queries_total",
			Help: "DNS queries answered, by mode (always dns, as in the usage log), platform (empty when not social media), outcome and reason code.",
		}, []string{"mode", "platform", "outcome", "reason"}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smgate_dns_decision_seconds",
			Help:    "Time to decide one query name for its client (policy decision only).",
			Buckets: []float64{1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 1e-4, 1e-3},
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_dns_cache_hits_total", Help: "Questions answered from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_dns_cache_misses_total", Help: "Questions not in the cache (forwarded, or joined to a query in flight).",
		}),
		upstreamSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "smgate_dns_upstream_seconds",
			Help:    "Time of one exchange with an upstream resolver, failures included.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		upstreamFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_dns_upstream_failures_total", Help: "Upstream exchanges that failed: timeout, refused connection, bad answer, or a failure rcode.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_dns_malformed_total", Help: "Packets that could not be parsed as a DNS query.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_dns_rate_limited_total", Help: "Queries refused because their client exceeded dns.rate_limit.",
		}),
		cacheEntries: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "smgate_dns_cache_entries", Help: "Answers held in the cache.",
		}, entries),
		counter: make(map[queryLabels]prometheus.Counter),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queries, m.decision, m.cacheHits, m.cacheMisses, m.upstreamSeconds,
		m.upstreamFailures, m.malformed, m.rateLimited, m.cacheEntries}
}

// register registers every metric with reg (nil: none). On error the ones
// registered are unregistered again.
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, d := range m.collectors()[:i] {
				reg.Unregister(d)
			}
			return err
		}
	}
	return nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

// query counts one answered query. The label set's counter is looked up
// in a small map first: cheaper than hashing the labels on every query.
func (m *metrics) query(platform, outcome, reason string) {
	k := queryLabels{platform, outcome, reason}
	m.mu.RLock()
	c := m.counter[k]
	m.mu.RUnlock()
	if c == nil {
		c = m.queries.WithLabelValues(modeDNS, platform, outcome, reason)
		m.mu.Lock()
		if len(m.counter) < 4096 {
			m.counter[k] = c
		}
		m.mu.Unlock()
	}
	c.Inc()
}
