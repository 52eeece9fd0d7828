package proxy

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smgate/smgate/allowlist"
)

// metrics are the proxy's Prometheus collectors. Labels never hold users
// or hosts: platform ids come from the catalogue, reasons are the stable
// codes.
type metrics struct {
	requests     *prometheus.CounterVec
	decision     prometheus.Histogram
	upstream     prometheus.Histogram
	conns        prometheus.Gauge
	tunnels      prometheus.Gauge
	authFailures *prometheus.CounterVec
	panics       prometheus.Counter
	refused      *prometheus.CounterVec

	// decided caches the requests counter of each (platform, outcome,
	// reason): a handful of catalogue ids and reason codes, so bounded.
	// It spares every request the hashing of four label values.
	decided sync.Map // decisionLabels -> prometheus.Counter
}

// decisionLabels are the labels of smgate_proxy_requests_total after the
// mode, which is always explicit here.
type decisionLabels struct{ platform, outcome, reason string }

// countDecision counts one decision of the explicit proxy.
func (m *metrics) countDecision(platform, outcome, reason string) {
	k := decisionLabels{platform, outcome, reason}
	if c, ok := m.decided.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.requests.WithLabelValues(string(allowlist.SourceExplicit), platform, outcome, reason)
	m.decided.Store(k, c)
	c.Inc()
}

// Causes of smgate_proxy_auth_failures_total.
const (
	authCauseMalformed   = "malformed"
	authCausePassword    = "bad_password"
	authCauseUnknownUser = "unknown_user"
	authCauseLimited     = "rate_limited"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	buckets := []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smgate_proxy_requests_total",
			Help: "Proxy decisions by mode, platform, outcome and reason code.",
		}, []string{"mode", "platform", "outcome", "reason"}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "smgate_proxy_decision_seconds", Buckets: buckets,
			Help: "Time to identify the client and decide a request.",
		}),
		upstream: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "smgate_proxy_upstream_seconds", Buckets: prometheus.DefBuckets,
			Help: "Time to the upstream response header (HTTP) or connection (CONNECT).",
		}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smgate_proxy_connections_open", Help: "Client connections open.",
		}),
		tunnels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smgate_proxy_tunnels_open", Help: "CONNECT tunnels open.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smgate_proxy_auth_failures_total",
			Help: "Failed proxy authentications by cause.",
		}, []string{"cause"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smgate_proxy_panics_total", Help: "Panics recovered while serving a connection.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smgate_proxy_refused_total",
			Help: "Requests refused before any decision or dial, by cause.",
		}, []string{"cause"}),
	}
	for _, c := range []string{authCauseMalformed, authCausePassword, authCauseUnknownUser, authCauseLimited} {
		m.authFailures.WithLabelValues(c)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range m.collectors() {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.decision, m.upstream, m.conns,
		m.tunnels, m.authFailures, m.panics, m.refused}
}
